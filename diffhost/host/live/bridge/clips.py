"""From a finished render to the clip a plugin pad plays, and back from a recipe.

A clip is a pure function of the render's processed audio and a `ClipSpec` (the plugin's sample
rate, and for a loop its bars and tempo). The recipe a project keeps is the render's sidecar plus
that spec (plus, for a loop re-fitted to a new tempo, the tempo and length it was rendered again
at), so a clip the cache lost can be made again bit-identically: the renderer is deterministic
given its sidecar, and so is everything here.

A loop is resampled (soxr) with a little of its own end before it and of its own start after it,
and the middle kept: the resampler's filter then sees the loop's own audio on both sides of each
seam, so the clip wraps as cleanly as the original did. A loop is never time-stretched here: a new tempo is rendered again (see
host.live.bridge.link), because a stretcher's effective ratio drifts (pedalboard's by about one
sample in a thousand), which would move the loop's beats off the host's bar lines.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from diffhost.engine.audio import fit_length, read_audio, resample
from diffhost.engine.request import SAMPLE_RATE_RANGE
from diffhost.host.render.export import sidecar_path
from diffhost.host.render.finishing import loop_samples

BARS_RANGE = (0.25, 64.0)
MARGIN_S = 0.05  # of a loop's own audio on each side while resampling (soxr's filter is far shorter)
BEATS_PER_BAR_RANGE = (1, 32)
BPM_RANGE = (20.0, 999.0)
RECIPE_VERSION = 1


@dataclass(frozen=True)
class ClipSpec:
    """How a render becomes a pad's clip.

    sample_rate: the plugin's rate. For a loop, `bars` bars of `beats_per_bar` beats at `bpm`
    (the tempo it was rendered at): the clip is exactly round(bars x beats x 60 / bpm x rate)
    samples. A one-shot (bars None) is only resampled.
    """

    sample_rate: int
    bars: float | None = None
    beats_per_bar: int = 4
    bpm: float | None = None

    def __post_init__(self) -> None:
        lo, hi = SAMPLE_RATE_RANGE
        if (
            isinstance(self.sample_rate, bool)
            or not isinstance(self.sample_rate, int)
            or not lo <= self.sample_rate <= hi
        ):
            raise ValueError(f"sample_rate: {self.sample_rate!r} is out of range; valid is {lo}..{hi} Hz")
        if self.bars is None:
            return
        if not BARS_RANGE[0] <= float(self.bars) <= BARS_RANGE[1]:
            raise ValueError(
                f"bars: {self.bars!r} is out of range; valid is {BARS_RANGE[0]:g}..{BARS_RANGE[1]:g}"
            )
        if not BEATS_PER_BAR_RANGE[0] <= int(self.beats_per_bar) <= BEATS_PER_BAR_RANGE[1]:
            raise ValueError(
                f"beats_per_bar: {self.beats_per_bar!r} is out of range; valid is "
                f"{BEATS_PER_BAR_RANGE[0]}..{BEATS_PER_BAR_RANGE[1]}"
            )
        if self.bpm is None or not BPM_RANGE[0] <= float(self.bpm) <= BPM_RANGE[1]:
            raise ValueError(
                f"bpm: {self.bpm!r} is out of range for a loop; valid is {BPM_RANGE[0]:g}..{BPM_RANGE[1]:g} bpm"
            )

    @property
    def loop(self) -> bool:
        return self.bars is not None

    @property
    def samples(self) -> int | None:
        """A loop's exact length in samples (None for a one-shot)."""
        if self.bars is None or self.bpm is None:
            return None
        return loop_samples(self.sample_rate, float(self.bpm), float(self.bars), float(self.beats_per_bar))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClipSpec:
        known = {k: d[k] for k in ("sample_rate", "bars", "beats_per_bar", "bpm") if k in d}
        return cls(**known)


