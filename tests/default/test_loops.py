"""The default model's loops and phrases (v2): the real shipped weights and the real recorded bank."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from diffhost.engine.default.model.pipeline import WEIGHTS_DIR
from diffhost.engine.default.music import patterns, score
from diffhost.engine.default.music.bank import load_bank
from diffhost.engine.default.text import loop_captions
from diffhost.engine.default.training.evaluate_loops import (
    end_db,
    evaluate_loops,
    hum_seed,
    noise_burst_seed,
    seam_ok,
)
from diffhost.engine.errors import UnsupportedRequestError
from diffhost.engine.request import GenerationRequest, SeedClip

SR = 44100


def _render(model, prompt, **kw):
    return model.render(GenerationRequest(prompt=prompt, sample_rate=kw.pop("sample_rate", SR), **kw))


def test_the_guides_call_makes_ten_seconds_of_music(default_model):
    # The guide's call as written (no seed). A loop prompt is rendered in whole bars: when no
    # whole-number tempo near the one the model draws makes 10 s whole bars, the length snaps to the
    # nearest whole bars (at most 12 % away), so only the seeded call below is exactly 10 s.
    free = default_model.generate("lofi hip hop drum loop", sample_rate=44100, length=10, temperature=0.7)
    assert free.shape[0] == 2 and abs(free.shape[1] - 441000) <= 0.12 * 441000, free.shape
    audio = default_model.generate("lofi hip hop drum loop", sample_rate=44100, length=10, temperature=0.7, seed=0)
    assert audio.shape == (2, 441000) and audio.dtype == np.float32
    assert np.all(np.isfinite(audio)) and 0.5 < np.max(np.abs(audio)) <= 1.0
    # Music, not one hit: energy all through the clip, not only at the start.
    rms = np.sqrt(np.mean(audio.mean(0)[:441000].reshape(10, -1) ** 2, axis=1))
    assert np.min(rms[:-1]) > 0.1 * np.max(rms), rms


def test_tempo_and_key_from_the_prompt_and_from_arguments(default_model):
    r = _render(default_model, "boom bap drum loop at 90 bpm", length=4 * 240 / 90, seed=1)
    music = r.extra["music"][0]
    assert music["bpm"] == 90.0 and music["bars"] == 4.0 and music["loop"] is True
    assert "drums" in music["roles"] and music["bank"].startswith("sha256:")
    r = _render(default_model, "warm pad chords in F# minor", length=8.0, bpm=120.0, seed=2)
    assert r.extra["music"][0]["key"] == "F# minor" and r.extra["music"][0]["bars"] == 4.0
    r = _render(default_model, "piano chords", length=8.0, bpm=120.0, key="Eb major", seed=2)
    assert r.extra["music"][0]["key"] == "Eb major"  # as charts spell it, whichever spelling came in
    r = _render(default_model, "moody synth bassline in A# minor", length=8.0, bpm=120.0, seed=3)
    assert r.extra["music"][0]["key"] == "Bb minor"


def test_bad_bpm_and_key_are_refused_with_the_valid_range():
    with pytest.raises(ValueError, match=r"bpm: 500 is out of range; valid is 40.0..300.0"):
        GenerationRequest(prompt="beat", bpm=500)
    with pytest.raises(ValueError, match=r"key: 'H minor' is not a key.*'A minor'"):
        GenerationRequest(prompt="beat", key="H minor")


def test_length_past_thirty_seconds_names_the_range(default_model):
    assert default_model.info.max_length_s == 30.0
    with pytest.raises(UnsupportedRequestError, match=r"length.*diffhost-default.*0\.25\.\.30 s"):
        default_model.generate("drum loop", length=31.0)


def test_free_tempo_snaps_to_whole_bars_so_the_result_loops(default_model):
    r = _render(default_model, "house drum loop", length=10.0, seed=4)
    music = r.extra["music"][0]
    assert music["loop"] is True and music["bars"] == round(music["bars"])
    assert abs(music["bars"] * 240 / music["bpm"] - 10.0) < 1e-6


@pytest.mark.parametrize(
    "prompt", ["techno drum loop", "synth bass bassline", "lush strings pad", "vinyl crackle", "arpeggio"]
)
def test_whole_bar_loops_have_no_seam(default_model, prompt):
    r = _render(default_model, prompt, length=4 * 240 / 128, bpm=128.0, seed=5)
    x = r.audio[0]
    ok, seam, p999 = seam_ok(x)
    assert ok, (seam, p999)


def test_a_length_typed_to_the_hundredth_of_a_second_is_exactly_whole_bars(default_model):
    """Two bars at 90 bpm are 5.333... s; the window's Length box holds 5.33. The file is exactly two
    bars (235,200 samples, not round(5.33 x 44100) = 235,053 with the next bar's kick in its last
    147), and a drum loop 30 ms short of two bars snaps to them too, saying so."""
    for length in (5.33, 5.30):
        r = _render(default_model, "boom bap drum loop", length=length, bpm=90.0, seed=3)
        music = r.extra["music"][0]
        assert music["loop"] is True and music["bars"] == 2.0 and music["bpm"] == 90.0
        assert r.audio.shape[-1] == round(2 * 240 / 90 * SR) == 235200 and seam_ok(r.audio[0])[0]
        assert any("rendered 2 bars" in n for n in music["notes"]), music["notes"]


def test_phrases_that_are_not_whole_bars_end_in_silence(default_model):
    r = _render(default_model, "solo piano melody", length=7.3, bpm=100.0, seed=6)
    assert r.extra["music"][0]["loop"] is False
    assert end_db(r.audio[0]) <= -40.0


def test_loops_are_reproducible_and_variations_differ(default_model):
    a = default_model.generate("funk beat with bass and chords", length=6.0, seed=9)
    b = default_model.generate("funk beat with bass and chords", length=6.0, seed=9)
    assert np.array_equal(a, b)
    r = _render(default_model, "funk beat with bass and chords", length=6.0, seed=9, variations=3)
    music = r.extra["music"][0]  # a beat loops: whole bars at a whole-number tempo, near 6 s
    v = r.audio
    assert music["loop"] and music["bpm"] == round(music["bpm"]) and abs(music["length_s"] - 6.0) < 0.7
    assert v.shape == (3, 2, round(music["bars"] * 240 / music["bpm"] * SR))
    assert not np.allclose(v[0], v[1]) and not np.allclose(v[1], v[2])


def test_loops_at_other_sample_rates(default_model):
    # 3 s at 140 bpm is 1.75 bars: a beat is meant to loop, so it is two bars, exactly.
    audio = default_model.generate("trap beat", sample_rate=48000, length=3.0, bpm=140.0, seed=3)
    assert audio.shape == (2, round(2 * 240 / 140 * 48000)) and np.all(np.isfinite(audio))
    assert seam_ok(audio)[0]


def test_short_one_shot_prompts_still_route_to_one_shots(default_model):
    for prompt in (
        "punchy analog kick",
        "give me a dark snare",
        "make a bright chord stab",
        "long pad swell",
    ):
        r = _render(default_model, prompt, length=1.0, seed=1)
        assert "music" not in r.extra, prompt


def test_a_session_tempo_does_not_turn_a_named_one_shot_into_a_phrase(default_model):
    """The window sends its tempo with every render once the user sets one for the pads: a kick at
    120 bpm is still a kick (v1's one-shot, full length, no music), while a loop prompt loops at it."""
    for prompt, kw in (
        ("punchy analog kick", {"bpm": 120.0}),
        ("dark snare", {"key": "A minor"}),
        ("808 bass, dirty", {}),  # an 808 hit, not a bar of bassline
        ("808 bass, dirty", {"bpm": 96.0}),
    ):
        r = _render(default_model, prompt, length=0.5, seed=1, **kw)
        assert "music" not in r.extra and r.audio.shape == (1, 2, 22050), prompt
        assert np.max(np.abs(r.audio)) > 0.1
    r = _render(default_model, "drum loop", length=2.0, seed=1, bpm=120.0)
    assert r.extra["music"][0]["bars"] == 1.0 and r.extra["music"][0]["loop"] is True
    r = _render(default_model, "", length=2.0, seed=1, bpm=120.0)  # no words: the tempo asks for music
    assert r.extra["music"][0]["bpm"] == 120.0


@pytest.mark.parametrize(
    ("prompt", "role", "voice"),
    [
        ("warm analog pad chord", "pad", "warm_pad"),
        ("solo piano melody", "lead", "piano"),
        ("acoustic guitar strum", "keys", "steel_guitar"),
        ("rain on a window", "texture", "rain"),
    ],
)
def test_the_issues_prompts_make_music_even_at_two_seconds(default_model, prompt, role, voice):
    r = _render(default_model, prompt, length=2.0, seed=2)
    music = r.extra["music"][0]
    assert role in music["roles"] and music["voices"][role] == voice, music


def test_seed_rhythm_lands_on_the_seed_onsets(default_model):
    """Every hit the loop plays lands on a seed onset; most seeds keep at least half the seed's hits.

    Fixed seeds: with a fresh seed per run this failed 1 run in 12 (16 of 200 seeds keep fewer
    than half the onsets, each of them placed right), which is the model's rate, not a bug."""
    rng = np.random.default_rng(3)
    clip, times = noise_burst_seed(112.0, rng)
    length = 2 * 240 / 112
    # The project's own onset detector (the evaluation uses librosa's).
    from diffhost.engine.default.music import seedsteer

    ref = np.concatenate([times - length, times, times + length])
    kept = []
    for seed in range(10):
        r = _render(
            default_model,
            "drum loop",
            seed_clip=SeedClip(clip, SR),
            length=length,
            bpm=112.0,
            strength=0.2,
            seed=seed,
        )
        assert "drums" in r.extra["music"][0]["roles"]
        x = r.audio[0]
        got = seedsteer.analyze(np.concatenate([x, x], axis=1)).onsets  # the loop played twice
        got = got[(got >= length - 0.05) & (got < 2 * length - 0.05)] - length
        near = np.array([float(np.min(np.abs(ref - t))) for t in got])
        assert got.size > 0 and np.mean(near <= 0.03) >= 0.8, (seed, got, times)
        kept.append(got.size / times.size)
    assert sum(k >= 0.5 for k in kept) >= 8, kept


def test_seed_melody_keeps_the_notes_at_low_strength(default_model):
    rng = np.random.default_rng(4)
    clip, notes = hum_seed(110.0, rng)
    bars = int(np.ceil(notes[-1][1] * 110 / 240))
    r = _render(
        default_model,
        "lead melody",
        seed_clip=SeedClip(clip, SR),
        length=bars * 240 / 110,
        bpm=110.0,
        strength=0.1,
        seed=3,
    )
    assert "lead" in r.extra["music"][0]["roles"]
    from diffhost.engine.default.music import seedsteer

    got = seedsteer.analyze(r.audio[0])
    pcs = [int(n.midi) % 12 for n in got.notes]
    want = [m % 12 for _, _, m in notes]
    assert sum(p in pcs for p in want) >= 0.7 * len(want), (pcs, want)


def _strongest_hz(x: np.ndarray, notes: list, lo: float, hi: float) -> np.ndarray:
    """The strongest frequency between lo and hi Hz in each note's span of a stem (mid channel)."""
    mono, out = x.mean(axis=0), []
    for a, b, _ in notes:
        seg = mono[int((a + 0.02) * SR) : int((b - 0.02) * SR)]
        spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size), n=1 << 16))
        f = np.fft.rfftfreq(1 << 16, 1 / SR)
        band = (f >= lo) & (f <= hi)
        out.append(float(f[band][np.argmax(spec[band])]))
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1, 4])
def test_a_hummed_seed_with_a_bass_line_prompt_lands_on_the_bass(default_model, seed):
    """A hummed tune and "bass line": the bass plays the hum's notes in the bass register and no
    lead plays it; with "lead melody" the same hum stays on the lead."""
    clip, notes = hum_seed(100.0, np.random.default_rng(seed))
    kw = dict(seed_clip=SeedClip(clip, SR), bars=4, bpm=100.0, strength=0.1, seed=seed, stems=True)
    r = _render(default_model, "bass line", **kw)
    stems = r.extra["stems"][0]
    assert set(stems) == {"bass"} and r.extra["music"][0]["roles"] == ["bass"]
    # Each hummed note is heard on the bass stem: its fundamental (25-300 Hz) has the hum's pitch class...
    f0 = _strongest_hz(stems["bass"], notes, 25.0, 300.0)
    heard = np.round(69 + 12 * np.log2(f0 / 440.0)).astype(int)
    same = [(h - m) % 12 == 0 for h, (_, _, m) in zip(heard, notes, strict=True)]
    assert np.mean(same) >= 0.7, (heard, [m for _, _, m in notes])
    # ...and the bass register holds the energy: the strongest partial up to 4 kHz is under 300 Hz.
    assert np.mean(_strongest_hz(stems["bass"], notes, 25.0, 4000.0) < 300.0) >= 0.8
    assert max(n for role, _, n, _, _ in _notes_of(default_model, "bass line", kw)) <= 55
    lead = _render(default_model, "lead melody", **kw)
    assert "lead" in lead.extra["stems"][0] and "bass" not in lead.extra["stems"][0]
    assert np.mean(_strongest_hz(lead.extra["stems"][0]["lead"], notes, 25.0, 4000.0) > 200.0) >= 0.8


