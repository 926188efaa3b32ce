"""DDIM sampling (eta = 0, v-prediction, cosine schedule, trailing spacing) in plain torch.

The same maths as diffusers' DDIMScheduler with the config in weights/scheduler/
(tests/default/test_sampler.py checks them step for step). It lives here because
importing diffusers pulls in torch._dynamo (~2 s), and the default model must load
in under 2 s; training uses diffusers' scheduler itself.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from diffhost.engine.model import StepMonitor

# Called before each step with (step index, timestep, x); returns x with known values imposed.
Impose = Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor]


class DDIMSampler:
    def __init__(self, num_train_timesteps: int = 1000, max_beta: float = 0.999):
        def alpha_bar(t: float) -> float:
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

        n = num_train_timesteps
        betas = torch.tensor([min(1 - alpha_bar((i + 1) / n) / alpha_bar(i / n), max_beta) for i in range(n)])
        self.alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
        self.num_train_timesteps = n

    @classmethod
    def from_folder(cls, folder: Path) -> DDIMSampler:
        cfg = json.loads((Path(folder) / "scheduler_config.json").read_text())
        expected = {
            "beta_schedule": "squaredcos_cap_v2",
            "prediction_type": "v_prediction",
            "timestep_spacing": "trailing",
        }
        for key, value in expected.items():
            if cfg.get(key) != value:
                raise ValueError(
                    f"scheduler: {key}={cfg.get(key)!r} is not supported here; expected {value!r}"
                )
        return cls(cfg["num_train_timesteps"])

    def timesteps(self, steps: int) -> torch.Tensor:
        n = self.num_train_timesteps
        return (torch.round(torch.arange(n, 0, -n / steps)) - 1).long()

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = self.alphas_cumprod[t].to(x0.dtype)[:, None]
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def step(self, v: torch.Tensor, t: int, x: torch.Tensor, steps: int) -> torch.Tensor:
        prev = int(t) - self.num_train_timesteps // steps
        a_t = self.alphas_cumprod[int(t)]
        a_prev = self.alphas_cumprod[prev] if prev >= 0 else torch.tensor(1.0)
        x0 = a_t.sqrt() * x - (1 - a_t).sqrt() * v
        eps = a_t.sqrt() * v + (1 - a_t).sqrt() * x
        return a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps


def denoise(
    denoiser: torch.nn.Module,
    sampler: DDIMSampler,
    x: torch.Tensor,
    cond: torch.Tensor,
    uncond: torch.Tensor,
    *,
    timesteps: torch.Tensor,
    steps: int,
    guidance: float,
    device: torch.device,
    dtype: torch.dtype,
    monitor: StepMonitor,
    impose: Impose | None = None,
) -> torch.Tensor:
    """The sampling loop with classifier-free guidance, for one-shots and loops alike.

    x: (variations, dim) noise (or a noised seed clip); cond/uncond: (1, 384) prompt embeddings.
    Guidance runs the denoiser on the prompt and on the negative prompt in one batch and moves
    `guidance` times as far from the negative's answer as the prompt's; with identical
    embeddings, or a scale of 1, it would change nothing, so the denoiser runs once.
    The denoiser runs on `device` in `dtype`; the sampler's maths stays float32 on the CPU.
    """
    v = x.shape[0]
    use_cfg = not torch.equal(cond, uncond) and guidance != 1.0
    c = torch.cat([cond.expand(v, -1), uncond.expand(v, -1)]) if use_cfg else cond.expand(v, -1)
    c = c.to(device, dtype)
    for k, t in enumerate(timesteps):
        if impose is not None:
            x = impose(k, t, x)
        xin = torch.cat([x, x]) if use_cfg else x
        out = denoiser(xin.to(device, dtype), t.repeat(xin.shape[0]).to(device), c).float().cpu()
        if use_cfg:
            out_c, out_u = out.chunk(2)
            out = out_u + guidance * (out_c - out_u)
        x = sampler.step(out, int(t), x, steps)
        monitor.step()
    return x
