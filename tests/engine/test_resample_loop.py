"""A loop resampled as the circle it is (engine.audio.resample_loop).

The result must be the samples of the plainest definition: the loop wrapped around itself by the
same whole number of output samples on both sides and resampled in one interleaved soxr call.
resample_loop does less work for the same samples (each channel as its own row, and after the loop
only the filter's context even where the context before it must be most of the loop); this checks
that "the same samples" holds bit for bit, at the ratios where the context before is short and
where it is long, and for a loop shorter than the filter."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soxr

from diffhost.engine.audio import _LOOP_CONTEXT, resample_loop
from diffhost.engine.request import loop_samples


def _wrapped_once(x: np.ndarray, m: int) -> np.ndarray:
    """The definition: the same context (a whole number of output samples) before and after the
    loop, all channels interleaved in one soxr call, the loop's m samples kept."""
    n = x.shape[-1]
    step = n // math.gcd(n, m)
    pad = min(n, step * max(1, -(-_LOOP_CONTEXT // step)))
    if pad == n and n < _LOOP_CONTEXT:
        reps = -(-_LOOP_CONTEXT // n)
        wrapped, pad = np.tile(x, (1, 2 * reps + 1)), reps * n
    else:
        wrapped = np.concatenate([x[:, n - pad :], x, x[:, :pad]], axis=1)
    out = soxr.resample(np.ascontiguousarray(wrapped.T), n, m, quality="VHQ").T
    start = pad * m // n
    return np.ascontiguousarray(out[:, start : start + m], dtype=np.float32)


@pytest.mark.parametrize(
    "bars, bpm, sr_out",
    [
        (4, 100.0, 48000),  # 441 x 960: a short context before the loop (147 samples a step)
        (2, 124.0, 48000),  # n and m share only 2: the context before is half the loop
        (1, 97.0, 96000),  # n and m share nothing: the context before is the whole loop
        (0.125, 175.0, 22050),  # shorter than the filter: wrapped several times
    ],
)
def test_a_loop_resamples_to_the_same_samples_as_one_interleaved_call(bars, bpm, sr_out):
    n, m = loop_samples(bars, bpm, 44100), loop_samples(bars, bpm, sr_out)
    rng = np.random.default_rng(n)
    t = np.arange(n) / 44100
    x = np.stack(
        [0.4 * np.sin(2 * np.pi * 220.0 * t) + 0.1 * rng.standard_normal(n), 0.3 * rng.standard_normal(n)]
    ).astype(np.float32)
    want = _wrapped_once(x, m)
    got = resample_loop(x, m)
    assert got.shape == (2, m) and got.dtype == np.float32
    assert np.array_equal(got, want), float(np.abs(got - want).max())
    mono = resample_loop(x[0], m)  # one channel as a 1-D array: one row back
    assert mono.shape == (1, m) and np.array_equal(mono[0], want[0])
