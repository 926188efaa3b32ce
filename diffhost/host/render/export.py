"""Writing renders: atomic, never overwriting, with a JSON sidecar that reproduces them."""

from __future__ import annotations

import json
import re
import struct
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from diffhost.engine.request import loop_samples, parse_key_name
from diffhost.host.render.atomic import atomic_target, atomic_write_bytes

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
# The choices the window's export menus and finishing editor offer: label -> export settings.
# 24-bit WAV first: the default.
MENU_CHOICES = {
    "WAV 24-bit": {"format": "wav", "bit_depth": 24},
    "WAV 16-bit (dithered)": {"format": "wav", "bit_depth": 16},
    "WAV 32-bit float": {"format": "wav", "bit_depth": 32},
    "FLAC 24-bit": {"format": "flac", "bit_depth": 24},
    "FLAC 16-bit (dithered)": {"format": "flac", "bit_depth": 16},
    "MP3 V0": {"format": "mp3", "quality": "V0"},
    "MP3 320 kbps": {"format": "mp3", "quality": "320 kbps"},
    "OGG 192 kbps": {"format": "ogg", "quality": "192 kbps"},
}


class ExportError(ValueError):
    """Export settings that cannot be used: names the setting and the valid choices."""


@dataclass(frozen=True)
class ExportSpec:
    """How a render is written. bit_depth applies to wav/flac, quality to mp3/ogg;
    dither (TPDF, seeded from the render seed so re-renders stay bit-identical) to 16-bit only:
    at 24 bit the rounding error sits ~144 dB down and at 32-bit float there is none, so there
    `dither` is always False and never claimed in a sidecar."""

    format: str = "wav"
    bit_depth: int = 24  # what DAW users expect; 32 = float on request
    quality: str | None = None
    dither: bool = True
    # Name files the way sample packs do: "<prompt>_128bpm_Fmin_4bars_s<seed>.wav" (the render's
    # tempo, key and bars, where the model reported them) instead of "<time>-<prompt>-s<seed>.wav".
    pack_names: bool = False

    def __post_init__(self) -> None:
        if not self.dither_applies:
            object.__setattr__(self, "dither", False)

    @property
    def dither_applies(self) -> bool:
        return self.dither and self.format in BIT_DEPTHS and self.bit_depth == 16

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
        if not (self.format in BIT_DEPTHS and self.bit_depth == 16):
            d.pop("dither")  # no dither step exists at this depth: say nothing about one
        if not self.pack_names:
            d.pop("pack_names")
        return d

    def describe(self) -> str:
        """Short words for menus and status lines: "WAV 24-bit", "MP3 V0"."""
        if self.format in BIT_DEPTHS:
            return f"{self.format.upper()} {'32-bit float' if self.bit_depth == 32 else f'{self.bit_depth}-bit'}"
        return f"{self.format.upper()} {self.quality}"


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
    pack_names = data.get("pack_names", False)
    if not isinstance(pack_names, bool):
        raise ExportError(f"{where}.pack_names: expected true or false, got {pack_names!r}")
    return ExportSpec(fmt, int(bit_depth), quality, dither, pack_names)


@dataclass(frozen=True)
class Written:
    path: Path
    sample_rate: int
    notes: tuple[str, ...] = ()
    # What the sidecar records about the encoding: "dither" only when dither was applied,
    # "mp3_gapless" (encoder delay / padding from the LAME tag) for MP3.
    encoding: dict[str, Any] = field(default_factory=dict)


# mpg123-style decoders that ignore the LAME tag start this many samples late on top of the
# encoder delay (LAME's documented decoder delay, 528 + 1).
MP3_DECODER_DELAY = 529


