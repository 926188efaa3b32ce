"""Requests and results: the frozen values that cross thread boundaries.

Nothing here imports torch, so host/, osc/ and gui/ can build requests freely.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

# Limits shared by every front end (CLI, OSC, GUI) so they all say the same thing.
SAMPLE_RATE_RANGE = (8000, 192000)
LENGTH_RANGE_S = (0.05, 600.0)
TEMPERATURE_RANGE = (0.0, 4.0)
STEPS_RANGE = (1, 1000)
GUIDANCE_RANGE = (0.0, 50.0)
VARIATIONS_RANGE = (1, 64)
BPM_RANGE = (40.0, 300.0)
BARS_RANGE = (0.25, 256.0)  # length in bars of 4/4
MIX_RANGE = (1, 99)  # a model's own mix versions (ModelInfo.mix_versions) are checked against the model
BEATS_PER_BAR = 4
SEED_RANGE = (0, 2**63 - 1)

Priority = Literal["live", "batch"]


@dataclass(frozen=True)
class SeedClip:
    """Seed audio: float32 (channels, samples) at its own sample rate."""

    audio: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        audio = np.asarray(self.audio, dtype=np.float32)
        if audio.ndim == 1:
            audio = audio[None, :]
        if audio.ndim != 2 or audio.shape[1] == 0:
            raise ValueError(
                f"seed clip: expected audio shaped (channels, samples) with at least one sample, "
                f"got shape {tuple(np.shape(self.audio))}"
            )
        if audio.shape[0] > audio.shape[1]:
            audio = audio.T  # (samples, channels) as soundfile returns it
        if not np.all(np.isfinite(audio)):
            raise ValueError("seed clip: audio contains NaN or infinite samples")
        _check_range("seed clip sample_rate", self.sample_rate, SAMPLE_RATE_RANGE, "Hz")
        object.__setattr__(self, "audio", audio)
        object.__setattr__(self, "sample_rate", int(self.sample_rate))

    @property
    def duration_s(self) -> float:
        return self.audio.shape[1] / self.sample_rate


@dataclass(frozen=True)
class GenerationRequest:
    """Everything one render needs, validated on construction.

    temperature scales the initial noise: 1.0 is the model's own sampling,
    lower is tamer, higher is wilder. strength (0..1) is how far a seed clip
    is re-imagined: it is encoded, noised to that level and the rest denoised
    (see engine.adapters.base for the exact rule). seed=None draws a fresh seed;
    the result reports which one was used; the same seed on the same device
    gives bit-identical audio, and variation v uses seed + v.
    """

    prompt: str | None = None
    seed_clip: SeedClip | None = None
    sample_rate: int = 44100
    length: float = 10.0
    temperature: float = 1.0
    steps: int | None = None
    guidance: float | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    strength: float = 0.6
    variations: int = 1
    bpm: float | None = None  # tempo for loops and phrases; None = the prompt's ("at 90 bpm") or the model's
    # key: e.g. "A minor", "F#", "Eb major"; None = the prompt's ("in F# minor") or the model's
    key: str | None = None
    # bars: the length in bars of 4/4 instead of seconds. With a bpm it sets `length` exactly
    # (bars x 240 / bpm); without one the model chooses the tempo and reports the length it rendered
    # (`length` then holds a provisional length at 120 bpm, the tempo DAWs start at).
    bars: float | None = None
    # Models that render a score (ModelInfo.makes_music) can hand back each part's audio (stems)
    # and the score as a Standard MIDI File; other models refuse these.
    stems: bool = False
    midi: bool = False
    # mix: the version of a score model's renderer (its mix, bank and networks) to play with; None = its
    # newest. A clip's sidecar names the mix it was made with, so an old recipe renders again as it was.
    mix: int | None = None

    def __post_init__(self) -> None:
        if self.prompt is not None and not isinstance(self.prompt, str):
            raise ValueError(f"prompt: expected text, got {type(self.prompt).__name__}")
        if self.negative_prompt is not None and not isinstance(self.negative_prompt, str):
            raise ValueError(f"negative_prompt: expected text, got {type(self.negative_prompt).__name__}")
        _check_int("sample_rate", self.sample_rate, SAMPLE_RATE_RANGE, "Hz")
        if self.bars is not None:
            _check_range("bars", self.bars, BARS_RANGE, "bars")
            if self.bpm is not None:
                _check_range("bpm", self.bpm, BPM_RANGE, "")
            # Bars win over seconds: the length is what N bars last at the tempo.
            object.__setattr__(self, "length", bar_seconds(self.bpm or 120.0) * float(self.bars))
            if not LENGTH_RANGE_S[0] <= self.length <= LENGTH_RANGE_S[1]:
                raise ValueError(
                    f"bars: {self.bars:g} bars at {self.bpm or 120.0:g} bpm last {self.length:.2f} s, "
                    f"out of range; valid is {LENGTH_RANGE_S[0]}..{LENGTH_RANGE_S[1]} s"
                )
        _check_range("length", self.length, LENGTH_RANGE_S, "s")
        _check_range("temperature", self.temperature, TEMPERATURE_RANGE, "")
        if self.steps is not None:
            _check_int("steps", self.steps, STEPS_RANGE, "")
        if self.guidance is not None:
            _check_range("guidance", self.guidance, GUIDANCE_RANGE, "")
        if self.seed is not None:
            _check_int("seed", self.seed, SEED_RANGE, "")
        _check_range("strength", self.strength, (0.0, 1.0), "")
        _check_int("variations", self.variations, VARIATIONS_RANGE, "")
        if self.bpm is not None:
            _check_range("bpm", self.bpm, BPM_RANGE, "")
        if self.key is not None:
            _check_key(self.key)
        if self.mix is not None:
            _check_int("mix", self.mix, MIX_RANGE, "")
            object.__setattr__(self, "mix", int(self.mix))
        for flag in ("stems", "midi"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise ValueError(f"{flag}: expected true or false, got {getattr(self, flag)!r}")
            object.__setattr__(self, flag, bool(getattr(self, flag)))
        if self.seed_clip is not None and not isinstance(self.seed_clip, SeedClip):
            raise ValueError("seed_clip: expected a SeedClip (audio + its sample rate)")

    @property
    def num_samples(self) -> int:
        if self.bars is not None and self.bpm is not None:
            return loop_samples(self.bars, self.bpm, self.sample_rate)
        return int(round(self.length * self.sample_rate))

    def with_(self, **changes: Any) -> GenerationRequest:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (the seed clip is described, not embedded)."""
        d: dict[str, Any] = {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "sample_rate": self.sample_rate,
            "length": self.length,
            "temperature": self.temperature,
            "steps": self.steps,
            "guidance": self.guidance,
            "seed": self.seed,
            "strength": self.strength,
            "variations": self.variations,
        }
        if self.bpm is not None:
            d["bpm"] = self.bpm
        if self.key is not None:
            d["key"] = self.key
        if self.bars is not None:
            d["bars"] = self.bars
        if self.stems:
            d["stems"] = True
        if self.midi:
            d["midi"] = True
        if self.mix is not None:
            d["mix"] = self.mix
        if self.seed_clip is not None:
            d["seed_clip"] = {
                "sample_rate": self.seed_clip.sample_rate,
                "channels": int(self.seed_clip.audio.shape[0]),
                "samples": int(self.seed_clip.audio.shape[1]),
            }
        return d


