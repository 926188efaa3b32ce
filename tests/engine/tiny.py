"""Tiny random-weight diffusers pipelines for every supported family, built offline from configs.

The component sizes follow diffusers' own fast tests; tokenizers are built from a small
in-memory vocabulary (no hub), so nothing downloads. `build(family, folder)` writes a
pipeline folder with `save_pretrained(safe_serialization=True)` that `load_model` reads back.
"""

from __future__ import annotations

from pathlib import Path

import torch

# A tiny word-level vocabulary shared by every tokenizer: enough for the prompts tests use.
WORDS = [
    "a",
    "punchy",
    "analog",
    "kick",
    "tight",
    "snare",
    "closed",
    "open",
    "hihat",
    "hat",
    "clap",
    "bright",
    "dark",
    "pad",
    "bass",
    "pluck",
    "lead",
    "riser",
    "impact",
    "soft",
    "long",
    "short",
    "noise",
    "sweep",
    "wide",
    "clean",
    "dirty",
    "low",
    "high",
    "hammer",
    "wood",
]


def _bpe_vocab(specials: list[str], prefix: str = "") -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Specials, single bytes and whole words (each reachable by merges) for a byte-level BPE."""
    vocab: dict[str, int] = {}
    for tok in specials:
        vocab.setdefault(tok, len(vocab))
    if prefix == "\u0120":  # byte-level BPE (RoBERTa): every byte symbol
        from tokenizers.pre_tokenizers import ByteLevel

        alphabet = sorted(ByteLevel.alphabet())
    else:  # sentencepiece-style BPE (Gemma): the word marker and lower-case letters
        alphabet = [prefix, *"abcdefghijklmnopqrstuvwxyz"]
    for ch in alphabet:
        vocab.setdefault(ch, len(vocab))
    merges: list[tuple[str, str]] = []
    for word in WORDS:
        w = prefix + word
        cur = w[0]
        for ch in w[1:]:
            merges.append((cur, ch))
            cur = cur + ch
            vocab.setdefault(cur, len(vocab))
    return vocab, list(dict.fromkeys(merges))


def roberta_tokenizer():
    from transformers import RobertaTokenizer

    vocab, merges = _bpe_vocab(["<s>", "<pad>", "</s>", "<unk>", "<mask>"], prefix="\u0120")
    return RobertaTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def t5_tokenizer(max_length: int = 25):
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [(ch, -5.0) for ch in "abcdefghijklmnopqrstuvwxyz"]
    pieces += [("\u2581" + w, -1.0) for w in WORDS]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=max_length)


def gemma_tokenizer():
    from transformers import GemmaTokenizer

    vocab, merges = _bpe_vocab(["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"], prefix="\u2581")
    return GemmaTokenizer(vocab=vocab, merges=merges, model_max_length=16)


def _vocoder(sampling_rate: int = 16000):
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

    vocoder = SpeechT5HifiGan(
        SpeechT5HifiGanConfig(
            model_in_dim=8,
            sampling_rate=sampling_rate,
            upsample_initial_channel=16,
            upsample_rates=[8, 8],
            upsample_kernel_sizes=[16, 16],
            resblock_kernel_sizes=[3],
            resblock_dilation_sizes=[[1, 3]],
            normalize_before=False,
        )
    )
    # HiFi-GAN's init (std 0.01) makes a random vocoder output ~1e-6; PyTorch's default init keeps it audible.
    for module in vocoder.modules():
        if module is not vocoder and hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return vocoder


def _mel_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=[8, 16],
        in_channels=1,
        out_channels=1,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        norm_num_groups=4,
        layers_per_block=1,
        # Large enough that the decoder's first bias competes with the latent: a random decoder is
        # otherwise scale-invariant (GroupNorm), and temperature/strength would not reach the audio.
        scaling_factor=20.0,
    )


def _ddim():
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
    )


def _clap_text_config(hidden: int = 16, proj: int = 16, vocab_size: int = 512):
    from transformers import ClapTextConfig

    return ClapTextConfig(
        bos_token_id=0,
        eos_token_id=2,
        pad_token_id=1,
        hidden_size=hidden,
        intermediate_size=32,
        num_attention_heads=2,
        num_hidden_layers=1,
        vocab_size=vocab_size,
        projection_dim=proj,
        max_position_embeddings=80,
    )


def _clap_model():
    from transformers import ClapAudioConfig, ClapConfig, ClapModel

    audio = ClapAudioConfig(
        spec_size=64,
        window_size=4,
        num_mel_bins=64,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        depths=[2, 2],
        num_attention_heads=[2, 2],
        num_hidden_layers=2,
        hidden_size=192,
        projection_dim=16,
        patch_size=2,
        patch_stride=2,
        patch_embed_input_channels=4,
    )
    cfg = ClapConfig(
        text_config=_clap_text_config().to_dict(), audio_config=audio.to_dict(), projection_dim=16
    )
    return ClapModel(cfg)


def audioldm():
    from diffusers import AudioLDMPipeline, UNet2DConditionModel
    from transformers import ClapTextModelWithProjection

    unet = UNet2DConditionModel(
        block_out_channels=(16, 32),
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=128,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=(16, 32),
        attention_head_dim=4,
        class_embed_type="simple_projection",
        projection_class_embeddings_input_dim=16,
        class_embeddings_concat=True,
    )
    text_encoder = ClapTextModelWithProjection(_clap_text_config())
    return AudioLDMPipeline(
        unet=unet,
        scheduler=_ddim(),
        vae=_mel_vae(),
        text_encoder=text_encoder,
        tokenizer=roberta_tokenizer(),
        vocoder=_vocoder(),
    )


def musicldm():
    from diffusers import MusicLDMPipeline, UNet2DConditionModel
    from transformers import ClapFeatureExtractor

    unet = UNet2DConditionModel(
        block_out_channels=(16, 32),
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=128,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=(16, 32),
        attention_head_dim=4,
        class_embed_type="simple_projection",
        projection_class_embeddings_input_dim=16,
        class_embeddings_concat=True,
    )
    return MusicLDMPipeline(
        unet=unet,
        scheduler=_ddim(),
        vae=_mel_vae(),
        text_encoder=_clap_model(),
        tokenizer=roberta_tokenizer(),
        feature_extractor=ClapFeatureExtractor(),
        vocoder=_vocoder(),
    )


def audioldm2():
    from diffusers import AudioLDM2Pipeline, AudioLDM2ProjectionModel, AudioLDM2UNet2DConditionModel
    from transformers import ClapFeatureExtractor, GPT2Config, GPT2Model, T5Config, T5EncoderModel

    unet = AudioLDM2UNet2DConditionModel(
        block_out_channels=(16, 32),
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=128,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=([None, 16, 32], [None, 16, 32]),
        attention_head_dim=4,
    )
    t5 = T5EncoderModel(T5Config(vocab_size=64, d_model=32, d_ff=37, d_kv=8, num_heads=2, num_layers=1))
    lm = GPT2Model(  # as the published audioldm2 folders have it (the adapter wraps it)
        GPT2Config(n_embd=16, n_head=2, n_layer=1, vocab_size=64, n_ctx=99, n_positions=99)
    )
    lm.config.max_new_tokens = 4
    return AudioLDM2Pipeline(
        unet=unet,
        scheduler=_ddim(),
        vae=_mel_vae(),
        text_encoder=_clap_model(),
        text_encoder_2=t5,
        tokenizer=roberta_tokenizer(),
        tokenizer_2=t5_tokenizer(),
        feature_extractor=ClapFeatureExtractor(),
        language_model=lm,
        projection_model=AudioLDM2ProjectionModel(
            text_encoder_dim=16, text_encoder_1_dim=32, langauge_model_dim=16
        ),
        vocoder=_vocoder(),
    )


def stable_audio():
    from diffusers import (
        AutoencoderOobleck,
        EDMDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )
    from transformers import T5Config, T5EncoderModel

    transformer = StableAudioDiTModel(
        sample_size=128,
        in_channels=3,
        num_layers=1,
        attention_head_dim=4,
        num_key_value_attention_heads=2,
        out_channels=3,
        cross_attention_dim=4,
        time_proj_dim=8,
        global_states_input_dim=8,
        cross_attention_input_dim=4,
    )
    vae = AutoencoderOobleck(
        encoder_hidden_size=6,
        downsampling_ratios=[2, 4],
        decoder_channels=3,
        decoder_input_channels=3,
        audio_channels=2,
        channel_multiples=[2, 4],
        sampling_rate=1024,
    )
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=64, d_model=8, d_ff=16, d_kv=4, num_heads=2, num_layers=1)
    )
    return StableAudioPipeline(
        transformer=transformer,
        # The deterministic solver the pipeline is typed for (Stable Audio Open ships the SDE variant,
        # CosineDPMSolverMultistepScheduler, whose own per-step noise would mask temperature here).
        scheduler=EDMDPMSolverMultistepScheduler(
            solver_order=2, prediction_type="v_prediction", sigma_data=1.0, sigma_schedule="exponential"
        ),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=t5_tokenizer(),
        projection_model=StableAudioProjectionModel(
            text_encoder_dim=8, conditioning_dim=4, min_value=0, max_value=32
        ),
    )


def _sa3_components() -> dict:
    from diffusers import AutoencoderSAME, FlowMatchEulerDiscreteScheduler, StableAudio3DiTModel
    from diffusers.pipelines.stable_audio_3.modeling_stable_audio_3 import StableAudio3DurationEmbedder
    from transformers import T5GemmaConfig, T5GemmaEncoderModel
    from transformers.models.t5gemma.configuration_t5gemma import T5GemmaModuleConfig

    cond = 16
    tokenizer = gemma_tokenizer()
    module = T5GemmaModuleConfig(
        vocab_size=len(tokenizer),
        hidden_size=cond,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
        max_position_embeddings=64,
        sliding_window=64,
        layer_types=["full_attention"],
    )
    text_encoder = T5GemmaEncoderModel(
        T5GemmaConfig(encoder=module.to_dict(), decoder=module.to_dict(), is_encoder_decoder=False)
    )
    return {
        "transformer": StableAudio3DiTModel(
            io_channels=8,
            patch_size=1,
            embed_dim=32,
            depth=1,
            num_heads=4,
            cond_token_dim=cond,
            global_cond_dim=cond,
            local_add_cond_dim=9,
            timestep_features_dim=16,
            ff_mult=2,
            num_memory_tokens=3,
            use_differential_attention=False,
        ),
        "scheduler": FlowMatchEulerDiscreteScheduler(),
        "vae": AutoencoderSAME(
            audio_channels=2,
            patch_size=2,
            encoder_channels=8,
            encoder_c_mults=(2,),
            encoder_strides=(2,),
            encoder_transformer_depths=(1,),
            latent_dim=8,
            use_differential_attention=False,
            dim_heads=4,
            ff_mult=2,
            sampling_rate=2048,
        ),
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "duration_embedder": StableAudio3DurationEmbedder(output_dim=cond, fourier_dim=16, max_val=30.0),
    }


def stable_audio_3():
    from diffusers import StableAudio3Pipeline

    return StableAudio3Pipeline(**_sa3_components())


def stable_audio_3_a2a():
    from diffusers import StableAudio3AudioToAudioPipeline

    return StableAudio3AudioToAudioPipeline(**_sa3_components())


def stable_audio_3_inpaint():
    from diffusers import StableAudio3InpaintPipeline

    return StableAudio3InpaintPipeline(**_sa3_components())


def dance_diffusion():
    from diffusers import DanceDiffusionPipeline, IPNDMScheduler, UNet1DModel

    unet = UNet1DModel(
        block_out_channels=(32, 32, 64),
        extra_in_channels=64,
        sample_size=1024,
        sample_rate=2000,
        in_channels=2,
        out_channels=2,
        flip_sin_to_cos=True,
        use_timestep_embedding=False,
        time_embedding_type="fourier",
        mid_block_type="UNetMidBlock1D",
        down_block_types=("DownBlock1DNoSkip", "DownBlock1D", "AttnDownBlock1D"),
        up_block_types=("AttnUpBlock1D", "UpBlock1D", "UpBlock1DNoSkip"),
    )
    return DanceDiffusionPipeline(unet=unet, scheduler=IPNDMScheduler())


def longcat_audio_dit():
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        LongCatAudioDiTPipeline,
        LongCatAudioDiTTransformer,
        LongCatAudioDiTVae,
    )
    from transformers import UMT5Config, UMT5EncoderModel

    return LongCatAudioDiTPipeline(
        vae=LongCatAudioDiTVae(
            in_channels=1,
            channels=8,
            c_mults=[1, 2],
            strides=[2, 2],
            latent_dim=8,
            encoder_latent_dim=16,
            downsampling_ratio=4,
            sample_rate=2048,
        ),
        text_encoder=UMT5EncoderModel(
            UMT5Config(vocab_size=64, d_model=8, d_ff=16, d_kv=4, num_heads=2, num_layers=1)
        ),
        tokenizer=t5_tokenizer(),
        transformer=LongCatAudioDiTTransformer(
            dit_dim=16, dit_depth=2, dit_heads=2, dit_text_dim=8, latent_dim=8, ff_mult=2.0
        ),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0, invert_sigmas=True),
    )


def ace_step():
    from diffusers import AceStepPipeline, AutoencoderOobleck, FlowMatchEulerDiscreteScheduler
    from diffusers.models.transformers.ace_step_transformer import AceStepTransformer1DModel
    from diffusers.pipelines.ace_step.modeling_ace_step import AceStepConditionEncoder
    from transformers import Qwen3Config, Qwen3Model

    acoustic = 8  # latent channels; the DiT reads noise, source latents and a mask: 3x
    tokenizer = roberta_tokenizer()
    attention = {"num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16, "sliding_window": 16}
    return AceStepPipeline(
        # 32 samples per latent frame at 1024 Hz: the timbre encoder's fixed 30 s of silence stays short.
        vae=AutoencoderOobleck(
            encoder_hidden_size=6,
            downsampling_ratios=[2, 4, 4],
            decoder_channels=3,
            decoder_input_channels=acoustic,
            audio_channels=2,
            channel_multiples=[2, 2, 4],
            sampling_rate=1024,
        ),
        text_encoder=Qwen3Model(
            Qwen3Config(
                vocab_size=len(tokenizer),
                hidden_size=16,
                intermediate_size=32,
                num_hidden_layers=1,
                num_attention_heads=2,
                num_key_value_heads=1,
                head_dim=8,
                max_position_embeddings=4096,
            )
        ),
        tokenizer=tokenizer,
        transformer=AceStepTransformer1DModel(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            in_channels=3 * acoustic,
            audio_acoustic_hidden_dim=acoustic,
            patch_size=2,
            **attention,
        ),
        condition_encoder=AceStepConditionEncoder(
            hidden_size=32,
            intermediate_size=64,
            text_hidden_dim=16,
            timbre_hidden_dim=acoustic,
            num_lyric_encoder_hidden_layers=1,
            num_timbre_encoder_hidden_layers=1,
            **attention,
        ),
        scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0),
    )


BUILDERS = {
    "StableAudioPipeline": stable_audio,
    "StableAudio3Pipeline": stable_audio_3,
    "StableAudio3AudioToAudioPipeline": stable_audio_3_a2a,
    "StableAudio3InpaintPipeline": stable_audio_3_inpaint,
    "AudioLDM2Pipeline": audioldm2,
    "AudioLDMPipeline": audioldm,
    "MusicLDMPipeline": musicldm,
    "DanceDiffusionPipeline": dance_diffusion,
    "LongCatAudioDiTPipeline": longcat_audio_dit,
    "AceStepPipeline": ace_step,
}


def _randomize_zero_weights(pipe) -> None:
    """Several models zero-initialise output layers (a no-op at init); random weights everywhere
    make the tiny pipelines' outputs depend on their inputs, as trained ones do."""
    with torch.no_grad():
        for component in pipe.components.values():
            if isinstance(component, torch.nn.Module):
                for param in component.parameters():
                    if param.ndim >= 2 and not param.any():
                        param.normal_(0.0, 0.2)


