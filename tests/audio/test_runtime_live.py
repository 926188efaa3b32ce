"""The composition root wires the live parts: the last kit returns on restart, and on JACK the
JACK MIDI port diffhost-midi:in is offered and fires pads."""

from __future__ import annotations

import numpy as np

from .conftest import RATE, wait_frames


def _options(tmp_path):
    from diffhost.runtime import RuntimeOptions

    return RuntimeOptions(
        renders_dir=tmp_path / "renders",
        audio_config_dir=tmp_path / "config",
        audio_overrides={"input": False, "sample_rate": RATE, "block_size": 128},
        presets=False,
        library=False,
    )


def test_the_last_kit_comes_back_on_restart_and_jack_midi_is_offered(jack_server, tmp_path):
    import jack

    from diffhost.runtime import build_runtime

    clip = np.random.default_rng(5).uniform(-0.5, 0.5, (2, 777)).astype(np.float32)
    rt = build_runtime(_options(tmp_path))
    try:
        assert "jack" in rt.live.inputs and rt.unavailable.get("midi") is None
        probe = jack.Client("dh-live-probe", servername=jack_server.name, no_start_server=True)
        assert [p.name for p in probe.get_ports("diffhost", is_midi=True, is_input=True)] == ["diffhost-midi:in"]
        probe.close()
        rt.audio.assign(4, clip, 44100, label="take 3")
        rt.audio.set_slot_options(4, mode="loop", gain=0.8, choke_group=2)
        rt.live.router.learn_pad(4)
        rt.live.router._note_on(64, 100, 0)  # the next note (as the JACK port would hand it over) is learned
        assert rt.live.midi_map.pad_for(64) == 4
    finally:
        rt.close()
    assert (tmp_path / "config" / "kits" / "last.json").is_file()

    rt = build_runtime(_options(tmp_path))
    try:
        audio = rt.audio
        np.testing.assert_array_equal(audio.slot_source(4).audio, clip)
        assert audio.slot_source(4).sample_rate == 44100 and audio.slot_source(4).label == "take 3"
        o = audio.slot_options(4)
        assert (o.mode, o.gain, o.choke_group) == ("loop", 0.8, 2)
        assert rt.live.midi_map.pad_for(64) == 4  # the learned note came back with the kit
        assert [audio.slot_state(n) for n in (3, 4, 5)] == ["empty", "ready", "empty"]
        audio.trigger(4)
        wait_frames(audio, 4 * 128)
        assert audio.slot_state(4) == "playing"
    finally:
        rt.close()
