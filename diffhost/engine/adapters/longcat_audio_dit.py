"""LongCatAudioDiTPipeline (meituan-longcat LongCat-AudioDiT): text-to-audio, 24 kHz mono, up to 30 s.

A flow-matching DiT over the latents of a convolutional waveform VAE (one latent frame
per `downsampling_ratio` samples), with UMT5 text conditioning. The model was trained
on clips of varying length and the pipeline sizes its latent to `audio_duration_s`, so
a render already costs what its length costs: a 2 s request denoises 2 s of latents.

The pipeline draws its noise before it sets the schedule, so the initial sample is
swapped where the transformer first sees it (by then the schedule, shortened for a
seed clip, is known). Its schedule is inverted: the solver's sigma runs from 0 (noise)
to 1 (data), so a clip's latent z0 at sigma s is `s * z0 + (1 - s) * noise`.

The VAE decodes in overlapping tiles (engine.adapters.tiles), so the decoder's peak memory
follows the tile size rather than the requested length.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from diffusers.models.autoencoders.autoencoder_longcat_audio_dit import LongCatAudioDiTVaeDecoderOutput

from diffhost.engine.adapters.base import DiffusersModel, StrengthPlan
from diffhost.engine.adapters.tiles import decode_in_tiles
from diffhost.engine.request import GenerationRequest, ModelInfo


class LongCatAudioDiTModel(DiffusersModel):
    pipeline_class = "LongCatAudioDiTPipeline"
    latent_hook = "first_sample"
    decode_tile_frames: int = 192  # about 16 s of audio per decoded tile at 24 kHz
    # The decoder reaches about 10 latent frames each side (measured at the published size with
    # bench/fullsize.py's configuration): 16 frames of context keep the joins at float rounding.
    decode_overlap_frames: int = 16

    def __init__(self, pipe: Any, info: ModelInfo):
        super().__init__(pipe, info)
        whole = pipe.vae.decode  # the VAE's own (bound) decode: the tiles call it on slices

        def decode(latents: torch.Tensor, return_dict: bool = True) -> Any:
            tiles = (self.decode_tile_frames, self.decode_overlap_frames)
            audio = decode_in_tiles(lambda z: whole(z).sample, latents, *tiles)
            return LongCatAudioDiTVaeDecoderOutput(sample=audio) if return_dict else (audio,)

        pipe.vae.decode = decode

    @classmethod
    def describe(cls, pipe: Any, **common: Any) -> ModelInfo:
        sr = int(pipe.sample_rate)
        return ModelInfo(
            family=cls.pipeline_class,
            native_sample_rate=sr,
            channels=int(pipe.vae.config.in_channels),
            min_length_s=pipe.vae_scale_factor / sr,  # one latent frame
            max_length_s=float(pipe.max_wav_duration),
            supports_prompt=True,
            supports_negative_prompt=True,
            supports_seed_clip=True,
            supports_guidance=True,
            default_steps=16,  # LongCatAudioDiTPipeline.__call__ defaults (its docstring example uses 20 steps)
            default_guidance=4.0,
            **common,
        )

    def latent_frames(self, length_s: float) -> int:
        """Latent frames that cover length_s (the pipeline itself floors, which would cut the tail)."""
        return max(1, math.ceil(length_s * self.pipe.sample_rate / self.pipe.vae_scale_factor))

    def window_s(self, request: GenerationRequest) -> float:
        return self.latent_frames(request.length) * self.pipe.vae_scale_factor / self.pipe.sample_rate

    def _call(self, request: GenerationRequest, *, clip, generator, steps, guidance):
        ratio, sr = self.pipe.vae_scale_factor, self.pipe.sample_rate
        # Half a frame past the frame count so the pipeline's floor lands exactly on it.
        duration_s = (self.latent_frames(request.length) + 0.5) * ratio / sr
        out = self.pipe(
            prompt=request.prompt or "",
            negative_prompt=request.negative_prompt,
            audio_duration_s=min(duration_s, float(self.pipe.max_wav_duration)),
            num_inference_steps=steps,
            guidance_scale=self.info.default_guidance if guidance is None else guidance,
            generator=generator,
            output_type="np",
        )
        return out.audios[0]

    def encode_clip(self, clip: torch.Tensor) -> torch.Tensor:
        vae = self.pipe.vae
        ratio = self.pipe.vae_scale_factor
        clip = torch.nn.functional.pad(clip, (0, -clip.shape[-1] % ratio))  # whole frames only
        z = vae.encode(clip.to(vae.dtype), sample_posterior=False).latents  # (1, latent_dim, frames)
        return z.permute(0, 2, 1)  # the transformer's (batch, frames, latent_dim)

    def noise_to(self, z0: torch.Tensor, noise: torch.Tensor, plan: StrengthPlan) -> torch.Tensor:
        s = self.pipe.scheduler.sigmas[plan.t_start].to(z0)
        return s * z0 + (1.0 - s) * noise
