"""Presets: generation parameters + effects chain + finishing + export, as versioned JSON.

Shipped presets live in the repository's presets/ folder; users' own in the platform's
config folder ($DIFFHOST_HOME/presets when that is set). Both are validated by the same
schema: an unknown key names itself and lists the valid ones, values are range-checked
by the same code that runs them (GenerationRequest, host.effects, host.finishing,
host.export). Older files are migrated on load (see MIGRATIONS); saving writes the
current version.

Current format (version 2):
    {"version": 2, "name": "808 kick", "description": "...", "tags": ["drums"],
     "params": {"prompt": "...", "length": 1.2, ...},       # GenerationRequest fields (+ "model")
     "effects": [{"effect": "Compressor", "params": {...}}],  # host.effects
     "finishing": {...},                                       # host.finishing.Finishing
     "export": {"format": "wav", "bit_depth": 24}}             # host.export.ExportSpec
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diffhost import paths
from diffhost.engine.request import GenerationRequest
from diffhost.host.render.export import atomic_write_bytes, slug, unique_path

VERSION = 2
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "presets"
PRESET_KEYS = ("version", "name", "description", "tags", "params", "effects", "finishing", "export")
PARAM_KEYS = tuple(f for f in GenerationRequest.__dataclass_fields__ if f != "seed_clip") + ("model",)


class PresetError(ValueError):
    """A preset that cannot be used: names the preset (file), the key and what is valid."""


def default_user_dir() -> Path:
    return paths.user_presets_dir()


@dataclass(frozen=True)
class Preset:
    name: str
    version: int = VERSION
    params: dict[str, Any] = field(default_factory=dict)
    effects: list[dict[str, Any]] = field(default_factory=list)
    finishing: dict[str, Any] = field(default_factory=dict)
    export: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    tags: tuple[str, ...] = ()
    source: Path | None = field(default=None, compare=False)  # the file it came from
    shipped: bool = field(default=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "name": self.name,
            "description": self.description,
            "tags": list(self.tags),
            "params": dict(self.params),
            "effects": [dict(e) for e in self.effects],
            "finishing": dict(self.finishing),
            "export": dict(self.export),
        }

    def recipe(self) -> Any:
        """The validated post-processing Recipe (effects chain built, files checked)."""
        from diffhost.host.render.post import Recipe

        base = self.source.parent if self.source else None
        return Recipe.from_dict({**self.to_dict(), "preset": self.name}, base_dir=base)

    def request(self, **overrides: Any) -> GenerationRequest:
        params = {k: v for k, v in self.params.items() if k != "model"}
        params.update({k: v for k, v in overrides.items() if v is not None})
        return GenerationRequest(**params)


def make_preset(
    name: str, params: Any, recipe: Any = None, *, description: str = "", model: str | None = None
) -> Preset:
    """A preset from what a session holds now: its GenerationRequest (or params dict) and the
    finisher's Recipe. The seed clip is not part of a preset; a None seed stays random."""
    if isinstance(params, GenerationRequest):
        d = params.to_dict()
        d.pop("seed_clip", None)
        params = {k: v for k, v in d.items() if v is not None}
    params = dict(params)
    if model:
        params["model"] = model
    data: dict[str, Any] = {"version": VERSION, "name": name, "description": description, "params": params}
    if recipe is not None:
        r = recipe.to_dict()
        data.update(
            effects=r["effects"], finishing=r["finishing"], export=r["export"], tags=r.get("tags") or []
        )
    return parse_preset(data, where=f"preset {name!r}")


