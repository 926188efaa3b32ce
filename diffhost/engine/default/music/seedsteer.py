"""What a seed clip says about rhythm and melody: onsets, notes, a tempo and a key.

The v2 default model steers its score with these: a tapped or beatboxed rhythm becomes the
drum grid (with each onset's exact timing), a hummed or played line becomes the melody
grid (with its exact pitches). Plain numpy: spectral-flux onsets and an autocorrelation
(YIN-style) pitch tracker, so nothing heavy loads on the inference path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SR = 44100
HOP = 256
N_FFT = 1024


@dataclass(frozen=True)
class Note:
    start: float
    end: float
    midi: float


@dataclass(frozen=True)
class SeedAnalysis:
    duration: float
    onsets: np.ndarray  # seconds
    centroids: np.ndarray  # Hz, spectral centroid of the 40 ms after each onset
    notes: tuple[Note, ...]
    voiced: float  # share of non-silent frames with a clear pitch

    @property
    def is_melodic(self) -> bool:
        return len(self.notes) >= 3 and self.voiced >= 0.5

    @property
    def is_rhythmic(self) -> bool:
        return len(self.onsets) >= 3 and not self.is_melodic

    @property
    def is_one_shot(self) -> bool:
        return len(self.onsets) <= 1 and not self.is_melodic


def _frames(x: np.ndarray, size: int, hop: int) -> np.ndarray:
    if x.size < size:
        x = np.pad(x, (0, size - x.size))
    n = 1 + (x.size - size) // hop
    idx = np.arange(size)[None, :] + hop * np.arange(n)[:, None]
    return x[idx]


def onsets(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Onset times (s) by half-wave-rectified log spectral flux with an adaptive threshold."""
    pad = N_FFT
    x = np.pad(x, (pad, 0))  # so an onset at 0 s still rises from silence
    fr = _frames(x, N_FFT, HOP) * np.hanning(N_FFT)
    mag = np.abs(np.fft.rfft(fr, axis=1))
    logm = np.log1p(100 * mag / (mag.max() + 1e-12))
    flux = np.maximum(np.diff(logm, axis=0, prepend=logm[:1]), 0).sum(1)
    flux /= flux.max() + 1e-12
    k = 8
    padded = np.pad(flux, k, mode="edge")
    local = np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1), axis=1)
    peaks: list[int] = []
    min_gap = int(0.05 * SR / HOP)
    for i in range(1, flux.size - 1):
        if flux[i] >= flux[i - 1] and flux[i] > flux[i + 1] and flux[i] > local[i] + 0.12:
            if not peaks or i - peaks[-1] >= min_gap:
                peaks.append(i)
            elif flux[i] > flux[peaks[-1]]:
                peaks[-1] = i
    # Refine each onset to the sample where the envelope starts rising.
    times, cents = [], []
    freqs = np.fft.rfftfreq(N_FFT, 1 / SR)
    for p in peaks:
        lo = max(0, (p - 2) * HOP)
        hi = min(x.size, (p + 2) * HOP + N_FFT)
        seg = np.abs(x[lo:hi])
        if seg.size == 0:
            continue
        env = np.convolve(seg, np.ones(32) / 32, mode="same")
        rise = np.nonzero(env > 0.2 * env.max())[0]
        t = (lo + (rise[0] if rise.size else 0)) / SR
        times.append(t - pad / SR)
        i0 = int(t * SR)
        w = x[i0 : i0 + int(0.04 * SR)]
        if w.size < 64:
            cents.append(0.0)
            continue
        spec = np.abs(np.fft.rfft(w * np.hanning(w.size), n=N_FFT))
        cents.append(float((spec * freqs).sum() / (spec.sum() + 1e-12)))
    return np.array(times), np.array(cents)


