"""Seed clips are bounded, read in blocks (resampled on the way) and loaded off
the OSC thread; a trimmed clip says so."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import soundfile as sf
import soxr

from diffhost.engine import audio as engine_audio
from diffhost.engine.audio import SEED_MAX_S, read_seed_file


def write_long(path, seconds: float, sr: int = 48000, channels: int = 2):
    rng = np.random.default_rng(3)
    data = (0.2 * rng.standard_normal((int(seconds * sr), channels))).astype(np.float32)
    sf.write(path, data, sr, subtype="PCM_16")
    return sf.read(path, dtype="float32", always_2d=True)[0]


def test_trimmed_read_matches_the_files_start(tmp_path):
    whole = write_long(tmp_path / "long.wav", 9.0)
    loaded = read_seed_file(tmp_path / "long.wav", max_s=3.0)
    assert loaded.trimmed and loaded.source_s == pytest.approx(9.0)
    assert loaded.clip.sample_rate == 48000 and loaded.clip.audio.shape == (2, 3 * 48000)
    np.testing.assert_array_equal(loaded.clip.audio, whole[: 3 * 48000].T)
    assert loaded.note() == "seed clip trimmed to its first 3 s of 9 s (no render can use more)"


def test_resampled_in_blocks_like_in_one_go(tmp_path):
    whole = write_long(tmp_path / "long.wav", 5.0)  # several blocks of 65536 frames
    loaded = read_seed_file(tmp_path / "long.wav", max_s=4.0, sample_rate=44100)
    ref = soxr.resample(whole[: 4 * 48000], 48000, 44100, quality="VHQ").T
    assert loaded.clip.sample_rate == 44100 and loaded.clip.audio.shape == ref.shape
    np.testing.assert_allclose(loaded.clip.audio, ref, atol=1e-6)


def test_peak_memory_stays_below_three_times_the_kept_clip(tmp_path):
    write_long(tmp_path / "long.wav", 40.0)  # the kept 10 s are a quarter of the file
    kept_bytes = 10 * 44100 * 2 * 4
    tracemalloc.start()
    try:
        loaded = read_seed_file(tmp_path / "long.wav", max_s=10.0, sample_rate=44100)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert loaded.clip.audio.nbytes == kept_bytes
    assert peak < 3 * kept_bytes, f"peak {peak / 1e6:.1f} MB for a {kept_bytes / 1e6:.1f} MB clip"


def test_the_default_bound_is_the_longest_render():
    assert SEED_MAX_S == 600.0 and engine_audio.LENGTH_RANGE_S[1] == SEED_MAX_S


def test_seed_load_over_osc_is_trimmed_to_the_model_and_says_so(client, session, dirs):
    top = session.engine.load(None).info.max_length_s  # the longest render the model makes
    write_long(dirs["audio"] / "take.wav", top + 10.0)
    client.send("/diffhost/seed/load", str(dirs["audio"] / "take.wav"))
    assert client.ping() == client.ping()  # the server answers while the clip loads on its own thread
    addr, args = client.wait_for(lambda m: m[0] in ("/diffhost/seed", "/diffhost/error"), timeout=30)
    assert addr == "/diffhost/seed", args
    assert args == [
        top,
        f"seed clip trimmed to its first {top:g} s of {top + 10.0:g} s (no render can use more)",
    ]
    clip = session.seed_clip
    assert clip.sample_rate == session.model_info().native_sample_rate and clip.duration_s == top


def test_seed_load_of_a_folder_or_a_bad_file_is_answered(client, session, dirs):
    (dirs["audio"] / "not-audio.wav").write_bytes(b"RIFF....WAVEjunk" * 8)
    client.send("/diffhost/seed/load", str(dirs["audio"] / "not-audio.wav"))
    addr, args = client.wait_for(lambda m: m[0] == "/diffhost/error", timeout=10)
    assert args[0] == "/diffhost/seed/load" and "not-audio.wav" in args[1]
    assert session.seed_clip is None
