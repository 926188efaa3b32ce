"""Finishing steps measured on synthetic signals with known physical answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffhost.host.render import finishing as fin
from diffhost.host.render.post import Recipe, normalize_audio, postprocess

SR = 48000


def sine(freq: float, seconds: float, amp: float, sr: int = SR, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return np.tile((amp * np.sin(2 * np.pi * freq * t)).astype(np.float32), (channels, 1))


@pytest.mark.parametrize("level_db", [-6.0, -20.0, -40.0])
def test_loudness_of_1khz_sine_matches_bs1770(level_db):
    # BS.1770: a 0 dBFS 1 kHz sine in one channel reads -3.01 LKFS; two identical channels sum to +3.01 dB.
    amp = 10 ** (level_db / 20)
    mono = fin.loudness_lufs(sine(1000, 5.0, amp), SR)
    stereo = fin.loudness_lufs(sine(1000, 5.0, amp, channels=2), SR)
    assert mono == pytest.approx(level_db - 3.01, abs=0.1)
    assert stereo == pytest.approx(level_db, abs=0.1)


def test_lufs_normalization_hits_target_and_respects_ceiling():
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal((2, SR * 3)) * 0.01).astype(np.float32)
    out, info = fin.normalize_lufs(noise, SR, -16.0, ceiling_db=None)
    assert fin.loudness_lufs(out, SR) == pytest.approx(-16.0, abs=0.05)
    assert info["limited_by_ceiling"] is False
    # A crest-heavy signal cannot reach -6 LUFS under a -1 dBFS ceiling: the gain stops at the ceiling.
    clicks = np.zeros((1, SR * 2), np.float32)
    clicks[0, ::4800] = 0.5
    out, info = fin.normalize_lufs(clicks, SR, -6.0, ceiling_db=-1.0)
    assert info["limited_by_ceiling"] is True
    assert 20 * math.log10(np.max(np.abs(out))) == pytest.approx(-1.0, abs=1e-4)
    assert info["achieved_lufs"] < -6.0


def test_lufs_refuses_clips_shorter_than_one_gating_block():
    with pytest.raises(fin.FinishingError, match="at least 0.4 s"):
        fin.normalize_lufs(sine(1000, 0.25, 0.5), SR, -14.0)


@pytest.mark.parametrize("peak_db", [0.0, -1.0, -6.0, -23.5])
def test_peak_normalization_is_exact(peak_db):
    x = sine(440, 0.5, 0.123, channels=2)
    x[1] *= 0.5
    y = normalize_audio(x, peak_db)
    assert 20 * math.log10(float(np.max(np.abs(y)))) == pytest.approx(peak_db, abs=1e-5)
    np.testing.assert_allclose(y[1], 0.5 * y[0], atol=1e-6)


def test_dc_removal_removes_offset_and_keeps_the_tone():
    x = sine(200, 1.0, 0.5) + np.float32(0.3)
    y = fin.remove_dc(x, SR)
    assert abs(float(y.mean())) < 1e-4
    mid = slice(SR // 4, 3 * SR // 4)  # away from the filter's edges
    assert np.sqrt(np.mean(y[0, mid] ** 2)) == pytest.approx(0.5 / math.sqrt(2), rel=0.01)


def _dc_by_one_call(audio: np.ndarray, sr: int) -> np.ndarray:
    """remove_dc as a single pedalboard call on the whole array: what every render was made with."""
    import pedalboard

    a = audio - audio.mean(axis=-1, keepdims=True, dtype=np.float64).astype(np.float32)
    out = pedalboard.HighpassFilter(5.0)(np.ascontiguousarray(a), float(sr))
    return out - out.mean(axis=-1, keepdims=True, dtype=np.float64).astype(np.float32)


def _dc_signals(sr: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    n = int(6.3 * sr)
    clicks = np.zeros((2, n), np.float32)
    clicks[:, ::9000] = 0.9
    quiet = np.zeros((2, n), np.float32)  # digital silence with a whisper: the filter's state goes under 1e-8
    quiet[:, n // 3 : n // 3 + 500] = rng.standard_normal((2, 500)).astype(np.float32) * 1e-6
    return {
        "noise with an offset": (rng.standard_normal((2, n)) * 0.3 + 0.05).astype(np.float32),
        "mono tone with an offset": sine(110, 6.3, 0.5, sr) + np.float32(0.2),
        "clicks": clicks,
        "near silence": quiet,
        "too short to warm up": (rng.standard_normal((2, sr)) * 0.3).astype(np.float32),
    }


@pytest.mark.parametrize("sr", [44100, 48000])
def test_dc_removal_gives_the_samples_of_one_pedalboard_call(sr):
    for name, x in _dc_signals(sr).items():
        np.testing.assert_array_equal(fin.remove_dc(x, sr), _dc_by_one_call(x, sr), err_msg=name)


@pytest.mark.parametrize("sr", [44100, 48000])
def test_dc_removal_of_a_loop_is_the_two_copy_run_sample_for_sample(sr):
    # A loop is filtered as it plays on repeat: two copies in a row, the second kept. The shortcut
    # must give those very samples (a project's clip is named by its bytes' hash), and where it
    # cannot show that, it runs the two copies.
    for name, x in _dc_signals(sr).items():
        n = x.shape[-1]
        want = _dc_by_one_call(np.concatenate([x, x], axis=-1), sr)[:, n:]
        np.testing.assert_array_equal(fin.remove_dc_circular(x, sr), want, err_msg=name)
        took = fin._circular_fast(np.ascontiguousarray(x), sr, 5.0) is not None
        assert took == (name not in ("near silence", "too short to warm up")), name


def test_trim_silence_keeps_the_onset_and_pad():
    x = np.zeros((2, SR), np.float32)
    x[:, 12000:18000] = sine(500, 6000 / SR, 0.8, channels=2)[:, :6000] + 0.01
    y = fin.trim_silence(x, SR, threshold_db=-60, pad_ms=2.0)
    pad = int(0.002 * SR)
    assert y.shape == (2, 6000 + 2 * pad)
    np.testing.assert_array_equal(y[:, pad : pad + 6000], x[:, 12000:18000])


def test_fades_shape_the_ends():
    x = np.ones((1, SR), np.float32)
    y = fin.fade(x, SR, in_ms=100, out_ms=50, shape="linear")
    assert y[0, 0] < 0.001 and y[0, -1] < 0.001
    assert y[0, 2400] == pytest.approx(0.5, abs=0.001)  # halfway through the 100 ms fade in
    assert y[0, SR // 2] == 1.0


def test_time_stretch_changes_length_by_the_ratio_and_keeps_pitch():
    # Two clicks 1.0 s apart plus a 440 Hz tone: at 1.25x speed they are 0.8 s apart, tone still 440 Hz.
    x = sine(440, 3.0, 0.2)
    for pos in (SR // 2, SR // 2 + SR):
        x[0, pos : pos + 48] += 0.7
    y = fin.time_stretch(x, SR, 1.25)
    assert y.shape[-1] == round(x.shape[-1] / 1.25)
    env = np.abs(y[0]) > 0.5
    onsets = np.flatnonzero(env[1:] & ~env[:-1])
    first, second = onsets[0], onsets[onsets > onsets[0] + SR // 4][0]
    assert (second - first) / SR == pytest.approx(0.8, abs=0.01)
    seg = y[0, int(1.5 * SR) : int(2.0 * SR)] if y.shape[-1] > 2 * SR else y[0, SR : SR + SR // 2]
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    assert np.fft.rfftfreq(len(seg), 1 / SR)[np.argmax(spec)] == pytest.approx(440, abs=4)


def test_tempo_fit_maps_bpm_to_length():
    x = sine(300, 2.0, 0.3)  # 4 beats at 120 BPM
    y = fin.tempo_fit(x, SR, 120.0, 150.0)
    assert y.shape[-1] == round(2.0 * SR * 120 / 150)


def _frames_rms(x: np.ndarray, win: int) -> np.ndarray:
    n = x.shape[-1] // win
    return np.sqrt(np.mean(x[: n * win].reshape(n, win) ** 2, axis=1))


def test_loop_seam_has_no_level_or_spectral_jump():
    # A "pad": detuned partials with slow amplitude movement plus a little noise.
    rng = np.random.default_rng(7)
    t = np.arange(int(4.0 * SR)) / SR
    pad = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (220, 277.2, 329.6, 440.5))
    pad = pad * (0.8 + 0.2 * np.sin(2 * np.pi * 0.3 * t)) + 0.05 * rng.standard_normal(t.size)
    x = (0.15 * pad).astype(np.float32)[None]
    loop, note = fin.make_loop(x, SR, bpm=120, bars=1, crossfade_ms=200)
    n = fin.loop_samples(SR, 120, 1)
    assert loop.shape[-1] == n == note["loop_samples"] == SR * 2
    played = np.concatenate([loop, loop, loop], axis=-1)[0]
    # Level: 10 ms RMS windows straddling each seam look like windows elsewhere.
    win = 480
    levels = _frames_rms(played, win)
    seam_windows = [n // win, 2 * n // win]
    typical = np.median(levels)
    spread = np.percentile(np.abs(np.diff(levels)), 99)
    for w in seam_windows:
        assert abs(levels[w] - typical) < 0.25 * typical
        assert abs(levels[w] - levels[w - 1]) <= spread
    # Spectrum: the change across the seam is no bigger than between neighbouring frames elsewhere.
    frame = 2048

    def spectrum(at: int) -> np.ndarray:
        seg = played[at : at + frame] * np.hanning(frame)
        return 20 * np.log10(np.abs(np.fft.rfft(seg))[:400] + 1e-6)

    flux = [np.mean(np.abs(spectrum(i + frame) - spectrum(i))) for i in range(frame, 2 * n, frame)]
    seam_flux = np.mean(np.abs(spectrum(n) - spectrum(n - frame)))
    assert seam_flux <= np.percentile(flux, 95)
    # And no sample step: the jump at the seam is within the signal's normal sample-to-sample motion.
    steps = np.abs(np.diff(played))
    assert abs(played[n] - played[n - 1]) <= np.percentile(steps, 99.9)


def test_a_hard_cut_loop_would_fail_the_seam_check():
    # The same measurement catches a naive cut: proves the seam test can fail.
    t = np.arange(int(2.3 * SR)) / SR
    x = (0.3 * np.sin(2 * np.pi * 221.3 * t)).astype(np.float32)
    n = fin.loop_samples(SR, 120, 1)
    cut = np.concatenate([x[:n], x[:n]])
    steps = np.abs(np.diff(cut))
    assert abs(cut[n] - cut[n - 1]) > 3 * np.percentile(steps, 50)
    looped, _ = fin.make_loop(x[None], SR, bpm=120, bars=1, crossfade_ms=50)
    lp = np.concatenate([looped[0], looped[0]])
    assert abs(lp[n] - lp[n - 1]) <= np.max(np.abs(np.diff(looped[0]))) * 1.01


def test_loop_stretches_short_audio_and_says_so():
    x = sine(300, 1.0, 0.3)
    loop, note = fin.make_loop(x, SR, bpm=120, bars=1, crossfade_ms=20)
    assert loop.shape[-1] == 2 * SR
    assert note["stretched_from_samples"] == SR


def test_finishing_validation_names_keys_and_ranges():
    with pytest.raises(
        fin.FinishingError, match=r"unknown key 'normalise'; valid are dc_remove, .*normalize"
    ):
        fin.parse_finishing({"normalise": None})
    with pytest.raises(fin.FinishingError, match=r"fade_in_ms: -5 is out of range; valid is 0..60000 ms"):
        fin.parse_finishing({"fade_in_ms": -5})
    with pytest.raises(fin.FinishingError, match=r"loop.bpm: 1000 is out of range; valid is 20..400 BPM"):
        fin.parse_finishing({"loop": {"bpm": 1000}})
    with pytest.raises(fin.FinishingError, match=r"normalize.mode: 'rms' is not valid; choose peak or lufs"):
        fin.parse_finishing({"normalize": {"mode": "rms"}})
    with pytest.raises(fin.FinishingError, match="loop and fades exclude each other"):
        fin.parse_finishing({"loop": {"bpm": 120}, "fade_out_ms": 10})
    with pytest.raises(fin.FinishingError, match=r"sample_rate: 100 is out of range"):
        fin.parse_finishing({"sample_rate": 100})


def test_postprocess_runs_steps_in_order_and_logs_them():
    x = sine(1000, 1.0, 0.2, sr=44100, channels=1)
    recipe = Recipe.from_dict(
        {
            "effects": [{"effect": "Gain", "params": {"gain_db": 6.0}}],
            "finishing": {
                "channels": 2,
                "sample_rate": 48000,
                "fade_out_ms": 10,
                "normalize": {"mode": "lufs", "lufs": -20.0, "ceiling_db": -1.0},
            },
        }
    )
    out = postprocess(x, 44100, recipe)
    assert out.sample_rate == 48000 and out.audio.shape == (2, 48000)
    assert [s["step"] for s in out.steps] == [
        "dc_remove",
        "channels",
        "effects",
        "fade",
        "resample",
        "normalize_lufs",
    ]
    assert out.loudness_lufs == pytest.approx(-20.0, abs=0.1)


def test_a_clip_too_short_for_lufs_is_peak_normalized_not_lost():
    recipe = Recipe.from_dict(
        {"finishing": {"normalize": {"mode": "lufs", "lufs": -14.0, "ceiling_db": -2.0}}}
    )
    out = postprocess(sine(1000, 0.25, 0.1), SR, recipe)
    assert out.loudness_lufs is None
    assert 20 * math.log10(float(np.max(np.abs(out.audio)))) == pytest.approx(-2.0, abs=1e-4)
    assert out.peak_dbfs == pytest.approx(-2.0, abs=1e-4)  # the level the sidecar and window show
    assert "no LUFS" in out.steps[-1]["note"]


# -- a loop's DC: its mean taken off (the default of new recipes), versioned against the filter ------
def _loop_music(n: int, sr: int) -> dict:
    """Music that says `n` samples are one whole loop (post treats such audio as a circle)."""
    bars = 2.0
    return {"loop": True, "bars": bars, "bpm": bars * 240.0 * sr / n}


def _a_loop(sr: int, seconds: float = 3.7) -> np.ndarray:
    """A stereo loop with an offset, a slow drift and a bass line: what a DC step has work on."""
    rng = np.random.default_rng(11)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    bass = 0.4 * np.sin(2 * np.pi * 55 * t) * (1 + 0.5 * np.sin(2 * np.pi * t / seconds))
    x = np.stack([bass + 0.12, 0.6 * bass - 0.07]) + rng.standard_normal((2, n)) * 0.05
    return x.astype(np.float32)


def _peak(a: np.ndarray) -> float:
    return float(np.max(np.abs(a)))


@pytest.mark.parametrize("sr", [44100, 48000])
def test_a_loop_loses_exactly_its_mean_and_nothing_else(sr):
    x = _a_loop(sr)
    n = x.shape[-1]
    out = postprocess(x, sr, Recipe(), music=_loop_music(n, sr))
    assert [s["step"] for s in out.steps] == ["dc_remove", "normalize_peak"]
    assert out.steps[0]["mode"] == fin.DC_LOOP_MEAN
    y = out.audio
    # its DC is gone: each channel's mean (float64) is below 1e-7 of the peak
    assert np.all(np.abs(y.astype(np.float64).mean(axis=-1)) < 1e-7 * _peak(y))
    # the very samples of the two steps done one after the other (mean off, then peak normalization)
    m = x.astype(np.float64).mean(axis=-1, keepdims=True).astype(np.float32)
    np.testing.assert_array_equal(y, normalize_audio(x - m, -1.0))
    # the same peak as a peak normalization gives, and the level reported is the file's own
    assert _peak(y) == pytest.approx(10 ** (-1 / 20), rel=1e-6)
    assert out.peak_dbfs == 20 * math.log10(_peak(y))
    # the seam is as it was: the wrap's step, against the loop's own steps, scaled by the gain only
    gain = _peak(y) / _peak(x - m)

    def steps(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.abs(a[:, 0] - a[:, -1]), np.abs(np.diff(a, axis=-1)).max(axis=-1)

    (wrap_x, own_x), (wrap_y, own_y) = steps(x), steps(y)
    np.testing.assert_allclose(wrap_y, wrap_x * gain, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(own_y, own_x * gain, rtol=1e-4, atol=1e-6)
    # where a step changes the audio before normalizing, the mean still comes off alone
    wide = Recipe.from_dict({"finishing": {"dc_remove": fin.DC_LOOP_MEAN, "channels": 1}})
    mono = postprocess(x, sr, wide, music=_loop_music(n, sr))
    assert [s["step"] for s in mono.steps] == ["dc_remove", "channels", "normalize_peak"]
    assert abs(float(mono.audio.astype(np.float64).mean())) < 1e-7 * _peak(mono.audio)


def test_a_loop_mean_is_not_used_for_audio_that_is_no_loop():
    x = _a_loop(SR)
    got = postprocess(x, SR, Recipe(), music=None)
    np.testing.assert_array_equal(got.audio, normalize_audio(fin.remove_dc(x, SR), -1.0))
    assert got.steps[0] == {"step": "dc_remove", "cutoff_hz": 5.0, "samples": x.shape[-1], "channels": 2}


def test_a_loop_with_nan_or_silence():
    x = _a_loop(SR, 1.0)
    music = _loop_music(x.shape[-1], SR)
    x[1, 100] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        postprocess(x, SR, Recipe(), music=music)
    x[1, 100] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        postprocess(x, SR, Recipe(), music=music)
    silent = postprocess(np.zeros_like(x), SR, Recipe(), music=music)
    assert not silent.audio.any() and silent.peak_dbfs == float("-inf")


@pytest.mark.parametrize("sr", [44100, 48000])
def test_recipes_written_before_dc_modes_keep_the_filter_new_ones_the_mean(sr):
    """A recipe is kept in a sidecar, a preset and a DAW project's plugin state: one written before
    there were DC modes says `"dc_remove": true` (or nothing) and must render again exactly as it
    did, with the loop high-passed as a circle; a new one says its mode and gets the mean."""
    import json

    from diffhost.host.live.bridge.restore import finishing_recipe

    x = _a_loop(sr)
    n = x.shape[-1]
    music = _loop_music(n, sr)
    # what every sidecar recorded before (Finishing().to_dict() of the code then), as JSON
    old_finishing = {
        "dc_remove": True, "channels": None, "tail_s": 0.0, "trim_silence": None, "tempo_fit": None,
        "loop": None, "fade_in_ms": 0.0, "fade_out_ms": 0.0, "fade_shape": "linear",
        "sample_rate": None, "normalize": {"mode": "peak", "peak_db": -1.0},
    }  # fmt: skip
    filtered = normalize_audio(_dc_by_one_call(np.concatenate([x, x], axis=-1), sr)[:, n:], -1.0)
    m = x.astype(np.float64).mean(axis=-1, keepdims=True).astype(np.float32)
    centred = normalize_audio(x - m, -1.0)
    assert not np.array_equal(filtered, centred)
    old_sidecars = [
        {"finishing": old_finishing},
        {"finishing": {k: v for k, v in old_finishing.items() if k != "dc_remove"}},
        {"finishing": {}},  # a preset that set nothing
        {},
    ]
    for side in old_sidecars:
        recipe = finishing_recipe(json.loads(json.dumps(side)))
        assert recipe.finishing.dc_remove is True, side
        got = postprocess(x, sr, recipe, music=music)
        np.testing.assert_array_equal(got.audio, filtered, err_msg=str(side))
        assert got.steps[0]["cutoff_hz"] == 5.0
    # a new render's recipe records its mode, and a sidecar of it renders with the mean again
    new = json.loads(json.dumps({"finishing": Recipe().to_dict()["finishing"]}))
    assert new["finishing"]["dc_remove"] == fin.DC_LOOP_MEAN
    np.testing.assert_array_equal(postprocess(x, sr, finishing_recipe(new), music=music).audio, centred)
    np.testing.assert_array_equal(postprocess(x, sr, Recipe(), music=music).audio, centred)
    # and the high-pass can still be asked for by name
    asked = Recipe.from_dict({"finishing": {"dc_remove": True}})
    np.testing.assert_array_equal(postprocess(x, sr, asked, music=music).audio, filtered)


def test_dc_modes_are_validated():
    assert fin.parse_finishing({"dc_remove": "loop_mean"}).dc_remove == "loop_mean"
    assert fin.parse_finishing({"dc_remove": False}).dc_remove is False
    for bad in ("mean", 1, None):
        with pytest.raises(fin.FinishingError, match=r"dc_remove: .* is not valid; choose true .*'loop_mean'.* or false"):
            fin.parse_finishing({"dc_remove": bad})
