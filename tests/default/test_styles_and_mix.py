"""The default model's mix, recorded banks and the styles beyond the first eleven, on real renders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from diffhost.engine.default.model.nets import ParamDenoiser
from diffhost.engine.default.music import arrange, patterns, score
from diffhost.engine.default.music.bank import BANKS, BankError, bank_source, load_bank, spec
from diffhost.engine.default.training.evaluate_loops import (
    balance_gaps,
    dc_dbfs,
    detect_onsets,
    spectrogram_png,
    start_step,
)
from diffhost.engine.default.training.train import warm_start_state

SR = 44100
WEIGHTS_DIR = Path(arrange.__file__).resolve().parent.parent / "weights"


@pytest.mark.parametrize("style", score.STYLES)
def test_every_part_and_drum_lane_sits_within_12_db_of_the_loudest(style):
    """The issue's drum and bass loop had hats 25-35 dB under the kick. Each style's full arrangement,
    rendered with stems: parts within 12 dB of the loudest, drum lanes that play real hits too."""
    rng = np.random.default_rng(7)
    bank = load_bank()
    roles = (
        {"pad", "texture", "lead"} if style in score.BEATLESS_STYLES else {"drums", "bass", "keys", "lead"}
    )
    for _ in range(2):
        s = patterns.random_score(rng, roles=frozenset(roles), style=style)
        s.bright = 0.1  # the darkest drums: the low-pass that dulls the hats is on
        stems: dict = {}
        audio = arrange.render_score(s, bank, 4 * 240 / s.tempo, True, rng, stems=stems)
        parts, lanes = balance_gaps(s, stems)
        assert parts <= 12.0 and lanes <= 12.0, (style, {k: arrange.level_db(v) for k, v in stems.items()})
        has_hats = {"closed_hat", "ride"} & set(patterns.DRUM_STYLES[style]["lanes"])
        if "drums" in s.roles and has_hats and style not in arrange.QUIET_LANES:
            kick = arrange.level_db(stems["drums:kick"])
            hats = [arrange.level_db(stems[k]) for k in ("drums:closed_hat", "drums:ride") if k in stems]
            assert hats and max(hats) >= kick - 12.0, (style, kick, hats)
        assert dc_dbfs(audio) < -60.0


def test_the_issues_ambient_pad_has_no_dc_and_phrases_start_and_end_in_silence(default_model):
    """FluidR3's warm pad sample carries +0.14 of DC; the mix high-passes and removes any offset, and a
    phrase (not whole bars) starts from silence instead of a step."""
    for bank in ("musescore", "fluidr3"):
        s = patterns.random_score(np.random.default_rng(3), roles=frozenset({"pad"}), style="ambient")
        s.voices["pad"] = "warm_pad"
        x = arrange.render_score(s, load_bank(name=bank), 8.0, False, np.random.default_rng(1))
        assert dc_dbfs(x) < -60.0, bank
        assert start_step(x) < 1e-3 and np.abs(x[:, :10]).max() < 0.01, x[:, :10]
        assert np.abs(x[:, -10:]).max() < 1e-3
    audio = default_model.generate("ambient pad", length=8.0, seed=4)
    assert dc_dbfs(audio) < -60.0 and np.all(np.isfinite(audio))
    phrase = default_model.generate("soft piano chords", length=7.3, bpm=97.0, seed=2)
    assert start_step(phrase) < 1e-3 and dc_dbfs(phrase) < -60.0


@pytest.mark.parametrize(
    ("prompt", "style", "role"),
    [
        ("jazzy piano chords", "jazz", "keys"),
        ("epic orchestral strings", "orchestral", None),
        ("ambient pad texture", "ambient", None),
        ("swing jazz drum loop", "jazz", "drums"),
        ("reggae one drop groove", "reggae", "drums"),
        ("bossa nova guitar", "bossa", "keys"),
    ],
)
def test_the_issues_prompts_land_on_their_styles(default_model, prompt, style, role):
    from diffhost.engine.request import GenerationRequest

    music = default_model.render(GenerationRequest(prompt=prompt, length=8.0, seed=5)).extra["music"][0]
    assert music["style"] == style, music
    if role:
        assert role in music["roles"], music
    if style == "ambient":
        assert "drums" not in music["roles"], music


@pytest.mark.parametrize(
    "prompt", ["rain on a window", "warm pad texture", "evolving pad", "soft pad chords"]
)
def test_pads_and_textures_without_a_style_word_get_no_drum_styles_rhythm(default_model, prompt):
    """Heard in the audio: no drums and nothing percussive repeating at the beat. Textures play in the
    beatless style; a pad alone ("soft pad chords") is a song's pad, which holds chords in any style."""
    from diffhost.engine.default.training.evaluate_loops import drum_rhythm
    from diffhost.engine.request import GenerationRequest

    r = default_model.render(GenerationRequest(prompt=prompt, length=8.0, seed=6))
    music = r.extra["music"][0]
    assert "drums" not in music["roles"] and not drum_rhythm(r.audio[0], music["bpm"]), music
    if prompt != "soft pad chords":
        assert music["style"] in score.BEATLESS_STYLES, music


