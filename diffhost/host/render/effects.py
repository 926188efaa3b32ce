"""Effects chains as data: pedalboard built-ins and VST3/AU plugins, validated up front.

A chain is a JSON list; each entry is
    {"effect": "Reverb", "params": {"room_size": 0.8}, "bypass": false}
or, for a third-party plugin,
    {"effect": "plugin", "path": "/x/Valhalla.vst3", "plugin_name": null,
     "params": {"mix": 30.0}, "state": "<base64 raw_state>", "bypass": false}

Names, defaults, types and enum choices of the built-ins come from pedalboard itself
(the signatures it documents); units come from pedalboard's parameter naming
(`_db`, `_hz`, `_ms`, ...). pedalboard range-checks some parameters itself; the small
LIMITS table covers the ones it accepts silently although they would make garbage.

The active effects run as one pedalboard.Pedalboard call with reset=True: pedalboard
then compensates the latency each plugin reports (it primes the chain and trims the
delayed start), so an effect with lookahead never shifts the transient.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

PLUGIN = "plugin"
PLUGIN_SUFFIXES = (".vst3", ".component")

# pedalboard classes that are not single effects a chain entry can name.
_NOT_EFFECTS = {
    "Plugin",
    "PluginContainer",
    "Pedalboard",
    "Chain",
    "Mix",
    "ExternalPlugin",
    "VST3Plugin",
    "AudioUnitPlugin",
    "IIRFilter",
}

# Limits pedalboard does not enforce itself (value outside -> silence, blow-ups or garbage).
# "nyquist" as an upper bound means "below half the sample rate", checked when processing.
LIMITS: dict[tuple[str, str], tuple[float, float | str]] = {
    ("Gain", "gain_db"): (-96.0, 48.0),
    ("Limiter", "threshold_db"): (-60.0, 0.0),
    ("Limiter", "release_ms"): (0.1, 5000.0),
    ("Compressor", "threshold_db"): (-96.0, 0.0),
    ("Compressor", "attack_ms"): (0.0, 1000.0),
    ("Compressor", "release_ms"): (0.0, 5000.0),
    ("NoiseGate", "threshold_db"): (-120.0, 0.0),
    ("NoiseGate", "ratio"): (1.0, 100.0),
    ("NoiseGate", "attack_ms"): (0.0, 1000.0),
    ("NoiseGate", "release_ms"): (0.0, 5000.0),
    ("Clipping", "threshold_db"): (-60.0, 0.0),
    ("BrickwallLimiter", "ceiling_db"): (-60.0, 0.0),
    ("Distortion", "drive_db"): (0.0, 80.0),
    ("LadderFilter", "cutoff_hz"): (20.0, "nyquist"),
    ("LadderFilter", "resonance"): (0.0, 1.0),
    ("LadderFilter", "drive"): (1.0, 100.0),
    ("HighpassFilter", "cutoff_frequency_hz"): (1.0, "nyquist"),
    ("LowpassFilter", "cutoff_frequency_hz"): (1.0, "nyquist"),
    ("HighShelfFilter", "cutoff_frequency_hz"): (1.0, "nyquist"),
    ("LowShelfFilter", "cutoff_frequency_hz"): (1.0, "nyquist"),
    ("PeakFilter", "cutoff_frequency_hz"): (1.0, "nyquist"),
    ("HighShelfFilter", "gain_db"): (-48.0, 48.0),
    ("LowShelfFilter", "gain_db"): (-48.0, 48.0),
    ("PeakFilter", "gain_db"): (-48.0, 48.0),
    ("HighShelfFilter", "q"): (0.01, 40.0),
    ("LowShelfFilter", "q"): (0.01, 40.0),
    ("PeakFilter", "q"): (0.01, 40.0),
    ("Phaser", "depth"): (0.0, 1.0),
    ("Phaser", "feedback"): (-1.0, 1.0),
    ("Phaser", "mix"): (0.0, 1.0),
    ("Phaser", "centre_frequency_hz"): (20.0, "nyquist"),
    ("Chorus", "depth"): (0.0, 1.0),
    ("Chorus", "mix"): (0.0, 1.0),
    ("Delay", "mix"): (0.0, 1.0),
    ("Convolution", "mix"): (0.0, 1.0),
    ("Resample", "target_sample_rate"): (1000.0, 192000.0),
    ("MP3Compressor", "vbr_quality"): (0.0, 10.0),
}

_UNIT_SUFFIXES = (
    ("_db", "dB"),
    ("_hz", "Hz"),
    ("_ms", "ms"),
    ("_seconds", "s"),
    ("_s", "s"),
    ("semitones", "semitones"),
    ("bit_depth", "bits"),
    ("sample_rate", "Hz"),
)


class EffectError(ValueError):
    """A chain entry that cannot be used: names the entry, the parameter and what is valid."""


def unit_of(param: str) -> str:
    for suffix, unit in _UNIT_SUFFIXES:
        if param.endswith(suffix):
            return unit
    return ""


@dataclass(frozen=True)
class ParamInfo:
    name: str
    kind: str  # "float" | "int" | "bool" | "enum" | "path"
    default: Any
    choices: tuple[str, ...] = ()

    @property
    def unit(self) -> str:
        return unit_of(self.name)


@dataclass(frozen=True)
class EffectInfo:
    name: str
    params: dict[str, ParamInfo]
    doc: str = ""


_SIG_ARG = re.compile(r"(\w+): ([\w.\[\], ]+?)(?: = ([^,]+?))?(?=, \w+: |\) -> )")


@cache
def builtin_effects() -> dict[str, EffectInfo]:
    """Every pedalboard built-in effect with its parameters, read from pedalboard's signatures."""
    import pedalboard

    out: dict[str, EffectInfo] = {}
    for name in dir(pedalboard):
        cls = getattr(pedalboard, name)
        if not (isinstance(cls, type) and issubclass(cls, pedalboard.Plugin)) or name in _NOT_EFFECTS:
            continue
        if name.startswith("_"):
            continue
        sig = (cls.__init__.__doc__ or "").strip().splitlines()[0] if cls.__init__.__doc__ else ""
        params: dict[str, ParamInfo] = {}
        for arg, ann, default in _SIG_ARG.findall(sig):
            if arg == "self":
                continue
            if arg == "sample_rate" and name == "Convolution":
                continue  # the IR file's own rate is read from the file
            params[arg] = _param_info(cls, arg, ann, default)
        doc = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        out[name] = EffectInfo(name, params, doc)
    return out