def _notes_of(model, prompt: str, kw: dict) -> list:
    return model.render(GenerationRequest(prompt=prompt, midi=True, **kw)).extra["score_notes"][0]


def test_a_one_shot_seed_becomes_a_voice_in_the_pattern(default_model):
    rng = np.random.default_rng(0)
    t = np.arange(int(0.3 * SR)) / SR
    clap = (rng.standard_normal(t.size) * np.exp(-t / 0.03) * 0.5).astype(np.float32)
    r = _render(
        default_model, "house drum loop", seed_clip=SeedClip(clap, SR), length=4 * 240 / 124, bpm=124.0, seed=0
    )
    assert "drums" in r.extra["music"][0]["roles"]
    assert np.all(np.isfinite(r.audio))


def test_sidecar_records_bpm_key_bars_and_bank(default_model, tmp_path):
    from diffhost.host.render.finisher import save_result

    r = _render(default_model, "deep house bassline in A minor", length=4 * 240 / 122, bpm=122.0, seed=8)
    saved = save_result(r, tmp_path)
    side = json.loads(saved[0].sidecar.read_text())
    assert side["params"]["bpm"] == 122.0
    assert (
        side["music"]["bpm"] == 122.0 and side["music"]["key"] == "A minor" and side["music"]["bars"] == 4.0
    )
    assert side["music"]["bank"] == load_bank().hash


