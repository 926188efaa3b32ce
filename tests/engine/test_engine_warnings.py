"""No third-party warning reaches the terminal during a render; the log keeps them."""

from __future__ import annotations

import json
import logging
import shutil
import warnings

import numpy as np
import pytest

from diffhost.engine import load_model
from tests.engine.tiny import FAMILIES, NEEDS_CLIP


@pytest.fixture(scope="module")
def sao_sde(tiny_dir, tmp_path_factory):
    """Tiny Stable Audio with the scheduler Stable Audio Open ships, configured as it ships it."""
    folder = tmp_path_factory.mktemp("sao-sde")
    shutil.copytree(tiny_dir("StableAudioPipeline"), folder, dirs_exist_ok=True)
    cfg = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
    cfg.update(
        _class_name="CosineDPMSolverMultistepScheduler", sigma_min=0.3, sigma_max=500.0, solver_order=2
    )
    cfg.update(prediction_type="v_prediction", sigma_data=1.0, sigma_schedule="exponential")
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(cfg))
    index = json.loads((folder / "model_index.json").read_text())
    index["scheduler"] = ["diffusers", "CosineDPMSolverMultistepScheduler"]
    (folder / "model_index.json").write_text(json.dumps(index))
    return load_model(str(folder), device="cpu")


def test_torchsde_interval_warnings_go_to_the_log_not_the_terminal(sao_sde, caplog):
    with caplog.at_level(logging.DEBUG, logger="diffhost.engine"), warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning that escaped the render would fail here
        audio = sao_sde.generate("kick", length=0.25, steps=6, seed=5, sample_rate=22050)
    assert audio.shape == (2, 5512) and np.all(np.isfinite(audio))
    logged = [r.getMessage() for r in caplog.records if r.name == "diffhost.engine"]
    assert any(
        "Should have tb<=t1" in m or "Should have ta>=t0" in m or "Should have tb>=t0" in m for m in logged
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_a_normal_render_warns_nothing(tiny_model, family):
    from tests.engine.test_engine_families import prompt_for, seed_clip

    model = tiny_model(family)
    clip = seed_clip() if family in NEEDS_CLIP else None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.generate(
            prompt_for(family) if clip is None else (prompt_for(family), clip), length=0.25, steps=2, seed=1
        )


def test_library_log_warnings_go_to_the_log_during_a_render(tiny_model, caplog, capfd):
    """A turbo ACE-Step pipeline logs a warning when handed guidance; a render never shows it."""
    import diffusers.utils.logging as dlog

    model = tiny_model("AceStepPipeline")
    pipe = model.pipe
    dlog.set_verbosity_warning()
    capfd.readouterr()
    with caplog.at_level(logging.INFO, logger="diffhost.engine"):
        # What the pipeline logs when a caller passes guidance to a turbo checkpoint, from inside a render.
        orig = pipe.vae.decode

        def decode(*a, **k):
            dlog.get_logger("diffusers.pipelines.ace_step").warning("Guidance scale 7.0 is ignored for turbo")
            return orig(*a, **k)

        pipe.vae.decode = decode
        try:
            model.generate("kick", length=0.25, steps=2, seed=1)
        finally:
            del pipe.vae.decode
    assert "Guidance scale" not in capfd.readouterr().err
    assert any("Guidance scale 7.0 is ignored" in r.getMessage() for r in caplog.records)
    # Outside a render the library's own handler is back.
    assert logging.getLogger("diffusers").handlers
