"""Remembered audio settings: a JSON file written atomically; bad values change nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from diffhost.host.audio import AudioSettings, load_settings, save_settings, settings_path
from diffhost.host.audio.clips import prepare_clip


def test_defaults_when_nothing_is_saved(tmp_path):
    assert load_settings(tmp_path) == AudioSettings()
    assert AudioSettings().sample_rate == 48000 and AudioSettings().block_size == 128


def test_round_trip_and_env_override(tmp_path, monkeypatch):
    chosen = AudioSettings(output="Scarlett 2i2", input="Scarlett 2i2", sample_rate=44100, block_size=64)
    path = save_settings(chosen, tmp_path)
    assert path == tmp_path / "audio.json"
    assert json.loads(path.read_text())["block_size"] == 64
    assert load_settings(tmp_path) == chosen
    monkeypatch.setenv("DIFFHOST_CONFIG_DIR", str(tmp_path))
    assert settings_path() == path and load_settings() == chosen
    save_settings(chosen.with_(block_size=256))  # replaces the previous choice, leaves no temp files
    assert load_settings().block_size == 256
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audio.json"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sample_rate", 12345, "sample_rate: 12345 Hz is not supported"),
        ("block_size", 100, "block_size: 100 frames is not supported"),
        ("input_channels", 3, "input_channels"),
        ("max_record_s", 0, "max_record_s"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_written(tmp_path, field, value, message):
    save_settings(AudioSettings(), tmp_path)
    before = settings_path(tmp_path).read_bytes()
    with pytest.raises(ValueError, match=message):
        save_settings(AudioSettings().with_(**{field: value}), tmp_path)
    assert settings_path(tmp_path).read_bytes() == before


def test_a_damaged_file_is_named(tmp_path):
    settings_path(tmp_path).write_text("{not json")
    with pytest.raises(ValueError, match=r"audio.json: audio settings cannot be read"):
        load_settings(tmp_path)


def test_clips_are_converted_once_to_the_stream_format():
    t = np.arange(44100) / 44100
    mono = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    out = prepare_clip(mono, 44100, 48000, 2)
    assert out.shape == (48000, 2) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out[:, 0], out[:, 1])
    spectrum = np.abs(np.fft.rfft(out[:, 0]))
    assert np.fft.rfftfreq(48000, 1 / 48000)[spectrum.argmax()] == 1000
    with pytest.raises(ValueError, match=r"1 or 2 channels, got shape \(3, 10\)"):
        prepare_clip(np.zeros((3, 10)), 48000, 48000, 2)
    with pytest.raises(ValueError, match="empty"):
        prepare_clip(np.zeros((1, 0)), 48000, 48000, 2)
    with pytest.raises(ValueError, match="sample_rate"):
        prepare_clip(np.zeros((1, 10)), 10, 48000, 2)