def test_bank_manifest_names_every_source_and_licence():
    manifest = json.loads((WEIGHTS_DIR / "SOUNDS.json").read_text())
    names = " ".join(s["name"] for s in manifest["sources"])
    assert "FluidR3_GM" in names and all(s["licence"] for s in manifest["sources"])
    bank = load_bank()
    for voice in score.VOICES["keys"] + ("finger_bass", "strings", "flute"):
        x, ratio, _ = bank.get(voice, 60 if voice != "finger_bass" else 40)
        assert np.max(np.abs(x)) > 0.05 and 0.9 < ratio < 1.1, voice
    for kit in score.KITS:
        assert np.max(np.abs(bank.drum(kit, "kick"))) > 0.1, kit


def test_prompt_parsing_of_tempo_and_key():
    assert loop_captions.parse_bpm("lofi hip hop drum loop at 90 bpm") == 90.0
    assert loop_captions.parse_bpm("a 174BPM dnb loop") == 174.0
    assert loop_captions.parse_bpm("a groove") is None
    assert loop_captions.parse_key("pad in F# minor") == (6, True)
    assert loop_captions.parse_key("chords in the key of Bb major") == (10, False)
    assert loop_captions.parse_key("A minor chords") == (9, True)
    assert loop_captions.parse_key("in a groove") is None


