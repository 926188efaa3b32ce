"""Mix versions: a clip rendered before the current mix renders again sample for sample.

The fingerprints below are SHA-256 digests of the float32 samples that the default model rendered
with the code as it was before per-part levels, the DC high-pass and the phrase fade-in existed
(recipes whose sidecars name no "mix"), with the FluidR3 bank those clips were made with.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from diffhost.engine import load_model
from diffhost.engine.default.music import arrange, patterns
from diffhost.engine.default.music.bank import load_bank
from diffhost.engine.request import GenerationRequest

# (request, digest of the first variation's float32 samples) written by the first mix.
FIRST_MIX_RECIPES = [
    (
        {"prompt": "house drum loop with bass and chords", "length": 8.0, "seed": 5, "sample_rate": 44100},
        "6c002902490d8c7fce504bbd49d5a68e8049cd52952a9a47bc8c3f3e4b374f20",
    ),
    (
        {"prompt": "lofi beat with piano chords", "length": 6.0, "seed": 11, "sample_rate": 44100},
        "c7eea29979f448236d39ef046a0de9c7bbcd4d8fcf7df5286c492a2e6e63d864",
    ),
    (
        {"prompt": "warm pad texture", "length": 6.0, "seed": 3, "sample_rate": 44100},
        "7a1270780f6e62ceba22e8c5ee14ae119a80c74826b2d3500cc32d9b6af39c20",
    ),
    (
        {"prompt": "jazzy piano chords", "length": 6.0, "seed": 7, "sample_rate": 44100},
        "5c78ee33688f3f319b1516ef62b6c91b2e46acfa33bc38d96d313e69fdf2f298",
    ),
    (
        {"prompt": "flute melody", "length": 5.0, "seed": 2, "sample_rate": 48000},
        "3424fd37840ee93b53ff32a9be74dcd707b4929f92f60a664073ecc0caba5446",
    ),
    (
        {"prompt": "trap beat", "bars": 2, "bpm": 140.0, "seed": 9, "sample_rate": 44100},
        "d43b5357a1f3e86104aa0c4de647ab7ac658f4afe5a1af2c0920fa5851936189",
    ),
]


def _digest(audio: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(audio, dtype=np.float32).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def first_mix_renders():
    mp = pytest.MonkeyPatch()
    mp.setenv("DIFFHOST_BANK", "fluidr3")
    mp.setenv("DIFFHOST_MIX", "1")
    try:
        model = load_model(None, device="cpu")
        yield [model.render(GenerationRequest(**kw)) for kw, _ in FIRST_MIX_RECIPES]
    finally:
        mp.undo()


@pytest.mark.parametrize("i", range(len(FIRST_MIX_RECIPES)))
def test_a_recipe_written_with_the_first_mix_renders_bit_identically(first_mix_renders, i):
    """Loops, phrases, another sample rate, bars and a pad prompt the newer rules would make ambient."""
    kw, digest = FIRST_MIX_RECIPES[i]
    r = first_mix_renders[i]
    assert _digest(r.audio[0]) == digest, kw
    assert r.extra["music"][0]["mix"] == 1 and r.extra["music"][0]["bank"] == "sha256:9135fe7951ad20e3"


def test_todays_mix_is_the_default_and_is_recorded(monkeypatch, first_mix_renders):
    """Without DIFFHOST_MIX the sidecar records mix 2, and the same recipe sounds different (levels,
    high-pass, fade-in): the version is what decides, not an accident."""
    monkeypatch.setenv("DIFFHOST_BANK", "fluidr3")
    monkeypatch.delenv("DIFFHOST_MIX", raising=False)
    model = load_model(None, device="cpu")
    kw, digest = FIRST_MIX_RECIPES[0]
    r = model.render(GenerationRequest(**kw))
    assert r.extra["music"][0]["mix"] == arrange.MIX == 2
    assert r.audio.shape == first_mix_renders[0].audio.shape
    assert _digest(r.audio[0]) != digest
    # The same score through both mixes: only the mix differs, and the newer one has no DC.
    s = patterns.random_score(np.random.default_rng(3), roles=frozenset({"pad"}), style="house")
    s.voices["pad"] = "warm_pad"
    bank = load_bank(name="fluidr3")
    old = arrange.render_mixed(1, s, bank, 6.0, False, np.random.default_rng(1))
    new = arrange.render_mixed(2, s, bank, 6.0, False, np.random.default_rng(1))
    assert old.shape == new.shape and not np.array_equal(old, new)
    assert np.abs(new.mean(axis=1)).max() < 1e-3 < np.abs(old.mean(axis=1)).max()


@pytest.mark.parametrize("bad", ["3", "0", "two", "1.5"])
def test_an_unknown_mix_version_is_refused_by_name(monkeypatch, bad):
    monkeypatch.setenv("DIFFHOST_MIX", bad)
    with pytest.raises(arrange.MixError, match=rf"mix '{bad}' \(DIFFHOST_MIX\) is unknown; valid are 1, 2"):
        arrange.mix_version()
    assert arrange.mix_version(2) == 2 and arrange.mix_version("1") == 1


def test_a_retrained_folder_keeps_the_first_mixs_networks_for_its_clips(tmp_path, monkeypatch):
    """Weights retrained after the first mix keep its score denoiser and prompt heads beside the new ones
    (score_denoiser_v1/, prompt_heads_v1/): an old recipe still renders bit for bit, new renders use
    the new networks (here a freshly initialised one of today's score size)."""
    import shutil

    import torch

    from diffhost.engine.default.model.nets import ParamDenoiser
    from diffhost.engine.default.model.pipeline import WEIGHTS_DIR
    from diffhost.engine.default.music import score

    folder = tmp_path / "weights"
    shutil.copytree(WEIGHTS_DIR, folder, ignore=shutil.ignore_patterns("spectrograms", "*.md"))
    (folder / "score_denoiser").rename(folder / "score_denoiser_v1")
    shutil.copytree(folder / "prompt_heads", folder / "prompt_heads_v1")
    torch.manual_seed(0)
    ParamDenoiser(param_dim=score.SCORE_DIM).save_pretrained(folder / "score_denoiser")
    monkeypatch.setenv("DIFFHOST_BANK", "fluidr3")
    kw, digest = FIRST_MIX_RECIPES[0]
    monkeypatch.setenv("DIFFHOST_MIX", "1")
    model = load_model(str(folder), device="cpu")
    assert _digest(model.render(GenerationRequest(**kw)).audio[0]) == digest
    monkeypatch.setenv("DIFFHOST_MIX", "2")
    assert model.loops.nets(2)[0].config["param_dim"] == score.SCORE_DIM
    assert model.loops.nets(1)[0].config["param_dim"] == 330
    r = model.render(GenerationRequest(**kw))
    assert r.extra["music"][0]["mix"] == 2 and _digest(r.audio[0]) != digest
