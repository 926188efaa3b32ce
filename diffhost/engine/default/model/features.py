"""Log-mel features of a clip, in numpy: the seed-clip encoder's input and the evaluation's classifier input."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from diffhost.engine.default.music.synth import SR

N_FFT = 2048
HOP = 1024
N_MELS = 64
N_FRAMES = 43  # ~1 s at 44.1 kHz; longer clips are summarised on a log time axis
FEATURE_DIM = N_MELS * N_FRAMES + 4 * N_MELS  # 3008: the frame grid plus per-band mean/std/max/decay


@lru_cache(maxsize=2)
def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, sr: int = SR) -> np.ndarray:
    """Slaney-style triangular mel filters, (n_mels, n_fft // 2 + 1)."""

    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = mel_to_hz(np.linspace(hz_to_mel(30.0), hz_to_mel(sr / 2), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sr)
    fb = np.zeros((n_mels, bins.size))
    for i in range(n_mels):
        lo, c, hi = edges[i : i + 3]
        fb[i] = np.clip(np.minimum((bins - lo) / (c - lo), (hi - bins) / (hi - c)), 0, None)
        fb[i] *= 2.0 / (hi - lo)
    return fb


def log_mel(audio: np.ndarray) -> np.ndarray:
    """(n_mels, frames) log-power mel spectrogram of a mono/stereo clip at SR, peak-normalised."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=0)
    x = x / (np.max(np.abs(x)) + 1e-9)
    if x.size < N_FFT:
        x = np.pad(x, (0, N_FFT - x.size))
    frames = 1 + (x.size - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * np.hanning(N_FFT), axis=1)) ** 2
    return np.log10(mel_filterbank() @ spec.T + 1e-8)


def clip_features(audio: np.ndarray) -> np.ndarray:
    """Fixed-size feature vector (FEATURE_DIM,) for any clip length."""
    m = log_mel(audio)
    frames = m.shape[1]
    # Resample the time axis onto N_FRAMES points: linear for the first second, then log-spaced.
    pos = np.concatenate([np.linspace(0, min(frames - 1, N_FRAMES * 0.75), N_FRAMES * 3 // 4)])
    rest = N_FRAMES - pos.size
    tail = np.geomspace(max(pos[-1], 1.0) + 1, max(frames - 1, pos[-1] + 2), rest) if rest else np.empty(0)
    pos = np.clip(np.concatenate([pos, tail]), 0, frames - 1)
    grid = np.stack([np.interp(pos, np.arange(frames), row) for row in m])
    energy = m.max(axis=0)
    peak = int(np.argmax(energy))
    decay = (m[:, -1] - m[:, peak]) / max(frames - peak, 1)
    stats = np.concatenate([m.mean(1), m.std(1), m.max(1), decay])
    return np.concatenate([grid.ravel(), stats]).astype(np.float32)
