"""The default model's two small networks (plain torch; safetensors + config.json, diffusers' layout).

ParamDenoiser: predicts v for a noisy synth-parameter vector given a prompt embedding.
ClipEncoder: maps log-mel features of a seed clip to a parameter vector (for strength).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"  # the file name diffusers uses


class _Pretrained(nn.Module):
    """save_pretrained / from_pretrained with the folder layout diffusers' ModelMixin writes."""

    config: dict[str, Any]

    def save_pretrained(self, folder: Path, **_: Any) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        cfg = {"_class_name": type(self).__name__, **self.config}
        (folder / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(folder / WEIGHTS_NAME))

    @classmethod
    def from_pretrained(cls, folder: Path, dtype: torch.dtype = torch.float32):
        folder = Path(folder)
        cfg = {
            k: v for k, v in json.loads((folder / "config.json").read_text()).items() if not k.startswith("_")
        }
        model = cls(**cfg)
        model.load_state_dict(load_file(str(folder / WEIGHTS_NAME)))
        return model.to(dtype).eval()


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


class ParamDenoiser(_Pretrained):
    def __init__(
        self, param_dim: int = 28, text_dim: int = 384, width: int = 256, depth: int = 3, t_dim: int = 128
    ):
        super().__init__()
        self.config = {
            "param_dim": param_dim,
            "text_dim": text_dim,
            "width": width,
            "depth": depth,
            "t_dim": t_dim,
        }
        self.inp = nn.Linear(param_dim, width)
        self.t_mlp = nn.Sequential(nn.Linear(t_dim, width), nn.SiLU(), nn.Linear(width, width))
        self.c_mlp = nn.Sequential(nn.Linear(text_dim, width), nn.SiLU(), nn.Linear(width, width))
        self.blocks = nn.ModuleList(_Block(width, width) for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, param_dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        c = nn.functional.silu(self.t_mlp(timestep_embedding(t, self.config["t_dim"])) + self.c_mlp(text))
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, c)
        return self.out(h)


class ClipEncoder(_Pretrained):
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
        self.config = {
            "feature_dim": feature_dim,
            "param_dim": param_dim,
            "n_categories": n_categories,
            "width": width,
            "feature_mean": feature_mean,
            "feature_std": feature_std,
        }
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
        k = self.config["n_categories"]
        return torch.cat([out[:, :k], torch.tanh(out[:, k:])], dim=-1)


class Router(_Pretrained):
    """Logistic regression on the prompt embedding: P(the prompt asks for a loop/phrase, not a one-shot)."""

    def __init__(self, text_dim: int = 384):
        super().__init__()
        self.config = {"text_dim": text_dim}
        self.linear = nn.Linear(text_dim, 1)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(text))[:, 0]


class PromptHeads(_Pretrained):
    """Linear read-outs of the prompt embedding: P(style), P(each role plays), P(voice) per role.

    Trained on the v2 captions against the scores they describe, so they are the posterior of
    what a prompt asks for. The sampler imposes only confident answers (a prompt that names no
    style leaves the style to the denoiser), which keeps a caption's explicit words from being
    outvoted by the grid cells in the denoiser's joint sample ("berlin techno drum loop" came out
    with a lead line; "drum n bass" as breakbeat)."""

    def __init__(
        self, text_dim: int = 384, styles: int = 11, roles: int = 7, voices: list[int] | None = None
    ):
        super().__init__()
        voices = list(voices or [])
        self.config = {"text_dim": text_dim, "styles": styles, "roles": roles, "voices": voices}
        self.style = nn.Linear(text_dim, styles)
        self.roles = nn.Linear(text_dim, roles)
        self.voices = nn.ModuleList(nn.Linear(text_dim, n) for n in voices)

    def forward(self, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """(style probabilities, role probabilities, [voice probabilities per voiced role])."""
        return (
            torch.softmax(self.style(text), -1),
            torch.sigmoid(self.roles(text)),
            [torch.softmax(v(text), -1) for v in self.voices],
        )


# The module model_index.json names for these classes. Folders trained before the package moved name
# the old path; it means the same module. Only these names load: a folder's JSON never makes diffhost
# import an arbitrary module.
MODULE = "diffhost.engine.default.model.nets"
OLD_MODULES = ("diffhost.engine.default.nets",)
CLASSES: dict[str, type[_Pretrained]] = {
    c.__name__: c for c in (ParamDenoiser, ClipEncoder, Router, PromptHeads)
}


def component_classes(folder: Path) -> dict[str, type[_Pretrained]]:
    """{component folder: class} as the folder's model_index.json names them (["module", "Class"]);
    a ValueError naming the entry for a module or class that is not one of the default model's."""
    index = json.loads((Path(folder) / "model_index.json").read_text())
    out: dict[str, type[_Pretrained]] = {}
    for key, value in index.items():
        # A component is a [module, class] pair with a folder of its own ("styles" is only a list).
        is_part = isinstance(value, list) and len(value) == 2 and (Path(folder) / key).is_dir()
        if not is_part or value[0] == "diffusers":
            continue
        module, name = value
        if module not in (MODULE, *OLD_MODULES) or name not in CLASSES:
            raise ValueError(
                f"model_index.json: {key} names {module}.{name}; valid are {MODULE}.{{{', '.join(CLASSES)}}}"
            )
        out[key] = CLASSES[name]
    return out