def test_training_captions_never_use_eval_templates_or_style_spellings():
    rng = np.random.default_rng(5)
    caps = [loop_captions.caption(patterns.random_score(rng), rng) for _ in range(4000)]
    joined = "\n".join(caps).lower()
    for template in loop_captions.EVAL_TEMPLATES:
        head = template.split("{")[0].strip().lower()
        if head:
            assert not re.search(rf"(^|\n){re.escape(head)}\b", joined), template
    for words in loop_captions.EVAL_STYLE_WORDS.values():
        for w in words:
            assert not re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", joined), w


def test_score_vector_round_trips():
    rng = np.random.default_rng(1)
    for _ in range(50):
        s = patterns.random_score(rng)
        d = score.decode(score.encode(s), tonic=s.tonic)
        assert d.roles == s.roles and d.style == s.style and d.voices == s.voices and d.chords == s.chords
        assert abs(d.tempo - s.tempo) < 1e-3 and d.minor == s.minor
        assert np.array_equal(d.drums > 0, s.drums > 0)
        assert np.array_equal(d.melody_degree[s.melody_on > 0], s.melody_degree[s.melody_on > 0])


def test_loop_quality_bar_at_small_n(default_model):
    """The loop bars at a small N (bench/default_model.py --eval runs them at large N)."""
    r = evaluate_loops(default_model, n=3, classifier_clips=4, log=lambda m: None)
    assert r["nan_or_clipped"] == 0
    assert r["tempo_within_2pct"] >= 0.66, r["tempo_details"]
    assert r["seam_below_p999_step"] >= 0.9
    assert r["seed_rhythm_onsets_within_30ms"][0.3] >= 0.8
    assert r["seed_rhythm_onsets_within_30ms"][0.9] < r["seed_rhythm_onsets_within_30ms"][0.3]
    assert r["seed_melody_pitch_class_match"][0.3] >= 0.7
    assert r["phrase_end_share_below_minus40db"] == 1.0