_ENUMS: dict[tuple[str, str], Any] = {}


def _enum_type(info: EffectInfo, param: str) -> Any:
    return _ENUMS[(info.name, param)]


def _param_info(cls: type, arg: str, ann: str, default: str) -> ParamInfo:
    if arg == "impulse_response_filename":
        return ParamInfo(arg, "path", None)
    if ann.startswith("pedalboard_native."):
        import pedalboard

        enum: Any = pedalboard
        for part in ann.split(".")[1:]:
            enum = getattr(enum, part)
        _ENUMS[(cls.__name__, arg)] = enum
        choices = tuple(enum.__members__)
        d = default.rsplit(".", 1)[-1].split(":")[0].strip("<> ") if default else choices[0]
        return ParamInfo(arg, "enum", d, choices)
    if ann == "bool":
        return ParamInfo(arg, "bool", default == "True")
    if ann == "int":
        return ParamInfo(arg, "int", int(default) if default else 0)
    return ParamInfo(arg, "float", float(default) if default else 0.0)


def effect_names() -> list[str]:
    return sorted(builtin_effects()) + [PLUGIN]


# -- chain entries --------------------------------------------------------------------------
@dataclass(frozen=True)
class EffectSpec:
    """One validated chain entry."""

    effect: str
    params: dict[str, Any] = field(default_factory=dict)
    bypass: bool = False
    path: str | None = None  # plugin file, for effect == "plugin"
    plugin_name: str | None = None  # which plugin inside a multi-plugin bundle
    state: str | None = None  # base64 raw_state of a plugin

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"effect": self.effect, "params": dict(self.params), "bypass": self.bypass}
        if self.effect == PLUGIN:
            d.update(path=self.path, plugin_name=self.plugin_name, state=self.state)
        return d


_ENTRY_KEYS = ("effect", "params", "bypass")
_PLUGIN_KEYS = ("effect", "params", "bypass", "path", "plugin_name", "state")


def parse_chain(data: Any, *, base_dir: Path | None = None, where: str = "effects") -> list[EffectSpec]:
    """Validate a JSON chain (list of entries); relative file paths resolve against base_dir."""
    if data is None:
        return []
    if not isinstance(data, Sequence) or isinstance(data, (str, bytes)):
        raise EffectError(f"{where}: expected a list of effects, got {type(data).__name__}")
    return [parse_effect(e, base_dir=base_dir, where=f"{where}[{i}]") for i, e in enumerate(data)]


