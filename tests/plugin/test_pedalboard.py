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