def write_audio(
    path: Path,
    audio: np.ndarray,
    sample_rate: int,
    spec: ExportSpec,
    *,
    dither_seed: int = 0,
    music: Mapping[str, Any] | None = None,
) -> Written:
    """Write (channels, samples) audio in spec's format atomically; never overwrites.

    MP3 only exists at 32/44.1/48 kHz: other rates are resampled (soxr VHQ) and the
    returned notes say so (the finisher puts them in the sidecar).
    music (the render's bpm, key, bars, loop): a WAV then carries it as an `acid` chunk (tempo,
    beats, root note, loop or one-shot) and, for a loop whose length is still whole bars, a `smpl`
    chunk looping the whole file, so DAWs and samplers take the tempo and loop without asking.
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
    encoding: dict[str, Any] = {}
    with atomic_target(path, suffix=spec.suffix) as tmp:
        if spec.format in ("wav", "flac"):
            data, subtype = _quantize(audio, spec, dither_seed)
            sf.write(tmp, data.T, sample_rate, subtype=subtype, format=_container(spec, audio.shape[0]))
            if spec.format == "wav" and music:
                append_riff_chunks(tmp, music_chunks(music, audio.shape[-1], sample_rate))
            if spec.dither_applies:
                encoding["dither"] = {"kind": "TPDF", "lsb": 1, "bit_depth": 16, "seed": int(dither_seed)}
        else:
            from pedalboard.io import AudioFile

            tmp.unlink()  # pedalboard creates the file itself
            with AudioFile(str(tmp), "w", sample_rate, audio.shape[0], quality=spec.quality) as f:
                f.write(audio)
            if spec.format == "mp3":
                gapless = mp3_gapless(tmp)
                if gapless is not None:
                    encoding["mp3_gapless"] = gapless
                    notes.append(
                        f"MP3 encoder delay {gapless['encoder_delay_samples']} samples and padding "
                        f"{gapless['padding_samples']} samples are in the LAME tag; gapless decoders "
                        "(libsndfile, ffmpeg, iTunes) trim them, others start "
                        f"{gapless['offset_without_gapless_samples']} samples late"
                    )
                else:
                    notes.append("MP3 without a LAME tag: decoders add encoder delay; use WAV/FLAC to line up")
    return Written(path, sample_rate, tuple(notes), encoding)


def music_chunks(music: Mapping[str, Any], samples: int, sample_rate: int) -> list[tuple[bytes, bytes]]:
    """The `acid` and `smpl` chunks for a render's music (see write_audio); [] without a tempo."""
    bpm = music.get("bpm")
    if not bpm:
        return []
    bpm = float(bpm)
    beats = samples / sample_rate * bpm / 60.0
    # A loop only while the file is still its whole bars (finishing may have trimmed or padded it).
    bars = music.get("bars")
    loop = bool(music.get("loop") and bars and loop_samples(float(bars), bpm, sample_rate) == samples)
    root = None
    if music.get("key"):
        try:
            root = 60 + parse_key_name(str(music["key"]))[0]  # the tonic in the octave above middle C
        except ValueError:
            root = None
    # acid: flags (1 one-shot, 2 root note set, 4 stretch), root note, two reserved fields, beats,
    # meter denominator and numerator, tempo: the layout ACID, libsndfile and the DAWs read.
    flags = (0 if loop else 0x01) | (0x02 if root is not None else 0) | 0x04
    acid = struct.pack("<IHHfIHHf", flags, root or 60, 0x8000, 0.0, int(round(beats)), 4, 4, bpm)
    chunks = [(b"acid", acid)]
    if loop:
        period_ns = int(round(1e9 / sample_rate))
        head = struct.pack("<9I", 0, 0, period_ns, root or 60, 0, 0, 0, 1, 0)
        # One forward loop over the whole file; the end is the last sample played (inclusive).
        chunks.append((b"smpl", head + struct.pack("<6I", 0, 0, 0, samples - 1, 0, 0)))
    return chunks


