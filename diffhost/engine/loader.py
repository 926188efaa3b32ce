"""load_model: the embedded default, a local diffusers folder, or a Hugging Face id.

Weights load from safetensors only; nothing is ever unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path

from diffhost.engine.errors import ModelLoadError
from diffhost.engine.model import Model

DEFAULT_NAMES = (None, "", "default", "diffhost-default")


def load_model(
    spec: str | Path | None = None,
    device: str = "auto",
    dtype: str = "auto",
    *,
    fit_window: bool | None = None,
) -> Model:
    """Load a model: None = the embedded default; a folder; or a Hugging Face id (online).

    fit_window: denoise and decode only the requested length plus a margin instead of the
    model's whole training window (None = the family's default). Only Stable Audio Open renders
    a fixed window by default (it was trained on full windows; see engine.adapters.stable_audio
    for the trade-off); the other families already size their work to the request, so the
    option changes nothing for them.
    """
    from diffhost.engine.device import resolve_device, resolve_dtype

    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    if spec in DEFAULT_NAMES:
        from diffhost.engine.default import load_default

        return load_default(device=dev, dtype=dt)
    path = Path(str(spec)).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(f"model {spec}: expected a folder holding model_index.json, got a file")
        model = _load_folder(path, name=str(path.resolve()), revision=None, device=dev, dtype=dt)
    elif _looks_like_hub_id(str(spec)):
        folder, revision = _download(str(spec))
        model = _load_folder(folder, name=str(spec), revision=revision, device=dev, dtype=dt)
    else:
        raise ModelLoadError(
            f"model {spec!r}: no such folder, and not a Hugging Face id of the form 'org/name'"
        )
    if fit_window is not None and hasattr(model, "fit_window"):
        model.fit_window = bool(fit_window)
    return model


def pipeline_class_name(folder: Path) -> str:
    index = folder / "model_index.json"
    if not index.is_file() and (folder / "modular_model_index.json").is_file():
        raise ModelLoadError(
            f"model {folder}: this is a diffusers modular pipeline (modular_model_index.json, e.g. MiniMax "
            "Music 3); diffhost loads standard pipelines with a model_index.json only"
        )
    if not index.is_file():
        raise ModelLoadError(f"model {folder}: no model_index.json; is this a diffusers pipeline folder?")
    try:
        return str(json.loads(index.read_text())["_class_name"])
    except (ValueError, KeyError) as exc:
        raise ModelLoadError(f"model {folder}: model_index.json is unreadable ({exc})") from None


def _load_folder(folder: Path, *, name: str, revision: str | None, device, dtype) -> Model:
    from diffhost.engine.adapters import ADAPTERS, ALIASES

    cls_name = pipeline_class_name(folder)
    adapter = ADAPTERS.get(ALIASES.get(cls_name, cls_name))
    if adapter is None:
        raise ModelLoadError(
            f"model {name}: pipeline {cls_name} is not supported; supported are {', '.join(sorted(ADAPTERS))}"
        )
    return adapter.from_folder(folder, name=name, revision=revision, device=device, dtype=dtype)


def _looks_like_hub_id(spec: str) -> bool:
    parts = spec.split("/")
    return len(parts) == 2 and all(parts) and not spec.startswith((".", "/", "~"))


def _download(repo_id: str) -> tuple[Path, str | None]:
    """Fetch exactly the files the pipeline's components need (engine.hub); the commit identifies them."""
    from diffhost.engine.hub import download

    return download(repo_id)
