"""Turning any audio into a clip the mixer can play as is: stream rate, stream channels, interleaved."""

from __future__ import annotations

import numpy as np

from diffhost.engine.audio import resample, set_channels

MAX_CLIP_S = 600.0


def prepare_clip(audio: np.ndarray, sample_rate: int, stream_rate: int, channels: int) -> np.ndarray:
    """float32 C-contiguous (samples, channels) at stream_rate; bad input raises ValueError."""
    return convert_clip(check_clip(audio, sample_rate), sample_rate, stream_rate, channels)


def check_clip(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Validate (cheap); float32 (channels, samples). Bad input raises ValueError naming the problem."""
    a = np.asarray(audio)
    if a.ndim == 1:
        a = a[np.newaxis, :]
    if a.ndim != 2 or a.shape[0] not in (1, 2):
        raise ValueError(f"audio: expected (channels, samples) with 1 or 2 channels, got shape {a.shape}")
    if a.shape[1] == 0:
        raise ValueError("audio: the clip is empty (0 samples)")
    if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"audio: expected float samples, got dtype {a.dtype}")
    if not 1000 <= int(sample_rate) <= 384000:
        raise ValueError(f"sample_rate: {sample_rate} Hz is out of range 1000..384000 Hz")
    if a.shape[1] / sample_rate > MAX_CLIP_S:
        raise ValueError(
            f"audio: {a.shape[1] / sample_rate:.1f} s is longer than the {MAX_CLIP_S:.0f} s limit"
        )
    a = a.astype(np.float32, copy=False)
    if not np.all(np.isfinite(a)):
        raise ValueError("audio: the clip holds NaN or infinite samples")
    return a


def convert_clip(audio: np.ndarray, sample_rate: int, stream_rate: int, channels: int) -> np.ndarray:
    """A checked clip to the stream's rate and channels, interleaved (the slow part: resampling)."""
    a = set_channels(resample(audio, int(sample_rate), int(stream_rate)), channels)
    return np.ascontiguousarray(a.T, dtype=np.float32)
