"""Every supported diffusers family, as a tiny random-weight pipeline loaded through load_model."""

from __future__ import annotations

import numpy as np
import pytest

from diffhost.engine.errors import UnsupportedRequestError
from diffhost.engine.request import GenerationRequest, SeedClip
from tests.engine.tiny import FAMILIES, NEEDS_CLIP, UNCONDITIONAL

SR = 22050  # requested output rate: every family renders natively at another rate and is resampled
LENGTH = 0.25
STEPS = 2


def seed_clip(seconds: float = LENGTH, sr: int = 44100) -> SeedClip:
    """A stereo chirp plus a decaying noise burst at 44.1 kHz: converted to each model's rate/channels."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(3)
    chirp = np.sin(2 * np.pi * (200 + 1500 * t) * t)
    burst = rng.standard_normal(t.size) * np.exp(-t * 12)
    left = 0.6 * chirp + 0.3 * burst
    return SeedClip(np.stack([left, 0.8 * left]).astype(np.float32), sr)


def prompt_for(family: str) -> str | None:
    return None if family in UNCONDITIONAL else "punchy analog kick"


def render(model, family: str, **kw):
    clip = kw.pop("seed_clip", seed_clip() if family in NEEDS_CLIP else None)
    kw.setdefault("steps", STEPS)
    kw.setdefault("length", LENGTH)
    req = GenerationRequest(prompt=prompt_for(family), seed_clip=clip, sample_rate=SR, **kw)
    return model.render(req)


@pytest.mark.parametrize("family", FAMILIES)
def test_shape_rate_length_finite_and_seeded(tiny_model, family):
    model = tiny_model(family)
    assert model.info.family == family
    result = render(model, family, seed=11, variations=2)
    assert result.sample_rate == SR
    assert result.seed == 11
    assert result.audio.dtype == np.float32
    assert result.audio.shape == (2, model.info.channels, int(round(LENGTH * SR)))
    assert np.all(np.isfinite(result.audio))
    assert np.abs(result.audio).max() > 0
    assert result.model.revision.startswith("sha256:")
    again = render(model, family, seed=11).audio[0]
    other = render(model, family, seed=12).audio[0]
    assert np.array_equal(result.audio[0], again)  # bit-identical for the same seed
    assert not np.allclose(again, other)
    assert not np.allclose(result.audio[0], result.audio[1])  # variation 2 uses seed + 1


@pytest.mark.parametrize("family", FAMILIES)
def test_lower_temperature_lowers_variance_across_seeds(tiny_model, family):
    model = tiny_model(family)

    def spread(temperature: float) -> float:
        outs = np.stack([render(model, family, seed=s, temperature=temperature).audio for s in range(3)])
        return float(outs.var(axis=0).mean())

    low, high = spread(0.25), spread(1.0)
    assert 0.0 < low < high


@pytest.mark.parametrize("family", FAMILIES)
def test_higher_strength_lower_correlation_with_seed_clip(tiny_model, family):
    model = tiny_model(family)
    clip = seed_clip()
    # The reference is the clip as this model hears and speaks it (its own encoding and decoding at
    # the lightest touch): a random-weight decoder does not reproduce the raw waveform.
    ref = render(model, family, seed=100, seed_clip=clip, strength=0.0, steps=4).audio[0].ravel()

    def corr(strength: float) -> float:
        outs = [
            render(model, family, seed=s, seed_clip=clip, strength=strength, steps=4).audio[0] for s in (1, 2)
        ]
        return float(np.mean([np.corrcoef(o.ravel(), ref)[0, 1] for o in outs]))

    assert corr(0.25) > corr(1.0)


@pytest.mark.parametrize("family", FAMILIES)
def test_progress_monotonic_and_ends_at_one(tiny_model, family):
    model = tiny_model(family)
    seen: list[float] = []
    render_req = GenerationRequest(
        prompt=prompt_for(family),
        seed_clip=seed_clip() if family in NEEDS_CLIP else None,
        sample_rate=SR,
        length=LENGTH,
        steps=STEPS,
        seed=3,
        variations=2,
    )
    model.render(render_req, progress=seen.append)
    assert seen == sorted(seen)
    assert seen[-1] == 1.0
    assert len(seen) == 2 * model.steps_run(render_req, STEPS)  # one event per denoising step


@pytest.mark.parametrize("family", FAMILIES)
def test_unsupported_requests_name_feature_value_and_model(tiny_model, family):
    model = tiny_model(family)
    info = model.info
    too_long = info.max_length_s + 1.0
    with pytest.raises(UnsupportedRequestError, match=r"length: .* valid is"):
        render(model, family, length=too_long)
    if family in UNCONDITIONAL:
        with pytest.raises(UnsupportedRequestError, match=r"prompt: .*unconditional.*'a prompt'"):
            model.generate("a prompt", length=LENGTH, steps=STEPS)
        with pytest.raises(UnsupportedRequestError, match="guidance: .*DanceDiffusionPipeline"):
            model.generate(None, length=LENGTH, steps=STEPS, guidance=3.0)
    if family in NEEDS_CLIP:
        with pytest.raises(UnsupportedRequestError, match=f"seed_clip: .*{family}"):
            model.generate("a prompt", length=LENGTH, steps=STEPS)
        with pytest.raises(UnsupportedRequestError, match="guidance"):
            render(model, family, guidance=4.0)


@pytest.mark.parametrize("family", FAMILIES)
def test_cancel_stops_at_the_next_step_and_leaves_the_pipeline_clean(tiny_model, family):
    import threading

    from diffhost.engine.errors import Cancelled

    model = tiny_model(family)
    flag = threading.Event()
    seen: list[float] = []

    def progress(f: float) -> None:
        seen.append(f)
        if len(seen) == 2:
            flag.set()

    req = GenerationRequest(
        prompt=prompt_for(family),
        seed_clip=seed_clip() if family in NEEDS_CLIP else None,
        sample_rate=SR,
        length=LENGTH,
        steps=8,
        seed=3,
    )
    with pytest.raises(Cancelled):
        model.render(req, progress=progress, cancel=flag)
    assert len(seen) == 2  # no step completed after the one that asked to cancel
    assert "step" not in model.pipe.scheduler.__dict__  # the hooks are gone
    assert render(model, family, seed=3).audio.shape == (1, model.info.channels, int(round(LENGTH * SR)))
