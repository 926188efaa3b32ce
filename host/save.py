"""From an engine result to files on disk: post-processing, audio + sidecar per variation,
and a render-library row.

`save_result` is the simple path (peak-normalize, float WAV). `Finisher` is what a
Session plugs in: it holds the current Recipe (effects, finishing, export; a preset
swaps it), writes every variation atomically with a sidecar that reproduces it
exactly, and records each file in the RenderLibrary when one is attached.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import importlib.metadata
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from diffhost import __version__
from diffhost.engine.request import GenerationResult
from diffhost.host.effects import file_sha256
from diffhost.host.export import (
    atomic_write_wav,
    slug,
    sweep_partials,
    unique_path,
    write_audio,
    write_sidecar,
)
from diffhost.host.post import Recipe, normalize_audio, postprocess

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
RERENDER_TAG = "rerender:"  # Job.tag prefix: finish with the original row's recipe, not the current one


@dataclass(frozen=True)
class SavedRender:
    path: Path
    sidecar: Path
    variation: int
    length_s: float
    sample_rate: int
    channels: int
    peak_dbfs: float
    loudness_lufs: float | None = None
    render_id: int | None = None  # render-library row, when a library is attached


def default_name(result: GenerationResult, suffix: str = ".wav") -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{slug(result.request.prompt)}-s{result.seed}{suffix}"


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
            **music_info(result, v),
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


def music_info(result: GenerationResult, variation: int) -> dict[str, Any]:
    """{"music": {bpm, key, bars, loop, bank, ...}} when the model reported them (the default model's loops)."""
    music = result.extra.get("music") if result.extra else None
    if not music:
        return {}
    return {"music": music[min(variation, len(music) - 1)]}


def _versions() -> dict[str, str]:
    out = {"diffhost": __version__}
    for pkg in ("pedalboard", "soxr", "pyloudnorm", "numpy", "soundfile"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[pkg] = importlib.metadata.version(pkg)
    return out


def save_seed_clip(result: GenerationResult, folder: Path) -> dict[str, Any] | None:
    """Keep the seed clip a render started from (content-addressed float WAV) so it can be re-rendered."""
    clip = result.request.seed_clip
    if clip is None:
        return None
    audio = np.ascontiguousarray(clip.audio, dtype=np.float32)
    h = hashlib.sha256(audio.tobytes() + str(clip.sample_rate).encode()).hexdigest()
    path = folder / "seeds" / f"{h[:32]}.wav"
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # written meanwhile: same content, same name
            atomic_write_wav(path, audio, clip.sample_rate)
    return {"path": str(path.resolve()), "sha256": h}


class Finisher:
    """Session finisher: `finisher(result, out_dir, job)` -> list[SavedRender].

    Holds the current Recipe; `configure` swaps it atomically (validated first, so a bad
    preset changes nothing). Jobs tagged "rerender:<id>" use that row's own recipe.
    """

    def __init__(self, recipe: Recipe | None = None, *, library: Any = None):
        self._recipe = recipe or Recipe()
        self._lock = threading.Lock()
        self.library = library
        self._swept: set[Path] = set()

    @property
    def recipe(self) -> Recipe:
        return self._recipe

    def configure(self, recipe: Recipe) -> None:
        with self._lock:
            self._recipe = recipe

    def __call__(self, result: GenerationResult, out: Path, job: Any = None) -> list[SavedRender]:
        tag = getattr(job, "tag", None) or ""
        if tag.startswith(RERENDER_TAG) and self.library is not None:
            row = self.library.get(int(tag[len(RERENDER_TAG) :]))
            recipe, variation = self.library.recipe_of(row), row.variation
            return self.finish(result, out, recipe, variations=(variation,), parent_id=row.id)
        return self.finish(result, out, self._recipe)

    def finish(
        self,
        result: GenerationResult,
        out: Path,
        recipe: Recipe | None = None,
        *,
        variations: tuple[int, ...] | None = None,
        parent_id: int | None = None,
        tags: tuple[str, ...] = (),
    ) -> list[SavedRender]:
        """Post-process and write the given variations (default all). out: folder or file path."""
        recipe = recipe or self._recipe
        out = Path(out).expanduser()
        suffix = recipe.export.suffix
        if out.suffix.lower() in AUDIO_SUFFIXES:  # a file name: with the export format's suffix
            base = out.with_suffix(suffix)
        else:
            base = out / default_name(result, suffix)
        n = result.audio.shape[0]
        chosen = variations if variations is not None else tuple(range(n))
        if base.parent not in self._swept:  # once per folder: leftovers of a crash mid-write
            self._swept.add(base.parent)
            sweep_partials(base.parent)
        seed_clip = save_seed_clip(result, base.parent)
        saved = []
        for v in chosen:
            post = postprocess(result.audio[v], result.sample_rate, recipe)
            target = base if n == 1 else base.with_name(f"{base.stem}-v{v + 1}{base.suffix}")
            target = unique_path(target)
            written = write_audio(
                target, post.audio, post.sample_rate, recipe.export, dither_seed=_dither_seed(result.seed, v)
            )
            repro = result.reproduce_dict()
            if seed_clip is not None:
                repro["params"]["seed_clip"] = {**repro["params"].get("seed_clip", {}), **seed_clip}
            length_s = post.audio.shape[-1] / post.sample_rate
            info = {
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                **repro,
                "variation": v,
                "preset": recipe.preset,
                "tags": list(recipe.tags),
                "effects": recipe.chain.describe(result.sample_rate),
                "finishing": recipe.finishing.to_dict(),
                "export": recipe.export.to_dict(),
                "post": {
                    "steps": post.steps,
                    "sample_rate": written.sample_rate,
                    "channels": int(post.audio.shape[0]),
                    "samples": int(post.audio.shape[-1]),
                    "length_s": round(length_s, 6),
                    "peak_dbfs": round(post.peak_dbfs, 4),
                    "loudness_lufs": None if post.loudness_lufs is None else round(post.loudness_lufs, 3),
                    "notes": list(written.notes),
                },
                "parent_id": parent_id,
                "audio_sha256": file_sha256(target),
                "render_s": round(result.render_s, 4),
                "versions": _versions(),
                **music_info(result, v),
            }
            side = write_sidecar(target, info)
            render_id = None
            if self.library is not None:
                render_id = self.library.add(
                    prompt=result.request.prompt,
                    params=repro["params"],
                    model=result.model.name,
                    path=target.resolve(),
                    sidecar=side.resolve(),
                    length_s=length_s,
                    sample_rate=written.sample_rate,
                    channels=int(post.audio.shape[0]),
                    loudness_lufs=post.loudness_lufs,
                    peak_dbfs=post.peak_dbfs,
                    file_format=recipe.export.format,
                    variation=v,
                    preset=recipe.preset,
                    parent_id=parent_id,
                    tags=tuple(recipe.tags) + tuple(tags),
                )
            saved.append(
                SavedRender(
                    path=target.resolve(),
                    sidecar=side.resolve(),
                    variation=v,
                    length_s=length_s,
                    sample_rate=written.sample_rate,
                    channels=int(post.audio.shape[0]),
                    peak_dbfs=post.peak_dbfs,
                    loudness_lufs=post.loudness_lufs,
                    render_id=render_id,
                )
            )
        return saved


def _dither_seed(seed: int, variation: int) -> int:
    return (int(seed) * 1_000_003 + variation) % 2**63
