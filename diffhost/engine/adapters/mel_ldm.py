"""Shared by the mel-spectrogram latent diffusion families (AudioLDM, AudioLDM 2, MusicLDM).

These pipelines denoise a VAE latent of a log-mel spectrogram and turn the mel into
a mono waveform with a HiFi-GAN vocoder. A seed clip takes the reverse path: the
vocoder's own framing (hop = product of its upsample rates, its mel bin count and
sample rate) gives the log-mel, and the VAE encodes it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from diffhost.engine.adapters.base import DiffusersModel
from diffhost.engine.request import GenerationRequest, ModelInfo


class MelLDMModel(DiffusersModel):
    supports_negative_prompt: bool = True
    default_guidance: float = 2.5
    default_steps: int = 50

    @classmethod
    def describe(cls, pipe: Any, **common: Any) -> ModelInfo:
        voc = pipe.vocoder.config
        hop = int(np.prod(voc.upsample_rates))
        sr = int(voc.sampling_rate)
        trained_s = pipe.unet.config.sample_size * pipe.vae_scale_factor * hop / sr
        minimum = pipe.vae_scale_factor * hop / sr  # check_inputs' own floor
        lo, hi = cls.length_limits(trained_s, minimum)
        return ModelInfo(
            family=cls.pipeline_class,
            native_sample_rate=sr,
            channels=1,
            min_length_s=lo,
            max_length_s=hi,
            supports_prompt=True,
            supports_negative_prompt=cls.supports_negative_prompt,
            supports_seed_clip=True,
            supports_guidance=True,
            default_steps=cls.default_steps,
            default_guidance=cls.default_guidance,
            **common,
        )

    def pipeline_args(self, request: GenerationRequest, steps: int, guidance: float | None) -> dict[str, Any]:
        return {
            "prompt": request.prompt or "",
            "negative_prompt": request.negative_prompt,
            "audio_length_in_s": request.length,
            "num_inference_steps": steps,
            "guidance_scale": self.info.default_guidance if guidance is None else guidance,
        }

    def _call(self, request, *, clip, generator, steps, guidance):
        args = self.pipeline_args(request, steps, guidance)
        out = self.pipe(**args, num_waveforms_per_prompt=1, generator=generator, output_type="np")
        return out.audios[0][None]

    def encode_clip(self, clip: torch.Tensor) -> torch.Tensor:
        mel = log_mel(clip.mean(dim=1), self.pipe.vocoder.config)  # (1, frames, bins)
        vae = self.pipe.vae
        latent = vae.encode(mel[:, None].to(vae.dtype)).latent_dist.mode()
        return latent * vae.config.scaling_factor


def log_mel(wave: torch.Tensor, vocoder_config: Any) -> torch.Tensor:
    """(batch, samples) -> (batch, frames, mel bins): magnitude mel, natural log, floor 1e-5 (AudioLDM's)."""
    from transformers.audio_utils import mel_filter_bank

    hop = int(np.prod(vocoder_config.upsample_rates))
    sr = int(vocoder_config.sampling_rate)
    n_fft = 1 << max(4, int(np.ceil(np.log2(hop * 6.4))))  # 1024 for the usual hop of 160
    bank = mel_filter_bank(
        num_frequency_bins=n_fft // 2 + 1,
        num_mel_filters=int(vocoder_config.model_in_dim),
        min_frequency=0.0,
        max_frequency=sr / 2,
        sampling_rate=sr,
        norm="slaney",
        mel_scale="slaney",
    )
    wave = wave.float()
    pad = (n_fft - hop) // 2
    mode = "reflect" if wave.shape[-1] > pad else "constant"  # reflect needs more samples than the pad
    spec = torch.stft(
        torch.nn.functional.pad(wave[:, None], (pad, pad), mode=mode)[:, 0],
        n_fft=n_fft,
        hop_length=hop,
        window=torch.hann_window(n_fft, device=wave.device),
        center=False,
        return_complex=True,
    ).abs()
    mel = torch.from_numpy(bank.T.astype(np.float32)).to(wave.device) @ spec  # (batch, bins, frames)
    return torch.log(mel.clamp(min=1e-5)).transpose(1, 2)
