"""The training command runs end to end and is reproducible (a tiny configuration)."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import torch

ARGS = ["--pairs", "300", "--steps", "20", "--batch", "64", "--clips", "36", "--encoder-steps", "20"]
ARGS += ["--score-pairs", "300", "--score-steps", "20", "--score-batch", "32", "--router-oneshots", "60"]
ARGS += ["--head-pairs", "200"]


def _train(out):
    subprocess.run(
        [sys.executable, "-m", "diffhost.engine.default.training.train", "--out", str(out), *ARGS],
        check=True,
        capture_output=True,
    )
    h = hashlib.sha256()
    for part in ("denoiser", "score_denoiser", "router", "prompt_heads"):
        h.update((out / part / "diffusion_pytorch_model.safetensors").read_bytes())
    return h.hexdigest()


def test_train_is_reproducible_and_its_output_loads(tmp_path):
    a = _train(tmp_path / "a")
    b = _train(tmp_path / "b")
    assert a == b
    from diffhost.engine.default.model.pipeline import load_default

    model = load_default(torch.device("cpu"), torch.float32, folder=tmp_path / "a")
    audio = model.generate("kick", length=0.3, seed=0, steps=4)
    assert audio.shape == (2, 13230) and np.all(np.isfinite(audio))
    loop = model.generate("drum loop", length=2.0, bpm=120.0, seed=0, steps=4)  # the v2 stage loads too
    assert loop.shape == (2, 88200) and np.all(np.isfinite(loop))


def test_train_can_retrain_only_the_prompt_heads(tmp_path):
    """--reuse-v1 and --reuse-v2 copy every other stage bit for bit and train only the heads, with
    the same result as the heads of a full run (their data comes from their own seeded stream)."""
    _train(tmp_path / "full")
    subprocess.run(
        [sys.executable, "-m", "diffhost.engine.default.training.train", "--out", str(tmp_path / "heads"), *ARGS,
         "--reuse-v1", str(tmp_path / "full"), "--reuse-v2", str(tmp_path / "full")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    for part in ("denoiser", "encoder", "score_denoiser", "router", "prompt_heads"):
        name = "diffusion_pytorch_model.safetensors"
        assert (tmp_path / "heads" / part / name).read_bytes() == (tmp_path / "full" / part / name).read_bytes()
