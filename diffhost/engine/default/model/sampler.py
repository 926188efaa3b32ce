"""DDIM sampling (eta = 0, v-prediction, cosine schedule, trailing spacing) in plain torch.

The same maths as diffusers' DDIMScheduler with the config in weights/scheduler/
(tests/default/test_sampler.py checks them step for step). It lives here because
importing diffusers pulls in torch._dynamo (~2 s), and the default model must load
in under 2 s; training uses diffusers' scheduler itself.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch


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
