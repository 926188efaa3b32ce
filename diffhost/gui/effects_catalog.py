"""Effects the chain editor offers and how to edit their parameters.

When host.effects is present its catalogue (every pedalboard built-in, read from
pedalboard's own signatures, with its range limits) is used; otherwise a small
built-in list. Ranges here are only for spin boxes; host.effects validates.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from diffhost.host.render import effects

PLUGIN = "plugin"  # host.effects' name for a VST3/AU entry: {"effect": "plugin", "path": ...}
NYQUIST_HZ = 24000.0  # spin-box top for "below half the sample rate" limits


@dataclass(frozen=True)
class ParamSpec:
    name: str
    kind: str  # "float" | "int" | "bool" | "enum" | "path"
    default: Any
    lo: float = 0.0
    hi: float = 1.0
    step: float = 0.05
    choices: tuple[str, ...] = ()

    @property
    def unit(self) -> str:
        return unit_of(self.name)

    @property
    def label(self) -> str:
        """What the editor shows: "Cutoff frequency", "Freeze (≥ 0.5 holds the tail)"; never
        a raw snake_case name. The unit goes in the spin box's suffix."""
        return label_of(self.name)


_UNITS = (
    ("_db", "dB"),
    ("_hz", "Hz"),
    ("_ms", "ms"),
    ("_seconds", "s"),
    ("semitones", "st"),
    ("bit_depth", "bits"),
    ("sample_rate", "Hz"),
)
# 0..1 amounts say so in their label; compressor/gate ratios read "n : 1".
_FRACTIONS = {"mix", "depth", "feedback", "room_size", "damping", "wet_level", "dry_level", "width", "resonance"}
_LABELS = {
    "freeze_mode": "Freeze (≥ 0.5 holds the tail)",
    "q": "Q (bandwidth)",
    "centre_delay_ms": "Centre delay",
    "centre_frequency_hz": "Centre frequency",
    "cutoff_frequency_hz": "Cutoff frequency",
    "cutoff_hz": "Cutoff frequency",
    "vbr_quality": "VBR quality (0 best, 10 smallest)",
    "impulse_response_filename": "Impulse response file",
    "true_peak": "True peak",
    "target_sample_rate": "Target sample rate",
    "delay_seconds": "Delay time",
    "drive_db": "Drive",
    "gain_db": "Gain",
}


def unit_of(name: str) -> str:
    for suffix, unit in _UNITS:
        if name.endswith(suffix):
            return unit
    if name == "ratio":
        return ": 1"
    return ""


def label_of(name: str) -> str:
    if name in _LABELS:
        return _LABELS[name]
    words = name
    for suffix, _unit in _UNITS:
        if words.endswith(suffix) and words != suffix.lstrip("_"):
            words = words[: -len(suffix)]
            break
    words = words.replace("_", " ").strip()
    words = words[:1].upper() + words[1:]
    return f"{words} (0–1)" if name in _FRACTIONS else words


# Spin-box ranges for common parameters (lo, hi, step), used when host.effects gives no limit.
RANGES: dict[str, tuple[float, float, float]] = {
    "gain_db": (-60, 24, 0.5),
    "threshold_db": (-60, 0, 0.5),
    "drive_db": (0, 60, 0.5),
    "ratio": (1, 20, 0.5),
    "attack_ms": (0.1, 200, 0.5),
    "release_ms": (5, 2000, 5),
    "cutoff_frequency_hz": (10, 22000, 10),
    "centre_frequency_hz": (20, 10000, 10),
    "rate_hz": (0.01, 20, 0.05),
    "centre_delay_ms": (1, 50, 0.5),
    "delay_seconds": (0, 2, 0.01),
    "semitones": (-24, 24, 1),
    "bit_depth": (1, 24, 1),
    "q": (0.1, 20, 0.1),
}


def _spec(
    name: str, kind: str, default: Any, choices: tuple[str, ...] = (), limits: tuple | None = None
) -> ParamSpec:
    if kind in ("bool", "enum", "path"):
        return ParamSpec(name, kind, default, choices=choices)
    lo, hi, step = RANGES.get(name, (0.0, 1.0, 0.05))
    if limits is not None:
        lo = float(limits[0])
        hi = NYQUIST_HZ if limits[1] == "nyquist" else float(limits[1])
    if default is not None and not lo <= float(default) <= hi:  # a parameter we know little about
        lo, hi = min(lo, float(default) * 4 - 1), max(hi, float(default) * 4 + 1)
    return ParamSpec(name, kind, default, lo, hi, 1.0 if kind == "int" else step)


@cache
def catalog() -> dict[str, tuple[ParamSpec, ...]]:
    """Effect name -> its parameters, from host.effects (pedalboard's own parameter lists)."""
    builtins = effects.builtin_effects()
    limits = effects.LIMITS
    return {
        name: tuple(
            _spec(p.name, p.kind, p.default, tuple(p.choices), limits.get((name, p.name)))
            for p in info.params.values()
        )
        for name, info in sorted(builtins.items())
    }


def validator() -> Any:
    """host.effects' chain parser (raises ValueError naming entry, parameter and range)."""
    return effects.parse_chain


def default_effect(name: str) -> dict[str, Any]:
    params = {
        p.name: p.default for p in catalog().get(name, ()) if p.kind != "path" and p.default is not None
    }
    return {"effect": name, "params": params, "bypass": False}


def normalize(entry: dict[str, Any]) -> dict[str, Any]:
    """One chain entry in host.effects' form; an older {"name": ...} entry is accepted too."""
    out = {k: v for k, v in entry.items() if k != "name"}
    out["effect"] = entry.get("effect", entry.get("name"))
    out["params"] = dict(entry.get("params") or {})
    out["bypass"] = bool(entry.get("bypass", False))
    return out
