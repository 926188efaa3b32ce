"""Finishing: the steps after generation that make a render ready to use.

Each step is a small pure function on float32 (channels, samples) audio. `Finishing`
is the validated settings dict from a preset; host.post runs the steps in this fixed,
documented order (effects sit between `tail_s` and `trim_silence`):

    dc_remove -> channels -> tail_s -> [effects] -> trim_silence -> tempo_fit -> loop
    -> fades -> sample_rate -> normalize

Loudness is ITU-R BS.1770 integrated loudness via pyloudnorm; resampling, channel
and length fitting reuse engine.audio (soxr VHQ); time stretching is pedalboard's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from diffhost.engine.audio import fit_length
from diffhost.engine.request import SAMPLE_RATE_RANGE

LUFS_MIN_S = 0.4  # one BS.1770 gating block


class FinishingError(ValueError):
    """Finishing settings or a step that cannot run: names the setting and what is valid."""


# -- steps --------------------------------------------------------------------------------------
# pedalboard runs its filters in blocks of this many samples and sets a filter state under 1e-8 to
# zero at the end of each block (JUCE's snapToZero): a result is bit-identical only when the blocks
# fall where they fell before. Every split below keeps to whole blocks.
_PB_BLOCK = 8192
_DC_CHUNK = 8 * _PB_BLOCK  # per call: large buffers make pedalboard slower per sample


def _highpass(audio: np.ndarray, sample_rate: int, cutoff_hz: float) -> np.ndarray:
    """pedalboard's first-order high-pass, channel by channel in whole blocks: the same samples as
    one call on the whole array (each channel has its own filter either way), in about half the
    time for long clips, where pedalboard's own handling of a big stereo buffer dominates."""
    import pedalboard

    out = np.empty_like(audio)
    n = audio.shape[-1]
    for c in range(audio.shape[0]):
        f = pedalboard.HighpassFilter(cutoff_hz)
        for s in range(0, n, _DC_CHUNK):
            out[c, s : s + _DC_CHUNK] = f.process(
                audio[c, s : s + _DC_CHUNK], float(sample_rate), buffer_size=_PB_BLOCK, reset=s == 0
            )
    return out


def _mean32(audio: np.ndarray) -> np.ndarray:
    return audio.mean(axis=-1, keepdims=True, dtype=np.float64).astype(np.float32)