def pitch_track(x: np.ndarray, fmin: float = 60.0, fmax: float = 1200.0) -> tuple[np.ndarray, np.ndarray]:
    """(f0 Hz or 0 per frame, frame times) by the YIN difference function, hop HOP, window 2048."""
    size = 2048
    fr = _frames(x, size, HOP)
    rms = np.sqrt(np.mean(fr**2, axis=1))
    lag_min, lag_max = int(SR / fmax), int(SR / fmin)
    spec = np.fft.rfft(fr, n=2 * size, axis=1)
    acf = np.fft.irfft(spec * np.conj(spec), axis=1)[:, :size]
    energy = np.cumsum(fr**2, axis=1)
    lags = np.arange(1, lag_max + 1)
    # d(lag) = sum (x[j] - x[j + lag])^2 over the window: energies of both parts minus the correlation.
    head = energy[:, size - 1 - lags]
    tail = energy[:, -1:] - np.concatenate([np.zeros((fr.shape[0], 1)), energy[:, : lag_max - 1]], axis=1)
    d = np.maximum(head + tail - 2 * acf[:, lags], 0)
    cmnd = d * lags / np.maximum(np.cumsum(d, axis=1), 1e-12)
    below = cmnd[:, lag_min - 1 :] < 0.15
    has = below.any(axis=1) & (rms >= 0.02 * (rms.max() + 1e-12))
    first = np.argmax(below, axis=1) + lag_min - 1
    f0 = np.zeros(fr.shape[0])
    for i in np.nonzero(has)[0]:
        j = first[i]
        row = cmnd[i]
        while j + 1 < row.size and row[j + 1] < row[j]:
            j += 1
        shift = 0.0
        if 0 < j < row.size - 1:  # parabolic interpolation
            a, b, c = row[j - 1], row[j], row[j + 1]
            shift = 0.5 * (a - c) / (a - 2 * b + c + 1e-12)
        f0[i] = SR / (j + 1 + shift)
    times = (np.arange(fr.shape[0]) * HOP + size / 2) / SR
    return f0, times


def notes_from_pitch(f0: np.ndarray, times: np.ndarray, min_dur: float = 0.06) -> list[Note]:
    midi = np.where(f0 > 0, 69 + 12 * np.log2(np.maximum(f0, 1e-9) / 440.0), np.nan)
    notes, start = [], None
    for i in range(midi.size + 1):
        cur = midi[i] if i < midi.size else np.nan
        if start is not None:
            seg = midi[start:i]
            ref = np.nanmedian(seg)
            if np.isnan(cur) or abs(cur - ref) > 0.7:
                if times[i - 1] - times[start] + HOP / SR >= min_dur:
                    notes.append(
                        Note(float(times[start]), float(times[i - 1] + HOP / SR), float(np.round(ref)))
                    )
                start = None
        if start is None and not np.isnan(cur):
            start = i
    return notes


def analyze(audio: np.ndarray) -> SeedAnalysis:
    """audio: mono or (channels, samples) at SR."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=0)
    x = x / (np.max(np.abs(x)) + 1e-12)
    on, cents = onsets(x)
    f0, times = pitch_track(x)
    loud = _frames(x, 2048, HOP)
    active = np.sqrt(np.mean(loud**2, axis=1)) > 0.05
    voiced = float(np.mean(f0[: active.size][active] > 0)) if active.any() else 0.0
    return SeedAnalysis(x.size / SR, on, cents, tuple(notes_from_pitch(f0, times)), voiced)


def estimate_tempo(times: np.ndarray, lo: float = 70.0, hi: float = 175.0) -> float | None:
    """The tempo whose sixteenth grid (anchored at the first onset) best fits the onsets."""
    if times.size < 3:
        return None
    t = times - times[0]
    best, best_cost = None, np.inf
    for bpm in np.arange(lo, hi + 0.01, 0.25):
        step = 60.0 / bpm / 4
        dev = (t / step) - np.round(t / step)
        # Misfit in ms, plus a small pull towards fewer steps (slower grids fit anything).
        cost = np.mean((dev * step * 1000) ** 2) + 0.02 * (bpm - 120) ** 2 / 100
        if cost < best_cost:
            best, best_cost = float(bpm), cost
    return best


KEY_PROFILES = {  # Krumhansl-Kessler
    False: np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]),
    True: np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]),
}


def estimate_key(notes: tuple[Note, ...]) -> tuple[int, bool]:
    hist = np.zeros(12)
    for n in notes:
        hist[int(n.midi) % 12] += n.end - n.start
    best, score = (9, True), -np.inf
    for minor, prof in KEY_PROFILES.items():
        for tonic in range(12):
            r = np.corrcoef(hist, np.roll(prof, tonic))[0, 1] if hist.any() else 0.0
            if r > score:
                best, score = (tonic, minor), r
    return best
