"""The training command runs end to end and is reproducible (a tiny configuration)."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import torch

ARGS = ["--pairs", "300", "--steps", "20", "--batch", "64", "--clips", "36", "--encoder-steps", "20"]
ARGS += ["--score-pairs", "300", "--score-steps", "20", "--score-batch", "32", "--router-oneshots", "60"]
ARGS += ["--head-pairs", "200"]


def _train(out):
    subprocess.run(
        [sys.executable, "-m", "diffhost.engine.default.training.train", "--out", str(out), *ARGS],
        check=True,
        capture_output=True,
    )
    h = hashlib.sha256()
    for part in ("denoiser", "score_denoiser", "router", "prompt_heads"):
        h.update((out / part / "diffusion_pytorch_model.safetensors").read_bytes())
    return h.hexdigest()


def test_train_is_reproducible_and_its_output_loads(tmp_path):
    a = _train(tmp_path / "a")
    b = _train(tmp_path / "b")
    assert a == b
    from diffhost.engine.default.model.pipeline import load_default

    model = load_default(torch.device("cpu"), torch.float32, folder=tmp_path / "a")
    audio = model.generate("kick", length=0.3, seed=0, steps=4)
    assert audio.shape == (2, 13230) and np.all(np.isfinite(audio))
    loop = model.generate("drum loop", length=2.0, bpm=120.0, seed=0, steps=4)  # the v2 stage loads too
    assert loop.shape == (2, 88200) and np.all(np.isfinite(loop))


def test_train_can_retrain_only_the_prompt_heads(tmp_path):
    """--reuse-v1 and --reuse-v2 copy every other stage bit for bit and train only the heads, with
    the same result as the heads of a full run (their data comes from their own seeded stream)."""
    _train(tmp_path / "full")
    subprocess.run(
        [sys.executable, "-m", "diffhost.engine.default.training.train", "--out", str(tmp_path / "heads"), *ARGS,
         "--reuse-v1", str(tmp_path / "full"), "--reuse-v2", str(tmp_path / "full")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    for part in ("denoiser", "encoder", "score_denoiser", "router", "prompt_heads"):
        name = "diffusion_pytorch_model.safetensors"
        assert (tmp_path / "heads" / part / name).read_bytes() == (tmp_path / "full" / part / name).read_bytes()


def _old_cache(path, n=24, seed=5):
    """A cache as a run before salsa and the montuno rhythm wrote it: real scores encoded, then cut to the
    349-d layout. Returns the scores' encodings in today's layout and the cache's contents."""
    from diffhost.engine.default.music import patterns, score

    rng = np.random.default_rng(seed)
    scores = []
    while len(scores) < n:  # the older layout could not name these two, so its data never holds them
        s = patterns.random_score(rng)
        if s.style != "salsa" and s.comp != "montuno":
            scores.append(s)
    today = torch.tensor(np.stack([score.encode(s) for s in scores]))
    old = today[:, torch.tensor(score.older_index(349))].clone()
    emb = torch.randn(n, 384, generator=torch.Generator().manual_seed(seed))
    texts = [f"{s.style} loop {i}" for i, s in enumerate(scores)]
    torch.save((old, emb, texts), path)
    return today, old, emb, texts, scores


def test_a_cache_in_the_older_layout_joins_in_todays(tmp_path):
    from diffhost.engine.default.music import score
    from diffhost.engine.default.training.train import load_pair_cache

    today, old, emb, texts, scores = _old_cache(tmp_path / "old.pt")
    assert old.shape == (24, 349)
    x, c, t = load_pair_cache(tmp_path / "old.pt")
    assert x.shape == (24, score.SCORE_DIM) == (24, 351)
    assert torch.equal(x, today)  # each old dim in its place, and the two new one-hot entries off (-1)
    assert torch.all(x[:, score.LAYOUT["style"].start + score.STYLES.index("salsa")] == -1)
    assert torch.all(x[:, score.LAYOUT["comp"].start + score.COMP_RHYTHMS.index("montuno")] == -1)
    assert [score.decode(v.numpy()).style for v in x] == [s.style for s in scores]
    assert torch.equal(c, emb) and t == texts
    torch.save((today, emb, texts), tmp_path / "new.pt")  # today's layout is taken as it is
    assert torch.equal(load_pair_cache(tmp_path / "new.pt")[0], today)


def test_a_cache_that_cannot_be_joined_is_refused_by_name(tmp_path):
    import pytest

    from diffhost.engine.default.training.train import load_pair_cache

    torch.save((torch.zeros(4, 340), torch.zeros(4, 384), ["a"] * 4), tmp_path / "w340.pt")
    with pytest.raises(ValueError, match=r"--add-pairs-from .*w340.pt: score vectors 340 wide .* 330, 349"):
        load_pair_cache(tmp_path / "w340.pt")
    torch.save((torch.zeros(4, 349), torch.zeros(4, 100), ["a"] * 4), tmp_path / "emb.pt")
    with pytest.raises(ValueError, match="embeddings are 100 wide; the text encoder's are 384"):
        load_pair_cache(tmp_path / "emb.pt")
    torch.save((torch.zeros(4, 349), torch.zeros(3, 384), ["a"] * 4), tmp_path / "n.pt")
    with pytest.raises(ValueError, match="4 score vectors, 3 embeddings and 4 captions"):
        load_pair_cache(tmp_path / "n.pt")
    with pytest.raises(ValueError, match="cannot read it"):
        load_pair_cache(tmp_path / "missing.pt")
    # The command says so in one line, before any training, and writes nothing.
    r = subprocess.run(
        [sys.executable, "-m", "diffhost.engine.default.training.train", "--out", str(tmp_path / "out"),
         "--add-pairs-from", str(tmp_path / "w340.pt")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 2 and "score vectors 340 wide" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_train_adds_pairs_from_an_older_cache(tmp_path):
    """--add-pairs-from puts the mapped pairs after the run's own ones; the checkpoint's cache keeps only
    the run's own pairs (so a resumed run adds the same ones again) and training.json names the cache."""
    import json

    from diffhost.engine.default.training.train import WEIGHTS_DIR

    _old_cache(tmp_path / "old.pt", n=40)
    args = ["--score-pairs", "60", "--score-steps", "5", "--score-batch", "16", "--heads-from-score-data"]
    args += ["--reuse-v1", str(WEIGHTS_DIR), "--reuse-router", str(WEIGHTS_DIR)]
    args += ["--checkpoint", str(tmp_path / "ckpt"), "--add-pairs-from", str(tmp_path / "old.pt")]
    r = subprocess.run(
        [sys.executable, "-m", "diffhost.engine.default.training.train", "--out", str(tmp_path / "w"), *args],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert "added 40 (caption, score) pairs" in r.stdout and "100 in all" in r.stdout
    own = torch.load(tmp_path / "ckpt" / "score_data.pt", weights_only=True)
    assert own[0].shape == (60, 351)
    record = json.loads((tmp_path / "w" / "training.json").read_text())
    assert record["score_pairs_added"] == {str(tmp_path / "old.pt"): 40}
    assert (tmp_path / "w" / "score_denoiser" / "diffusion_pytorch_model.safetensors").is_file()
