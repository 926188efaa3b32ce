"""The default model's hand-written DDIM sampler equals diffusers' DDIMScheduler with the shipped config."""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler

from diffhost.engine.default.model.pipeline import WEIGHTS_DIR
from diffhost.engine.default.model.sampler import DDIMSampler


def test_sampler_matches_diffusers_step_for_step():
    ref = DDIMScheduler.from_pretrained(WEIGHTS_DIR / "scheduler")
    ours = DDIMSampler.from_folder(WEIGHTS_DIR / "scheduler")
    steps = 25
    ref.set_timesteps(steps)
    assert torch.equal(ours.timesteps(steps), ref.timesteps)
    g = torch.Generator().manual_seed(0)
    x_ref = x_ours = torch.randn(4, 28, generator=g)
    for t in ref.timesteps:
        v = torch.randn(4, 28, generator=g)
        x_ref = ref.step(v, t, x_ref).prev_sample
        x_ours = ours.step(v, int(t), x_ours, steps)
        assert torch.allclose(x_ours, x_ref, atol=1e-5)
    x0, noise = torch.randn(4, 28, generator=g), torch.randn(4, 28, generator=g)
    t = torch.tensor([10, 300, 700, 999])
    assert torch.allclose(ours.add_noise(x0, noise, t), ref.add_noise(x0, noise, t), atol=1e-6)
