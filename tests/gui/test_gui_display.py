"""What the views draw: peak-preserving overview and a spectrogram whose peak sits at the tone."""

from __future__ import annotations

import numpy as np

from diffhost.gui.display import envelope, from_audio


def test_envelope_keeps_single_sample_peaks():
    x = np.zeros(441000, dtype=np.float32)
    x[123457] = 0.9
    x[300001] = -0.7
    env = envelope(x, columns=1000)
    assert env.shape == (2, 1000)
    assert env[1].max() == np.float32(0.9) and env[0].min() == np.float32(-0.7)


def test_spectrogram_peak_is_at_the_tone_frequency():
    sr = 48000
    t = np.arange(sr) / sr
    tone = 0.5 * np.sin(2 * np.pi * 3000 * t).astype(np.float32)
    d = from_audio(np.stack([tone, tone]), sr)
    bins = d.spectrogram.shape[1]
    peak_hz = d.spectrogram.mean(axis=0).argmax() * d.max_freq / (bins - 1)
    assert abs(peak_hz - 3000) < sr / 512  # within one FFT bin
    assert -8.0 < d.spectrogram.max() < -4.0  # a 0.5 sine reads about -6 dBFS
    assert np.isclose(d.duration_s, 1.0) and np.isclose(d.peak_dbfs, -6.02, atol=0.05)