def parse_effect(entry: Any, *, base_dir: Path | None = None, where: str = "effect") -> EffectSpec:
    if isinstance(entry, EffectSpec):
        return entry
    if not isinstance(entry, Mapping):
        raise EffectError(f"{where}: expected an object like {{'effect': 'Reverb', 'params': {{...}}}}")
    name = entry.get("effect")
    if not isinstance(name, str):
        raise EffectError(f"{where}: missing 'effect'; valid are {', '.join(effect_names())}")
    effects = builtin_effects()
    if name != PLUGIN and name not in effects:
        raise EffectError(
            f"{where}: unknown effect {name!r}{_did_you_mean(name, effect_names())}; "
            f"valid are {', '.join(effect_names())}"
        )
    allowed = _PLUGIN_KEYS if name == PLUGIN else _ENTRY_KEYS
    for key in entry:
        if key not in allowed:
            raise EffectError(f"{where} ({name}): unknown key {key!r}; valid are {', '.join(allowed)}")
    bypass = entry.get("bypass", False)
    if not isinstance(bypass, bool):
        raise EffectError(f"{where} ({name}): bypass must be true or false, got {bypass!r}")
    params = entry.get("params") or {}
    if not isinstance(params, Mapping):
        raise EffectError(f"{where} ({name}): params must be an object of name: value")
    if name == PLUGIN:
        return _parse_plugin(entry, dict(params), bypass, base_dir, where)
    info = effects[name]
    clean = {}
    for pname, value in params.items():
        if pname not in info.params:
            valid = ", ".join(f"{p}{_unit_hint(i)}" for p, i in info.params.items()) or "none"
            raise EffectError(
                f"{where} ({name}): unknown parameter {pname!r}{_did_you_mean(pname, info.params)}; "
                f"valid are {valid}"
            )
        clean[pname] = _check_value(name, info.params[pname], value, base_dir, where)
    if name == "Convolution" and "impulse_response_filename" not in clean:
        raise EffectError(f"{where} (Convolution): impulse_response_filename is required (a WAV/FLAC file)")
    spec = EffectSpec(name, clean, bypass)
    _instantiate(spec, where)  # pedalboard's own range checks, now rather than mid-render
    return spec


def _unit_hint(info: ParamInfo) -> str:
    if info.kind == "enum":
        return f" ({'|'.join(info.choices)})"
    return f" ({info.unit})" if info.unit else ""


