"""Writing renders: atomic, never overwriting, with a JSON sidecar that reproduces them."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from diffhost.host.atomic import atomic_target, atomic_write_bytes

SIDECAR_SUFFIX = ".json"
SIDECAR_VERSION = 2

FORMATS = ("wav", "flac", "ogg", "mp3")
BIT_DEPTHS = {"wav": (16, 24, 32), "flac": (16, 24)}  # wav 32 = 32-bit float
MP3_SAMPLE_RATES = (32000, 44100, 48000)  # what pedalboard's MP3 writer takes (MPEG-1 layer III)
MP3_QUALITIES = tuple(f"V{i}" for i in range(10)) + tuple(
    f"{k} kbps" for k in (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
)
OGG_QUALITIES = tuple(f"{k} kbps" for k in (64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 500))
DEFAULT_QUALITY = {"mp3": "V0", "ogg": "192 kbps"}


class ExportError(ValueError):
    """Export settings that cannot be used: names the setting and the valid choices."""


@dataclass(frozen=True)
class ExportSpec:
    """How a render is written. bit_depth applies to wav/flac, quality to mp3/ogg;
    dither (TPDF, seeded from the render seed so re-renders stay bit-identical) to 16-bit."""

    format: str = "wav"
    bit_depth: int = 32
    quality: str | None = None
    dither: bool = True

    @property
    def suffix(self) -> str:
        return "." + self.format

    def to_dict(self) -> dict[str, Any]:
        """Only the settings that apply to the format, so parse_export(spec.to_dict()) == spec."""
        d = asdict(self)
        if self.format in BIT_DEPTHS:
            d.pop("quality")
        else:
            d.pop("bit_depth")
        return d


EXPORT_KEYS = tuple(ExportSpec.__dataclass_fields__)


def parse_export(data: Mapping[str, Any] | ExportSpec | str | None, where: str = "export") -> ExportSpec:
    """Validate export settings; a bare format name ("mp3") is accepted too."""
    if isinstance(data, ExportSpec):
        return data
    if data is None:
        return ExportSpec()
    if isinstance(data, str):
        data = {"format": data}
    if not isinstance(data, Mapping):
        raise ExportError(f"{where}: expected an object like {{'format': 'wav', 'bit_depth': 24}}")
    for key in data:
        if key not in EXPORT_KEYS:
            raise ExportError(f"{where}: unknown key {key!r}; valid are {', '.join(EXPORT_KEYS)}")
    fmt = str(data.get("format", "wav")).lower().lstrip(".")
    if fmt not in FORMATS:
        raise ExportError(
            f"{where}.format: {data.get('format')!r} is not supported; choose {', '.join(FORMATS)}"
        )
    depths = BIT_DEPTHS.get(fmt)
    bit_depth = data.get("bit_depth")
    if depths:
        bit_depth = depths[-1] if bit_depth is None else bit_depth
        if bit_depth not in depths or isinstance(bit_depth, bool):
            raise ExportError(
                f"{where}.bit_depth: {bit_depth!r} is not valid for {fmt}; choose "
                + ", ".join(str(d) + (" (float)" if d == 32 else "") for d in depths)
            )
    elif bit_depth is not None:
        raise ExportError(f"{where}.bit_depth: {fmt} is lossy and has no bit depth; use quality")
    else:
        bit_depth = 0
    quality = data.get("quality")
    choices = {"mp3": MP3_QUALITIES, "ogg": OGG_QUALITIES}.get(fmt)
    if choices:
        quality = DEFAULT_QUALITY[fmt] if quality is None else quality
        if quality not in choices:
            raise ExportError(
                f"{where}.quality: {quality!r} is not valid for {fmt}; choose {', '.join(choices)}"
            )
    elif quality is not None:
        raise ExportError(f"{where}.quality: {fmt} is lossless and has no quality setting; use bit_depth")
    dither = data.get("dither", True)
    if not isinstance(dither, bool):
        raise ExportError(f"{where}.dither: expected true or false, got {dither!r}")
    return ExportSpec(fmt, int(bit_depth), quality, dither)


@dataclass(frozen=True)
class Written:
    path: Path
    sample_rate: int
    notes: tuple[str, ...] = ()


def write_audio(
    path: Path, audio: np.ndarray, sample_rate: int, spec: ExportSpec, *, dither_seed: int = 0
) -> Written:
    """Write (channels, samples) audio in spec's format atomically; never overwrites.

    MP3 only exists at 32/44.1/48 kHz: other rates are resampled (soxr VHQ) and the
    returned notes say so (the finisher puts them in the sidecar).
    """
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    notes: list[str] = []
    if spec.format == "mp3" and sample_rate not in MP3_SAMPLE_RATES:
        from diffhost.engine.audio import resample

        target = 44100 if sample_rate % 11025 == 0 else 48000
        audio = resample(audio, sample_rate, target)
        notes.append(
            f"MP3 supports only {', '.join(map(str, MP3_SAMPLE_RATES))} Hz: resampled "
            f"{sample_rate} -> {target} Hz (soxr VHQ)"
        )
        sample_rate = target
    if spec.format == "mp3":
        notes.append("MP3 decoders add encoder delay and padding (LAME); use WAV/FLAC for sample-exact edits")
    with atomic_target(path, suffix=spec.suffix) as tmp:
        if spec.format in ("wav", "flac"):
            data, subtype = _quantize(audio, spec, dither_seed)
            sf.write(tmp, data.T, sample_rate, subtype=subtype, format=spec.format.upper())
        else:
            from pedalboard.io import AudioFile

            tmp.unlink()  # pedalboard creates the file itself
            with AudioFile(str(tmp), "w", sample_rate, audio.shape[0], quality=spec.quality) as f:
                f.write(audio)
    return Written(path, sample_rate, tuple(notes))


def _quantize(audio: np.ndarray, spec: ExportSpec, seed: int) -> tuple[np.ndarray, str]:
    """Float to the integer grid ourselves (scale 2^(bits-1), like readers divide), with TPDF
    dither at 16 bit, so what is written is exactly what decodes back."""
    if spec.bit_depth == 32:
        return audio, "FLOAT"
    bits = spec.bit_depth
    scaled = audio.astype(np.float64) * 2.0 ** (bits - 1)
    if bits == 16 and spec.dither:
        rng = np.random.default_rng(seed)
        scaled += rng.random(scaled.shape) - rng.random(scaled.shape)  # TPDF, +-1 LSB
    q = np.clip(np.round(scaled), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if bits == 16:
        return q.astype(np.int16), "PCM_16"
    return (q.astype(np.int32) << 8), "PCM_24"  # libsndfile keeps the top 24 bits of int32


def slug(text: str | None, fallback: str = "render", max_len: int = 40) -> str:
    """A filesystem-safe name from a prompt."""
    s = re.sub(r"[^a-zA-Z0-9]+", "-", (text or "").lower()).strip("-")
    return (s[:max_len].rstrip("-")) or fallback


def unique_path(path: Path) -> Path:
    """path itself if free, else 'name-2.ext', 'name-3.ext', ...: nothing is ever overwritten."""
    if not path.exists() and not sidecar_path(path).exists():
        return path
    for i in range(2, 100000):
        cand = path.with_name(f"{path.stem}-{i}{path.suffix}")
        if not cand.exists() and not sidecar_path(cand).exists():
            return cand
    raise FileExistsError(f"{path}: no free file name left")


def sidecar_path(audio_path: Path) -> Path:
    return audio_path.with_name(audio_path.name + SIDECAR_SUFFIX)


def atomic_write_wav(path: Path, audio: np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> None:
    """Write (channels, samples) audio as WAV atomically; refuses to overwrite."""
    with atomic_target(path, suffix=".wav") as tmp:
        sf.write(tmp, np.asarray(audio, dtype=np.float32).T, sample_rate, subtype=subtype, format="WAV")


def write_sidecar(audio_path: Path, info: dict[str, Any]) -> Path:
    side = sidecar_path(audio_path)
    body = {"sidecar_version": SIDECAR_VERSION, "file": audio_path.name, **info}
    atomic_write_bytes(
        side, (json.dumps(body, indent=2, sort_keys=True, default=_json_default) + "\n").encode()
    )
    return side


def sweep_partials(folder: Path, older_than_s: float = 3600.0) -> list[Path]:
    """Remove temporary files an interrupted write left behind (".<name>.<random>.part[.<ext>]").
    Only old ones: a fresh one may belong to a write in progress in another process."""
    import time

    removed = []
    now = time.time()
    for p in Path(folder).glob(".*.part*"):
        name = p.name
        if not (name.endswith(".part") or ".part." in name) or not p.is_file():
            continue
        try:
            if now - p.stat().st_mtime >= older_than_s:
                p.unlink()
                removed.append(p)
        except FileNotFoundError:  # finished or swept by someone else meanwhile
            continue
    return removed




def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