# -- migration ------------------------------------------------------------------------------------
def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 (diffhost 0.0.x): generation params at the top level, a flat "chain" of
    {"type": "Reverb", <param>: value}, and "normalize_db" for the peak level."""
    out: dict[str, Any] = {"version": 2, "name": data.get("name"), "params": {}}
    for key in ("description", "tags"):
        if key in data:
            out[key] = data[key]
    for key, value in data.items():
        if key in PARAM_KEYS:
            out["params"][key] = value
    out["effects"] = [
        {"effect": e.get("type"), "params": {k: v for k, v in e.items() if k not in ("type", "bypass")}}
        | ({"bypass": e["bypass"]} if "bypass" in e else {})
        for e in data.get("chain", [])
    ]
    if "normalize_db" in data:
        out["finishing"] = {"normalize": {"mode": "peak", "peak_db": data["normalize_db"]}}
    known = set(PARAM_KEYS) | {"version", "name", "description", "tags", "chain", "normalize_db"}
    for key in data:
        if key not in known:
            out[key] = data[key]  # left for validation to name
    return out


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def migrate(data: dict[str, Any], where: str = "preset") -> dict[str, Any]:
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PresetError(f"{where}: version must be a whole number 1..{VERSION}, got {version!r}")
    if version > VERSION:
        raise PresetError(
            f"{where}: version {version} is newer than this diffhost reads ({VERSION}); update diffhost"
        )
    while version < VERSION:
        data = MIGRATIONS[version](data)
        version = data["version"]
    return data


# -- validation -------------------------------------------------------------------------------------
def parse_preset(
    data: Any, *, where: str = "preset", source: Path | None = None, shipped: bool = False
) -> Preset:
    """Migrate and validate a preset dict; every error names the key and what is valid."""
    if not isinstance(data, Mapping):
        raise PresetError(f"{where}: expected a JSON object, got {type(data).__name__}")
    data = migrate(dict(data), where)
    for key in data:
        if key not in PRESET_KEYS:
            raise PresetError(f"{where}: unknown key {key!r}; valid are {', '.join(PRESET_KEYS)}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PresetError(f"{where}: name is required (text)")
    desc = data.get("description", "")
    if not isinstance(desc, str):
        raise PresetError(f"{where}: description must be text")
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise PresetError(f"{where}: tags must be a list of text")
    params = data.get("params", {})
    if not isinstance(params, Mapping):
        raise PresetError(f"{where}: params must be an object of generation parameters")
    for key in params:
        if key not in PARAM_KEYS:
            raise PresetError(f"{where}: params: unknown key {key!r}; valid are {', '.join(PARAM_KEYS)}")
    try:
        GenerationRequest(**{k: v for k, v in params.items() if k != "model"})
    except (ValueError, TypeError) as exc:
        raise PresetError(f"{where}: params.{exc}") from None
    model = params.get("model")
    if model is not None and not isinstance(model, str):
        raise PresetError(f"{where}: params.model must be text (default, a folder or a Hugging Face id)")
    preset = Preset(
        name=name.strip(),
        params=dict(params),
        effects=list(data.get("effects") or []),
        finishing=dict(data.get("finishing") or {}),
        export=dict(data.get("export") or {}),
        description=desc,
        tags=tuple(tags),
        source=source,
        shipped=shipped,
    )
    try:
        preset.recipe()  # effects, finishing and export validated by the code that runs them
    except ValueError as exc:
        raise PresetError(f"{where}: {exc}") from None
    return preset


def load_file(path: Path, *, shipped: bool = False) -> Preset:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PresetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not text.strip():
        raise PresetError(f"{path}: the file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PresetError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    return parse_preset(data, where=str(path), source=path.resolve(), shipped=shipped)


class PresetStore:
    """Shipped presets (read-only) plus the user's own (save, load, list)."""

    def __init__(self, shipped_dir: Path | None = None, user_dir: Path | None = None):
        self.shipped_dir = Path(shipped_dir) if shipped_dir is not None else SHIPPED_DIR
        self.user_dir = Path(user_dir).expanduser() if user_dir is not None else default_user_dir()

    def _files(self) -> dict[str, tuple[Path, bool]]:
        """key (slug of the name) -> (file, shipped). User presets shadow shipped ones of the same name."""
        found: dict[str, tuple[Path, bool]] = {}
        for folder, shipped in ((self.shipped_dir, True), (self.user_dir, False)):
            if folder.is_dir():
                for f in sorted(folder.glob("*.json")):
                    found[f.stem.lower()] = (f, shipped)
        return found

    def names(self) -> list[str]:
        """Preset names, as their files spell them (a broken file is listed by its file name)."""
        out = []
        for key, (f, shipped) in sorted(self._files().items()):
            try:
                out.append(load_file(f, shipped=shipped).name)
            except PresetError:
                out.append(key)
        return out

    def all(self) -> list[Preset]:
        return [self.load(n) for n in self.names()]

    def load(self, name: str) -> Preset:
        if not isinstance(name, str) or not name.strip():
            raise PresetError("preset: expected a name")
        files = self._files()
        hit = files.get(slug(name, fallback="").lower())
        if hit is None:
            raise PresetError(
                f"preset {name!r}: not found; available are {', '.join(self.names()) or 'none'}"
            )
        return load_file(hit[0], shipped=hit[1])

    def save(self, name: str, preset: Preset | Mapping[str, Any], *, overwrite: bool = False) -> Path:
        """Save a user preset as <user_dir>/<slug>.json. An existing preset of that name is an
        error unless overwrite=True (then the old file goes to <user_dir>/trash, never lost)."""
        data = preset.to_dict() if isinstance(preset, Preset) else dict(preset)
        data["name"] = name
        data["version"] = VERSION
        parsed = parse_preset(data, where=f"preset {name!r}")
        key = slug(name, fallback="")
        if not key:
            raise PresetError(f"preset {name!r}: the name needs at least one letter or digit")
        path = self.user_dir / f"{key}.json"
        existing = self._files().get(key)
        if existing is not None and not overwrite:
            where = "shipped" if existing[1] else "user"
            raise PresetError(f"preset {name!r}: a {where} preset with that name exists; pass overwrite=True")
        if path.exists():
            trash = unique_path(self.user_dir / "trash" / path.name)
            trash.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, trash)
        body = json.dumps(parsed.to_dict(), indent=2) + "\n"
        atomic_write_bytes(path, body.encode("utf-8"))
        return path
