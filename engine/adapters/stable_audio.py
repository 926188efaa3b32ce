"""StableAudioPipeline (stabilityai/stable-audio-open-1.0): text-to-audio, 44.1 kHz stereo, up to ~47 s.

A seed clip goes through the Oobleck VAE and is noised with the scheduler's own
`add_noise`; the pipeline's `initial_audio_waveforms` is deliberately not used (it
adds the clip's latent to full-strength noise, so it barely changes the output:
diffusers issue 10861).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from diffhost.engine.adapters.base import DiffusersModel
from diffhost.engine.request import ModelInfo

# Stable Audio Open's SDE scheduler asks torchsde's Brownian tree for intervals just past its ends
# (sigma 0 below t0; with the shipped sigma_max=500, tb=500.00006 above t1); torchsde warns on every
# render (diffusers' own call does the same). The values it returns there are correct. Renders route
# warnings to the log (engine.quiet); this filter also covers direct use of the pipeline.
warnings.filterwarnings(
    "ignore", message=r"Should have t[ab](>=t0|<=t1)", category=UserWarning, module="torchsde"
)


class StableAudioModel(DiffusersModel):
    pipeline_class = "StableAudioPipeline"

    @classmethod
    def describe(cls, pipe: Any, **common: Any) -> ModelInfo:
        sr = int(pipe.vae.config.sampling_rate)
        max_s = pipe.transformer.config.sample_size * pipe.vae.hop_length / sr
        return ModelInfo(
            family=cls.pipeline_class,
            native_sample_rate=sr,
            channels=int(pipe.vae.config.audio_channels),
            min_length_s=1.0 / sr,
            max_length_s=float(max_s),
            supports_prompt=True,
            supports_negative_prompt=True,
            supports_seed_clip=True,
            supports_guidance=True,
            default_steps=100,  # StableAudioPipeline.__call__ defaults
            default_guidance=7.0,
            **common,
        )

    def _call(self, request, *, clip, generator, steps, guidance):
        out = self.pipe(
            prompt=request.prompt or "",
            negative_prompt=request.negative_prompt,
            audio_start_in_s=0.0,
            audio_end_in_s=request.length,
            num_inference_steps=steps,
            guidance_scale=self.info.default_guidance if guidance is None else guidance,
            num_waveforms_per_prompt=1,
            generator=generator,
            output_type="np",
        )
        return out.audios[0]

    def encode_clip(self, clip: torch.Tensor) -> torch.Tensor:
        return self.pipe.vae.encode(clip.to(self.pipe.vae.dtype)).latent_dist.mode()