def make_clip(audio: np.ndarray, sample_rate: int, spec: ClipSpec) -> np.ndarray:
    """The pad's clip (float32, channels x samples) from a render's processed audio."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None, :]
    if audio.shape[0] > 2:
        audio = audio[:2]
    if not spec.loop:
        return resample(audio, sample_rate, spec.sample_rate)
    assert spec.bars is not None and spec.bpm is not None
    src_n = loop_samples(sample_rate, float(spec.bpm), float(spec.bars), float(spec.beats_per_bar))
    loop = fit_length(audio, src_n)  # the loop as it was rendered: whole bars at its tempo
    if sample_rate == spec.sample_rate:
        return np.ascontiguousarray(loop, dtype=np.float32)
    n = spec.samples
    assert n is not None
    # The loop's own end before it and its start after it, `margin` samples each: a whole number
    # of output samples long, so the middle is cut exactly where the loop begins.
    step = sample_rate // math.gcd(sample_rate, spec.sample_rate)
    margin = step * max(1, math.ceil(MARGIN_S * sample_rate / step))
    if margin > src_n:  # rates with no small common period: three whole copies
        margin = src_n
    padded = np.concatenate([loop[:, src_n - margin :], loop, loop[:, :margin]], axis=-1)
    out = resample(padded, sample_rate, spec.sample_rate)
    start = margin * spec.sample_rate // sample_rate
    return np.ascontiguousarray(fit_length(out[:, start:], n), dtype=np.float32)


def read_render(path: Path) -> tuple[np.ndarray, int, dict[str, Any]]:
    """A render's processed audio, its rate and its sidecar ({} when it has none)."""
    audio, sr = read_audio(path)
    return audio, sr, read_sidecar(path)


def read_sidecar(path: Path) -> dict[str, Any]:
    """A render's sidecar ({} when it has none or it is unreadable)."""
    side = sidecar_path(Path(path))
    if not side.is_file():
        return {}
    try:
        body = json.loads(side.read_text())
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def loop_of(sidecar: dict[str, Any]) -> tuple[float, float] | None:
    """(bars, bpm) when the sidecar says the render is a loop of whole bars, else None."""
    music = sidecar.get("music") or {}
    bars, bpm = music.get("bars"), music.get("bpm")
    if not music.get("loop") or not bars or not bpm:
        return None
    if abs(float(bars) - round(float(bars))) > 1e-3:
        return None
    return float(round(float(bars))), float(bpm)


def recipe_json(sidecar: dict[str, Any], spec: ClipSpec, again: dict[str, Any] | None = None) -> str:
    """What the plugin keeps per pad so the clip can be made again: the render's sidecar (its
    model, exact params, effects, finishing, export and the processed file's hash), the spec, and
    when the clip was made from audio in memory, "again": the changes to render the sidecar again
    with ({} none; a loop re-fitted to a new tempo: its bpm and length). Without "again" the clip
    was made from the processed file."""
    body: dict[str, Any] = {"diffhost_clip": RECIPE_VERSION, "clip": spec.to_dict(), "sidecar": sidecar}
    if again is not None:
        body["again"] = again
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def parse_recipe(text: str) -> tuple[dict[str, Any], ClipSpec, dict[str, Any] | None]:
    """(sidecar, spec, again) from a pad's recipe JSON; ValueError says what is wrong."""
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"recipe: not valid JSON ({exc})") from None
    if not isinstance(body, dict) or "clip" not in body or "sidecar" not in body:
        raise ValueError('recipe: expected a diffhost clip recipe, a JSON object with "clip" and "sidecar"')
    sidecar = body["sidecar"]
    if not isinstance(sidecar, dict) or not sidecar.get("params"):
        raise ValueError("recipe: its sidecar has no render params; it cannot be rendered again")
    again = body.get("again")
    if again is not None and not isinstance(again, dict):
        raise ValueError('recipe: "again" must be an object of render params')
    return sidecar, ClipSpec.from_dict(body["clip"]), again
