"""Audio arrays and files without torch: reading, resampling, channel and length fitting.

Arrays are float32 shaped (channels, samples) everywhere in diffhost.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from diffhost.engine.request import LENGTH_RANGE_S, SeedClip

# The longest seed clip kept: no model renders longer than LENGTH_RANGE_S allows, so no render can
# use more of a clip. Callers that know better (the model's own maximum, a render's length) pass less.
SEED_MAX_S = LENGTH_RANGE_S[1]
_BLOCK_FRAMES = 1 << 16  # frames read (and resampled) per step: ~1.4 s at 48 kHz, ~0.5 MB stereo

# Formats soundfile reads natively; anything else goes through pedalboard (ffmpeg-free MP3/AAC).
_PEDALBOARD_SUFFIXES = {".mp3", ".m4a", ".aac", ".mp4"}


class AudioFileError(ValueError):
    """An audio file that cannot be read: names the file and the reason."""


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read any common audio file as float32 (channels, samples) and its sample rate."""
    p = Path(path).expanduser()
    _check_is_audio_file(p)
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


def _check_is_audio_file(p: Path) -> None:
    if p.is_dir():
        raise AudioFileError(f"{p}: is a folder; give an audio file (wav, flac, ogg, mp3, ...)")
    if not p.exists():
        raise AudioFileError(f"{p}: no such audio file")
    if not p.is_file():
        raise AudioFileError(f"{p}: is not a regular file (a device or a pipe?); give an audio file")


@dataclass(frozen=True)
class BoundedClip:
    """A seed clip read with a length bound: the clip, and how long the file itself is."""

    clip: SeedClip
    source_s: float  # the file's whole duration

    @property
    def trimmed(self) -> bool:
        return self.source_s > self.clip.duration_s + 1e-6

    def note(self) -> str:
        """'' when whole; otherwise what was kept, for the user."""
        if not self.trimmed:
            return ""
        return (
            f"seed clip trimmed to its first {self.clip.duration_s:g} s of {self.source_s:g} s "
            "(no render can use more)"
        )


def read_seed_file(
    path: str | Path, *, max_s: float = SEED_MAX_S, sample_rate: int | None = None
) -> BoundedClip:
    """Read at most `max_s` seconds of an audio file as a seed clip, in blocks.

    The file is never read whole: blocks of `_BLOCK_FRAMES` go straight into one preallocated
    (channels, samples) array, resampled on the way (soxr's streaming resampler, VHQ) when
    `sample_rate` differs from the file's. Peak memory is that array plus a block or two,
    whatever the file's length. Errors name the file and the reason.
    """
    p = Path(path).expanduser()
    _check_is_audio_file(p)
    if p.stat().st_size == 0:
        raise AudioFileError(f"{p}: the file is empty")
    if not max_s > 0:
        raise ValueError(f"max_s: {max_s!r} must be a positive number of seconds")
    if p.suffix.lower() in (".wav", ".wave"):
        _check_wav_complete(p)
    try:
        with _open_blocks(p) as (frames, sr_in, channels, read):
            keep_in = min(frames, int(round(max_s * sr_in)))
            sr_out = int(sample_rate or sr_in)
            audio = _read_resampled(read, keep_in, sr_in, sr_out, channels)
    except (AudioFileError, ValueError):
        raise
    except Exception as exc:  # libsndfile/pedalboard say why; keep their words, name the file
        raise AudioFileError(f"{p}: cannot read audio ({exc})") from None
    if audio.shape[-1] == 0:
        raise AudioFileError(f"{p}: the file holds no audio frames")
    return BoundedClip(SeedClip(audio, sr_out), frames / sr_in)


