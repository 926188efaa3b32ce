"""Procedural voices of the v2 renderer: the 808 sub, the analog pad and pluck, and the textures.

Notes are rendered mono at the rate asked for (sr; SR unless said); textures stereo. Loop-friendly
where it matters: the drone's oscillators and every LFO run at whole multiples of 1 / loop length,
so a drone loop is periodic to the sample; noise beds are crossfaded by the arranger instead.
Pure numpy/scipy; randomness from the rng passed in.
"""

from __future__ import annotations

import numpy as np

from diffhost.engine.default.music.filters import butter, sosfilt

SR = 44100


def _at(samples: int, sr: int) -> int:
    """A length given in samples at SR, at rate sr (the same time)."""
    return samples if sr == SR else int(round(samples * sr / SR))


def midi_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def _saw(freq: float, n: int, phase0: float = 0.0, sr: int = SR) -> np.ndarray:
    ph = (phase0 + freq * np.arange(n) / sr) % 1.0
    return 2.0 * ph - 1.0


def _lp(x: np.ndarray, fc: float, order: int = 2, sr: int = SR) -> np.ndarray:
    fc = float(np.clip(fc, 20.0, sr * 0.45))
    return sosfilt(butter(order, fc, "lowpass", fs=sr, output="sos"), x, axis=-1)


def _env(n: int, attack: float, dur: float, release: float, sr: int = SR) -> np.ndarray:
    t = np.arange(n) / sr
    a = np.clip(t / max(attack, 1e-4), 0, 1)
    r = np.where(t < dur, 1.0, np.exp(-(t - dur) / max(release, 1e-3) * 6.9))
    return a * r


