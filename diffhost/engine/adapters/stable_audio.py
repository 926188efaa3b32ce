"""StableAudioPipeline (stabilityai/stable-audio-open-1.0): text-to-audio, 44.1 kHz stereo, up to ~47 s.

A seed clip goes through the Oobleck VAE and is noised with the scheduler's own
`add_noise`; the pipeline's `initial_audio_waveforms` is deliberately not used (it
adds the clip's latent to full-strength noise, so it barely changes the output:
diffusers issue 10861).

Cost and length. The pipeline always denoises and decodes the model's whole window
(`transformer.config.sample_size` latent frames, 47.55 s for Stable Audio Open) and crops the
request out of it, so a 2 s one-shot costs as much as 47 s. The DiT itself takes any number of
latent frames (rotary positions, no fixed position table), so `fit_window=True` denoises and
decodes only the request plus `window_margin_s` (1 s), rounded up to whole latent frames. It is
off by default because Stable Audio Open was trained on full 47.55 s windows, with the timing
conditioning (`seconds_total`) telling it where the sound ends and silence follows: a shorter
window is outside its training, so sounds can come out somewhat different (a different take on
the same seed, occasionally a less clean ending) though they usually stay close in character.
The trade-off: at 2 s requested, about 15x fewer latent frames to denoise and decode; at 10 s,
about 4x (bench/fullsize.py measures it on your machine).

Decoding is tiled either way (`decode_tile_frames` with `decode_overlap_frames` of context on
each side, diffusers' own Oobleck tiling), so the decoder's peak memory follows the tile size
and a long window no longer needs gigabytes of activations at once.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from diffhost.engine.adapters.base import DiffusersModel
from diffhost.engine.request import GenerationRequest, ModelInfo

# Stable Audio Open's SDE scheduler asks torchsde's Brownian tree for intervals just past its ends
# (sigma 0 below t0; with the shipped sigma_max=500, tb=500.00006 above t1); torchsde warns on every
# render (diffusers' own call does the same). The values it returns there are correct. Renders route
# warnings to the log (engine.quiet); this filter also covers direct use of the pipeline.
warnings.filterwarnings(
    "ignore", message=r"Should have t[ab](>=t0|<=t1)", category=UserWarning, module="torchsde"
)


class StableAudioModel(DiffusersModel):
    pipeline_class = "StableAudioPipeline"
    fit_window: bool = False  # see the module docstring: trained on full windows
    window_margin_s: float = 1.0
    decode_tile_frames: int = 160  # about 7.4 s of Stable Audio Open's audio per decoded tile
    decode_overlap_frames: int = 16  # the decoder reaches about 10 latent frames each side

    def __init__(self, pipe: Any, info: ModelInfo):
        super().__init__(pipe, info)
        self._frames: int | None = None  # the fitted window of the render in flight

    @classmethod
    def adapt_pipeline(cls, pipe: Any) -> None:
        pipe.vae.enable_tiling()

    def window_frames(self, length_s: float) -> int:
        """Latent frames denoised for a request of length_s seconds."""
        full = int(self.pipe.transformer.config.sample_size)
        if not self.fit_window:
            return full
        sr = self.info.native_sample_rate
        return min(full, math.ceil((length_s + self.window_margin_s) * sr / self.pipe.vae.hop_length))

    def window_s(self, request: GenerationRequest) -> float:
        return self.window_frames(request.length) * self.pipe.vae.hop_length / self.info.native_sample_rate

    def initial_latents(self, latents: torch.Tensor, temperature: float, plan) -> torch.Tensor:
        if self._frames is not None and self._frames < latents.shape[-1]:
            # The window's first frames: the same seed starts from the same noise as the full window.
            latents = latents[..., : self._frames].contiguous()
        return super().initial_latents(latents, temperature, plan)

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
        vae = self.pipe.vae
        vae.tile_latent_min_length = self.decode_tile_frames
        vae.tile_latent_overlap = self.decode_overlap_frames
        self._frames = self.window_frames(request.length)
        try:
            return self._call_pipe(request, generator=generator, steps=steps, guidance=guidance)
        finally:
            self._frames = None

    def _call_pipe(self, request, *, generator, steps, guidance):
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
