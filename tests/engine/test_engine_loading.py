"""load_model on real folders: adapters by model_index.json, safetensors only, revisions, bad specs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from diffhost.engine import ModelLoadError, load_model
from diffhost.engine.adapters import ADAPTERS
from diffhost.engine.errors import UnsupportedRequestError


def test_every_family_has_an_adapter_keyed_by_its_pipeline_class():
    import diffusers

    assert set(ADAPTERS) == {
        "StableAudioPipeline",
        "StableAudio3Pipeline",
        "StableAudio3AudioToAudioPipeline",
        "StableAudio3InpaintPipeline",
        "AudioLDM2Pipeline",
        "AudioLDMPipeline",
        "MusicLDMPipeline",
        "DanceDiffusionPipeline",
        "LongCatAudioDiTPipeline",
        "AceStepPipeline",
        "DiffhostDefaultPipeline",  # the embedded default's own folder format
    }
    for name, adapter in ADAPTERS.items():
        if name == "DiffhostDefaultPipeline":
            continue
        assert adapter.pipeline_class == name
        assert hasattr(diffusers, name)


def test_folder_with_only_pickled_weights_is_refused(tiny_dir, tmp_path):
    src = tiny_dir("DanceDiffusionPipeline")
    folder = tmp_path / "pickled"
    shutil.copytree(src, folder)
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    torch.save(load_file(weights), folder / "unet" / "diffusion_pytorch_model.bin")
    weights.unlink()
    with pytest.raises(ModelLoadError, match=r"component unet/ has only pickled weights .*safetensors only"):
        load_model(str(folder), device="cpu")


def test_revision_is_a_weights_hash_that_follows_the_weights(tiny_dir, tmp_path):
    src = tiny_dir("DanceDiffusionPipeline")
    a = load_model(str(src), device="cpu")
    b = load_model(str(src), device="cpu")
    assert a.info.revision == b.info.revision and a.info.revision.startswith("sha256:")
    folder = tmp_path / "changed"
    shutil.copytree(src, folder)
    from safetensors.torch import save_file

    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    state = load_file(weights)
    key = next(iter(state))
    state[key] = state[key] + 1.0
    save_file(state, weights)
    assert load_model(str(folder), device="cpu").info.revision != a.info.revision


def test_unknown_pipeline_class_names_the_supported_ones(tmp_path):
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(
        ModelLoadError, match="StableDiffusionPipeline is not supported; supported are .*AudioLDM2"
    ):
        load_model(str(tmp_path), device="cpu")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("./nowhere/at-all", "no such folder"),
        ("not a hub id", "no such folder, and not a Hugging Face id"),
    ],
)
def test_bad_specs_are_clear(spec, message):
    with pytest.raises(ModelLoadError, match=message):
        load_model(spec, device="cpu")


def test_a_folder_without_model_index_is_clear(tmp_path):
    with pytest.raises(ModelLoadError, match="no model_index.json"):
        load_model(str(tmp_path), device="cpu")


def test_a_modular_pipeline_folder_is_named_as_such(tmp_path):
    (tmp_path / "modular_model_index.json").write_text(
        json.dumps({"_class_name": "MiniMaxMusic3ModularPipeline"})
    )
    with pytest.raises(ModelLoadError, match="modular pipeline .* model_index.json only"):
        load_model(str(tmp_path), device="cpu")


def test_bad_device_and_dtype_are_named(tiny_dir):
    with pytest.raises(ValueError, match="device: 'gpu'"):
        load_model(str(tiny_dir("DanceDiffusionPipeline")), device="gpu")
    with pytest.raises(ValueError, match="dtype: 'float8'"):
        load_model(str(tiny_dir("DanceDiffusionPipeline")), device="cpu", dtype="float8")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"length": -1.0}, "length"),
        ({"sample_rate": 100}, "sample_rate"),
        ({"temperature": 9.0}, "temperature"),
        ({"steps": 0}, "steps"),
        ({"strength": 1.5}, "strength"),
        ({"variations": 0}, "variations"),
        ({"seed": -3}, "seed"),
        ({"guidance": float("nan")}, "guidance"),
    ],
)
def test_generate_rejects_bad_arguments_by_name(tiny_model, kwargs, name):
    model = tiny_model("StableAudio3Pipeline")
    with pytest.raises(ValueError, match=f"^{name}: "):
        model.generate("kick", **({"length": 0.25} | kwargs))


def test_generate_takes_a_prompt_and_a_seed_clip_file(tiny_model, tmp_path):
    import soundfile as sf

    model = tiny_model("StableAudio3Pipeline")
    t = np.arange(4800) / 48000
    sf.write(tmp_path / "seed.flac", (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 48000)
    audio = model.generate(("warm pad", str(tmp_path / "seed.flac")), length=0.25, steps=2, seed=4)
    assert audio.shape == (2, 11025) and audio.dtype == np.float32
    again = model.generate(("warm pad", str(tmp_path / "seed.flac")), length=0.25, steps=2, seed=4)
    assert np.array_equal(audio, again)
    with pytest.raises(UnsupportedRequestError, match="guidance: .*no classifier-free guidance"):
        model.generate(("warm pad", str(tmp_path / "seed.flac")), length=0.25, steps=2, guidance=5.0)


def test_stable_audio_with_its_shipped_sde_scheduler(tiny_dir, tmp_path):
    """Stable Audio Open ships CosineDPMSolverMultistepScheduler (an SDE solver, needs torchsde)."""
    folder = tmp_path / "sao"
    shutil.copytree(tiny_dir("StableAudioPipeline"), folder)
    cfg = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
    cfg["_class_name"] = "CosineDPMSolverMultistepScheduler"
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(cfg))
    index = json.loads((folder / "model_index.json").read_text())
    index["scheduler"] = ["diffusers", "CosineDPMSolverMultistepScheduler"]
    (folder / "model_index.json").write_text(json.dumps(index))
    model = load_model(str(folder), device="cpu")
    assert type(model.pipe.scheduler).__name__ == "CosineDPMSolverMultistepScheduler"
    clip = (np.sin(np.linspace(0, 300, 11025)).astype(np.float32), 44100)
    kw = {"length": 0.25, "steps": 6, "seed": 5, "strength": 0.5, "sample_rate": 22050}
    a = model.generate(("kick", clip), **kw)
    b = model.generate(("kick", clip), **kw)
    assert a.shape == (2, 5512) and np.all(np.isfinite(a))
    assert np.array_equal(a, b)


def test_audioldm2_folder_naming_gpt2model_is_adapted(tiny_dir, tiny_model):
    """Published audioldm2 folders name GPT2Model; diffusers 0.42.1 needs GPT2LMHeadModel's generation API."""
    index = json.loads((tiny_dir("AudioLDM2Pipeline") / "model_index.json").read_text())
    assert index["language_model"] == ["transformers", "GPT2Model"]
    lm = tiny_model("AudioLDM2Pipeline").pipe.language_model
    assert type(lm).__name__ == "GPT2LMHeadModel"
    assert lm.lm_head.weight is lm.transformer.wte.weight
    assert all(p.device.type == "cpu" for p in lm.parameters())  # nothing left on the meta device