def _did_you_mean(name: str, options: Any) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_value(effect: str, info: ParamInfo, value: Any, base_dir: Path | None, where: str) -> Any:
    label = f"{where} ({effect}): {info.name}"
    if info.kind == "path":
        if not isinstance(value, str) or not value:
            raise EffectError(f"{label}: expected a file path")
        p = Path(value).expanduser()
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
        if not p.is_file():
            raise EffectError(f"{label}: impulse response file {p} does not exist")
        return str(p.resolve())
    if info.kind == "enum":
        if value not in info.choices:
            raise EffectError(f"{label}: {value!r} is not valid; choose one of {', '.join(info.choices)}")
        return value
    if info.kind == "bool":
        if not isinstance(value, bool):
            raise EffectError(f"{label}: expected true or false, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise EffectError(f"{label}: expected a number{_in_units(info)}, got {value!r}")
    limits = LIMITS.get((effect, info.name))
    if limits is not None:
        lo, hi = limits
        if value < lo or (hi != "nyquist" and value > hi):
            raise EffectError(
                f"{label}: {value:g} is out of range; valid is {_range_text(lo, hi, info.unit)}"
            )
    return int(value) if info.kind == "int" else float(value)


def _in_units(info: ParamInfo) -> str:
    return f" in {info.unit}" if info.unit else ""


def _range_text(lo: float, hi: float | str, unit: str) -> str:
    top = "half the sample rate" if hi == "nyquist" else f"{hi:g}"
    return f"{lo:g}..{top}{' ' + unit if unit else ''}"


def _parse_plugin(
    entry: Mapping[str, Any], params: dict[str, Any], bypass: bool, base_dir: Path | None, where: str
) -> EffectSpec:
    path = entry.get("path")
    if not isinstance(path, str) or not path:
        raise EffectError(f"{where} (plugin): 'path' to a {' or '.join(PLUGIN_SUFFIXES)} plugin is required")
    p = Path(path).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    state = entry.get("state")
    if state is not None:
        if not isinstance(state, str):
            raise EffectError(f"{where} (plugin): state must be base64 text (the plugin's raw_state)")
        try:
            base64.b64decode(state, validate=True)
        except ValueError:
            raise EffectError(f"{where} (plugin): state is not valid base64") from None
    name = entry.get("plugin_name")
    if name is not None and not isinstance(name, str):
        raise EffectError(f"{where} (plugin): plugin_name must be text")
    spec = EffectSpec(PLUGIN, params, bypass, str(p), name, state)
    if not bypass:
        _instantiate(spec, where)  # load now: a missing or broken plugin is reported up front
    return spec


# -- building and processing ------------------------------------------------------------------
def _instantiate(spec: EffectSpec, where: str, sample_rate: float | None = None) -> Any:
    import pedalboard

    if spec.effect == PLUGIN:
        return _load_plugin(spec, where)
    info = builtin_effects()[spec.effect]
    kwargs = {}
    for k, v in spec.params.items():
        pi = info.params[k]
        if pi.kind == "enum":
            v = _enum_type(info, k).__members__[v]
        nyquist = LIMITS.get((spec.effect, k), (0, 0))[1] == "nyquist"
        if sample_rate is not None and nyquist and v >= sample_rate / 2:
            raise EffectError(
                f"{where} ({spec.effect}): {k}: {v:g} Hz is at or above half the sample rate "
                f"({sample_rate / 2:g} Hz at {sample_rate:g} Hz); valid is "
                f"{_range_text(LIMITS[(spec.effect, k)][0], 'nyquist', 'Hz')}"
            )
        kwargs[k] = v
    cls = getattr(pedalboard, spec.effect)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError, RuntimeError) as exc:  # pedalboard's own range checks
        culprit = ""
        for k, v in kwargs.items():  # name the parameter: pedalboard's message may not
            try:
                cls(**{k: v})
            except Exception:
                culprit = f"{k}={spec.params[k]!r}: "
                break
        raise EffectError(f"{where} ({spec.effect}): {culprit}{_pedalboard_words(exc)}") from None


