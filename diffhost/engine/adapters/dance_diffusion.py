"""DanceDiffusionPipeline (harmonai/*): unconditional waveform diffusion, usually 2 channels. Deprecated in diffusers.

No prompt, no negative prompt, no guidance. The pipeline draws its noise inline and
has no `latents` argument or callback, so the adapter swaps the initial sample where
the UNet first sees it; a seed clip is "encoded" as its raw waveform and noised with
the IPNDM schedule's own alpha/sigma at the strength's start step.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from diffhost.engine.adapters.base import DiffusersModel, StrengthPlan
from diffhost.engine.request import GenerationRequest, ModelInfo


class DanceDiffusionModel(DiffusersModel):
    pipeline_class = "DanceDiffusionPipeline"
    latent_hook = "first_sample"

    @classmethod
    def describe(cls, pipe: Any, **common: Any) -> ModelInfo:
        cfg = pipe.unet.config
        sr = int(cfg.sample_rate)
        minimum = 3 * 2 ** len(pipe.unet.up_blocks) / sr  # the pipeline's own floor
        lo, hi = cls.length_limits(cfg.sample_size / sr, minimum)
        return ModelInfo(
            family=cls.pipeline_class,
            native_sample_rate=sr,
            channels=int(cfg.in_channels),
            min_length_s=lo,
            max_length_s=hi,
            supports_prompt=False,
            supports_negative_prompt=False,
            supports_seed_clip=True,
            supports_guidance=False,
            default_steps=100,  # DanceDiffusionPipeline.__call__ default
            default_guidance=None,
            **common,
        )

    def window_s(self, request: GenerationRequest) -> float:
        """The samples the UNet denoises: the pipeline rounds the request up to its downsampling
        (2 ** up blocks; 8,192 samples, 0.51 s at 16 kHz for maestro-150k) and trims afterwards,
        so a 2 s request costs 2.048 s of waveform. The ETA scales step times by this."""
        sr = int(self.pipe.unet.config.sample_rate)
        block = 2 ** len(self.pipe.unet.up_blocks)
        samples = request.length * sr
        return (math.ceil(samples / block) * block if samples % block else samples) / sr

    def _call(self, request, *, clip, generator, steps, guidance):
        out = self.pipe(
            batch_size=1, num_inference_steps=steps, generator=generator, audio_length_in_s=request.length
        )
        return out.audios[0]

    def encode_clip(self, clip: torch.Tensor) -> torch.Tensor:
        return clip

    def noise_to(self, z0: torch.Tensor, noise: torch.Tensor, plan: StrengthPlan) -> torch.Tensor:
        sched = self.pipe.scheduler  # IPNDM: x_t = alpha_t * x_0 + sigma_t * noise, sigma_t = betas[t]
        i = plan.t_start
        return sched.alphas[i].to(z0) * z0 + sched.betas[i].to(z0) * noise
