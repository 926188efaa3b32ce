"""The default model's model_index.json: it names the networks' module and classes, and loading reads it."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from diffhost.engine.default.model import nets
from diffhost.engine.default.model.pipeline import WEIGHTS_DIR, DefaultModel
from diffhost.engine.errors import ModelLoadError
from diffhost.engine.request import GenerationRequest


def _copy(tmp_path: Path, **entries) -> Path:
    folder = tmp_path / "weights"
    shutil.copytree(WEIGHTS_DIR, folder, ignore=shutil.ignore_patterns("spectrograms", "*.md"))
    index = json.loads((folder / "model_index.json").read_text())
    index.update(entries)
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


def _load(folder: Path) -> DefaultModel:
    import torch

    return DefaultModel.from_folder(
        folder, name="test", revision="x", device=torch.device("cpu"), dtype=torch.float32
    )


def test_the_shipped_index_names_the_module_the_networks_live_in():
    index = json.loads((WEIGHTS_DIR / "model_index.json").read_text())
    torch_parts = {
        k: v
        for k, v in index.items()
        if (WEIGHTS_DIR / k).is_dir() and k != "scheduler" and k != "spectrograms"
    }
    assert set(torch_parts) == {"denoiser", "encoder", "score_denoiser", "router", "prompt_heads"}
    for module, name in torch_parts.values():
        assert module == nets.MODULE and getattr(importlib.import_module(module), name) is nets.CLASSES[name]
    classes = nets.component_classes(WEIGHTS_DIR)
    assert classes["encoder"] is nets.ClipEncoder and classes["prompt_heads"] is nets.PromptHeads


def test_loading_reads_the_index(tmp_path):
    """A folder trained before the package moved (the old module path) still loads and renders; one whose
    index names a class the default model does not have is refused with the entry named."""
    old = _copy(tmp_path / "a", denoiser=["diffhost.engine.default.nets", "ParamDenoiser"])
    r = _load(old).render(GenerationRequest(prompt="techno drum loop", length=4.0, seed=1))
    assert r.audio.shape[-1] > 0 and np.all(np.isfinite(r.audio)) and np.abs(r.audio).max() > 0.1
    bad = _copy(tmp_path / "b", score_denoiser=["diffhost.engine.default.model.nets", "UNet2DModel"])
    with pytest.raises(
        ModelLoadError, match=r"score_denoiser names diffhost\.engine\.default\.model\.nets\.UNet2DModel"
    ):
        _load(bad)
    elsewhere = _copy(tmp_path / "c", router=["os", "system"])
    with pytest.raises(ModelLoadError, match=r"router names os\.system; valid are"):
        _load(elsewhere)