def test_jazz_swings_its_ride_on_the_triplet_and_walks_its_bass_in_quarters():
    """The skip note of the ride plays two thirds into the beat (a swung eighth), not half way."""
    rng = np.random.default_rng(2)
    s = patterns.random_score(rng, roles=frozenset({"drums"}), style="jazz")
    s.drums[:] = 0.0
    ride = score.DRUM_LANES.index("ride")
    s.drums[[0, 4, 6, 8, 12, 14], ride] = 0.9
    s.swing, s.tempo, s.bright = score.SWING_MAX, 100.0, 0.9
    x = arrange.render_score(s, load_bank(), 2 * 2.4, True, rng)
    got = detect_onsets(np.concatenate([x, x], axis=1))
    beat = 0.6
    skip = got[(got % beat > 0.2) & (got % beat < 0.55) & (got < 4.8)] % beat
    assert skip.size >= 2 and np.all(np.abs(skip - 2 * beat / 3) < 0.03), skip
    for _ in range(20):
        on, _deg = patterns.bass_line("jazz", 0.5, rng)
        assert set(np.nonzero(on)[0]) >= {0, 4, 8, 12}  # a walking bass: every beat


def test_new_styles_follow_their_grammar():
    rng = np.random.default_rng(4)
    for _ in range(30):
        amb = patterns.random_score(rng, style="ambient")
        assert "drums" not in amb.roles
        reggae = patterns.fit_drums("reggae", patterns.drum_grid("reggae", 0.5, rng))
        kick = reggae[:, score.DRUM_LANES.index("kick")] > 0
        assert kick[8]  # one drop (or steppers): the kick always lands on three
        bossa = patterns.random_score(rng, style="bossa", roles=frozenset({"keys"}))
        assert bossa.comp == "bossa" or bossa.comp in score.COMP_RHYTHMS
    # A slow harmonic rhythm: the orchestral and ambient chords change every two bars.
    assert patterns.HARMONIC_BARS["orchestral"] == patterns.HARMONIC_BARS["ambient"] == 2
    s = patterns.random_score(rng, roles=frozenset({"pad"}), style="orchestral")
    s.chords = [0, 3, 4, 5]
    s.minor = False
    x = arrange.render_score(s, load_bank(), 4 * 240 / s.tempo, True, rng)
    bar = int(240 / s.tempo * SR)

    def chroma(seg):
        spec_ = np.abs(np.fft.rfft(seg.mean(axis=0)))
        f = np.fft.rfftfreq(seg.shape[1], 1 / SR)
        sel = (f > 80) & (f < 2000)
        return spec_[sel], f[sel]

    a, _ = chroma(x[:, int(0.3 * bar) : int(0.9 * bar)])
    b, _ = chroma(x[:, int(1.3 * bar) : int(1.9 * bar)])
    c, _ = chroma(x[:, int(2.3 * bar) : int(2.9 * bar)])
    corr = lambda u, v: float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))  # noqa: E731
    assert corr(a, b) > corr(a, c), (corr(a, b), corr(a, c))  # bars 1-2 one chord, bar 3 the next


def test_the_fluidr3_bank_stays_selectable_and_unchanged(monkeypatch):
    """Older renders name the FluidR3 bank's hash: it is built from the same spec as before (so the same
    cache and the same audio), and DIFFHOST_BANK selects it; the MuseScore bank is the default."""
    old_spec = {
        "version": 1, "sr": 44100, "pitch_step": 3, "kits": {"standard": 0, "room": 8, "electronic": 24, "tr808": 25},
        "drum": [0.2, 1.6],
    }  # fmt: skip
    s = spec(BANKS["fluidr3"])
    assert {k: s[k] for k in old_spec} == old_spec and len(s["pitched"]) == 15
    assert s["pitched"]["strings"] == (48, 36, 88, 4.2, 0.8) and s["pitched"]["warm_pad"][0] == 89
    monkeypatch.delenv("DIFFHOST_BANK", raising=False)
    assert bank_source().name == "musescore"
    monkeypatch.setenv("DIFFHOST_BANK", "fluidr3")
    old = load_bank()
    new = load_bank(name="musescore")
    assert old.name == "fluidr3" and new.name == "musescore" and old.hash != new.hash
    # The newer styles' voices and kits play their nearest FluidR3 sound.
    assert old.get("brass", 60)[0].size > 0 and old.drum("jazz", "ride").size > 0
    monkeypatch.setenv("DIFFHOST_BANK", "sf99")
    with pytest.raises(BankError, match=r"'sf99'.*musescore, fluidr3"):
        load_bank()


