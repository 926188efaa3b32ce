"""Recording with a meter, the player, devices and the CLI, against the real JACK server."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from .conftest import BLOCK, RATE, jack_offset, wait_frames

FADE = round(0.005 * RATE)


def test_record_captures_exactly_what_the_source_played(audio, peer):
    rng = np.random.default_rng(7)
    signal = (rng.uniform(-0.5, 0.5, (2, RATE)) * np.array([[1.0], [0.25]])).astype(np.float32)
    peer.play(signal)
    wait_frames(audio, 2 * BLOCK)
    rec, sr = audio.record(0.25, channels=2)
    assert sr == RATE and rec.shape == (2, RATE // 4) and rec.dtype == np.float32
    # find where in the signal the recording starts, then every sample must match
    k = int(np.argmax(np.correlate(signal[0, : RATE // 2], rec[0, :512], mode="valid")))
    np.testing.assert_array_equal(rec, signal[:, k : k + RATE // 4])
    mono, _ = audio.record(0.1, channels=1)
    assert mono.shape == (1, RATE // 10)


def test_meter_reads_peak_and_rms_of_the_input(audio, peer):
    assert audio.meter() == (-120.0, -120.0) or audio.meter()[0] < -100  # the dummy capture is silent
    t = np.arange(RATE) / RATE
    peer.play(np.tile(0.5 * np.sin(2 * np.pi * 1000 * t), (2, 1)).astype(np.float32))
    wait_frames(audio, RATE // 4)
    peak, rms = audio.meter()
    assert peak == pytest.approx(-6.02, abs=0.05)  # 20*log10(0.5)
    assert rms == pytest.approx(-9.03, abs=0.05)  # a sine's RMS is 3.01 dB below its peak


def test_record_refuses_bad_lengths(audio):
    with pytest.raises(ValueError, match=r"out of range \(0, 60\] s"):
        audio.record(0)
    with pytest.raises(ValueError, match="out of range"):
        audio.record(61)
    with pytest.raises(ValueError, match="channels"):
        audio.record(0.1, channels=3)


def test_player_plays_without_blocking_reports_position_and_stops(audio, peer):
    offset = jack_offset(audio, peer)
    clip = np.linspace(-0.9, 0.9, RATE, dtype=np.float32)[np.newaxis, :]  # 1 s, every sample distinct
    peer.start()
    before = audio.frames
    audio.play(clip, RATE)  # returns at once
    assert audio.is_playing()
    wait_frames(audio, RATE // 2)
    pos = audio.position()
    assert 0.45 < pos < 0.6
    wait_frames(audio, RATE // 2 + 4 * BLOCK)
    assert not audio.is_playing() and audio.position() == 0.0
    out, first = peer.stop()
    on = np.flatnonzero(out[0])
    start = on[0] + first - offset  # on diffhost's frame clock
    assert 0 <= start - before <= RATE // 20  # converted on a loader thread, then the next block
    np.testing.assert_array_equal(out[0, on[0] : on[0] + RATE], clip[0])  # mono clip on both channels
    np.testing.assert_array_equal(out[1, on[0] : on[0] + RATE], clip[0])

    # a 44.1 kHz file plays at the right pitch on the 48 kHz stream; stop() fades it out
    t = np.arange(44100) / 44100
    audio.play(np.sin(2 * np.pi * 1000 * t).astype(np.float32) * 0.5, 44100)
    peer.start()
    wait_frames(audio, RATE // 4)
    audio.stop()
    wait_frames(audio, FADE + 3 * BLOCK)
    assert not audio.is_playing()
    out, _ = peer.stop()
    on = np.flatnonzero(out[0])
    seg = out[0, on[0] : on[-1]]
    spectrum = np.abs(np.fft.rfft(seg[:8192] * np.hanning(8192)))
    assert np.fft.rfftfreq(8192, 1 / RATE)[spectrum.argmax()] == pytest.approx(1000, abs=6)
    assert seg.shape[0] < RATE // 2  # stopped long before its 1 s end
    assert not out[:, on[-1] + 1 :].any()


def test_devices_list_the_jack_server_and_bad_choices_name_the_options(jack_server):
    from diffhost.host.audio import AudioDeviceError, list_devices, open_host_audio, resolve_device

    jack = [d for d in list_devices() if "JACK" in d.hostapi]
    assert jack and jack[0].max_output_channels == 2 and jack[0].max_input_channels == 2
    assert jack[0].default_samplerate == RATE
    assert resolve_device(jack[0].name, "output") == jack[0]
    with pytest.raises(AudioDeviceError, match=r"no device; output devices are: .*JACK"):
        resolve_device("no such interface", "output")
    with pytest.raises(AudioDeviceError, match="no device"):
        open_host_audio(output="no such interface")
    with pytest.raises(AudioDeviceError, match="44100 Hz"):  # the server runs at 48 kHz
        open_host_audio(sample_rate=44100)
    with pytest.raises(ValueError, match="block_size"):
        open_host_audio(block_size=100)


def test_underflow_and_overflow_counts_are_exposed(audio):
    wait_frames(audio, 10 * BLOCK)
    assert audio.callbacks >= 10 and audio.block_size == BLOCK
    assert isinstance(audio.underflows, int) and audio.underflows >= 0
    assert isinstance(audio.overflows, int) and audio.overflows >= 0


def test_cli_devices_remembers_the_choice(jack_server, tmp_path, monkeypatch, capsys):
    from diffhost.cli import main
    from diffhost.host.audio import load_settings

    monkeypatch.setenv("DIFFHOST_CONFIG_DIR", str(tmp_path))
    assert main(["devices", "--set-output", "system", "--block-size", "256"]) == 0
    assert "JACK Audio Connection Kit" in capsys.readouterr().out
    saved = load_settings()
    assert saved.output == "system" and saved.block_size == 256
    assert main(["devices", "--block-size", "100"]) == 2  # refused: nothing changes
    assert "block_size" in capsys.readouterr().err
    assert load_settings().block_size == 256


def test_cli_record_writes_a_new_wav_and_play_plays_it(jack_server, tmp_path, monkeypatch, capsys):
    from diffhost.cli import main

    monkeypatch.setenv("DIFFHOST_CONFIG_DIR", str(tmp_path / "config"))
    out = tmp_path / "seed.wav"
    assert main(["record", "0.3", "-o", str(out), "--channels", "2"]) == 0
    data, sr = sf.read(out, always_2d=True)
    assert sr == RATE and data.shape == (round(0.3 * RATE), 2)
    assert main(["record", "0.3", "-o", str(out)]) == 2  # never overwrites
    assert "already exists" in capsys.readouterr().err

    clip = tmp_path / "clip.wav"
    sf.write(clip, np.full(4800, 0.25, np.float32), RATE)
    assert main(["play", str(clip)]) == 0
    assert "played clip.wav" in capsys.readouterr().err
    assert main(["play", str(tmp_path / "missing.wav")]) == 2


def test_session_records_the_seed_clip_from_the_input(audio, peer, tmp_path):
    from diffhost.engine.engine import Engine
    from diffhost.host.session import Session

    t = np.arange(RATE) / RATE
    peer.play((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    wait_frames(audio, 2 * BLOCK)
    with Engine() as engine:
        session = Session(engine, renders_dir=tmp_path, audio=audio)
        clip = session.record_seed(0.25)
    assert session.seed_clip is clip and clip.sample_rate == RATE
    assert clip.audio.shape == (2, RATE // 4)
    assert np.abs(clip.audio[0]).max() == pytest.approx(0.5, abs=0.01)


def test_a_closed_stream_refuses_calls_with_a_reason(jack_server):
    from diffhost.host.audio import open_host_audio

    audio = open_host_audio(input=False)
    audio.assign(1, np.zeros((1, 100), np.float32), RATE)
    audio.close()
    audio.close()  # twice is fine
    with pytest.raises(ValueError, match="closed"):
        audio.trigger(1)
    with pytest.raises(ValueError, match="closed"):
        _ = audio.underflows