@dataclass(frozen=True)
class ModelInfo:
    """What a loaded model is and can do; adapters fill it in."""

    name: str  # hub id, folder path or "diffhost-default"
    family: str  # e.g. "StableAudioPipeline", "diffhost-default"
    native_sample_rate: int
    channels: int
    max_length_s: float
    min_length_s: float = 0.0
    supports_prompt: bool = True
    supports_negative_prompt: bool = True
    supports_seed_clip: bool = True
    supports_guidance: bool = True
    requires_prompt: bool = False
    requires_seed_clip: bool = False
    default_steps: int = 50
    default_guidance: float | None = None
    revision: str | None = None  # hub revision or a weights hash
    device: str = "cpu"
    dtype: str = "float32"
    rendered_on: str = "local"  # or the remote engine (URL and replica) that rendered it
    # The model renders a score: it chooses tempo and key itself (so bars= needs no bpm) and can
    # write the score's stems and MIDI. Diffusion models of audio have neither.
    makes_music: bool = False
    # The mix versions the model can render with (GenerationRequest.mix); empty: it has none to choose.
    mix_versions: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        # the remote wire and sidecars carry it as a JSON list
        object.__setattr__(self, "mix_versions", tuple(int(v) for v in self.mix_versions))

    def to_dict(self) -> dict[str, Any]:
        # JSON's own types, so a sidecar read back equals the one handed out before it was written
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class GenerationResult:
    """Rendered audio plus what is needed to reproduce it exactly.

    audio is float32 (variations, channels, samples) at request.sample_rate.
    seed is the seed actually used (drawn when the request had none).
    """

    audio: np.ndarray
    sample_rate: int
    request: GenerationRequest
    seed: int
    model: ModelInfo
    steps: int
    guidance: float | None
    render_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def length_s(self) -> float:
        return self.audio.shape[-1] / self.sample_rate

    def reproduce_dict(self) -> dict[str, Any]:
        """Parameters with the resolved seed/steps/guidance: re-rendering these is bit-identical."""
        params = self.request.to_dict()
        params.update(seed=self.seed, steps=self.steps, guidance=self.guidance)
        return {"model": self.model.to_dict(), "params": params}


