"""The procedural one-shot synthesizer: training data source and the default model's decoder.

A sound is a category plus ten continuous controls in [-1, 1]. Six have the same
meaning for every category (pitch, decay, bright, punch, drive, width); four are
category-specific colour (e.g. a kick's pitch-drop speed, a chord's quality).
The default model diffuses in this space and this synth renders the waveform,
so every output is clean 44.1 kHz stereo with no vocoder noise floor.

Pure numpy/scipy: no torch. Randomness (noise, oscillator phases) comes from
the rng passed in, so a seeded rng gives bit-identical audio.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from diffhost.engine.default.music.filters import butter, sosfilt

SR = 44100
CATEGORIES = (
    "kick", "snare", "clap", "rim", "closed_hat", "open_hat", "tom", "cymbal",
    "bass", "pluck", "pad", "lead", "chord",
    "riser", "downlifter", "sweep", "zap", "impact",
)  # fmt: skip
DRUMS = CATEGORIES[:8]
TONAL = CATEGORIES[8:13]
EFFECTS = CATEGORIES[13:]
DESCRIPTORS = ("pitch", "decay", "bright", "punch", "drive", "width")
N_CONTROLS = len(DESCRIPTORS) + 4
PARAM_DIM = len(CATEGORIES) + N_CONTROLS

# 808-style metallic oscillator ratios for hats and cymbals (six detuned squares).
_METAL_RATIOS = np.array([1.0, 1.4471, 1.6170, 1.9265, 2.5028, 2.6637])
# Low-pass cutoff (Hz) at the darkest setting; other categories use 1.5 kHz.
_DARK_CUTOFF = {
    "kick": 110.0,
    "tom": 220.0,
    "bass": 300.0,
    "impact": 400.0,
    "closed_hat": 5000.0,
    "open_hat": 5000.0,
    "cymbal": 4000.0,
}
_CHORDS = ((0, 4, 7), (0, 3, 7), (0, 4, 7, 11), (0, 3, 7, 10), (0, 5, 7), (0, 7, 12))


@dataclass(frozen=True)
class Sound:
    """One decoded point of the parameter space."""

    category: str
    controls: np.ndarray  # (N_CONTROLS,) in [-1, 1]

    def u(self, name: str) -> float:
        """A descriptor as 0..1."""
        return float((self.controls[DESCRIPTORS.index(name)] + 1.0) / 2.0)

    def e(self, i: int) -> float:
        """Category-specific control i (0..3) as 0..1."""
        return float((self.controls[len(DESCRIPTORS) + i] + 1.0) / 2.0)


def encode_vector(category: str, controls: np.ndarray) -> np.ndarray:
    """Sound -> model space: one-hot category in {-1, +1} followed by the controls."""
    v = -np.ones(PARAM_DIM, dtype=np.float32)
    v[CATEGORIES.index(category)] = 1.0
    v[len(CATEGORIES) :] = np.clip(controls, -1, 1)
    return v


def decode_vector(v: np.ndarray) -> Sound:
    """Model space -> Sound: the category is the arg-max; controls are clipped."""
    v = np.asarray(v, dtype=np.float64)
    cat = CATEGORIES[int(np.argmax(v[: len(CATEGORIES)]))]
    return Sound(cat, np.clip(v[len(CATEGORIES) :], -1.0, 1.0))


def random_sound(rng: np.random.Generator, category: str | None = None) -> Sound:
    """The prior the training data is drawn from: uniform controls per category."""
    cat = category or CATEGORIES[rng.integers(len(CATEGORIES))]
    return Sound(cat, rng.uniform(-1.0, 1.0, N_CONTROLS))


def render(sound: Sound, length_s: float, rng: np.random.Generator) -> np.ndarray:
    """Render float32 stereo (2, samples) at SR, peak-normalized to -1 dBFS, with a clean end."""
    n = max(16, int(round(length_s * SR)))
    t = np.arange(n) / SR
    voice = _VOICES[sound.category]
    mid, side = voice(sound, t, rng)
    width = 0.15 + 0.85 * sound.u("width")
    out = np.stack([mid + width * side, mid - width * side])
    out = _tilt(out, sound.u("bright"))
    drive = sound.u("drive")
    if drive > 0.05:
        g = 1.0 + 12.0 * drive**2
        out = np.tanh(g * out / (np.max(np.abs(out)) + 1e-9)) / np.tanh(g)
    bright = sound.u("bright")
    if bright < 0.5:  # dark closes a low-pass after the drive, so darkness wins over drive's harmonics
        out = _filt(out, "lowpass", _glerp(_DARK_CUTOFF.get(sound.category, 1500.0), 20000.0, 2 * bright))
    out = _highpass(out, 25.0)  # DC and subsonic rumble
    out *= _end_fade(n, length_s)
    peak = np.max(np.abs(out))
    if peak > 0:
        out *= 10 ** (-1.0 / 20) / peak
    return out.astype(np.float32)


# -- building blocks --------------------------------------------------------------------
def _exp(t: np.ndarray, t60: float) -> np.ndarray:
    """Exponential decay reaching -60 dB at t60 seconds, capped so the sound fits the clip."""
    t60 = min(t60, 0.7 * (t[-1] + 1.0 / SR))
    return np.exp(-t * (6.91 / max(t60, 1e-3)))


def _attack(t: np.ndarray, a: float) -> np.ndarray:
    return np.clip(t / max(a, 1e-4), 0.0, 1.0) ** 1.5


def _phase(freq: np.ndarray | float, n: int, rng: np.random.Generator) -> np.ndarray:
    f = np.broadcast_to(np.asarray(freq, dtype=np.float64), (n,))
    return (rng.uniform() + np.cumsum(f) / SR) % 1.0


def _saw(freq: np.ndarray | float, n: int, rng: np.random.Generator) -> np.ndarray:
    f = np.broadcast_to(np.asarray(freq, dtype=np.float64), (n,))
    return _saw_from_phase(_phase(f, n, rng), f)


def _square(freq: np.ndarray | float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Band-limited square: the difference of two saws half a cycle apart."""
    f = np.broadcast_to(np.asarray(freq, dtype=np.float64), (n,))
    ph = _phase(f, n, rng)
    return _saw_from_phase(ph, f) - _saw_from_phase((ph + 0.5) % 1.0, f)