def test_every_new_voice_and_kit_plays_from_the_musescore_bank():
    bank = load_bank(name="musescore")
    for voice in ("low_strings", "brass", "choir", "harp", "trumpet", "sax", "french_horn", "strings"):
        x, ratio, _ = bank.get(voice, 60)
        assert np.max(np.abs(x)) > 0.05 and 0.9 < ratio < 1.1, voice
    for kit in ("jazz", "brush", "orchestra"):
        assert np.max(np.abs(bank.drum(kit, "kick"))) > 0.1, kit
    manifest = json.loads((WEIGHTS_DIR / "SOUNDS.json").read_text())
    musescore = next(s for s in manifest["sources"] if "MuseScore" in s["name"])
    assert "MIT" in musescore["licence"] and "CC0" in musescore["licence"]
    assert all("share-alike" in r["why"] or "attribution" in r["why"] for r in manifest["rejected"])


def test_warm_start_keeps_what_the_older_weights_learned(tmp_path):
    """The older 330-d score denoiser mapped onto the current layout computes the same output on the old
    dims (new input columns silent), so fine-tuning starts from what it knew. Retrained weights keep
    that network beside their own (score_denoiser_v2/, for the older mixes)."""
    import shutil

    folder = WEIGHTS_DIR
    if (WEIGHTS_DIR / "score_denoiser_v2").is_dir():
        folder = tmp_path
        shutil.copytree(WEIGHTS_DIR / "score_denoiser_v2", folder / "score_denoiser")
    old = ParamDenoiser.from_pretrained(folder / "score_denoiser")
    assert old.config["param_dim"] == 330
    new = ParamDenoiser(param_dim=score.SCORE_DIM, text_dim=384, width=256, depth=3)
    new.load_state_dict(warm_start_state(folder, 1234, 256, 3))
    idx = torch.tensor(score.legacy_index())
    torch.manual_seed(0)
    x, t, c = torch.randn(4, old.config["param_dim"]), torch.tensor([10, 200, 500, 900]), torch.randn(4, 384)
    full = torch.randn(4, score.SCORE_DIM).index_copy(1, idx, x)
    with torch.no_grad():
        assert torch.allclose(new(full, t, c)[:, idx], old(x, t, c), atol=1e-5)


def test_training_can_warm_start_from_the_older_layout(tmp_path):
    args = ["--pairs", "300", "--steps", "20", "--batch", "64", "--clips", "36", "--encoder-steps", "20"]
    args += ["--score-pairs", "200", "--score-steps", "10", "--score-batch", "32", "--heads-from-score-data"]
    args += [
        "--reuse-router",
        str(WEIGHTS_DIR),
        "--warm-start",
        str(WEIGHTS_DIR),
        "--reuse-v1",
        str(WEIGHTS_DIR),
    ]
    subprocess.run(
        [sys.executable, "-m", "diffhost.engine.default.training.train", "--out", str(tmp_path), *args],
        check=True,
        capture_output=True,
    )
    from diffhost.engine.default.model.pipeline import load_default

    model = load_default(torch.device("cpu"), torch.float32, folder=tmp_path)
    loop = model.generate("swing jazz drum loop", length=2.4, bpm=100.0, seed=0, steps=4)
    assert loop.shape == (2, 105840) and np.all(np.isfinite(loop))
    heads = json.loads((tmp_path / "prompt_heads" / "config.json").read_text())
    assert heads["styles"] == len(score.STYLES)


def test_spectrogram_pictures_are_real_pngs(tmp_path):
    t = np.arange(SR) / SR
    x = np.stack([np.sin(2 * np.pi * 440 * t)] * 2).astype(np.float32)
    spectrogram_png(x, tmp_path / "a.png", height=64)
    data = (tmp_path / "a.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert h == 64 and 90 <= w <= 110
