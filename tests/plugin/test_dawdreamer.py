"""The VST3 in DawDreamer (a JUCE host on PyPI): note timing, loops locked to the host's position
through a tempo automation, transport reported to diffhost, and state saved and restored.

DawDreamer renders offline, so clips reach the plugin between renders: the test's diffhost stand-in
sends /bridge/pad/load while the plugin is active (DawDreamer reactivates it after each render), and
the next render swaps them in at its first block. Notes are given in seconds (sample-exact in
DawDreamer; in beats it places them a few samples late).
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.plugin.bridge_host import MAIN, PAD_OUT, VST3, dpf_state, put_clip

daw = pytest.importorskip("dawdreamer", reason="dawdreamer is a dev dependency (pip install -e .[dev])")

RATE, BLOCK = 48000, 128


def _engine(link, bpm=120.0):
    eng = daw.RenderEngine(RATE, BLOCK)
    eng.set_bpm(bpm)
    proc = eng.make_plugin_processor("bridge", str(VST3))
    eng.load_graph([(proc, [])])
    eng.render(BLOCK / RATE)  # activates the plugin: its worker says hello
    link.wait("/diffhost/plugin/hello")
    return eng, proc


def _pad(link, pad, digest, mode=0, choke=0, quantize=0, gain_db=0.0, pan=0.0, at_bar=0):
    link.send(
        "/bridge/pad/options", pad, mode, choke, quantize, float(gain_db), float(pan), '{"prompt": "test"}'
    )
    link.send("/bridge/pad/load", pad, digest, f"pad {pad}", at_bar)
    link.sync()


def _gain(velocity: int) -> np.float32:
    v = np.float32(velocity) * np.float32(1 / 127)  # the plugin is built with -ffast-math: x/127 is x*(1/127)
    return v * v  # diffhost's velocity curve


def _short_clips(link):
    """16 distinct 32-frame clips (pad k: a ramp scaled by k, the right side inverted)."""
    clips = {}
    for pad in range(1, 17):
        ramp = (np.arange(1, 33, dtype=np.float32) / 32) * np.float32(pad / 16)
        clips[pad] = np.stack([ramp, -ramp], axis=1)
        _pad(link, pad, put_clip(link.cache, clips[pad], RATE))
    return clips


def test_200_notes_sound_at_their_exact_frames(link):
    eng, proc = _engine(link)
    clips = _short_clips(link)
    rng = np.random.default_rng(7)
    frames = np.cumsum(rng.integers(40, 900, size=200)) + 1000  # one clip ends before the next note
    pads = rng.integers(1, 17, size=200)
    velocities = rng.integers(1, 128, size=200)
    for f, pad, vel in zip(frames, pads, velocities, strict=True):
        # DawDreamer truncates seconds x rate to a frame: a quarter frame in, the note lands on `f`
        proc.add_midi_note(35 + int(pad), int(vel), (float(f) + 0.25) / RATE, 0.01)
    eng.render((int(frames[-1]) + 2000) / RATE)
    out = eng.get_audio()
    assert out.shape[0] == 34  # main stereo out + 16 stereo pad outs

    expected = np.zeros((34, out.shape[1]), dtype=np.float32)
    errors = []
    for f, pad, vel in zip(frames, pads, velocities, strict=True):
        part = (clips[pad] * _gain(vel)).T
        expected[MAIN, f : f + 32] += part
        expected[PAD_OUT(pad), f : f + 32] += part
        heard = np.flatnonzero(out[0, f - 8 : f + 32])
        errors.append(int(heard[0]) - 8 if heard.size else None)
    assert errors.count(None) == 0, "some notes did not sound"
    bad = [(int(f), e) for f, e in zip(frames, errors, strict=True) if e]
    assert not bad, f"onset errors (frame, samples): {bad}"
    np.testing.assert_array_equal(out[MAIN], expected[MAIN])
    # each pad's own stereo bus (VST3 buses 1..16, DawDreamer's channels 2N, 2N+1) carries that pad alone
    for pad in range(1, 17):
        np.testing.assert_array_equal(out[PAD_OUT(pad)], expected[PAD_OUT(pad)], err_msg=f"pad {pad}'s outputs")
    assert all(out[PAD_OUT(pad)].any() for pad in set(pads.tolist()))


def test_loop_follows_the_host_position_through_a_tempo_automation(link):
    eng, proc = _engine(link)
    bar = 4 * 60 * RATE // 120  # one bar at 120 bpm: 96000 frames
    loop = np.stack([np.arange(bar, dtype=np.float32) / bar, np.arange(bar, dtype=np.float32) / -bar], axis=1)
    _pad(link, 1, put_clip(link.cache, loop, RATE), mode=1, quantize=2)
    # 120 bpm for two bars, then 100 bpm (the tempo map in beats: ppqn=1)
    eng.set_bpm(np.array([120.0] * 8 + [100.0] * 12, dtype=np.float32), ppqn=1)
    proc.add_midi_note(36, 127, 0.3, 20.0)  # mid-bar 1: quantized to the start of bar 2
    at100 = 60 * RATE // 100  # frames per beat at 100 bpm
    eng.render((2 * bar + 9 * at100) / RATE)
    out = eng.get_audio()[MAIN]

    assert not out[:, :bar].any(), "the loop started before its quantize grid (bar 2)"
    # bar 2 at 120 bpm: the clip itself, sample for sample, phase 0 at the bar line
    np.testing.assert_array_equal(out[:, bar : 2 * bar], loop.T)
    # From bar 3 at 100 bpm the one-bar clip lasts 3.33 beats; until diffhost's re-fitted loop arrives
    # it still spans one bar of the host (read 5/6 as fast), its phase a function of the host's
    # position: it restarts exactly on every bar line and in between reads the clip at the position's place.
    f = np.arange(2 * bar, 2 * bar + 9 * at100)
    beats = 8 + (f - 2 * bar) / at100
    x = (beats % 4) * (bar / 4)
    k = np.floor(x).astype(np.int64)
    t = (x - k).astype(np.float32)
    want = loop[k % bar] + (loop[(k + 1) % bar] - loop[k % bar]) * t[:, None]
    np.testing.assert_allclose(out[:, f], want.T, atol=2e-6)
    for restart in (2 * bar, 2 * bar + 4 * at100, 2 * bar + 8 * at100):
        assert out[0, restart] == 0.0 and out[0, restart + 1] > 0.0
    # and diffhost heard the host's tempo, signature and transport
    heard = link.wait("/diffhost/plugin/transport", where=lambda a: abs(a[1] - 100.0) < 1e-6)
    assert heard[2:6] == [4, 4, 0, 1] or heard[2:4] == [4, 4]
    assert any(a[4] == 1 and a[5] == 1 for addr, a in link.heard if addr == "/diffhost/plugin/transport")


def test_state_restores_every_pad_without_diffhost(link, tmp_path):
    eng, proc = _engine(link)
    clips = _short_clips(link)
    _pad(link, 3, put_clip(link.cache, clips[3], RATE), gain_db=-6.0, pan=0.5)
    eng.render(0.01)  # the clips swap in
    state = tmp_path / "bridge.state"
    proc.save_state(str(state))
    saved = dpf_state(state.read_bytes())
    assert not any("/" in v for k, v in saved.items() if k != "pad3_recipe"), "a path in the state"
    assert saved["pad3_gain_db"] == "-6" and saved["pad3_pan"] == "0.5" and saved["pad3_label"] == "pad 3"
    assert saved["pad1_recipe"] == '{"prompt": "test"}' and len(saved["pad16_hash"]) == 64

    def play(p):
        for k, pad in enumerate(range(1, 17)):
            p.add_midi_note(35 + pad, 100, 0.01 + k * 0.002, 0.01)

    play(proc)
    eng.render(0.1)
    before = eng.get_audio()
    instance_id = link.wait("/diffhost/plugin/hello")[0]
    link.close()  # diffhost is gone: the project must still play

    eng2 = daw.RenderEngine(RATE, BLOCK)
    proc2 = eng2.make_plugin_processor("bridge", str(VST3))
    eng2.load_graph([(proc2, [])])
    try:
        proc2.load_state(str(state))
    except RuntimeError as exc:  # DawDreamer applies the state, then looks for an editor it cannot open
        assert "editor" in str(exc)
    play(proc2)
    eng2.render(0.1)
    after = eng2.get_audio()
    assert np.abs(before).max() > 0.1
    np.testing.assert_array_equal(after, before)
    # every pad's clip, options, recipe and the instance's identity came back
    proc2.save_state(str(tmp_path / "again.state"))
    again = dpf_state((tmp_path / "again.state").read_bytes())
    assert again == saved and again["instance_id"] == instance_id


def test_capture_records_bars_of_input_from_a_bar_line(link):
    eng = daw.RenderEngine(RATE, BLOCK)
    eng.set_bpm(120.0)
    noise = np.random.default_rng(3).uniform(-0.5, 0.5, size=(2, 3 * RATE)).astype(np.float32)
    src = eng.make_playback_processor("input", noise)
    proc = eng.make_plugin_processor("bridge", str(VST3))
    eng.load_graph([(src, []), (proc, ["input"])])
    eng.render(BLOCK / RATE)
    link.wait("/diffhost/plugin/hello")
    link.send("/bridge/capture", 5, 1)
    link.sync()
    eng.render(3.0)  # DawDreamer starts each render at bar 1: the capture starts at frame 0
    pad_id, pad, path, bars = link.wait("/diffhost/plugin/captured")
    assert (pad, bars) == (5, 1) and path.startswith(str(link.cache / "captures"))
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    assert rate == RATE and audio.shape == (2 * RATE, 2)  # one bar at 120 bpm
    np.testing.assert_array_equal(audio.T, noise[:, : 2 * RATE])
    link.send("/bridge/capture", 17, 1)
    assert "pad 17 is out of range 1..16" in link.wait("/diffhost/plugin/error")[1]