def _saw_from_phase(ph: np.ndarray, f: np.ndarray) -> np.ndarray:
    """PolyBLEP band-limited sawtooth from a phase in [0, 1)."""
    dt = np.clip(f / SR, 1e-6, 0.5)
    y = 2.0 * ph - 1.0
    lo = ph < dt
    x = ph[lo] / dt[lo]
    y[lo] -= x + x - x * x - 1.0
    hi = ph > 1.0 - dt
    x = (ph[hi] - 1.0) / dt[hi]
    y[hi] -= x * x + x + x + 1.0
    return y


def _sine(freq: np.ndarray | float, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.sin(2 * np.pi * _phase(freq, n, rng))


def _filt(x: np.ndarray, kind: str, fc, order: int = 2) -> np.ndarray:
    nyq = SR / 2 * 0.98
    if kind == "bandpass":
        lo, hi = fc
        lo, hi = max(20.0, lo), min(nyq, hi)
        if hi <= lo * 1.05:
            hi = min(nyq, lo * 1.1)
        sos = _butter(order, (float(lo), float(hi)), "bandpass")
    else:
        sos = _butter(order, float(min(max(fc, 20.0), nyq)), kind)
    return sosfilt(sos.copy(), x, axis=-1)  # a copy: the cached design is shared (and sosfilt wants it writable)


@functools.lru_cache(maxsize=256)
def _butter(order: int, wn: float | tuple[float, float], kind: str) -> np.ndarray:
    """scipy's Butterworth design, remembered: every render designs the same 25 Hz high-pass and
    1.5 kHz tilt, and the design cost more than the filtering (a fresh pad renders 16 clips a second).
    The same call gives the same coefficients, so renders stay bit-identical."""
    return butter(order, list(wn) if isinstance(wn, tuple) else wn, btype=kind, fs=SR, output="sos")


def _sweep(x: np.ndarray, kind: str, fc: np.ndarray, q: float = 0.707, block: int = 512) -> np.ndarray:
    """Time-varying biquad (RBJ lowpass/bandpass): coefficients per block, state carried over."""
    n = x.shape[-1]
    centers = np.minimum(np.arange(0, n, block) + block // 2, n - 1)
    w = 2 * np.pi * np.clip(np.asarray(fc, dtype=np.float64)[centers], 30.0, SR * 0.45) / SR
    alpha = np.sin(w) / (2 * max(q, 0.3))
    cw = np.cos(w)
    if kind == "bandpass":  # constant 0 dB peak gain
        b = np.stack([alpha, np.zeros_like(w), -alpha], axis=1)
    else:
        b = np.stack([(1 - cw) / 2, 1 - cw, (1 - cw) / 2], axis=1)
    a = np.stack([1 + alpha, -2 * cw, 1 - alpha], axis=1)
    sos = np.concatenate([b / a[:, :1], a / a[:, :1]], axis=1)
    y = np.empty_like(x)
    zi = np.zeros((1, 2))
    for i, start in enumerate(range(0, n, block)):
        y[start : start + block], zi = sosfilt(sos[i : i + 1], x[start : start + block], zi=zi)
    return y


def _highpass(x: np.ndarray, fc: float) -> np.ndarray:
    return _filt(x, "highpass", fc, order=2)


def _tilt(x: np.ndarray, bright: float) -> np.ndarray:
    """A gentle spectral tilt around 1.5 kHz: dark rolls off highs, bright lifts them."""
    hi = _filt(x, "highpass", 1500.0, order=1)
    lo = x - hi
    gain_hi = 10 ** ((bright - 0.5) * 24.0 / 20.0)
    return lo + gain_hi * hi


def _end_fade(n: int, length_s: float) -> np.ndarray:
    """Fade over the last 8% of the clip (at least 5 ms) so it ends in silence, never a click."""
    m = min(n, max(int(0.08 * n), int(0.005 * SR)))
    env = np.ones(n)
    env[n - m :] = np.cos(np.linspace(0, np.pi / 2, m)) ** 2
    return env


def _noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n)


def _metal(base: float, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(sum(_square(base * r, n, rng) for r in _METAL_RATIOS) / len(_METAL_RATIOS))


def _lerp(a: float, b: float, u: float) -> float:
    return a + (b - a) * u


def _glerp(a: float, b: float, u: float) -> float:
    """Geometric interpolation, for frequencies and times."""
    return a * (b / a) ** u


# -- voices: (sound, t, rng) -> (mid, side) ------------------------------------------------
def _kick(s: Sound, t, rng):
    n = t.size
    f_end = _glerp(38, 95, s.u("pitch"))
    drop = _lerp(1.5, 7.0, s.u("punch"))
    tau = _glerp(0.008, 0.07, s.e(0))
    f = f_end * (1 + (drop - 1) * np.exp(-t / tau))
    t60 = _glerp(0.12, 1.4, s.u("decay"))
    body = _sine(f, n, rng) * _exp(t, t60)
    body += 0.25 * s.e(1) * _sine(2 * f, n, rng) * _exp(t, 0.15)
    click = _filt(_noise(n, rng), "highpass", _glerp(1500, 7000, s.u("bright"))) * _exp(t, 0.012)
    body += 0.3 * s.u("bright") * _sine(3 * f, n, rng) * _exp(t, 0.08)
    # Click level follows brightness, scaled with the body's length so decay does not change the balance.
    mid = body + (0.02 + 1.5 * s.u("bright") ** 1.5) * (0.6 + 0.4 * s.u("punch")) * np.sqrt(t60 / 0.3) * click
    side = 0.2 * _filt(_noise(n, rng), "highpass", 4000) * _exp(t, 0.03)
    return mid, side


def _snare(s: Sound, t, rng):
    n = t.size
    f0 = _glerp(150, 300, s.u("pitch"))
    tone = (_sine(f0 * (1 + 0.5 * np.exp(-t / 0.01)), n, rng) + 0.5 * _sine(f0 * 1.6, n, rng)) * _exp(t, 0.12)
    noise_t60 = _glerp(0.12, 0.7, s.u("decay"))
    lo = _glerp(1200, 5000, s.u("bright"))
    nz = _filt(_noise(n, rng), "bandpass", (lo, lo * _lerp(2.5, 5, s.e(0))), order=2)
    nz2 = _filt(_noise(n, rng), "bandpass", (lo, lo * 3), order=2)
    env = _exp(t, noise_t60) * _attack(t, _lerp(0.004, 0.0005, s.u("punch")))
    mix = _lerp(0.35, 0.75, s.e(1))
    return (1 - mix) * tone + mix * 1.6 * nz * env, 0.8 * mix * nz2 * env


def _clap(s: Sound, t, rng):
    n = t.size
    bursts = 3 + int(round(2 * s.e(0)))
    gap = _lerp(0.006, 0.014, s.e(1))
    env = np.zeros(n)
    for k in range(bursts):
        tk = t - k * gap
        env += (tk >= 0) * np.exp(-np.maximum(tk, 0) / 0.004) * _lerp(0.6, 1.0, rng.uniform())
    tail_start = (bursts - 1) * gap
    tt = np.maximum(t - tail_start, 0)
    env += (t >= tail_start) * 0.7 * _exp(tt, _glerp(0.15, 0.8, s.u("decay")))
    center = _glerp(800, 2200, s.u("pitch"))
    q_hi = _lerp(1.6, 3.5, s.u("bright"))
    mid = _filt(_noise(n, rng), "bandpass", (center / 1.6, center * q_hi)) * env
    side = _filt(_noise(n, rng), "bandpass", (center / 1.6, center * q_hi)) * env
    return mid * (0.7 + 0.6 * s.u("punch")), side


def _rim(s: Sound, t, rng):
    n = t.size
    f0 = _glerp(380, 1100, s.u("pitch"))
    t60 = _glerp(0.025, 0.16, s.u("decay"))
    tone = (_sine(f0, n, rng) + 0.8 * _square(f0 * 1.47, n, rng) * s.u("bright")) * _exp(t, t60)
    click = (
        _filt(_noise(n, rng), "bandpass", (f0 * 2, f0 * 8))
        * _exp(t, 0.006)
        * (0.1 + s.u("bright"))
        * (0.5 + s.u("punch"))
    )
    return tone + click, 0.2 * click


def _hat(s: Sound, t, rng, t60: float):
    n = t.size
    base = _glerp(280, 620, s.u("pitch"))
    metal = _metal(base, n, rng)
    hp = _glerp(4500, 11000, s.u("bright"))
    nz = _noise(n, rng)
    mix = _lerp(0.2, 0.8, s.e(0))  # metallic vs airy
    src = mix * metal + (1 - mix) * 0.5 * nz
    env = _exp(t, t60) * _attack(t, _lerp(0.003, 0.0003, s.u("punch")))
    mid = _filt(src, "highpass", hp, order=2) * env
    side = _filt(_noise(n, rng), "highpass", hp, order=2) * env * 0.5
    return mid, side


def _closed_hat(s: Sound, t, rng):
    return _hat(s, t, rng, _glerp(0.03, 0.16, s.u("decay")))


def _open_hat(s: Sound, t, rng):
    return _hat(s, t, rng, _glerp(0.3, 1.3, s.u("decay")))


def _tom(s: Sound, t, rng):
    n = t.size
    f_end = _glerp(75, 320, s.u("pitch"))
    f = f_end * (1 + _lerp(0.2, 1.2, s.u("punch")) * np.exp(-t / 0.03))
    body = _sine(f, n, rng) + 0.3 * s.e(0) * _sine(f * 1.5, n, rng)
    body *= _exp(t, _glerp(0.2, 1.0, s.u("decay")))
    nz = (
        _filt(_noise(n, rng), "bandpass", (f_end * 2, f_end * 24))
        * _exp(t, 0.06)
        * (0.02 + 1.2 * s.u("bright") ** 1.5)
    )
    return body + nz, 0.5 * nz


def _cymbal(s: Sound, t, rng):
    n = t.size
    base = _glerp(300, 560, s.u("pitch"))
    t60 = _glerp(0.9, 3.5, s.u("decay"))
    hp = _glerp(2500, 7500, s.u("bright"))
    src = 0.6 * _metal(base, n, rng) + 0.4 * _noise(n, rng)
    env = _exp(t, t60) * _attack(t, 0.002)
    mid = _filt(src, "highpass", hp) * env
    side = _filt(_noise(n, rng), "highpass", hp) * env * 0.7
    return mid, side


def _note_env(s: Sound, t, t60_range: tuple[float, float]) -> np.ndarray:
    atk = _lerp(0.012, 0.001, s.u("punch"))
    return _attack(t, atk) * _exp(t, _glerp(*t60_range, s.u("decay")))


def _bass(s: Sound, t, rng):
    n = t.size
    f0 = _glerp(36, 110, s.u("pitch"))
    saw = _lerp(0.0, 1.0, s.e(0))  # sine sub vs saw
    osc = (1 - saw) * _sine(f0, n, rng) + saw * 0.6 * _saw(f0, n, rng)
    cut = _glerp(120, 2500, s.u("bright")) * (1 + 4 * s.u("punch") * np.exp(-t / 0.05))
    y = _sweep(osc, "lowpass", cut) * _note_env(s, t, (0.25, 2.0))
    return y + 0.3 * _sine(f0, n, rng) * _note_env(s, t, (0.25, 2.0)), 0.1 * saw * y


def _pluck(s: Sound, t, rng):
    n = t.size
    f0 = _glerp(180, 1100, s.u("pitch"))
    osc = _saw(f0, n, rng) + 0.5 * _saw(f0 * 1.003, n, rng)
    cut = f0 * (
        _glerp(1.0, 6.0, s.u("bright"))
        + _glerp(2, 30, s.u("bright")) * np.exp(-t / _glerp(0.02, 0.2, s.e(0)))
    )
    env = _note_env(s, t, (0.12, 1.2))
    y = _sweep(osc, "lowpass", cut) * env
    side = _sweep(_saw(f0 * 0.997, n, rng), "lowpass", cut) * env * 0.6
    return y, side


def _stack(s: Sound, t, rng, f0: float, notes, detune: float, cut: np.ndarray):
    """A chord of detuned saws, left and right voices detuned apart (the side signal)."""
    n = t.size
    left = np.zeros(n)
    right = np.zeros(n)
    for semis in notes:
        f = f0 * 2 ** (semis / 12)
        left += _saw(f * (1 + detune), n, rng)
        right += _saw(f * (1 - detune), n, rng)
    left = _sweep(left, "lowpass", cut)
    right = _sweep(right, "lowpass", cut)
    k = 1.0 / len(notes)
    return 0.5 * (left + right) * k, 0.5 * (left - right) * k


def _pad(s: Sound, t, rng):
    f0 = _glerp(110, 440, s.u("pitch"))
    notes = _CHORDS[int(s.e(0) * (len(_CHORDS) - 1e-9))]
    detune = _lerp(0.002, 0.012, s.u("width"))
    dur = t[-1] + 1 / SR
    cut = _glerp(300, 4000, s.u("bright")) * (1 + np.linspace(0, 1.5 * s.e(1), t.size))
    mid, side = _stack(s, t, rng, f0, notes, detune, cut)
    swell = np.clip(t / (_lerp(0.3, 0.7, 1 - s.u("punch")) * dur), 0, 1) ** 2
    tail = _exp(np.maximum(t - 0.75 * dur, 0), _glerp(0.3, 2.0, s.u("decay")))
    return mid * swell * tail, side * swell * tail


def _lead(s: Sound, t, rng):
    """A held synth note: sustain plateau, vibrato and unison, unlike the pluck's free decay."""
    n = t.size
    f0 = _glerp(260, 1200, s.u("pitch"))
    vib = 1 + _lerp(0.002, 0.012, s.e(2)) * np.sin(2 * np.pi * _lerp(4.5, 6.5, s.e(3)) * t) * np.clip(
        t / 0.15, 0, 1
    )
    sq = s.e(0)
    osc = (1 - sq) * _saw(f0 * vib, n, rng) + sq * 0.7 * _square(f0 * vib, n, rng)
    osc2 = _saw(f0 * vib * 1.006, n, rng)
    cut = f0 * (
        _glerp(1.0, 8.0, s.u("bright"))
        + _glerp(1, 12, s.u("bright")) * np.exp(-t / _glerp(0.05, 0.4, s.e(1)))
    )
    hold = _glerp(0.08, 0.6, s.u("decay"))
    atk = _lerp(0.015, 0.002, s.u("punch"))
    env = _attack(t, atk) * (0.85 + 0.15 * np.exp(-t / 0.05)) * _exp(np.maximum(t - hold, 0), 0.12)
    return _sweep(osc, "lowpass", cut) * env, 0.5 * _sweep(osc2, "lowpass", cut) * env


def _chord(s: Sound, t, rng):
    f0 = _glerp(140, 600, s.u("pitch"))
    notes = _CHORDS[int(s.e(0) * (len(_CHORDS) - 1e-9))]
    cut = f0 * (
        _glerp(1.0, 8.0, s.u("bright"))
        + _glerp(1, 12, s.u("bright")) * np.exp(-t / _glerp(0.03, 0.3, s.e(1)))
    )
    mid, side = _stack(s, t, rng, f0, notes, _lerp(0.001, 0.008, s.u("width")), cut)
    env = _note_env(s, t, (0.12, 1.0))
    return mid * env, side * env


def _rise_curve(t, dur, frac):
    """0 -> 1 over the first `frac` of the clip, then held."""
    return np.clip(t / max(frac * dur, 1e-3), 0, 1)


def _riser(s: Sound, t, rng):
    n = t.size
    dur = t[-1] + 1 / SR
    x = _rise_curve(t, dur, _lerp(0.5, 0.95, s.u("decay")))
    f_lo, f_hi = _glerp(150, 700, s.u("pitch")), _glerp(2500, 12000, s.u("bright"))
    fc = f_lo * (f_hi / f_lo) ** (x**1.5)
    nz = _sweep(_noise(n, rng), "bandpass", fc, q=_lerp(0.8, 4, s.e(0)))
    nz2 = _sweep(_noise(n, rng), "bandpass", fc, q=_lerp(0.8, 4, s.e(0)))
    tone = _saw(fc * 0.25, n, rng) * s.e(1) * 0.3
    amp = (0.05 + x**2) * (1 - _attack(np.maximum(t - 0.97 * dur, 0), 0.03 * dur))
    return (nz + tone) * amp, nz2 * amp


def _downlifter(s: Sound, t, rng):
    n = t.size
    dur = t[-1] + 1 / SR
    x = _rise_curve(t, dur, _lerp(0.3, 0.95, s.u("decay")))
    f_hi, f_lo = _glerp(2500, 12000, s.u("bright")), _glerp(80, 500, s.u("pitch"))
    fc = f_hi * (f_lo / f_hi) ** (x**0.7)
    nz = _sweep(_noise(n, rng), "bandpass", fc, q=_lerp(0.8, 4, s.e(0)))
    nz2 = _sweep(_noise(n, rng), "bandpass", fc, q=_lerp(0.8, 4, s.e(0)))
    boom = _sine(fc * 0.05 + 40, n, rng) * s.e(1) * 0.5
    amp = _attack(t, _lerp(0.03, 0.001, s.u("punch"))) * (1 - x) ** 1.5
    return (nz + boom) * amp, nz2 * amp


def _sweep_voice(s: Sound, t, rng):
    n = t.size
    dur = t[-1] + 1 / SR
    x = t / dur
    f_lo, f_hi = _glerp(200, 1000, s.u("pitch")), _glerp(2000, 12000, s.u("bright"))
    shape = np.sin(np.pi * x) if s.e(1) > 0.5 else x  # up-and-down or up
    fc = f_lo * (f_hi / f_lo) ** shape
    q = _lerp(0.7, 6, s.e(0))
    amp = np.sin(np.pi * np.clip(x, 0, 1)) ** _lerp(0.4, 2.0, 1 - s.u("decay"))
    return _sweep(_noise(n, rng), "bandpass", fc, q=q) * amp, _sweep(
        _noise(n, rng), "bandpass", fc, q=q
    ) * amp


def _zap(s: Sound, t, rng):
    n = t.size
    f_hi = _glerp(1500, 7000, s.u("pitch"))
    f_lo = f_hi * _lerp(0.02, 0.15, s.e(0))
    tau = _glerp(0.015, 0.15, s.u("decay"))
    f = f_lo + (f_hi - f_lo) * np.exp(-t / tau)
    sq = s.e(1)
    osc = (1 - sq) * _sine(f, n, rng) + sq * 0.6 * _square(f, n, rng)
    env = _attack(t, 0.001) * _exp(t, tau * 6)
    return osc * env, 0.3 * _sine(f * 1.01, n, rng) * env


def _impact(s: Sound, t, rng):
    n = t.size
    f_end = _glerp(30, 70, s.u("pitch"))
    f = f_end * (1 + 3 * np.exp(-t / 0.05))
    t60 = _glerp(0.8, 3.5, s.u("decay"))
    boom = _sine(f, n, rng) * _exp(t, t60)
    crash = _filt(_noise(n, rng), "lowpass", _glerp(1500, 9000, s.u("bright"))) * _exp(t, t60 * 0.5)
    crash2 = _filt(_noise(n, rng), "lowpass", _glerp(1500, 9000, s.u("bright"))) * _exp(t, t60 * 0.5)
    hit = _attack(t, _lerp(0.01, 0.0005, s.u("punch")))
    return (boom + 0.5 * crash) * hit, 0.5 * crash2 * hit


_VOICES = {
    "kick": _kick,
    "snare": _snare,
    "clap": _clap,
    "rim": _rim,
    "closed_hat": _closed_hat,
    "open_hat": _open_hat,
    "tom": _tom,
    "cymbal": _cymbal,
    "bass": _bass,
    "pluck": _pluck,
    "pad": _pad,
    "lead": _lead,
    "chord": _chord,
    "riser": _riser,
    "downlifter": _downlifter,
    "sweep": _sweep_voice,
    "zap": _zap,
    "impact": _impact,
}
assert set(_VOICES) == set(CATEGORIES)