def remove_dc(audio: np.ndarray, sample_rate: int, cutoff_hz: float = 5.0) -> np.ndarray:
    """Remove DC and sub-audible drift: mean removal, then a first-order 5 Hz high-pass
    (pedalboard's; its phase shift is under 6 degrees above 50 Hz, and it costs ~1 ms per
    10 s stereo, where a zero-phase scipy filter cost 60)."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        return remove_dc(audio[None, :], sample_rate, cutoff_hz)[0]
    audio = np.ascontiguousarray(audio - _mean32(audio))
    out = _highpass(audio, sample_rate, cutoff_hz)
    out = out - _mean32(out)  # the filter's start
    return np.ascontiguousarray(out, dtype=np.float32)


# Warm-up for a loop's DC filter: the 5 Hz filter forgets its past by a factor of about 1e-13 a
# second, far below a float32 sample's precision, so after this long two runs that started apart
# produce the very same samples (checked below, never assumed).
_WARM_S = 1.5


def remove_dc_circular(audio: np.ndarray, sample_rate: int, cutoff_hz: float = 5.0) -> np.ndarray:
    """remove_dc of a loop as it is heard on repeat: exactly the samples of remove_dc run on two
    copies of the loop in a row, second copy kept (host.render.post), in little more than the
    time of one copy. See _circular_fast; where its checks do not hold, the two copies are run."""
    a = np.ascontiguousarray(audio, dtype=np.float32)
    fast = _circular_fast(a, sample_rate, cutoff_hz)
    if fast is not None:
        return fast
    n = a.shape[-1]
    return np.ascontiguousarray(remove_dc(np.concatenate([a, a], axis=-1), sample_rate, cutoff_hz)[..., n : 2 * n])


def _circular_fast(a: np.ndarray, sr: int, cutoff_hz: float) -> np.ndarray | None:
    """The second copy's samples without filtering the first copy whole, or None where that cannot
    be shown exact. The filter's state after a sample depends only on that sample's input and
    output (a first-order filter), so two runs over the same input that once give the same output
    sample give the same samples from there on (as long as pedalboard's end-of-block zeroing treats
    both alike, which is checked where they are not aligned). Runs:
      P = the first copy's first J samples (exact: same start, same blocks),
      V = the last W samples of the loop, then the whole loop: its second part is the second copy
          once its warm-up ended in the state the first copy ended in.
    Checks: V's second part meets P within P (so from there on it also is the first copy), and
    V's warm-up ends on the same output sample as its second part does (so it started the loop
    in the first copy's end state). The mean the filter's start is removed with is taken over
    both copies, rebuilt from P and V sample for sample."""
    if a.ndim != 2:
        return None
    n = a.shape[-1]
    B = _PB_BLOCK
    warm = int(math.ceil(_WARM_S * sr))
    J = B * -(-warm // B)  # whole blocks from the start
    W = warm + (n - warm) % B  # so V starts where a block of the two-copy run starts
    if n < W + J + B:
        return None
    x = a - _mean32(np.concatenate([a, a], axis=-1))  # the two copies' mean, as remove_dc takes it
    P = _highpass(np.ascontiguousarray(x[:, :J]), sr, cutoff_hz)
    V = _highpass(np.concatenate([x[:, n - W :], x], axis=-1), sr, cutoff_hz)
    second = V[:, W:]
    if not np.array_equal(second[:, J - 1], P[:, J - 1]) or not np.array_equal(V[:, W - 1], second[:, n - 1]):
        return None
    # From J on, `second` stands in for the first copy; both runs are the same recursion unless
    # pedalboard zeroed a state under 1e-8 at a block's end in one and not the other. The state
    # after each block end of either run is estimated (with room for its float32 rounding); any
    # that could be that small sends the caller to the two-copy run.
    t = math.tan(float(np.float32(math.pi) * np.float32(cutoff_hz) / np.float32(sr)))
    b1, a1 = -1.0 / (t + 1.0), (t - 1.0) / (t + 1.0)
    # samples j in J-1..n-2 after which a block ends: (j + 1) or (n + j + 1) a multiple of B
    ends = np.union1d(np.arange(J - 1, n - 1, B), np.arange(J - 1 + (-(n + J)) % B, n - 1, B))
    xs, ys = x[:, ends].astype(np.float64), second[:, ends].astype(np.float64)
    z = b1 * xs - a1 * ys
    room = 1e-8 + 8 * float(np.finfo(np.float32).eps) * (np.abs(xs) + np.abs(ys))
    if np.any(np.abs(z) <= room):
        return None
    whole = np.concatenate([P, second[:, J:], second], axis=-1)  # the two-copy run's output
    return np.ascontiguousarray(second - _mean32(whole), dtype=np.float32)


# How a recipe removes DC (Finishing.dc_remove). True is the 5 Hz high-pass above for every clip,
# a loop's run as a circle: what every recipe written before there was a choice says, so it stays
# that forever and old recipes render again bit for bit. DC_LOOP_MEAN, the default of new recipes,
# takes a loop's mean off instead (and filters everything else as True does).
DC_FILTER = True
DC_LOOP_MEAN = "loop_mean"


def remove_loop_mean(audio: np.ndarray) -> tuple[np.ndarray, float]:
    """A loop's DC removed exactly: each channel's mean subtracted. Returns (a new array, its peak),
    the peak being the largest absolute sample (0.0 for silence), so that a peak normalization
    after it needs no pass of its own (post.postprocess).

    A loop is heard on repeat, so it is a periodic signal and its 0 Hz part is its mean: taking
    the mean off removes all of it, and nothing else. The seam stays as it was (every sample moves
    by the same amount) and there is no start-up step, where the 5 Hz high-pass also cuts what lies
    below a few Hz and turns the bass's phase by a few degrees (6 at 50 Hz, 3 at 100 Hz).

    The audio is read three times (numpy's mean, max and min) and written once: a peak
    normalization after it then only scales in place, with no peak or NaN pass of its own. The
    peak after the mean is known exactly
    from the largest and smallest samples: subtracting a number, or scaling by a positive one, in
    float32 keeps the order of samples, so the largest result is the largest sample's result. A
    NaN or an infinity shows in the mean and the peak; it is an error, as post's check makes it."""
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim != 2 or a.shape[-1] == 0:
        raise ValueError(f"loop: expected (channels, samples) audio with samples, got shape {a.shape}")
    mean = _mean32(a)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: reported just below
        hi = np.subtract(a.max(axis=-1, keepdims=True), mean)
        lo = np.subtract(mean, a.min(axis=-1, keepdims=True))
    peak = np.float32(max(hi.max(), lo.max()))
    if not (np.isfinite(mean).all() and np.isfinite(peak)):
        raise ValueError("post-processing produced NaN or infinite samples")
    return np.subtract(a, mean), float(peak)


def trim_silence(
    audio: np.ndarray, sample_rate: int, threshold_db: float = -60.0, pad_ms: float = 2.0
) -> np.ndarray:
    """Cut leading/trailing audio quieter than threshold_db below the clip's peak, keeping
    pad_ms around the sound so an onset is never clipped."""
    env = np.max(np.abs(audio), axis=0)
    peak = float(env.max()) if env.size else 0.0
    if peak == 0.0:
        return audio
    loud = np.flatnonzero(env >= peak * 10 ** (threshold_db / 20))
    pad = int(round(pad_ms * sample_rate / 1000))
    start, end = max(0, loud[0] - pad), min(audio.shape[-1], loud[-1] + 1 + pad)
    return np.ascontiguousarray(audio[:, start:end])


def fade(
    audio: np.ndarray, sample_rate: int, in_ms: float = 0.0, out_ms: float = 0.0, shape: str = "linear"
) -> np.ndarray:
    """Fade in and out; shape 'linear' or 'sine' (equal power)."""
    out = np.array(audio, dtype=np.float32, copy=True)
    n = out.shape[-1]
    for ms, head in ((in_ms, True), (out_ms, False)):
        k = min(n, int(round(ms * sample_rate / 1000)))
        if k <= 0:
            continue
        t = (np.arange(k, dtype=np.float64) + 0.5) / k
        ramp = np.sin(t * np.pi / 2) if shape == "sine" else t
        ramp = ramp.astype(np.float32)
        if head:
            out[:, :k] *= ramp
        else:
            out[:, n - k :] *= ramp[::-1]
    return out


def time_stretch(audio: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """Change speed by factor without changing pitch (>1 faster/shorter); exact output length."""
    import pedalboard

    if factor == 1.0:
        return audio
    out = pedalboard.time_stretch(np.ascontiguousarray(audio, dtype=np.float32), float(sample_rate), factor)
    return fit_length(np.asarray(out, dtype=np.float32), int(round(audio.shape[-1] / factor)))


def tempo_fit(audio: np.ndarray, sample_rate: int, source_bpm: float, target_bpm: float) -> np.ndarray:
    """Stretch audio played at source_bpm so it plays at target_bpm."""
    return time_stretch(audio, sample_rate, target_bpm / source_bpm)


def loop_samples(sample_rate: int, bpm: float, bars: float, beats_per_bar: float = 4.0) -> int:
    return int(round(bars * beats_per_bar * 60.0 / bpm * sample_rate))


def make_loop(
    audio: np.ndarray,
    sample_rate: int,
    bpm: float,
    bars: float,
    beats_per_bar: float = 4.0,
    crossfade_ms: float = 30.0,
    mode: str = "crossfade",
) -> tuple[np.ndarray, dict[str, Any]]:
    """Cut audio to exactly `bars` bars at `bpm` so it repeats without a seam.

    The audio past the loop end (crossfade_ms of it) is blended into the loop start:
    'crossfade' (equal power: start fades in while the overhang fades out; for pads and
    textures) or 'wrap' (the overhang's tail is added on top of an untouched start; for
    material whose first transient must stay). Audio too short for loop + crossfade is
    time-stretched to fit first (reported in the returned note).
    """
    n_loop = loop_samples(sample_rate, bpm, bars, beats_per_bar)
    x = int(round(crossfade_ms * sample_rate / 1000))
    if x * 2 > n_loop:
        raise FinishingError(
            f"loop: crossfade_ms {crossfade_ms:g} is longer than half the loop "
            f"({n_loop / sample_rate * 500:.1f} ms); valid is 0..{n_loop / sample_rate * 500:.1f} ms"
        )
    note: dict[str, Any] = {"loop_samples": n_loop, "crossfade_samples": x}
    need = n_loop + x
    if audio.shape[-1] < need:
        note["stretched_from_samples"] = int(audio.shape[-1])
        audio = time_stretch(audio, sample_rate, audio.shape[-1] / need)
    out = np.array(audio[:, :n_loop], dtype=np.float32, copy=True)
    if x:
        over = audio[:, n_loop : n_loop + x].astype(np.float64)
        t = (np.arange(x, dtype=np.float64) + 0.5) / x
        if mode == "wrap":
            out[:, :x] += (over * np.cos(t * np.pi / 2)).astype(np.float32)
        else:
            head = out[:, :x].astype(np.float64)
            out[:, :x] = (head * np.sin(t * np.pi / 2) + over * np.cos(t * np.pi / 2)).astype(np.float32)
    return out, note


def loudness_lufs(audio: np.ndarray, sample_rate: int) -> float | None:
    """BS.1770 integrated loudness in LUFS; None when shorter than one 0.4 s block or silent."""
    import pyloudnorm

    if audio.shape[-1] < LUFS_MIN_S * sample_rate:
        return None
    value = pyloudnorm.Meter(sample_rate).integrated_loudness(np.asarray(audio, dtype=np.float64).T)
    return float(value) if math.isfinite(value) else None


def normalize_lufs(
    audio: np.ndarray, sample_rate: int, target_lufs: float, ceiling_db: float | None = -1.0
) -> tuple[np.ndarray, dict[str, Any]]:
    """Gain to target integrated loudness; the gain is held back so peaks stay under ceiling_db."""
    measured = loudness_lufs(audio, sample_rate)
    if measured is None:
        length = audio.shape[-1] / sample_rate
        if length < LUFS_MIN_S:
            raise FinishingError(
                f"normalize: LUFS needs at least {LUFS_MIN_S} s of audio (one BS.1770 block); "
                f"this clip is {length:.3f} s. Use peak normalization for short one-shots."
            )
        return audio, {"measured_lufs": None, "gain_db": 0.0, "note": "silent: left unchanged"}
    gain_db = target_lufs - measured
    peak = float(np.max(np.abs(audio)))
    limited = False
    if ceiling_db is not None and peak > 0 and 20 * math.log10(peak) + gain_db > ceiling_db:
        gain_db = ceiling_db - 20 * math.log10(peak)
        limited = True
    out = (audio.astype(np.float64) * 10 ** (gain_db / 20)).astype(np.float32)
    return out, {
        "measured_lufs": round(measured, 3),
        "gain_db": round(gain_db, 4),
        "achieved_lufs": round(measured + gain_db, 3),
        "limited_by_ceiling": limited,
    }


# -- settings -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finishing:
    # True (the high-pass; what a recipe without this key means), False, or DC_LOOP_MEAN
    dc_remove: bool | str = DC_LOOP_MEAN
    channels: int | None = None
    tail_s: float = 0.0
    trim_silence: dict[str, float] | None = None  # {"threshold_db": -60, "pad_ms": 2}
    tempo_fit: dict[str, float] | None = None  # {"source_bpm": 120, "target_bpm": 128}
    loop: dict[str, Any] | None = None  # {"bpm", "bars", "beats_per_bar", "crossfade_ms", "mode"}
    fade_in_ms: float = 0.0
    fade_out_ms: float = 0.0
    fade_shape: str = "linear"
    sample_rate: int | None = None
    normalize: dict[str, Any] | None = field(default_factory=lambda: {"mode": "peak", "peak_db": -1.0})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FINISHING_KEYS = tuple(Finishing.__dataclass_fields__)

# (low, high, unit) for numbers; sub-objects list their own keys.
_NUM = {
    "tail_s": (0.0, 30.0, "s"),
    "fade_in_ms": (0.0, 60000.0, "ms"),
    "fade_out_ms": (0.0, 60000.0, "ms"),
}
_SUB: dict[str, dict[str, tuple[float, float, str, Any]]] = {
    # name: {key: (low, high, unit, default)}; default None = required
    "trim_silence": {
        "threshold_db": (-120.0, -10.0, "dB below peak", -60.0),
        "pad_ms": (0.0, 500.0, "ms", 2.0),
    },
    "tempo_fit": {"source_bpm": (20.0, 400.0, "BPM", None), "target_bpm": (20.0, 400.0, "BPM", None)},
    "loop": {
        "bpm": (20.0, 400.0, "BPM", None),
        "bars": (0.0625, 64.0, "bars", 1.0),
        "beats_per_bar": (1.0, 16.0, "beats", 4.0),
        "crossfade_ms": (0.0, 2000.0, "ms", 30.0),
    },
}
_NORMALIZE = {
    "peak": {"peak_db": (-60.0, 0.0, "dBFS", -1.0)},
    "lufs": {"lufs": (-60.0, 0.0, "LUFS", -14.0), "ceiling_db": (-60.0, 0.0, "dBFS", -1.0)},
}


def parse_finishing(data: Mapping[str, Any] | Finishing | None, where: str = "finishing") -> Finishing:
    """Validate a finishing dict; unknown keys name themselves and list the valid ones."""
    if isinstance(data, Finishing):
        return data
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise FinishingError(f"{where}: expected an object, got {type(data).__name__}")
    _check_keys(data, FINISHING_KEYS, where)
    # A recipe that names no DC mode was written before there were modes: it keeps the filter, so
    # it renders again exactly as it did. Only Finishing() itself (a new render's) has the new one.
    out: dict[str, Any] = {"dc_remove": DC_FILTER}
    for key, value in data.items():
        w = f"{where}.{key}"
        if key == "dc_remove":
            if not isinstance(value, bool) and value != DC_LOOP_MEAN:
                raise FinishingError(
                    f"{w}: {value!r} is not valid; choose true (5 Hz high-pass), "
                    f"{DC_LOOP_MEAN!r} (a loop's mean taken off, other clips high-passed) or false"
                )
            out[key] = value
        elif key == "channels":
            if value not in (None, 1, 2) or isinstance(value, bool):
                raise FinishingError(
                    f"{w}: {value!r} is not valid; choose 1 (mono), 2 (stereo) or null (keep)"
                )
            out[key] = value
        elif key == "sample_rate":
            if value is not None:
                lo, hi = SAMPLE_RATE_RANGE
                if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                    raise FinishingError(
                        f"{w}: {value!r} is out of range; valid is a whole number {lo}..{hi} Hz"
                    )
            out[key] = value
        elif key == "fade_shape":
            if value not in ("linear", "sine"):
                raise FinishingError(f"{w}: {value!r} is not valid; choose linear or sine")
            out[key] = value
        elif key in _NUM:
            out[key] = _number(value, *_NUM[key], w)
        elif key in _SUB:
            out[key] = _sub(value, key, w)
        elif key == "normalize":
            out[key] = _normalize(value, w)
    fin = Finishing(**out)
    if fin.loop and (fin.fade_in_ms or fin.fade_out_ms):
        raise FinishingError(f"{where}: loop and fades exclude each other (a fade would break the loop seam)")
    return fin


def _check_keys(data: Mapping[str, Any], valid: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in valid:
            raise FinishingError(f"{where}: unknown key {key!r}; valid are {', '.join(valid)}")


def _number(value: Any, lo: float, hi: float, unit: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FinishingError(f"{where}: expected a number in {lo:g}..{hi:g} {unit}, got {value!r}")
    if not lo <= value <= hi:
        raise FinishingError(f"{where}: {value:g} is out of range; valid is {lo:g}..{hi:g} {unit}")
    return float(value)


def _sub(value: Any, name: str, where: str) -> dict[str, Any] | None:
    if value is None or value is False:
        return None
    spec = _SUB[name]
    if value is True:
        value = {}
    if not isinstance(value, Mapping):
        raise FinishingError(f"{where}: expected an object with {', '.join(spec)} (or null)")
    valid = tuple(spec) + (("mode",) if name == "loop" else ())
    _check_keys(value, valid, where)
    out: dict[str, Any] = {}
    for key, (lo, hi, unit, default) in spec.items():
        if key not in value:
            if default is None:
                raise FinishingError(f"{where}: {key} is required ({lo:g}..{hi:g} {unit})")
            out[key] = default
        else:
            out[key] = _number(value[key], lo, hi, unit, f"{where}.{key}")
    if name == "loop":
        mode = value.get("mode", "crossfade")
        if mode not in ("crossfade", "wrap"):
            raise FinishingError(f"{where}.mode: {mode!r} is not valid; choose crossfade or wrap")
        out["mode"] = mode
    return out


def _normalize(value: Any, where: str) -> dict[str, Any] | None:
    if value is None or value is False:
        return None
    if not isinstance(value, Mapping):
        raise FinishingError(f"{where}: expected an object like {{'mode': 'peak', 'peak_db': -1}} or null")
    mode = value.get("mode")
    if mode not in _NORMALIZE:
        raise FinishingError(f"{where}.mode: {mode!r} is not valid; choose {' or '.join(_NORMALIZE)}")
    spec = _NORMALIZE[mode]
    _check_keys(value, ("mode", *spec), where)
    out: dict[str, Any] = {"mode": mode}
    for key, (lo, hi, unit, default) in spec.items():
        out[key] = _number(value.get(key, default), lo, hi, unit, f"{where}.{key}")
    return out