def append_riff_chunks(path: Path, chunks: list[tuple[bytes, bytes]]) -> None:
    """Append chunks to a RIFF/WAVE file and fix its RIFF size (each chunk padded to an even length)."""
    if not chunks:
        return
    with open(path, "r+b") as f:
        if f.read(4) != b"RIFF":
            raise ExportError(f"{path}: not a RIFF file; cannot add the music chunks")
        f.seek(0, 2)
        if f.tell() % 2:
            f.write(b"\0")  # the last chunk's pad byte
        for cid, body in chunks:
            f.write(cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b""))
        size = f.tell() - 8
        f.seek(4)
        f.write(struct.pack("<I", size))


def key_short(key: str | None) -> str | None:
    """'F minor' -> 'Fmin', 'Bb major' -> 'Bbmaj': how sample packs write keys in file names."""
    if not key:
        return None
    parts = str(key).split()
    quality = {"minor": "min", "major": "maj"}.get(parts[1].lower(), "") if len(parts) > 1 else ""
    return parts[0] + quality


def pack_name(prompt: str | None, music: Mapping[str, Any] | None, seed: int, suffix: str) -> str:
    """'boom-bap-drum-loop_90bpm_Fmin_4bars_s3.wav': a sample pack's name for a render."""
    parts = [slug(prompt, max_len=32)]
    if music:
        if music.get("bpm"):
            parts.append(f"{float(music['bpm']):g}bpm".replace(".", "-"))
        if key_short(music.get("key")):
            parts.append(key_short(music.get("key")) or "")
        bars = music.get("bars")
        if bars and music.get("loop"):
            parts.append(f"{float(bars):g}bar{'' if float(bars) == 1 else 's'}".replace(".", "-"))
    parts.append(f"s{seed}")
    return "_".join(parts) + suffix


def _container(spec: ExportSpec, channels: int) -> str:
    """WAVE_FORMAT_EXTENSIBLE where Microsoft's spec asks for it (more than 16 bits or more than two
    channels): sox and strict readers warn on a plain header there. FLAC is FLAC."""
    if spec.format == "wav" and (spec.bit_depth > 16 or channels > 2):
        return "WAVEX"
    return spec.format.upper()


def mp3_gapless(path: Path) -> dict[str, int] | None:
    """Encoder delay and padding from an MP3's LAME tag (in the first frame's Xing/Info header), so a
    sidecar can say exactly how a re-import lines up. None when the file has no LAME tag."""
    head = Path(path).read_bytes()[:4096]
    for marker in (b"Info", b"Xing"):
        x = head.find(marker)
        if x >= 0:
            break
    else:
        return None
    lame = head.find(b"LAME", x, x + 200)
    if lame < 0 or len(head) < lame + 24:
        return None
    b = head[lame + 21 : lame + 24]  # 12 bits delay, 12 bits padding
    delay, padding = (b[0] << 4) | (b[1] >> 4), ((b[1] & 0x0F) << 8) | b[2]
    return {
        "encoder_delay_samples": delay,
        "padding_samples": padding,
        "offset_without_gapless_samples": delay + MP3_DECODER_DELAY,
    }


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


# Names Windows refuses as a file's stem, whatever the extension (CON.wav is the console).
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def slug(text: str | None, fallback: str = "render", max_len: int = 40) -> str:
    """A file name part from a prompt that is safe on Windows, macOS and Linux and keeps letters and
    digits in any script ("für" stays "für", "キック" stays): everything that is not a letter, mark or
    number (so every character Windows forbids, / and control characters) becomes "-"; NFC, so
    macOS and Linux see one spelling; Windows' reserved device names get a "_"."""
    text = unicodedata.normalize("NFC", text or "").lower()
    keep = "".join(ch if unicodedata.category(ch)[0] in "LMN" else "-" for ch in text)
    s = re.sub(r"-+", "-", keep).strip("-")[:max_len].rstrip("-")
    if s.split(".")[0] in _RESERVED:
        s += "_"
    return s or fallback


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
