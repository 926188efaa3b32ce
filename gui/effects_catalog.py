"""Effects the chain editor offers, with parameter ranges (pedalboard names, snake_case units).

This is UI metadata only; host.effects owns applying and validating a chain.
When host.effects offers its own catalogue (`catalog()`), the editor uses that.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: float
    lo: float
    hi: float
    step: float = 0.1
    unit: str = ""


def _p(name: str, default: float, lo: float, hi: float, step: float = 0.1, unit: str = "") -> ParamSpec:
    return ParamSpec(name, default, lo, hi, step, unit)


CATALOG: dict[str, tuple[ParamSpec, ...]] = {
    "Gain": (_p("gain_db", 0.0, -60, 24, 0.5, "dB"),),
    "HighpassFilter": (_p("cutoff_frequency_hz", 80.0, 10, 20000, 10, "Hz"),),
    "LowpassFilter": (_p("cutoff_frequency_hz", 12000.0, 20, 22000, 100, "Hz"),),
    "Compressor": (
        _p("threshold_db", -18.0, -60, 0, 0.5, "dB"),
        _p("ratio", 4.0, 1, 20, 0.5),
        _p("attack_ms", 5.0, 0.1, 200, 0.5, "ms"),
        _p("release_ms", 100.0, 5, 2000, 5, "ms"),
    ),
    "Limiter": (_p("threshold_db", -1.0, -30, 0, 0.5, "dB"), _p("release_ms", 100.0, 1, 1000, 5, "ms")),
    "Distortion": (_p("drive_db", 12.0, 0, 60, 0.5, "dB"),),
    "Clipping": (_p("threshold_db", -6.0, -60, 0, 0.5, "dB"),),
    "Bitcrush": (_p("bit_depth", 8.0, 1, 24, 1, "bits"),),
    "Chorus": (
        _p("rate_hz", 1.0, 0.01, 20, 0.1, "Hz"),
        _p("depth", 0.25, 0, 1, 0.05),
        _p("centre_delay_ms", 7.0, 1, 50, 0.5, "ms"),
        _p("feedback", 0.0, 0, 0.95, 0.05),
        _p("mix", 0.5, 0, 1, 0.05),
    ),
    "Phaser": (
        _p("rate_hz", 1.0, 0.01, 20, 0.1, "Hz"),
        _p("depth", 0.5, 0, 1, 0.05),
        _p("centre_frequency_hz", 1300.0, 50, 10000, 50, "Hz"),
        _p("feedback", 0.0, 0, 0.95, 0.05),
        _p("mix", 0.5, 0, 1, 0.05),
    ),
    "Delay": (
        _p("delay_seconds", 0.25, 0, 2, 0.01, "s"),
        _p("feedback", 0.3, 0, 0.95, 0.05),
        _p("mix", 0.3, 0, 1, 0.05),
    ),
    "Reverb": (
        _p("room_size", 0.5, 0, 1, 0.05),
        _p("damping", 0.5, 0, 1, 0.05),
        _p("wet_level", 0.33, 0, 1, 0.05),
        _p("dry_level", 0.4, 0, 1, 0.05),
        _p("width", 1.0, 0, 1, 0.05),
    ),
    "PitchShift": (_p("semitones", 0.0, -24, 24, 1, "st"),),
}

VST3 = "VST3Plugin"


def default_effect(name: str) -> dict:
    return {"name": name, "params": {p.name: p.default for p in CATALOG[name]}, "bypass": False}


def specs(name: str) -> tuple[ParamSpec, ...]:
    return CATALOG.get(name, ())
