"""Each shipped preset, rendered with the embedded default model, sounds like its name says.

Measured, not listened to: spectral centroid, decay time, band energy, onsets, level over time,
loudness, loop length. Thresholds leave room for seed-to-seed variety but not for a kick that
rings like a hat.
"""

from __future__ import annotations

import numpy as np
import pytest

from diffhost.host.presets import PresetStore
from diffhost.host.render.post import postprocess


def mono(a: np.ndarray) -> np.ndarray:
    return a.mean(axis=0)


def centroid_hz(a: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(mono(a))) ** 2
    return float((spec * np.fft.rfftfreq(a.shape[-1], 1 / sr)).sum() / spec.sum())


def band(a: np.ndarray, sr: int, lo: float, hi: float) -> float:
    """Share of the energy between lo and hi Hz."""
    spec = np.abs(np.fft.rfft(mono(a))) ** 2
    f = np.fft.rfftfreq(a.shape[-1], 1 / sr)
    return float(spec[(f >= lo) & (f < hi)].sum() / spec.sum())


def envelope_db(a: np.ndarray, sr: int, ms: float = 10.0) -> tuple[np.ndarray, int]:
    x = mono(a)
    w = int(sr * ms / 1000)
    n = len(x) // w
    rms = np.sqrt(np.mean(x[: n * w].reshape(n, w) ** 2, axis=1)) + 1e-12
    return 20 * np.log10(rms / rms.max()), w


def decay_s(a: np.ndarray, sr: int, db: float = -30.0) -> float:
    """Seconds from the loudest 10 ms to the last moment within `db` of it."""
    env, w = envelope_db(a, sr)
    peak = int(np.argmax(env))
    above = np.flatnonzero(env[peak:] > db)
    return float((above[-1] + 1) * w / sr)


def onsets_s(a: np.ndarray, sr: int) -> list[float]:
    env, w = envelope_db(a, sr, ms=2.0)
    out: list[float] = []
    for i in np.flatnonzero(np.diff(env) > 6):
        t = (i + 1) * w / sr
        if not out or t - out[-1] > 0.04:
            out.append(t)
    return out


def quarters_db(a: np.ndarray) -> list[float]:
    x = mono(a)
    q = len(x) // 4
    return [float(10 * np.log10(np.mean(x[i * q : (i + 1) * q] ** 2) + 1e-20)) for i in range(4)]


@pytest.fixture(scope="module")
def rendered(model, tmp_path_factory):
    store = PresetStore(user_dir=tmp_path_factory.mktemp("no-user-presets"))
    cache: dict[str, tuple] = {}

    def get(name: str, seed: int = 1):
        if (name, seed) not in cache:
            preset = store.load(name)
            result = model.render(preset.request(seed=seed))
            out = postprocess(result.audio[0], result.sample_rate, preset.recipe())
            cache[name, seed] = (out.audio, out.sample_rate, out, preset)
        return cache[name, seed]

    return get


def test_808_kick_is_low_and_long(rendered):
    a, sr, _, _ = rendered("808 kick")
    assert centroid_hz(a, sr) < 400
    assert band(a, sr, 0, 200) > 0.5
    assert decay_s(a, sr) > 0.3


def test_sub_bass_808_is_low_long_and_mono(rendered):
    a, sr, _, _ = rendered("sub bass 808")
    assert a.shape[0] == 1
    assert centroid_hz(a, sr) < 400 and band(a, sr, 0, 250) > 0.5
    assert decay_s(a, sr) > 0.5


def test_tight_snare_is_short_and_mid_bright(rendered):
    a, sr, _, _ = rendered("tight snare")
    assert 800 < centroid_hz(a, sr) < 8000
    assert decay_s(a, sr) < 0.4
    assert band(a, sr, 0, 120) < 0.05  # the 120 Hz high-pass


def test_lo_fi_hats_are_high_short_and_band_limited(rendered):
    a, sr, _, _ = rendered("lo-fi hats")
    assert centroid_hz(a, sr) > 2000  # a raw hat sits near 14 kHz; the crushed, filtered one lower
    assert decay_s(a, sr) < 0.3
    assert band(a, sr, 9000, sr / 2) < 0.02  # 16 kHz resample + 7.5 kHz low-pass: no air left


def test_trap_hat_roll_repeats_in_32nd_notes_at_140_bpm(rendered):
    a, sr, _, _ = rendered("trap hat roll")
    assert centroid_hz(a, sr) > 2500
    hits = onsets_s(a, sr)
    assert len(hits) >= 4
    gaps = np.diff(hits[:5])
    np.testing.assert_allclose(gaps, 60 / 140 / 8, atol=0.004)  # 53.6 ms


def test_big_room_clap_is_bright_with_a_room_tail(rendered):
    a, sr, _, _ = rendered("big room clap")
    assert a.shape[0] == 2 and centroid_hz(a, sr) > 1000
    assert decay_s(a, sr) > 0.4  # the reverb tail rings well past a dry clap
    assert np.max(np.abs(a[0] - a[1])) > 0.01  # a wide (stereo) reverb, not a mono copy


def test_cinematic_riser_rises(rendered):
    a, sr, _, _ = rendered("cinematic riser")
    q = quarters_db(a)
    assert q[2] > q[0] + 3 and max(q[2:]) == max(q)  # louder towards the end
    assert abs(rendered("cinematic riser")[2].loudness_lufs - (-14.0)) < 0.2


def test_impact_boom_is_low_and_long(rendered):
    a, sr, _, _ = rendered("impact boom")
    assert centroid_hz(a, sr) < 1000
    assert decay_s(a, sr) > 1.0


def test_ambient_pad_swells_dark_and_wide(rendered):
    a, sr, out, _ = rendered("ambient pad")
    assert a.shape == (2, 4 * sr)
    assert out.loudness_lufs == pytest.approx(-18.0, abs=0.2)
    env, w = envelope_db(a, sr, ms=50.0)
    assert np.argmax(env) * w / sr > 1.5  # swells in rather than hitting
    q = quarters_db(a)
    assert q[1] > q[0] + 6
    assert centroid_hz(a, sr) < 1000  # dark
    side = a[0] - a[1]
    assert np.sqrt(np.mean(side**2)) > 0.1 * np.sqrt(np.mean(mono(a) ** 2))  # wide


def test_vinyl_texture_is_a_quiet_noisy_loop(rendered):
    a, sr, out, _ = rendered("vinyl texture")
    assert a.shape == (2, round(4 * 60 / 90 * sr))
    assert out.loudness_lufs == pytest.approx(-30.0, abs=0.2)
    assert band(a, sr, 300, 5000) > 0.6  # the band-pass of the chain
