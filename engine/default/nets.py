"""The default model's two small networks, as diffusers ModelMixin classes (safetensors save/load).

ParamDenoiser: predicts v for a noisy synth-parameter vector given a prompt embedding.
ClipEncoder: maps log-mel features of a seed clip to a parameter vector (for strength).
"""

from __future__ import annotations

import math

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


class _Block(nn.Module):
    """Pre-norm residual MLP block with FiLM conditioning (scale, shift from time + text)."""

    def __init__(self, width: int, cond: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.film = nn.Linear(cond, 2 * width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.SiLU(), nn.Linear(2 * width, width))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(c).chunk(2, dim=-1)
        return h + self.mlp(self.norm(h) * (1 + scale) + shift)


class ParamDenoiser(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(
        self, param_dim: int = 28, text_dim: int = 384, width: int = 256, depth: int = 3, t_dim: int = 128
    ):
        super().__init__()
        self.inp = nn.Linear(param_dim, width)
        self.t_mlp = nn.Sequential(nn.Linear(t_dim, width), nn.SiLU(), nn.Linear(width, width))
        self.c_mlp = nn.Sequential(nn.Linear(text_dim, width), nn.SiLU(), nn.Linear(width, width))
        self.blocks = nn.ModuleList(_Block(width, width) for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, param_dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        c = nn.functional.silu(self.t_mlp(timestep_embedding(t, self.config.t_dim)) + self.c_mlp(text))
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, c)
        return self.out(h)


class ClipEncoder(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(
        self,
        feature_dim: int = 3008,
        param_dim: int = 28,
        n_categories: int = 18,
        width: int = 512,
        feature_mean: list[float] | None = None,
        feature_std: list[float] | None = None,
    ):
        super().__init__()
        # Feature standardisation learned from the training clips; kept in the config (plain JSON).
        mean = torch.tensor(feature_mean) if feature_mean else torch.zeros(feature_dim)
        std = torch.tensor(feature_std) if feature_std else torch.ones(feature_dim)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        self.net = nn.Sequential(
            nn.Linear(feature_dim, width), nn.SiLU(), nn.Dropout(0.1),
            nn.Linear(width, width), nn.SiLU(),
            nn.Linear(width, param_dim),
        )  # fmt: skip

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Category logits followed by controls (tanh, in [-1, 1]), from raw clip features."""
        out = self.net((features - self.mean) / self.std)
        k = self.config.n_categories
        return torch.cat([out[:, :k], torch.tanh(out[:, k:])], dim=-1)
