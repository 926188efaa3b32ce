"""Each supported family at its published size, with random weights, built from configs only.

Random weights cost the same time and memory as trained ones, so bench/fullsize.py measures what
a user's machine does with the real checkpoint without downloading it. Every builder says where its
numbers come from; where a value could not be read from a published config it says "assumed" and
why. Tokenizers are the small word-level vocabularies of tests/engine/tiny.py (a real vocabulary
needs a download); each is given the published `model_max_length`, so a text encoder that pads to
its maximum length still sees the published sequence length, which is what its cost depends on.

Sources (read with the project's code search, December 2026):
- [sao]  diffusers StableAudioDiTModel / AutoencoderOobleck defaults = stabilityai/stable-audio-open-1.0
         (model card: DiT 1,057 M, autoencoder 156 M, T5-base 109 M); scheduler from the card's
         sampler settings (sigma 0.3..500, dpmpp-3m-sde -> CosineDPMSolverMultistepScheduler).
- [aldm] haoheliu/AudioLDM audioldm/utils.py default_audioldm_config("audioldm-s-full"): UNet
         model_channels 128, channel_mult [1, 2, 3, 5], attention_resolutions [8, 4, 2], 2 res
         blocks, FiLM condition 512 (concatenated), 8 latent channels; VAE ch 128, ch_mult [1, 2, 4],
         z 8; mapped to diffusers by create_unet_diffusers_config in diffusers'
         scripts/convert_original_audioldm_to_diffusers.py (block types from the attention
         resolutions, cross_attention_dim = block_out_channels, simple_projection class embedding).
- [aldm2] diffusers scripts/convert_original_audioldm2_to_diffusers.py DEFAULT_CONFIG: the same UNet
         widths, two cross-attentions (GPT-2 768 and Flan-T5-large 1024) plus the extra
         self-attention per transformer block; CLAP (laion/clap-htsat-unfused text branch), T5 google/flan-t5-large
         (max length 128, hard-coded there), GPT-2 base, 8 generated tokens (sequence_gen_length),
         HiFi-GAN upsample [5, 4, 2, 2, 2], kernels [16, 16, 8, 4, 4], 1024 channels, 64 mels, 16 kHz.
         The CLAP model is the full ClapModel with an HTSAT-base audio tower (depths [2, 2, 12, 2],
         hidden 1024, patch embedding 128), as cvssp/audioldm2's text_encoder/config.json has it
         (mirrored at huggingface.co/JackIsNotInTheBox/Generate_Audio_for_Video_Checkpoints).
         Sizes check out against the published files: the AudioLDM-s UNet here is 185.0 M
         (740 MB published), the VAE 55.4 M (222 MB), the vocoder 55.3 M (221 MB).
- [mldm] ucsd-reach/musicldm: the AudioLDM-s UNet/VAE/vocoder (diffusers'
         convert_original_musicldm_to_diffusers.py shares create_unet_diffusers_config), a full
         ClapModel (laion/larger_clap_music). Its audio tower is HTSAT-base (depths [2, 2, 12, 2],
         128-wide patch embedding), assumed to match cvssp/audioldm2's CLAP (above); it is not run at
         render time, so it moves load time and memory only.
- [dance] harmonai/maestro-150k unet/config.json as quoted verbatim in a public regression test
         (nodetool huggingface DanceDiffusion, "Verbatim https://huggingface.co/harmonai/maestro-150k/
         resolve/main/unet/config.json"): 13 levels [128, 128, 256, 256, 512 x 9], extra_in_channels
         16, 16 kHz, 65,536 samples; the checkpoint's Fourier embedding is 8 wide
         (time_embedding_dim=16). The block types are not in that config: attention in the deepest
         five levels is the layout whose size, 221.4 M parameters (885.6 MB at float32), matches the
         published unet/diffusion_pytorch_model.bin (886 MB, huggingface.co/harmonai/maestro-150k/
         tree/main/unet); four levels would be 215.1 M.
- [longcat] diffusers LongCatAudioDiTTransformer defaults (dit_dim 1536, depth 24, heads 24, text
         dim 768) as scripts/convert_longcat_audio_dit_to_diffusers.py reads them from the
         checkpoint's config.json; UMT5-base text encoder (768 wide, matching dit_text_dim); 24 kHz,
         2,048 samples per latent frame (the script's defaults). The VAE strides [2, 4, 4, 8, 8] are
         assumed from that 2,048 ratio (the published vae_config was not found).
- [ace]  ACE-Step 1.5 turbo (ACE-Step/Ace-Step1.5 checkpoints/acestep-v15-turbo/config.json, as
         copied in public ports' fixtures, and diffusers' scripts/convert_ace_step_to_diffusers.py):
         DiT 2,048 wide, 24 layers, 16 heads / 8 KV, head 128, FF 6,144, sliding window 128
         alternating with full attention; condition encoder 8 lyric + 4 timbre layers; text encoder
         Qwen3-Embedding-0.6B (1,024 wide, 28 layers, vocab 151,669); Oobleck VAE 48 kHz,
         downsampling [2, 4, 4, 6, 10] (1,920 samples per frame, 25 frames/s), channel multiples
         [1, 2, 4, 8, 16], 128 wide, 64 latent channels; FlowMatchEuler shift 3.0. Weights in
         bfloat16, as the conversion script writes them by default.
- [sa3]  diffusers StableAudio3DiTModel / AutoencoderSAME / StableAudio3DurationEmbedder defaults
         ("production SAME-L/S defaults" in scripts/convert_stable_audio_3_to_diffusers.py, which
         converts stabilityai/stable-audio-3-medium); text encoder google/t5gemma-b-b-ul2 (the
         script's default): T5Gemma "b" encoder, 768 wide, 12 layers, 12 heads, vocab 256,000
         (assumed from the "b" size; its config was not read); 256 text tokens (the pipeline's cap).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.engine import tiny  # noqa: E402


def _roberta_tokenizer(max_length: int) -> Any:
    tok = tiny.roberta_tokenizer()
    tok.model_max_length = max_length  # CLAP's RoBERTa tokenizer: 512 (the pipelines pad to it)
    return tok


def _hifigan_16k() -> Any:
    """AudioLDM / AudioLDM2 / MusicLDM vocoder [aldm2]: 160 samples per mel frame at 16 kHz."""
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

    return SpeechT5HifiGan(
        SpeechT5HifiGanConfig(
            model_in_dim=64,
            sampling_rate=16000,
            upsample_initial_channel=1024,
            upsample_rates=[5, 4, 2, 2, 2],
            upsample_kernel_sizes=[16, 16, 8, 4, 4],
            resblock_kernel_sizes=[3, 7, 11],
            resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5], [1, 3, 5]],
            normalize_before=False,
        )
    )


def _mel_vae() -> Any:
    """AudioLDM-family VAE [aldm]: ch 128, ch_mult [1, 2, 4], 2 res blocks, 8 latent channels."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=1,
        out_channels=1,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(128, 256, 512),
        latent_channels=8,
        layers_per_block=2,
    )