def _quiet_denoiser_output(pipe, scale: float = 0.05) -> None:  # noqa: D401
    """Shrink the denoiser's output layer: a random denoiser then barely moves the sample, so the
    sampler's own arithmetic dominates and the engine's noise scale (temperature) and noise
    level (strength) show up in the audio as they do with trained weights."""
    denoiser = getattr(pipe, "unet", None) or pipe.transformer
    last = [m for m in denoiser.modules() if isinstance(getattr(m, "weight", None), torch.nn.Parameter)][-1]
    with torch.no_grad():
        last.weight.mul_(scale)
        if getattr(last, "bias", None) is not None:
            last.bias.zero_()


def build(family: str, folder: Path, seed: int = 0) -> Path:
    """Build the tiny pipeline for family with fixed random weights and save it to folder."""
    torch.manual_seed(seed)
    pipe = BUILDERS[family]()
    _randomize_zero_weights(pipe)
    if family != "StableAudio3InpaintPipeline":  # inpainting reaches the audio only through the model
        _quiet_denoiser_output(pipe)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


FAMILIES = tuple(BUILDERS)
NEEDS_CLIP = ("StableAudio3AudioToAudioPipeline", "StableAudio3InpaintPipeline")
UNCONDITIONAL = ("DanceDiffusionPipeline",)