def bar_seconds(bpm: float) -> float:
    """Seconds in one bar of 4/4 at bpm."""
    return BEATS_PER_BAR * 60.0 / float(bpm)


def loop_samples(bars: float, bpm: float, sample_rate: int) -> int:
    """Samples in `bars` bars of 4/4 at bpm: round(bars x bar x rate), the one rule every part uses."""
    return int(round(float(bars) * BEATS_PER_BAR * 60.0 * int(sample_rate) / float(bpm)))


def _check_range(name: str, value: Any, bounds: tuple[float, float], unit: str) -> None:
    lo, hi = bounds
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: expected a number in {lo}..{hi}{unit and ' ' + unit}, got {value!r}")
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ValueError(f"{name}: {value} is out of range; valid is {lo}..{hi}{unit and ' ' + unit}")


def _check_int(name: str, value: Any, bounds: tuple[int, int], unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(
            f"{name}: expected a whole number in {bounds[0]}..{bounds[1]}{unit and ' ' + unit}, got {value!r}"
        )
    _check_range(name, int(value), bounds, unit)


_KEY_NAME = re.compile(r"\s*([A-Ga-g])\s*(#|♯|b|♭|sharp|flat)?\s*(major|minor|maj|min|m)?\s*", re.IGNORECASE)
_PITCH_CLASS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}


def parse_key_name(key: Any) -> tuple[int, bool | None]:
    """'A minor' -> (9, True); 'F#' -> (6, None); 'Eb major' -> (3, False). ValueError names the valid forms."""
    m = _KEY_NAME.fullmatch(key) if isinstance(key, str) else None
    if not m:
        raise ValueError(
            f"key: {key!r} is not a key; use a note name A-G with an optional # or b and an optional "
            "'major' or 'minor', e.g. 'A minor', 'F#', 'Eb major'"
        )
    pc = _PITCH_CLASS[m.group(1).lower()]
    if m.group(2):
        pc += 1 if m.group(2).lower() in {"#", "♯", "sharp"} else -1
    quality = (m.group(3) or "").lower()
    return pc % 12, (quality in {"minor", "min", "m"}) if quality else None


# The 24 keys as charts and DAWs spell them: the spelling with fewer accidentals ("Bb minor", not
# "A# minor"); at six each, F# major and Eb minor, the more common of the two.
_MAJOR_SPELLING = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_SPELLING = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")


def key_name(pitch_class: int, minor: bool) -> str:
    """(10, True) -> 'Bb minor'; the name parse_key_name reads back to the same key."""
    names = _MINOR_SPELLING if minor else _MAJOR_SPELLING
    return f"{names[pitch_class % 12]} {'minor' if minor else 'major'}"


def _check_key(key: Any) -> None:
    parse_key_name(key)
