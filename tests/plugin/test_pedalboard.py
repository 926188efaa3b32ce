"""The VST3 in pedalboard (Spotify's JUCE-based host): MIDI in, audio out, and its raw state.

pedalboard probes an instrument with a note outside 36-51 and waits out `initialization_timeout`
for sound; the Bridge is silent until it has clips, so the tests pass 0. It gives the plugin no
transport (120 bpm, stopped).
"""

from __future__ import annotations

import mido
import numpy as np
import pedalboard

from tests.plugin.bridge_host import VST3, dpf_state, put_clip

RATE = 48000


def _notes():
    return [
        mido.Message("note_on", note=36, velocity=127, time=0.1),
        mido.Message("note_on", note=51, velocity=64, time=0.2),
        mido.Message("note_off", note=51, velocity=0, time=0.25),
    ]


def test_midi_to_audio_and_raw_state(link):
    plugin = pedalboard.load_plugin(str(VST3), initialization_timeout=0)
    assert plugin.is_instrument
    silent = plugin([], duration=0.05, sample_rate=RATE, num_channels=2)  # settles it at 48 kHz
    assert not silent.any()
    link.wait("/diffhost/plugin/hello", where=lambda a: a[2] == RATE)

    kick = np.stack([np.linspace(1.0, 0.0, 2400, dtype=np.float32)] * 2, axis=1)
    tone = np.sin(np.arange(RATE, dtype=np.float32) * np.float32(2 * np.pi * 440 / RATE))[
        :, None
    ] * np.float32(0.5)
    link.send("/bridge/pad/load", 1, put_clip(link.cache, kick, RATE), "kick", 0)
    link.send("/bridge/pad/options", 16, 2, 0, 0, 0.0, 0.0, '{"prompt": "a tone"}')  # gate: note-off ends it
    link.send("/bridge/pad/load", 16, put_clip(link.cache, tone, RATE), "tone", 0)
    link.sync()

    out = plugin(_notes(), duration=0.5, sample_rate=RATE, num_channels=2)
    assert out.shape == (2, RATE // 2)
    np.testing.assert_array_equal(out[:, 4800 : 4800 + 2400], kick.T)  # velocity 127: gain 1
    g = (np.float32(64) * np.float32(1 / 127)) ** 2
    np.testing.assert_array_equal(out[0, 9600:12000], tone[:2400, 0] * g)  # a mono clip plays on both sides
    assert not out[:, 7200:9600].any() and not out[:, 12000 + 240 :].any()  # gate: a 5 ms fade after note-off
    assert np.abs(out[0, 12000 : 12000 + 240]).max() > 0

    state = plugin.raw_state
    saved = dpf_state(state)
    assert (
        saved["pad1_label"] == "kick"
        and saved["pad16_mode"] == "2"
        and saved["pad16_recipe"] == '{"prompt": "a tone"}'
    )

    again = pedalboard.load_plugin(str(VST3), initialization_timeout=0)
    again.raw_state = state
    np.testing.assert_array_equal(again(_notes(), duration=0.5, sample_rate=RATE, num_channels=2), out)
    assert dpf_state(again.raw_state) == saved


def test_a_loop_swaps_at_the_next_bar_line_and_chokes(link):
    """pedalboard gives no transport: the loop runs on the plugin's own clock (120 bpm), which also
    ran while pedalboard probed the plugin; a ramp clip shows where that clock's bar lines are."""
    plugin = pedalboard.load_plugin(str(VST3), initialization_timeout=0)
    plugin([], duration=0.05, sample_rate=RATE, num_channels=2)
    link.wait("/diffhost/plugin/hello", where=lambda a: a[2] == RATE)
    bar = 2 * RATE  # 120 bpm, 4/4
    ramp = np.repeat((np.arange(bar, dtype=np.float32) / bar)[:, None], 2, axis=1)
    b = np.full((bar, 2), -0.5, dtype=np.float32)
    link.send("/bridge/pad/options", 1, 1, 3, 0, 0.0, 0.0, "{}")  # loop, choke group 3
    link.send("/bridge/pad/load", 1, put_clip(link.cache, ramp, RATE), "ramp", 0)
    link.send("/bridge/pad/options", 2, 0, 3, 0, 0.0, 0.0, "{}")  # one-shot, same choke group
    link.send(
        "/bridge/pad/load", 2, put_clip(link.cache, np.full((4800, 2), 0.5, np.float32), RATE), "hit", 0
    )
    link.sync()
    first = plugin(
        [mido.Message("note_on", note=36, velocity=127, time=0.0)],
        duration=0.5,
        sample_rate=RATE,
        num_channels=2,
    )
    assert np.all(np.diff(first[0, -1000:]) > 0)  # the loop plays its ramp
    link.send(
        "/bridge/pad/load", 1, put_clip(link.cache, b, RATE), "b", 1
    )  # a re-fitted loop: at the next bar
    link.sync()
    notes = [mido.Message("note_on", note=37, velocity=127, time=1.9)]
    out = plugin(notes, duration=2.0, sample_rate=RATE, num_channels=2)
    line = int(np.flatnonzero(out[0] == -0.5)[0])
    # the old loop played up to its last samples (the end of a bar), the new one from that bar line on.
    # (The clock also ran at 44.1 kHz while pedalboard probed the plugin, so its bar lines fall between
    # samples: the ramp's last sample is interpolated towards its first.)
    assert out[0, line - 2] > ramp[-3, 0] and (out[:, line : line + 1000] == -0.5).all()
    assert link.wait("/diffhost/plugin/loaded", where=lambda x: x[2] != "")[1] == 1
    # pad 2 (same choke group) starts at 1.9 s: the loop fades out over 5 ms while the hit plays
    hit = int(1.9 * RATE)
    assert line < hit and out[0, hit - 1] == -0.5
    np.testing.assert_array_equal(
        out[:, hit + 240 : hit + 4800], np.full((2, 4800 - 240), 0.5, dtype=np.float32)
    )


def test_bad_messages_get_an_error_and_change_nothing(link):
    plugin = pedalboard.load_plugin(str(VST3), initialization_timeout=0)
    plugin([], duration=0.05, sample_rate=RATE, num_channels=2)
    link.wait("/diffhost/plugin/hello", where=lambda a: a[2] == RATE)
    link.send("/bridge/pad/options", 2, 1, 0, 0, -6.0, 0.0, '{"prompt": "kept"}')
    link.sync()
    before = dpf_state(plugin.raw_state)
    for args, words in [
        ((2, 3, 0, 0, 0.0, 0.0, "{}"), "mode 3 is out of range 0..2"),
        ((2, 0, 17, 0, 0.0, 0.0, "{}"), "choke 17 is out of range 0..16"),
        ((2, 0, 0, 0, 30.0, 0.0, "{}"), "gain_db 30.000000 is out of range -60..24 dB"),
        ((2, 0, 0, 0, 0.0, 1.5, "{}"), "pan 1.500000 is out of range -1..1"),
        ((0, 0, 0, 0, 0.0, 0.0, "{}"), "pad 0 is out of range 1..16"),
    ]:
        link.send("/bridge/pad/options", *args)
        assert words in link.wait("/diffhost/plugin/error")[1]
    link.send("/bridge/pad/load", 2, "../../etc/passwd", "x", 0)
    assert "is not a sha256" in link.wait("/diffhost/plugin/loaded")[2]
    link.send("/bridge/pad/load", 2, "ab" * 32, "x", 0)
    assert link.wait("/diffhost/plugin/loaded")[2].startswith("error: no clip file")
    link.sock.sendto(b"/bridge/pad/load\x00\x00\x00\x00,iss\x00\x00\x00\x00\x00", link.plugin)  # truncated
    link.sock.sendto(b"\xff" * 64, link.plugin)
    link.sync()  # still answering
    assert dpf_state(plugin.raw_state) == before
