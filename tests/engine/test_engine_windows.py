"""Renders sized to the request: fitted denoising windows and tiled decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffhost.engine import load_model
from diffhost.engine.adapters.tiles import decode_in_tiles
from diffhost.engine.request import GenerationRequest


def request(**kw) -> GenerationRequest:
    base = {"prompt": "punchy analog kick", "length": 0.25, "steps": 3, "seed": 4, "sample_rate": 22050}
    return GenerationRequest(**(base | kw))


def _widths(module: torch.nn.Module, axis: int = -1):
    """Record the time axis of every input module.forward sees (real calls, nothing replaced)."""
    seen: list[int] = []
    handle = module.register_forward_pre_hook(
        lambda m, args, kwargs: seen.append(_sample(args, kwargs).shape[axis]), with_kwargs=True
    )
    return seen, handle


def _sample(args, kwargs) -> torch.Tensor:
    return args[0] if args else kwargs.get("hidden_states", kwargs.get("sample"))


@pytest.fixture
def sao(tiny_dir):
    return load_model(str(tiny_dir("StableAudioPipeline")), device="cpu")


def test_stable_audio_denoises_its_full_window_by_default(sao):
    full = sao.pipe.transformer.config.sample_size
    seen, handle = _widths(sao.pipe.transformer)
    try:
        sao.render(request())
    finally:
        handle.remove()
    assert set(seen) == {full}
    assert sao.window_s(request()) == pytest.approx(
        full * sao.pipe.vae.hop_length / sao.info.native_sample_rate
    )


def test_a_fitted_window_denoises_the_request_plus_margin_only(tiny_dir):
    model = load_model(str(tiny_dir("StableAudioPipeline")), device="cpu", fit_window=True)
    model.window_margin_s = 0.05
    sr, hop = model.info.native_sample_rate, model.pipe.vae.hop_length
    expected = int(np.ceil((0.25 + 0.05) * sr / hop))
    assert expected < model.pipe.transformer.config.sample_size
    seen, handle = _widths(model.pipe.transformer)
    try:
        a = model.render(request()).audio
    finally:
        handle.remove()
    assert set(seen) == {expected}
    assert a.shape == (1, 2, int(0.25 * 22050)) and np.all(np.isfinite(a)) and np.abs(a).max() > 0
    assert np.array_equal(a, model.render(request()).audio)  # seeds still reproduce
    long = request(length=model.info.max_length_s)  # never wider than the trained window
    assert model.window_frames(long.length) == model.pipe.transformer.config.sample_size
    # ETA and timing follow the fitted window.
    assert model.window_s(request()) == pytest.approx(expected * hop / sr)


def test_tiled_decoding_matches_one_decode_and_never_sees_more_than_a_tile(sao):
    vae = sao.pipe.vae
    # The tiny decoder reaches about 19 latent frames each side (hop 8): 24 frames of overlap cover it.
    z = torch.randn(1, vae.config.decoder_input_channels, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        whole = vae.decoder(z)
        vae.tile_latent_min_length, vae.tile_latent_overlap = 80, 24
        seen, handle = _widths(vae.decoder)
        try:
            tiled = vae.decode(z).sample
        finally:
            handle.remove()
    assert max(seen) <= 80 and len(seen) > 1
    assert tiled.shape == whole.shape
    assert torch.allclose(tiled, whole, atol=1e-5)


def test_stable_audio_renders_decode_in_tiles(sao):
    sao.decode_tile_frames, sao.decode_overlap_frames = 80, 24
    seen, handle = _widths(sao.pipe.vae.decoder)
    try:
        tiled = sao.render(request()).audio
    finally:
        handle.remove()
    assert max(seen) <= 80 and len(seen) > 1
    sao.decode_tile_frames = 10_000  # one decode
    assert np.allclose(sao.render(request()).audio, tiled, atol=1e-5)


def test_longcat_renders_decode_in_tiles_and_its_window_follows_the_request(tiny_model):
    model = tiny_model("LongCatAudioDiTPipeline")
    ratio, sr = model.pipe.vae_scale_factor, model.pipe.sample_rate
    seen_dit, h1 = _widths(model.pipe.transformer, axis=1)
    seen_dec, h2 = _widths(model.pipe.vae.decoder)
    saved = model.decode_tile_frames, model.decode_overlap_frames
    # The tiny decoder reaches about 34 latent frames each side (hop 4): 40 frames of overlap cover it.
    model.decode_tile_frames, model.decode_overlap_frames = 160, 40
    try:
        tiled = model.render(request(length=1.0)).audio
        model.decode_tile_frames = 10_000
        whole = model.render(request(length=1.0)).audio
    finally:
        h1.remove()
        h2.remove()
        model.decode_tile_frames, model.decode_overlap_frames = saved
    frames = int(np.ceil(1.0 * sr / ratio))
    # LongCat's transformer sees (batch, frames, latent_dim): its window is the request, rounded up to a frame.
    assert set(seen_dit) == {frames}
    assert model.window_s(request(length=1.0)) == pytest.approx(frames * ratio / sr)
    assert max(seen_dec[:-1]) <= 160 and len(seen_dec) > 2  # the last decode is the whole one
    assert tiled.shape == whole.shape == (1, 1, 22050)
    assert np.allclose(tiled, whole, atol=1e-5)


def test_dance_diffusion_window_is_what_its_unet_denoises(tiny_model):
    """The pipeline rounds the request up to its downsampling and trims after: the cost follows the
    rounded width, which is what window_s (and so the ETA) must report."""
    model = tiny_model("DanceDiffusionPipeline")
    sr = int(model.pipe.unet.config.sample_rate)
    block = 2 ** len(model.pipe.unet.up_blocks)
    n = int(0.3 * sr / block) + 1  # whole blocks in about 0.3 s
    length = (n * block + max(1, block // 3)) / sr  # not a whole number of blocks
    seen, handle = _widths(model.pipe.unet)
    try:
        out = model.render(request(prompt=None, length=length)).audio
    finally:
        handle.remove()
    assert set(seen) == {(n + 1) * block}  # rounded up, not the request's samples
    assert model.window_s(request(prompt=None, length=length)) == pytest.approx((n + 1) * block / sr)
    assert out.shape[-1] == pytest.approx(length * 22050, abs=1)  # and trimmed back to the request


def test_decode_in_tiles_rejects_an_overlap_that_leaves_no_core():
    with pytest.raises(ValueError, match="decode tile: 16 frames must exceed twice the overlap"):
        decode_in_tiles(lambda z: z, torch.zeros(1, 1, 100), tile=16, overlap=8)


def test_a_fitted_window_takes_a_seed_clip(tiny_dir):
    from tests.engine.test_engine_families import seed_clip

    model = load_model(str(tiny_dir("StableAudioPipeline")), device="cpu", fit_window=True)
    model.window_margin_s = 0.05
    clip = seed_clip()
    light = model.render(request(seed_clip=clip, strength=0.0)).audio
    heavy = model.render(request(seed_clip=clip, strength=1.0)).audio
    assert light.shape == heavy.shape == (1, 2, int(0.25 * 22050))
    assert np.all(np.isfinite(light)) and not np.allclose(light, heavy)