def test_sampled_grids_decode_onto_their_styles_patterns():
    """fit_drums keeps the hits of a pattern the generators wrote, and puts a smeared one back on its style's
    grammar: the fixed hits of one template per lane, nothing on lanes the style never plays."""
    rng = np.random.default_rng(0)
    kept = 0
    for k in range(220):
        style = score.STYLES[k % len(score.STYLES)]
        truth = patterns.drum_grid(style, float(rng.uniform(0.1, 0.95)), rng)
        kept += np.array_equal(patterns.fit_drums(style, truth) > 0, truth > 0)  # the same hits
        smeared = np.where(rng.uniform(size=truth.shape) < 0.2, rng.uniform(-1, 1, truth.shape), truth)
        fitted = patterns.fit_drums(style, smeared)
        assert np.array_equal(patterns.fit_drums(style, fitted), fitted)  # already on the grammar
        lanes = patterns.DRUM_STYLES[style]["lanes"]
        for j, lane in enumerate(score.DRUM_LANES):
            if lane not in lanes:
                assert not fitted[:, j].any(), (style, lane)
                continue
            hits = "".join("h" if v > 0 else "-" for v in fitted[:, j])
            assert any(
                all(
                    (ch in "Xx") <= (h == "h") and (ch == "-") <= (h == "-")
                    for ch, h in zip(t, hits, strict=True)
                )
                for t in lanes[lane]
            ), (style, lane, hits)
    assert kept >= 0.95 * 220


def test_a_groove_keeps_its_styles_tempo_when_the_length_does_not_fit_it(default_model):
    """A free tempo snaps to whole bars only near its style's range: 8 s of funk (94-112 bpm) loops at 90
    (three bars) or stays a phrase at its own tempo, never 120; 8 s of techno loops at 120 (the nearest
    whole bars to techno's 126-140)."""
    from diffhost.engine.default.model.loops import _resolve_tempo

    assert _resolve_tempo(100.0, None, 8.0, (94.0, 112.0)) == (90.0, True, 3.0)
    assert _resolve_tempo(106.0, None, 8.0, (94.0, 112.0)) == (106.0, False, 8.0 * 106 / 240)
    assert _resolve_tempo(126.0, None, 8.0, (126.0, 140.0)) == (120.0, True, 4.0)
    assert _resolve_tempo(110.0, None, 8.0, None) == (120.0, True, 4.0)  # no groove: the nearest bars
    lo, hi = patterns.DRUM_STYLES["funk"]["tempo"]
    for seed in range(4):
        music = _render(default_model, "funk drum loop", length=8.0, seed=seed).extra["music"][0]
        assert music["style"] == "funk" and lo * 0.94 <= music["bpm"] <= hi * 1.06, music
        # A drum loop is whole bars at a whole-number tempo, whatever the seconds asked for.
        assert music["loop"] and music["bpm"] == round(music["bpm"]) and music["bars"] == round(music["bars"])
    music = _render(default_model, "techno drum loop", length=8.0, seed=1).extra["music"][0]
    assert music["style"] == "techno" and music["loop"] is True and music["bpm"] == 120.0


@pytest.mark.parametrize(
    "prompt, style, roles, voices",
    [
        ("drum n bass drum loop", "dnb", ["drums"], {}),  # no training caption spells it so
        ("lo fi hip-hop beat", "lofi", ["drums"], {}),
        ("bass line for my song", None, ["bass"], {}),  # "line" is no lead line here
        ("howling wind", None, ["texture"], {"texture": "wind"}),  # v1 aliases "wind" to a noise sweep
        ("beat with bass and chords", None, ["bass", "drums", "keys"], {}),
    ],
)
def test_prompts_get_the_style_and_parts_they_ask_for(default_model, prompt, style, roles, voices):
    for seed in range(3):
        music = _render(default_model, prompt, length=4 * 240 / 100, bpm=100.0, seed=seed).extra["music"][0]
        assert music["roles"] == roles, music
        assert style is None or music["style"] == style, music
        assert all(music["voices"].get(r) == v for r, v in voices.items()), music
