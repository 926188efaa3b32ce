"""AceStepPipeline (ACE-Step 1.5): text-to-music, 48 kHz stereo, variable length up to minutes.

A flow-matching DiT over Oobleck VAE latents (25 frames per second), conditioned on a
formatted prompt (caption plus bpm / key / duration metadata) and lyrics. diffhost has no
lyrics field, so it renders instrumentals (the lyric slot carries ACE-Step's
"[Instrumental]" tag); a request's `bpm` and `key`, where the request has them, go into the
metadata. The pipeline sizes its latent to the duration (trained for variable length), so a
render costs what its length costs, and it peak-normalises its output to -1 dBFS itself.

Turbo checkpoints have guidance distilled into the weights: they take no guidance (the
pipeline would ignore it with a warning); base/SFT checkpoints use ACE-Step's APG guidance.
No negative prompts (the unconditional branch is a learned null embedding).

A seed clip goes through the VAE and is noised to the schedule's level at the strength's
start step: ACE-Step's schedule is known before the pipeline sets it (linear in [1, 0] with
its `shift`), so the clip is noised as `s * noise + (1 - s) * z0` when the noise is drawn.
The pipeline's own cover / repaint tasks are not used.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from diffhost.engine.adapters.base import DiffusersModel, StrengthPlan, fit_latents
from diffhost.engine.request import GenerationRequest, ModelInfo

_SHIFT = 3.0  # AceStepPipeline.__call__ default
_INSTRUMENTAL = "[Instrumental]"


class AceStepModel(DiffusersModel):
    pipeline_class = "AceStepPipeline"

    def __init__(self, pipe: Any, info: ModelInfo):
        super().__init__(pipe, info)
        self._steps = 0  # the render in flight's step count (for the seed clip's noise level)

    @classmethod
    def describe(cls, pipe: Any, **common: Any) -> ModelInfo:
        lps = float(pipe.latents_per_second)
        silence = pipe.condition_encoder.silence_latent.shape[1]  # the longest context it ships for
        turbo = bool(pipe.is_turbo)
        return ModelInfo(
            family=cls.pipeline_class,
            native_sample_rate=int(pipe.sample_rate),
            channels=int(pipe.vae.config.audio_channels),
            min_length_s=1.0 / lps,
            max_length_s=round(silence / lps, 3),
            supports_prompt=True,
            supports_negative_prompt=False,
            supports_seed_clip=True,
            supports_guidance=not turbo,
            default_steps=8,  # AceStepPipeline.__call__ defaults
            default_guidance=None if turbo else 7.0,
            **common,
        )

    def window_s(self, request: GenerationRequest) -> float:
        lps = float(self.pipe.latents_per_second)
        return math.ceil(request.length * lps) / lps

    def _call(self, request: GenerationRequest, *, clip, generator, steps, guidance):
        self._steps = steps
        bpm = getattr(request, "bpm", None)  # request fields another part of diffhost may add
        key = getattr(request, "key", None)
        out = self.pipe(
            prompt=request.prompt or "",
            lyrics=_INSTRUMENTAL,
            audio_duration=request.length,
            num_inference_steps=steps,
            guidance_scale=1.0 if guidance is None else guidance,
            shift=_SHIFT,
            generator=generator,
            output_type="np",
            bpm=int(round(bpm)) if bpm else None,
            keyscale=str(key) if key else None,
        )
        return out.audios[0]

    def encode_clip(self, clip: torch.Tensor) -> torch.Tensor:
        z = self.pipe.vae.encode(clip.to(self.pipe.vae.dtype)).latent_dist.mode()  # (1, dim, frames)
        return z.transpose(1, 2)  # the DiT's (batch, frames, dim)

    def initial_latents(
        self, latents: torch.Tensor, temperature: float, plan: StrengthPlan | None
    ) -> torch.Tensor:
        if plan is None:
            return latents * temperature
        schedule = self.pipe._get_timestep_schedule(num_inference_steps=self._steps, shift=_SHIFT)
        start = self._steps - plan.keep(self._steps)
        s = float(schedule[start])
        with torch.no_grad():
            z0 = fit_latents(self.encode_clip(plan.clip).to(latents.dtype), latents.shape)
        return s * latents * temperature + (1.0 - s) * z0