def sub_808(note: int, dur: float, velocity: float, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """A sine sub with a short pitch drop and soft drive, ringing for the note's length."""
    n = int((dur + 0.12) * sr)
    t = np.arange(n) / sr
    f = midi_hz(note) * (1 + 0.6 * np.exp(-t / 0.012))
    ph = 2 * np.pi * np.cumsum(f) / sr
    x = np.sin(ph) * _env(n, 0.002, dur, 0.1, sr) * np.exp(-t / max(dur * 1.5, 0.3))
    return (np.tanh(2.2 * x) / np.tanh(2.2) * velocity).astype(np.float32)


def synth_pluck(note: int, dur: float, velocity: float, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    n = int((min(dur, 0.6) + 0.25) * sr)
    t = np.arange(n) / sr
    f = midi_hz(note)
    x = _saw(f, n, rng.uniform(), sr) + _saw(f * 1.004, n, rng.uniform(), sr)
    cutoff = 500 + 5000 * np.exp(-t / 0.08)
    y = np.zeros(n)
    block, ahead = _at(512, sr), _at(256, sr)  # the same times at any rate
    for i in range(0, n, block):  # a filter sweep, block-wise
        y[i : i + block] = _lp(x[i : i + block + ahead], cutoff[i], sr=sr)[: min(block, n - i)]
    env = _env(n, 0.002, min(dur, 0.6), 0.12, sr)
    return (0.5 * y * env * np.exp(-t / 0.5) * velocity).astype(np.float32)


def analog_pad(note: int, dur: float, velocity: float, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    n = int((dur + 0.6) * sr)
    f = midi_hz(note)
    x = sum(_saw(f * d, n, rng.uniform(), sr) for d in (0.993, 1.0, 1.007)) / 3
    x = _lp(np.asarray(x), 900 + 3 * f, sr=sr)
    return (0.5 * x * _env(n, 0.35, dur, 0.5, sr) * velocity).astype(np.float32)


SYNTH_NOTE_VOICES = {"sub_808": sub_808, "synth_pluck": synth_pluck, "analog_pad": analog_pad}


# -- textures (stereo, full length) ------------------------------------------------------------
def _cycles(length_s: float, hz: float) -> float:
    """The nearest frequency to hz that completes whole cycles in length_s (at least one)."""
    return max(1.0, round(hz * length_s)) / length_s


def texture(
    kind: str, n: int, tonic: int, minor: bool, bright: float, rng: np.random.Generator, sr: int = SR
) -> np.ndarray:
    length_s = n / sr
    t = np.arange(n) / sr
    if kind == "rain":
        bed = _lp(rng.standard_normal((2, n)), 2500 + 6000 * bright, sr=sr) - _lp(
            rng.standard_normal((2, n)), 300, sr=sr
        )
        drops = np.zeros((2, n))
        count = int(length_s * 40)
        drop, decay = _at(400, sr), 60.0 * sr / SR  # a drop's length and decay, the same times at any rate
        pos = rng.integers(0, n - drop, count)
        for p, ch, a in zip(pos, rng.integers(0, 2, count), rng.uniform(0.2, 1.0, count), strict=True):
            drops[ch, p : p + drop] += a * np.exp(-np.arange(drop) / decay) * rng.standard_normal(drop)
        return 0.35 * bed + 0.6 * _lp(drops, 5000 + 8000 * bright, sr=sr)
    if kind == "wind":
        out = np.zeros((2, n))
        for ch in range(2):
            noise = rng.standard_normal(n)
            # cos from phase 0 or pi: the LFO is flat at the loop seam, so no level ramp crosses it
            lfo = 0.5 + 0.5 * np.cos(2 * np.pi * _cycles(length_s, 0.13) * t + np.pi * ch)
            block, ahead = _at(1024, sr), _at(512, sr)
            for i in range(0, n, block):  # a slowly moving band
                fc = 250 + 1400 * lfo[i] * (0.5 + bright)
                seg = noise[i : i + block + ahead]
                sos = butter(2, [fc * 0.6, fc * 1.6], "bandpass", fs=sr, output="sos")
                out[ch, i : i + block] = sosfilt(sos, seg)[: min(block, n - i)]
            out[ch] *= 0.4 + 0.6 * lfo
        return out
    if kind == "vinyl":
        hiss = 0.08 * _lp(rng.standard_normal((2, n)), 6000 + 6000 * bright, sr=sr)
        crackle = np.zeros((2, n))
        count = int(length_s * 25)
        click, decay = _at(60, sr), 8.0 * sr / SR  # a crackle's length and decay, the same times at any rate
        pos = rng.integers(0, n - click, count)
        amp = rng.pareto(2.5, count) * 0.3
        for p, a in zip(pos, amp, strict=True):
            crackle[:, p : p + click] += min(a, 1.0) * np.exp(-np.arange(click) / decay) * rng.choice([-1, 1])
        hum = 0.03 * np.sin(2 * np.pi * _cycles(length_s, 60.0) * t)
        return hiss + crackle + hum
    # drone / evolving pad: oscillators at whole cycles per loop so the loop is periodic
    root = 36 + tonic if kind == "drone" else 48 + tonic
    third = 3 if minor else 4
    notes = (
        (root, root + 7, root + 12) if kind == "drone" else (root, root + third, root + 7, root + 12 + third)
    )
    out = np.zeros((2, n))
    for ch in range(2):
        x = np.zeros(n)
        for k, note in enumerate(notes):
            for d in (0.997, 1.003):
                f = _cycles(length_s, midi_hz(note) * d * (1 + 0.001 * ch))
                x += np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28)) * (0.8 if k == 0 else 0.5)
                x += (
                    0.3 * np.sin(2 * np.pi * 2 * f * t + rng.uniform(0, 6.28)) * (1 - 0.5 * (kind == "drone"))
                )
        lfo = 0.5 + 0.5 * np.cos(2 * np.pi * _cycles(length_s, 0.1) * t + np.pi * ch)
        out[ch] = x * (0.6 + 0.4 * lfo) if kind == "drone" else x * (0.25 + 0.75 * lfo**2)
    return out
