"""Audio arrays and files without torch: reading, resampling, channel and length fitting.

Arrays are float32 shaped (channels, samples) everywhere in diffhost.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soxr

from diffhost.engine.request import SeedClip

# Formats soundfile reads natively; anything else goes through pedalboard (ffmpeg-free MP3/AAC).
_PEDALBOARD_SUFFIXES = {".mp3", ".m4a", ".aac", ".mp4"}


class AudioFileError(ValueError):
    """An audio file that cannot be read: names the file and the reason."""


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read any common audio file as float32 (channels, samples) and its sample rate."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise AudioFileError(f"{p}: no such audio file")
    if p.stat().st_size == 0:
        raise AudioFileError(f"{p}: the file is empty")
    if p.suffix.lower() in (".wav", ".wave"):
        _check_wav_complete(p)
    try:
        if p.suffix.lower() in _PEDALBOARD_SUFFIXES:
            from pedalboard.io import AudioFile

            with AudioFile(str(p)) as f:
                audio, sr = f.read(f.frames), int(f.samplerate)
        else:
            import soundfile as sf

            data, sr = sf.read(str(p), dtype="float32", always_2d=True)
            audio = data.T
    except AudioFileError:
        raise
    except Exception as exc:  # libsndfile/pedalboard say why; keep their words, name the file
        raise AudioFileError(f"{p}: cannot read audio ({exc})") from None
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if audio.shape[-1] == 0:
        raise AudioFileError(f"{p}: the file holds no audio frames")
    if not np.all(np.isfinite(audio)):
        raise AudioFileError(f"{p}: the file holds NaN or infinite samples")
    return audio, int(sr)


def _check_wav_complete(p: Path) -> None:
    """libsndfile quietly reads what is there of a cut-off WAV; say it is truncated instead."""
    import struct

    size = p.stat().st_size
    with open(p, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return  # not plain RIFF/WAVE (RF64, W64, junk): libsndfile gives the reason
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            cid, csize = struct.unpack("<4sI", f.read(8))
            if cid == b"data":
                if csize not in (0, 0xFFFFFFFF) and pos + 8 + csize > size:
                    raise AudioFileError(
                        f"{p}: the file is truncated: its header promises {csize} bytes of audio but only "
                        f"{size - pos - 8} are there (an interrupted copy or download?)"
                    )
                return
            pos += 8 + csize + (csize & 1)


def load_seed_clip(source: str | Path | SeedClip | tuple[np.ndarray, int]) -> SeedClip:
    """A SeedClip from a path, an (array, sample_rate) pair or a SeedClip."""
    if isinstance(source, SeedClip):
        return source
    if isinstance(source, (str, Path)):
        audio, sr = read_audio(source)
        return SeedClip(audio, sr)
    if isinstance(source, tuple) and len(source) == 2:
        return SeedClip(np.asarray(source[0]), int(source[1]))
    raise ValueError(
        "seed clip: expected a file path, an (array, sample_rate) pair or a SeedClip, "
        f"got {type(source).__name__}"
    )


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """High-quality (soxr VHQ) resampling of (channels, samples) audio."""
    if sr_in == sr_out:
        return np.ascontiguousarray(audio, dtype=np.float32)
    out = soxr.resample(np.ascontiguousarray(audio.T, dtype=np.float32), sr_in, sr_out, quality="VHQ")
    return np.ascontiguousarray(np.atleast_2d(out.T), dtype=np.float32)


def set_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """Mono <-> stereo: downmix by averaging, upmix by copying."""
    have = audio.shape[0]
    if have == channels:
        return audio
    if channels == 1:
        return audio.mean(axis=0, keepdims=True, dtype=np.float32)
    if have == 1:
        return np.repeat(audio, channels, axis=0)
    return set_channels(set_channels(audio, 1), channels)


def fit_length(audio: np.ndarray, num_samples: int) -> np.ndarray:
    """Trim or zero-pad the last axis to exactly num_samples."""
    n = audio.shape[-1]
    if n >= num_samples:
        return np.ascontiguousarray(audio[..., :num_samples])
    pad = [(0, 0)] * (audio.ndim - 1) + [(0, num_samples - n)]
    return np.pad(audio, pad)


def conform(audio: np.ndarray, sr_in: int, sr_out: int, num_samples: int) -> np.ndarray:
    """Resample (..., channels, samples) audio and fit it to exactly num_samples."""
    if audio.ndim == 3:
        return np.stack([conform(a, sr_in, sr_out, num_samples) for a in audio])
    return fit_length(resample(audio, sr_in, sr_out), num_samples)
