"""Device changes on stage: every pad survives a re-open, a setup that does not open falls back to
the last one that did with a plain message, and the dialog is offered only rates the device runs."""

from __future__ import annotations

import numpy as np

from .conftest import BLOCK, RATE, wait_frames


def _capture_slot(audio, peer, slot: int, frames: int) -> np.ndarray:
    peer.connect()
    peer.start()
    wait_frames(audio, 2 * BLOCK)
    audio.trigger(slot)
    wait_frames(audio, frames + 4 * BLOCK)
    out, _ = peer.stop()
    return out


def test_a_reopen_keeps_every_pad_and_a_failed_one_falls_back_with_a_plain_message(jack_server, peer, tmp_path):
    from diffhost.host.audio import AudioControl

    control = AudioControl(tmp_path)
    audio = control.open(sample_rate=RATE, block_size=BLOCK, input=False)
    try:
        clip44 = np.linspace(0.1, 0.9, 4410, dtype=np.float32)[np.newaxis, :]  # 0.1 s at 44.1 kHz
        audio.assign(1, clip44, 44100, label="ramp")
        audio.assign(16, np.full((1, 480), 0.25, np.float32), RATE, label="flat")
        audio.set_slot_options(16, gain=0.5, pan=1.0, mode="loop", choke_group=3, quantize=0.5)
        audio.set_tempo(97.0)

        # a change that opens: same pads, same options, same sources, still playing
        r = control.reopen(audio, block_size=256)
        audio = r.audio
        assert r.applied and r.problems == () and "48 kHz" in r.message  # (JACK keeps its own period)
        assert [audio.slot_state(n) for n in (1, 2, 16)] == ["ready", "empty", "ready"]
        o = audio.slot_options(16)
        assert (o.gain, o.pan, o.mode, o.choke_group, o.quantize) == (0.5, 1.0, "loop", 3, 0.5)
        assert audio.tempo == 97.0
        np.testing.assert_array_equal(audio.slot_source(1).audio, clip44)  # the source, not a copy of a copy
        assert audio.slot_source(1).sample_rate == 44100 and audio.slot_source(1).label == "ramp"
        out = _capture_slot(audio, peer, 1, RATE // 10)
        assert np.count_nonzero(out[0]) in range(RATE // 10 - 2, RATE // 10 + 3)  # 0.1 s at 48 kHz
        assert control.saved().block_size == 256

        # a rate the JACK server does not run: back to the last setup that opened, pads intact
        r = control.reopen(audio, sample_rate=44100)
        audio = r.audio
        assert not r.applied
        assert "does not run at 44100 Hz" in r.message and "48000 Hz" in r.message
        assert "Kept the previous setup" in r.message
        assert "PortAudio" not in r.message and "pa" not in r.message.split(":")[0].lower().split()
        assert audio.sample_rate == RATE and audio.block_size in (128, 256)
        assert [audio.slot_state(n) for n in (1, 16)] == ["ready", "ready"]
        out = _capture_slot(audio, peer, 1, RATE // 10)
        assert np.count_nonzero(out[0]) in range(RATE // 10 - 2, RATE // 10 + 3)
        assert control.saved().sample_rate == RATE  # a setup that failed is never remembered
    finally:
        audio.close()


def test_the_dialog_is_offered_only_the_rates_the_device_runs(jack_server):
    from diffhost.host.audio import AudioControl

    assert AudioControl().supported_rates("JACK") == [RATE]  # a JACK server runs at its own rate only