def _ddim() -> Any:
    from diffusers import DDIMScheduler

    # The AudioLDM schedules: linear_start 0.0015, linear_end 0.0195, 1,000 steps [aldm].
    return DDIMScheduler(
        beta_start=0.0015,
        beta_end=0.0195,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


_LDM_DOWN = ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D")
_LDM_UP = ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D")
_LDM_WIDTHS = (128, 256, 384, 640)  # model_channels 128 x channel_mult [1, 2, 3, 5]


def _film_unet(sample_size: int) -> Any:
    """AudioLDM-s / MusicLDM UNet [aldm]: FiLM (CLAP 512, concatenated) conditioning, no text cross-attention."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=sample_size,
        in_channels=8,
        out_channels=8,
        down_block_types=_LDM_DOWN,
        up_block_types=_LDM_UP,
        block_out_channels=_LDM_WIDTHS,
        layers_per_block=2,
        cross_attention_dim=_LDM_WIDTHS,
        class_embed_type="simple_projection",
        projection_class_embeddings_input_dim=512,
        class_embeddings_concat=True,
    )


def stable_audio_open() -> Any:
    """[sao]"""
    from diffusers import (
        AutoencoderOobleck,
        CosineDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )
    from transformers import T5Config, T5EncoderModel

    return StableAudioPipeline(
        transformer=StableAudioDiTModel(),
        vae=AutoencoderOobleck(),
        text_encoder=T5EncoderModel(
            T5Config(vocab_size=32128, d_model=768, d_ff=3072, d_kv=64, num_heads=12, num_layers=12)
        ),
        tokenizer=tiny.t5_tokenizer(max_length=128),
        projection_model=StableAudioProjectionModel(
            text_encoder_dim=768, conditioning_dim=768, min_value=0, max_value=512
        ),
        scheduler=CosineDPMSolverMultistepScheduler(
            sigma_min=0.3,
            sigma_max=500.0,
            solver_order=2,
            prediction_type="v_prediction",
            sigma_data=1.0,
            sigma_schedule="exponential",
        ),
    )


def audioldm() -> Any:
    """cvssp/audioldm-s-full-v2 [aldm]: 5.12 s window (UNet sample_size 128 x VAE 4 x hop 160 / 16 kHz)."""
    from diffusers import AudioLDMPipeline
    from transformers import ClapTextConfig, ClapTextModelWithProjection

    return AudioLDMPipeline(
        unet=_film_unet(sample_size=128),
        scheduler=_ddim(),
        vae=_mel_vae(),
        text_encoder=ClapTextModelWithProjection(ClapTextConfig()),  # RoBERTa-base + 512 projection
        tokenizer=_roberta_tokenizer(512),
        vocoder=_hifigan_16k(),
    )


def _clap_model(audio_base: bool) -> Any:
    from transformers import ClapAudioConfig, ClapConfig, ClapModel, ClapTextConfig

    audio = (
        ClapAudioConfig(depths=[2, 2, 12, 2], patch_embeds_hidden_size=128, hidden_size=1024)
        if audio_base
        else ClapAudioConfig()  # HTSAT-tiny: laion/clap-htsat-unfused
    )
    return ClapModel(ClapConfig(text_config=ClapTextConfig().to_dict(), audio_config=audio.to_dict()))


def musicldm() -> Any:
    """ucsd-reach/musicldm [mldm]: 10.24 s window (UNet sample_size 256)."""
    from diffusers import MusicLDMPipeline
    from transformers import ClapFeatureExtractor

    return MusicLDMPipeline(
        unet=_film_unet(sample_size=256),
        scheduler=_ddim(),
        vae=_mel_vae(),
        text_encoder=_clap_model(audio_base=True),
        tokenizer=_roberta_tokenizer(512),
        feature_extractor=ClapFeatureExtractor(),
        vocoder=_hifigan_16k(),
    )


def audioldm2() -> Any:
    """cvssp/audioldm2 [aldm2]: 10.24 s window."""
    from diffusers import AudioLDM2Pipeline, AudioLDM2ProjectionModel, AudioLDM2UNet2DConditionModel
    from transformers import ClapFeatureExtractor, GPT2Config, GPT2Model, T5Config, T5EncoderModel

    unet = AudioLDM2UNet2DConditionModel(
        sample_size=256,
        in_channels=8,
        out_channels=8,
        down_block_types=_LDM_DOWN,
        up_block_types=_LDM_UP,
        block_out_channels=_LDM_WIDTHS,
        layers_per_block=2,
        # Per transformer block: a self-attention (None), then GPT-2's 768 and Flan-T5's 1024.
        cross_attention_dim=([None, 768, 1024],) * 4,
    )
    t5 = T5EncoderModel(
        T5Config(  # google/flan-t5-large
            vocab_size=32128,
            d_model=1024,
            d_ff=2816,
            d_kv=64,
            num_heads=16,
            num_layers=24,
            feed_forward_proj="gated-gelu",
        )
    )
    lm = GPT2Model(GPT2Config())  # GPT-2 base: 768 wide, 12 layers
    lm.config.max_new_tokens = 8
    return AudioLDM2Pipeline(
        unet=unet,
        scheduler=_ddim(),
        vae=_mel_vae(),
        text_encoder=_clap_model(audio_base=True),
        text_encoder_2=t5,
        tokenizer=_roberta_tokenizer(512),
        tokenizer_2=tiny.t5_tokenizer(max_length=128),
        feature_extractor=ClapFeatureExtractor(),
        language_model=lm,
        projection_model=AudioLDM2ProjectionModel(
            text_encoder_dim=512, text_encoder_1_dim=1024, langauge_model_dim=768
        ),
        vocoder=_hifigan_16k(),
    )


def dance_diffusion() -> Any:
    """harmonai/maestro-150k [dance]: unconditional, 16 kHz stereo, 4.1 s window."""
    from diffusers import DanceDiffusionPipeline, IPNDMScheduler, UNet1DModel

    levels, attention = 13, 5
    return DanceDiffusionPipeline(
        unet=UNet1DModel(
            sample_size=65536,
            sample_rate=16000,
            in_channels=2,
            out_channels=2,
            extra_in_channels=16,
            time_embedding_type="fourier",
            time_embedding_dim=16,  # the checkpoint's 8-wide Fourier features
            flip_sin_to_cos=True,
            use_timestep_embedding=False,
            freq_shift=0.0,
            block_out_channels=(128, 128, 256, 256) + (512,) * 9,
            down_block_types=("DownBlock1DNoSkip",)
            + ("DownBlock1D",) * (levels - 1 - attention)
            + ("AttnDownBlock1D",) * attention,
            up_block_types=("AttnUpBlock1D",) * attention
            + ("UpBlock1D",) * (levels - 1 - attention)
            + ("UpBlock1DNoSkip",),
            mid_block_type="UNetMidBlock1D",
        ),
        scheduler=IPNDMScheduler(num_train_timesteps=100),
    )


def longcat_audio_dit() -> Any:
    """meituan-longcat/LongCat-AudioDiT-1B [longcat]."""
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        LongCatAudioDiTPipeline,
        LongCatAudioDiTTransformer,
        LongCatAudioDiTVae,
    )
    from transformers import UMT5Config, UMT5EncoderModel

    return LongCatAudioDiTPipeline(
        vae=LongCatAudioDiTVae(strides=[2, 4, 4, 8, 8]),
        text_encoder=UMT5EncoderModel(
            UMT5Config(vocab_size=256384, d_model=768, d_ff=2048, d_kv=64, num_heads=12, num_layers=12)
        ),
        tokenizer=tiny.t5_tokenizer(max_length=512),
        transformer=LongCatAudioDiTTransformer(),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0, invert_sigmas=True),
    )


def ace_step() -> Any:
    """ACE-Step 1.5 turbo [ace], built in bfloat16 (as published; also keeps the build under 8 GB)."""
    from diffusers import AceStepPipeline, AutoencoderOobleck, FlowMatchEulerDiscreteScheduler
    from diffusers.models.transformers.ace_step_transformer import AceStepTransformer1DModel
    from diffusers.pipelines.ace_step.modeling_ace_step import AceStepConditionEncoder
    from transformers import Qwen3Config, Qwen3Model

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        tokenizer = tiny.roberta_tokenizer()
        tokenizer.model_max_length = 2048  # lyrics: the pipeline's own cap (256 for the caption)
        return AceStepPipeline(
            vae=AutoencoderOobleck(
                encoder_hidden_size=128,
                downsampling_ratios=[2, 4, 4, 6, 10],
                channel_multiples=[1, 2, 4, 8, 16],
                decoder_channels=128,
                decoder_input_channels=64,
                audio_channels=2,
                sampling_rate=48000,
            ),
            text_encoder=Qwen3Model(
                Qwen3Config(
                    vocab_size=151669,
                    hidden_size=1024,
                    intermediate_size=3072,
                    num_hidden_layers=28,
                    num_attention_heads=16,
                    num_key_value_heads=8,
                    head_dim=128,
                    max_position_embeddings=32768,
                    rope_theta=1_000_000.0,
                )
            ),
            tokenizer=tokenizer,
            transformer=AceStepTransformer1DModel(
                is_turbo=True,
                model_version="turbo",
                layer_types=["sliding_attention", "full_attention"] * 12,
            ),
            condition_encoder=AceStepConditionEncoder(),
            scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        )
    finally:
        torch.set_default_dtype(previous)


def stable_audio_3() -> Any:
    """stabilityai/stable-audio-3-medium (distilled: stochastic sampling, 8 steps) [sa3]."""
    from diffusers import (
        AutoencoderSAME,
        FlowMatchEulerDiscreteScheduler,
        StableAudio3DiTModel,
        StableAudio3Pipeline,
    )
    from diffusers.pipelines.stable_audio_3.modeling_stable_audio_3 import StableAudio3DurationEmbedder
    from transformers import T5GemmaConfig, T5GemmaEncoderModel
    from transformers.models.t5gemma.configuration_t5gemma import T5GemmaModuleConfig

    module = T5GemmaModuleConfig(
        vocab_size=256000,
        hidden_size=768,
        intermediate_size=2048,
        num_hidden_layers=12,
        num_attention_heads=12,
        num_key_value_heads=12,
        head_dim=64,
    )
    tokenizer = tiny.gemma_tokenizer()
    tokenizer.model_max_length = 256
    return StableAudio3Pipeline(
        transformer=StableAudio3DiTModel(),
        vae=AutoencoderSAME(),
        text_encoder=T5GemmaEncoderModel(
            T5GemmaConfig(encoder=module.to_dict(), decoder=module.to_dict(), is_encoder_decoder=False)
        ),
        tokenizer=tokenizer,
        duration_embedder=StableAudio3DurationEmbedder(),
        scheduler=FlowMatchEulerDiscreteScheduler(stochastic_sampling=True),
    )


# Ordered cheapest first, so a sweep that runs out of time has the most rows.
BUILDERS = {
    "AudioLDMPipeline": audioldm,
    "MusicLDMPipeline": musicldm,
    "DanceDiffusionPipeline": dance_diffusion,
    "AudioLDM2Pipeline": audioldm2,
    "StableAudioPipeline": stable_audio_open,
    "LongCatAudioDiTPipeline": longcat_audio_dit,
    "StableAudio3Pipeline": stable_audio_3,
    "AceStepPipeline": ace_step,
}
