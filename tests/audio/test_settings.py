"""Remembered audio settings: a JSON file written atomically; bad values change nothing."""

from __future__ import annotations

import json
import time

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


def test_one_store_opens_saves_and_leaves_overrides_unsaved(jack_server, tmp_path):
    """AudioControl is the one store the window, `serve` and `diffhost audio` share: a run's
    overrides (serve's flags) open the device but are not saved; a change made in the window is
    saved once the device opened with it, and the next start reads it."""
    from diffhost.host.audio import AudioControl, AudioSettings, load_settings, save_settings

    # max_record_s travels from the store to the open device, whatever the JACK server's block is.
    save_settings(AudioSettings(output="JACK", input=None, max_record_s=20.0), tmp_path)
    control = AudioControl(tmp_path, slots=4)
    audio = control.open(max_record_s=30.0)  # like a `serve` flag: this run only
    try:
        assert audio.max_record_s == 30.0 and audio.sample_rate == 48000 and audio.num_slots == 4
        assert "JACK" in audio.output_device.hostapi
        assert load_settings(tmp_path).max_record_s == 20.0  # the override was for this run only
        audio = control.reopen(audio, max_record_s=45.0).audio  # like the window's Audio… dialog
        assert audio.max_record_s == 45.0
        assert load_settings(tmp_path).max_record_s == 45.0  # remembered for the next start
        with pytest.raises(ValueError, match="block_size: 100 frames is not supported"):
            control.reopen(audio, block_size=100)
        assert load_settings(tmp_path).max_record_s == 45.0 and load_settings(tmp_path).block_size == 128
        frames = audio.frames
        deadline = time.monotonic() + 5
        while audio.frames == frames and time.monotonic() < deadline:  # a bad value left it running
            time.sleep(0.01)
        assert audio.frames > frames
    finally:
        audio.close()