def _pedalboard_words(exc: BaseException) -> str:
    """pedalboard's message on one line (plugin scans list their reasons on following lines)."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return " ".join(lines) if lines else type(exc).__name__


def _load_plugin(spec: EffectSpec, where: str) -> Any:
    import pedalboard

    p = Path(spec.path or "")
    label = f"{where} (plugin {p.name})"
    if not p.exists():
        raise EffectError(f"{label}: cannot load: {p} does not exist")
    if p.suffix.lower() not in PLUGIN_SUFFIXES:
        raise EffectError(
            f"{label}: cannot load: {p.suffix or 'no suffix'} is not a plugin format diffhost loads; "
            f"expected {' or '.join(PLUGIN_SUFFIXES)} (VST3, or Audio Unit on macOS)"
        )
    try:
        kwargs: dict[str, Any] = {"plugin_name": spec.plugin_name} if spec.plugin_name else {}
        plugin: Any = pedalboard.load_plugin(str(p), **kwargs)  # VST3Plugin or AudioUnitPlugin: both have raw_state
    except Exception as exc:  # pedalboard/JUCE say why (wrong architecture, bundle with several, ...)
        raise EffectError(f"{label}: cannot load: {_pedalboard_words(exc)}") from None
    if spec.state:
        try:
            plugin.raw_state = base64.b64decode(spec.state)
        except Exception as exc:
            raise EffectError(
                f"{label}: the plugin refused the saved state: {_pedalboard_words(exc)}"
            ) from None
    params = plugin.parameters
    for k, v in spec.params.items():
        if k not in params:
            raise EffectError(
                f"{label}: unknown parameter {k!r}{_did_you_mean(k, params)}; valid are {', '.join(params)}"
            )
        try:
            setattr(plugin, k, v)
        except Exception as exc:  # pedalboard names the valid range and units of plugin parameters
            raise EffectError(f"{label}: {k}: {_pedalboard_words(exc)}") from None
    return plugin


def plugin_snapshot(plugin: Any) -> dict[str, Any]:
    """What a loaded plugin reports: for the sidecar (state, latency, identity)."""
    snap: dict[str, Any] = {
        "name": getattr(plugin, "name", None),
        "manufacturer": getattr(plugin, "manufacturer_name", None),
        "version": getattr(plugin, "version", None),
        "identifier": getattr(plugin, "identifier", None),
        "reported_latency_samples": int(getattr(plugin, "reported_latency_samples", 0) or 0),
    }
    try:
        snap["state"] = base64.b64encode(bytes(plugin.raw_state)).decode("ascii")
    except Exception:  # some plugins expose no state
        snap["state"] = None
    return snap


class EffectChain:
    """A validated chain; builds the pedalboard objects once per sample rate and reuses them."""

    def __init__(self, specs: Sequence[EffectSpec | Mapping[str, Any]] = (), *, base_dir: Path | None = None):
        self.specs: tuple[EffectSpec, ...] = tuple(
            s if isinstance(s, EffectSpec) else parse_effect(s, base_dir=base_dir, where=f"effects[{i}]")
            for i, s in enumerate(specs)
        )
        self._lock = threading.Lock()
        self._built: tuple[float, Any, list[Any]] | None = None

    def __len__(self) -> int:
        return len(self.specs)

    @property
    def active(self) -> list[tuple[int, EffectSpec]]:
        return [(i, s) for i, s in enumerate(self.specs) if not s.bypass]

    def board(self, sample_rate: float) -> tuple[Any, list[Any]]:
        import pedalboard

        with self._lock:
            if self._built is None or self._built[0] != sample_rate:
                plugins = [_instantiate(s, f"effects[{i}]", sample_rate) for i, s in self.active]
                self._built = (sample_rate, pedalboard.Pedalboard(plugins), plugins)
            return self._built[1], self._built[2]

    def process(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Run the active effects in order; output has the input's shape (latency compensated)."""
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        if not self.active:
            return audio
        board, _ = self.board(float(sample_rate))
        with self._lock:  # one pedalboard instance is not re-entrant
            out = board(audio, float(sample_rate), reset=True)
        out = np.asarray(out, dtype=np.float32)
        if not np.all(np.isfinite(out)):
            raise EffectError("effects: the chain produced NaN or infinite samples; check gains and feedback")
        return out

    def describe(self, sample_rate: float | None = None) -> list[dict[str, Any]]:
        """The chain for a sidecar: every entry with its parameters; plugins with state and latency,
        impulse responses with a content hash, so a re-render can prove it used the same files."""
        out = []
        plugins: dict[int, Any] = {}
        if sample_rate is not None and any(s.effect == PLUGIN for _, s in self.active):
            _, built = self.board(float(sample_rate))
            plugins = {i: p for (i, _s), p in zip(self.active, built, strict=True)}
        for i, s in enumerate(self.specs):
            d = s.to_dict()
            ir = s.params.get("impulse_response_filename")
            if ir:
                d["impulse_response_sha256"] = file_sha256(Path(ir))
            if s.effect == PLUGIN and i in plugins:
                snap = plugin_snapshot(plugins[i])
                d["state"] = snap.pop("state") or s.state
                d["plugin"] = snap
            out.append(d)
        return out


def recipe_effects(described: Sequence[Mapping[str, Any]], where: str = "effects") -> list[dict[str, Any]]:
    """Chain entries from a sidecar's described chain, refusing an impulse response that changed."""
    out = []
    for i, d in enumerate(described):
        entry = {k: v for k, v in d.items() if k in _PLUGIN_KEYS}
        if entry.get("effect") != PLUGIN:
            entry = {k: v for k, v in entry.items() if k in _ENTRY_KEYS}
        ir, want = (d.get("params") or {}).get("impulse_response_filename"), d.get("impulse_response_sha256")
        if ir and want:
            if not Path(ir).is_file():
                raise EffectError(f"{where}[{i}] (Convolution): impulse response {ir} is missing")
            if file_sha256(Path(ir)) != want:
                raise EffectError(
                    f"{where}[{i}] (Convolution): impulse response {ir} changed since the render"
                )
        out.append(entry)
    return out


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def describe_effects() -> str:
    """Human-readable list of built-in effects and their parameters (for `presets show` and errors)."""
    lines = []
    for name, info in sorted(builtin_effects().items()):
        params = ", ".join(
            f"{p}={i.default!r}{_unit_hint(i)}" if i.kind != "path" else f"{p}=<file>"
            for p, i in info.params.items()
        )
        lines.append(f"{name}({params})")
    lines.append("plugin(path=<.vst3/.component>, plugin_name=None, params={...}, state=<base64>)")
    return "\n".join(lines)