def _read_resampled(read, keep_in: int, sr_in: int, sr_out: int, channels: int) -> np.ndarray:
    """Blocks from read(n) (-> (n, channels) float32) into one (channels, samples) array."""
    total = keep_in if sr_out == sr_in else int(round(keep_in * sr_out / sr_in))
    out = np.zeros((channels, total), dtype=np.float32)
    stream = None if sr_out == sr_in else soxr.ResampleStream(sr_in, sr_out, channels, "float32", "VHQ")
    at = done = 0
    while done < keep_in:
        block = read(min(_BLOCK_FRAMES, keep_in - done))
        if block.shape[0] == 0:
            break  # the header promised more than the file holds
        if not np.all(np.isfinite(block)):
            raise AudioFileError("the file holds NaN or infinite samples")
        done += block.shape[0]
        if stream is not None:
            block = stream.resample_chunk(np.ascontiguousarray(block), last=done >= keep_in)
        n = min(block.shape[0], total - at)
        out[:, at : at + n] = block[:n].T
        at += n
    if stream is not None and done < keep_in:  # a short file: flush what the resampler holds
        tail = stream.resample_chunk(np.zeros((0, channels), dtype=np.float32), last=True)
        n = min(tail.shape[0], total - at)
        out[:, at : at + n] = tail[:n].T
        at += n
    return out if at == total else out[:, :at]


@contextlib.contextmanager
def _open_blocks(p: Path) -> Iterator[tuple[int, int, int, Callable[[int], np.ndarray]]]:
    """(frames, sample_rate, channels, read(n) -> (n, channels) float32) for any readable format."""
    if p.suffix.lower() in _PEDALBOARD_SUFFIXES:
        from pedalboard.io import AudioFile

        with AudioFile(str(p)) as f:
            yield f.frames, int(f.samplerate), int(f.num_channels), lambda n: f.read(n).T
        return
    import soundfile as sf

    with sf.SoundFile(str(p)) as f:
        yield (
            f.frames,
            int(f.samplerate),
            int(f.channels),
            lambda n: f.read(n, dtype="float32", always_2d=True),
        )


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
    """A SeedClip from a path (at most SEED_MAX_S of it), an (array, sample_rate) pair or a SeedClip."""
    if isinstance(source, SeedClip):
        return source
    if isinstance(source, (str, Path)):
        return read_seed_file(source).clip
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


def resample_loop(audio: np.ndarray, num_samples: int) -> np.ndarray:
    """A loop (channels, n) resampled as the circle it is to exactly num_samples (soxr VHQ).

    The loop is wrapped around itself (its own end before its start, its start after its end) so
    the filter sees what plays around the seam, and resampled at exactly num_samples / n: the
    wrapped-in context is a whole number of output samples long, so the kept middle starts on the
    loop's first sample. The length is exact: a loop of N bars at another rate is round(N x bar x
    rate) samples even where n x rate_out / rate_in is not a whole number (the tempo then moves by
    at most half a sample per loop, a few parts per million).

    Only the context before the loop must be a whole number of output samples; the context after
    it only has to cover the filter, so it is _LOOP_CONTEXT samples however long the one before
    is (where n and num_samples share few factors, the one before can be most of the loop).

    Each channel goes through soxr on its own, as one contiguous row: soxr filters channels
    independently (the samples are the same as one interleaved call), and rows need no
    interleaving copies in or out, which cost as much as the filter's setup for a stem."""
    audio = np.asarray(audio, dtype=np.float32)
    n, m = audio.shape[-1], int(num_samples)
    if n == m:
        return np.ascontiguousarray(audio)
    # Context of p input samples maps to exactly p x m / n output samples when n / gcd(n, m) divides p.
    step = n // math.gcd(n, m)
    pad = min(n, step * max(1, -(-_LOOP_CONTEXT // step)))
    reps, after = 0, min(pad, _LOOP_CONTEXT)
    if pad == n and n < _LOOP_CONTEXT:  # a loop shorter than the filter: wrap it more times
        reps = -(-_LOOP_CONTEXT // n)
        pad = reps * n
    start = pad * m // n
    rows = audio.reshape(-1, n)
    out = np.empty((rows.shape[0], m), dtype=np.float32)
    for c, row in enumerate(rows):
        wrapped = np.tile(row, 2 * reps + 1) if reps else np.concatenate([row[n - pad :], row, row[:after]])
        out[c] = soxr.resample(wrapped, n, m, quality="VHQ")[start : start + m]
    return out.reshape(np.atleast_2d(audio).shape[:-1] + (m,))


_LOOP_CONTEXT = 8192  # input samples of wrapped-in context on each side: past soxr VHQ's filter length


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
