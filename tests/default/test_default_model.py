"""The embedded default model: the real shipped weights, through engine.load_model()."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from diffhost.engine import SeedClip
from diffhost.engine.default.model import features
from diffhost.engine.default.music import synth
from diffhost.engine.default.text import captions
from diffhost.engine.default.training.evaluate import centroid_hz, evaluate
from diffhost.engine.errors import UnsupportedRequestError


def test_loads_through_load_model_with_its_identity(default_model):
    info = default_model.info
    assert info.name == "diffhost-default"
    assert info.native_sample_rate == 44100 and info.channels == 2
    assert info.revision.startswith("sha256:")


def test_a_folder_saved_under_the_family_s_old_name_still_loads(default_model, tmp_path):
    """Weights trained before the family was named DiffhostDefaultPipeline say DiffhostOneShotPipeline
    in their model_index.json; they load as the same model, which now reports its new name."""
    import json
    import shutil

    from diffhost.engine import load_model
    from diffhost.engine.default.model.pipeline import WEIGHTS_DIR

    old = tmp_path / "trained-earlier"
    shutil.copytree(WEIGHTS_DIR, old)
    index = json.loads((old / "model_index.json").read_text())
    assert index["_class_name"] == "DiffhostDefaultPipeline"  # what the shipped folder says now
    (old / "model_index.json").write_text(json.dumps({**index, "_class_name": "DiffhostOneShotPipeline"}))
    model = load_model(str(old), device="cpu")
    assert model.info.family == default_model.info.family == "DiffhostDefaultPipeline"
    a = model.generate("punchy analog kick", sample_rate=44100, length=0.5, seed=3)
    b = default_model.generate("punchy analog kick", sample_rate=44100, length=0.5, seed=3)
    assert np.array_equal(a, b)


@pytest.mark.parametrize(("sr", "length"), [(44100, 1.0), (48000, 0.25), (22050, 4.0)])
def test_exact_shape_rate_and_length(default_model, sr, length):
    audio = default_model.generate("punchy analog kick", sample_rate=sr, length=length, seed=1)
    assert audio.dtype == np.float32
    assert audio.shape == (2, int(round(sr * length)))
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) > 0.1


def test_seed_is_bit_identical_and_seeds_differ(default_model):
    a = default_model.generate("tight snare", length=0.5, seed=11)
    b = default_model.generate("tight snare", length=0.5, seed=11)
    c = default_model.generate("tight snare", length=0.5, seed=12)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_variations_come_back_batched_and_distinct(default_model):
    out = default_model.generate("open hat", length=0.5, seed=3, variations=4)
    assert out.shape == (4, 2, 22050)
    feats = [features.clip_features(x) for x in out]
    assert min(np.linalg.norm(feats[i] - feats[j]) for i in range(4) for j in range(i + 1, 4)) > 1.0


def test_lower_temperature_gives_lower_spread_across_seeds(default_model):
    def spread(temp):
        xs = [
            features.clip_features(default_model.generate("pluck", length=0.5, seed=s, temperature=temp))
            for s in range(8)
        ]
        return float(np.mean(np.std(np.stack(xs), axis=0)))

    assert spread(0.2) < spread(1.5)


def test_length_outside_the_models_range_names_length_and_model(default_model):
    with pytest.raises(UnsupportedRequestError, match=r"length.*diffhost-default.*0\.25\.\.30 s"):
        default_model.generate("kick", length=31.0)
    with pytest.raises(UnsupportedRequestError, match=r"length.*diffhost-default.*0\.25\.\.30 s"):
        default_model.generate("kick", length=0.1)
    with pytest.raises(ValueError, match="temperature"):
        default_model.generate("kick", length=1.0, temperature=-1)


def test_negative_prompt_steers_away(default_model):
    def mean_centroid(neg):
        return np.mean(
            [
                centroid_hz(default_model.generate("snare", negative_prompt=neg, length=0.5, seed=s))
                for s in range(6)
            ]
        )

    assert mean_centroid("dark muffled") > mean_centroid("bright crisp")


def test_seed_clip_of_any_rate_and_channels(default_model):
    rng = np.random.default_rng(0)
    ref = synth.render(synth.random_sound(rng, "tom"), 0.7, rng)
    mono_48k = np.interp(
        np.linspace(0, ref.shape[1] - 1, int(ref.shape[1] * 48000 / 44100)), np.arange(ref.shape[1]), ref[0]
    )
    out = default_model.generate(
        (mono_48k.astype(np.float32), 48000), sample_rate=32000, length=0.7, strength=0.3, seed=2
    )
    assert out.shape == (2, 22400)
    assert default_model.describe_clip(SeedClip(ref, 44100)).category == "tom"


def test_training_captions_never_use_eval_words_or_templates():
    rng = np.random.default_rng(5)
    caps = [captions.caption(synth.random_sound(rng), rng) for _ in range(5000)]
    joined = "\n".join(caps).lower()
    for alias in captions.ALIASES:
        assert not re.search(rf"(?<![\w-]){re.escape(alias)}(?![\w-])", joined), alias
    for template in captions.EVAL_TEMPLATES:
        head = template.split("{")[0].strip()
        if head:
            assert head.lower() not in joined, template


def test_alias_expansion_maps_everyday_words():
    assert "kick" in captions.expand_aliases("bass drum")
    assert captions.expand_aliases("handclap") == "clap"
    assert "closed" in captions.expand_aliases("shaker-like")
    assert captions.expand_aliases("closed hi-hat") == "closed hi-hat"


def test_text_encoder_matches_transformers_bert():
    transformers = pytest.importorskip("transformers")
    from diffhost.engine.default.text.textenc import TextEncoder, minilm_dir

    texts = ["punchy analog kick", "a long dark riser with a gritty edge"]
    ours = TextEncoder().encode(texts)
    tok = transformers.BertTokenizerFast.from_pretrained(minilm_dir())
    ref = transformers.BertModel.from_pretrained(minilm_dir()).eval()
    batch = tok(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        h = ref(**batch).last_hidden_state
    m = batch["attention_mask"][..., None].float()
    theirs = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)
    assert torch.allclose(ours, theirs, atol=1e-4)


def test_quality_bar_at_small_n(default_model):
    """The quality bar, at N=3 per category (bench/default_model.py runs it at large N)."""
    r = evaluate(default_model, n=3, classifier_clips=12, log=lambda m: None)
    assert r["category_accuracy"] >= 0.85, r["category_accuracy_per_category"]
    assert r["bright_above_dark"] >= 0.8, r["descriptor_pairs"]["bright"]
    assert r["long_above_short"] >= 0.8, r["descriptor_pairs"]["decay"]
    assert r["low_below_high"] >= 0.8, r["descriptor_pairs"]["pitch"]
    assert r["tail_share_below_minus40db"] == 1.0, r["tail_db_worst"]
    assert r["nan_or_clipped"] == 0
    assert r["diversity_pairs_above_noise"] >= 0.8
    assert r["strength_03_closer_than_09"] >= 0.75


def test_loading_the_model_leaves_scipy_signal_for_the_first_render():
    """Importing scipy.signal costs more than the rest of the model's load (it pulls in scipy.stats,
    scipy.optimize and scipy.interpolate): loading must not import it, in a fresh process; the first
    render that filters does, and renders as usual (either mix version's renderer)."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from diffhost.engine import load_model\n"
        "from diffhost.engine.request import GenerationRequest\n"
        "m = load_model(None, device='cpu')\n"
        "loaded = sorted(k for k in sys.modules if k == 'scipy.signal' or k.startswith('scipy.stats'))\n"
        "r = m.render(GenerationRequest(prompt='techno loop', bars=1, bpm=128.0, seed=1))\n"
        "print(loaded, 'scipy.signal' in sys.modules, r.audio.shape, bool(np.abs(r.audio).max() > 0.1))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[-2] == "[] True (1, 2, 82688) True", out.stdout
