"""From an engine result to files on disk: audio + sidecar per variation."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.request import GenerationResult
from host import __version__
from host.export import atomic_write_wav, slug, unique_path, write_sidecar
from host.post import normalize_audio


@dataclass(frozen=True)
class SavedRender:
    path: Path
    sidecar: Path
    variation: int
    length_s: float
    sample_rate: int
    channels: int
    peak_dbfs: float


def default_name(result: GenerationResult) -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{slug(result.request.prompt)}-s{result.seed}.wav"


def save_result(
    result: GenerationResult,
    out: Path,
    *,
    peak_db: float | None = -1.0,
    extra: dict[str, Any] | None = None,
) -> list[SavedRender]:
    """Write every variation of result. out is a folder or a file path (.wav).

    Never overwrites: a taken name gets a numeric suffix.
    """
    out = Path(out).expanduser()
    base = out if out.suffix.lower() == ".wav" else out / default_name(result)
    n = result.audio.shape[0]
    saved = []
    for v in range(n):
        audio = result.audio[v]
        if peak_db is not None:
            audio = normalize_audio(audio, peak_db=peak_db)
        target = base if n == 1 else base.with_name(f"{base.stem}-v{v + 1}{base.suffix}")
        target = unique_path(target)
        atomic_write_wav(target, audio, result.sample_rate)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        info = {
            "diffhost_version": __version__,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            **result.reproduce_dict(),
            "variation": v,
            "finishing": [{"step": "normalize_peak", "peak_db": peak_db}] if peak_db is not None else [],
            "render_s": round(result.render_s, 4),
            **(extra or {}),
        }
        side = write_sidecar(target, info)
        saved.append(
            SavedRender(
                path=target.resolve(),
                sidecar=side.resolve(),
                variation=v,
                length_s=audio.shape[-1] / result.sample_rate,
                sample_rate=result.sample_rate,
                channels=int(audio.shape[0]),
                peak_dbfs=20 * np.log10(peak) if peak > 0 else float("-inf"),
            )
        )
    return saved
