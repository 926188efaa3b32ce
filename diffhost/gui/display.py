"""What the waveform and spectrogram views draw, computed off the GUI thread (numpy only)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from diffhost.engine.audio import read_audio


@dataclass(frozen=True)
class DisplayData:
    path: Path | None
    audio: np.ndarray  # float32 (channels, samples), kept for playback
    sample_rate: int
    envelope: np.ndarray  # (2, columns): min and max per column of the mono mix
    spectrogram: np.ndarray  # (frames, bins) in dB, 0 = full scale
    max_freq: float
    music: dict[str, Any] | None = None  # the sidecar's "music": bpm, key, bars, loop (loops only)

    @property
    def duration_s(self) -> float:
        return self.audio.shape[-1] / self.sample_rate

    @property
    def peak_dbfs(self) -> float:
        peak = float(np.max(np.abs(self.audio))) if self.audio.size else 0.0
        return 20 * np.log10(peak) if peak > 0 else float("-inf")


def envelope(mono: np.ndarray, columns: int = 2000) -> np.ndarray:
    """Min/max per column, the way DAWs draw overviews (peaks survive decimation)."""
    n = mono.shape[-1]
    if n <= columns:
        return np.stack([mono, mono]).astype(np.float32)
    edges = np.linspace(0, n, columns + 1).astype(np.int64)
    lo = np.minimum.reduceat(mono, edges[:-1])
    hi = np.maximum.reduceat(mono, edges[:-1])
    return np.stack([lo, hi]).astype(np.float32)


def spectrogram(mono: np.ndarray, sample_rate: int, n_fft: int = 512, max_frames: int = 600) -> np.ndarray:
    """Magnitude STFT in dB (frames, bins), Hann window, at most max_frames frames."""
    if mono.shape[-1] < n_fft:
        mono = np.pad(mono, (0, n_fft - mono.shape[-1]))
    hop = max(n_fft // 4, (mono.shape[-1] - n_fft) // max_frames + 1)
    frames = 1 + (mono.shape[-1] - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    window = np.hanning(n_fft).astype(np.float32)
    mag = np.abs(np.fft.rfft(mono[idx] * window, axis=1)) / (window.sum() / 2)
    return (20 * np.log10(np.maximum(mag, 1e-6))).astype(np.float32)


def from_audio(audio: np.ndarray, sample_rate: int, path: Path | None = None) -> DisplayData:
    audio = np.asarray(audio, dtype=np.float32)
    mono = audio.mean(axis=0) if audio.ndim == 2 else audio
    return DisplayData(
        path=path,
        audio=audio,
        sample_rate=int(sample_rate),
        envelope=envelope(mono),
        spectrogram=spectrogram(mono, sample_rate),
        max_freq=sample_rate / 2,
    )


def load(path: Path) -> DisplayData:
    """Read a render (and its sidecar's music) and prepare its display (call from a worker thread)."""
    audio, sr = read_audio(path)
    data = from_audio(audio, sr, Path(path))
    return dataclasses.replace(data, music=read_music(Path(path)))


def read_music(path: Path, sidecar: Path | None = None) -> dict[str, Any] | None:
    """The music a render used (bpm, key, bars, loop), from its sidecar (`sidecar`, else the one
    beside `path`); None for one-shots, other models, or a file without a readable sidecar (a file
    from elsewhere is still shown)."""
    return read_music_and_parts(path, sidecar)[0]


def read_music_and_parts(path: Path, sidecar: Path | None = None) -> tuple[dict[str, Any] | None, str]:
    """(read_music's answer, parts_label of the stems and MIDI written beside the file), from one
    read of its sidecar."""
    from diffhost.host.render.export import sidecar_path
    from diffhost.host.render.post import file_music

    try:
        side = json.loads((Path(sidecar) if sidecar is not None else sidecar_path(Path(path))).read_text("utf-8"))
        music = file_music(side)
    except (OSError, ValueError, AttributeError):
        return None, ""
    return (music if isinstance(music, dict) else None), parts_label(side)


def parts_label(sidecar: dict[str, Any]) -> str:
    """'stems · MIDI', 'stems', 'MIDI' or '': what a render has beside it for a DAW."""
    have = []
    stems = sidecar.get("stems")
    if isinstance(stems, dict) and stems.get("files"):
        have.append("stems")
    if sidecar.get("midi"):
        have.append("MIDI")
    return " · ".join(have)


def music_of_result(result: Any, variation: int) -> dict[str, Any] | None:
    """The same from an engine result: GenerationResult.extra["music"] holds one per variation."""
    music = (getattr(result, "extra", None) or {}).get("music")
    if not music:
        return None
    return music[min(variation, len(music) - 1)]


def music_label(music: dict[str, Any] | None) -> str:
    """ "124 BPM · A minor · 4 bars · loop" ("" when the render reported no music)."""
    if not music:
        return ""
    parts = []
    if music.get("bpm") is not None:
        parts.append(f"{float(music['bpm']):.2f}".rstrip("0").rstrip(".") + " BPM")
    if music.get("key"):
        parts.append(str(music["key"]))
    bars = music.get("bars")
    if bars is not None:
        bars = float(bars)
        parts.append(f"{bars:g} bar{'' if bars == 1 else 's'}" if bars.is_integer() else f"{bars:.2f} bars")
    if music.get("loop"):
        parts.append("loop")
    return " · ".join(parts)


def format_eta(seconds: float) -> str:
    """Seconds left as a musician reads a clock: "8 s", "3 min 05 s", "1 h 10 min"."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
