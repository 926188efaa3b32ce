"""MIDI on the real JACK server: a peer plays note-ons at known frames into diffhost's JACK MIDI
port and records diffhost's outputs on the same clock."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import BLOCK, RATE, wait_frames

NOTE_ON, NOTE_OFF, CC, PROGRAM = 0x90, 0x80, 0xB0, 0xC0


@pytest.fixture
def live(audio, jack_server, tmp_path):
    """A real Session on the JACK audio, a MIDI router and diffhost's JACK MIDI port."""
    from diffhost.engine.engine import Engine
    from diffhost.host.live.midi.jack_input import JackMidiInput
    from diffhost.host.live.midi.router import MidiRouter
    from diffhost.host.session import Session

    engine = Engine(device="cpu").start()
    session = Session(engine, renders_dir=tmp_path / "renders", audio=audio)
    router = MidiRouter(session)
    port = JackMidiInput(router, session, server=jack_server.name)
    try:
        yield session, router, port
    finally:
        port.close()
        router.close()
        session.close()
        engine.stop()


def _onsets(channel: np.ndarray) -> np.ndarray:
    on = channel != 0
    return np.flatnonzero(on[1:] & ~on[:-1]) + 1


def test_note_on_sounds_within_one_block_at_the_velocity_gain(audio, peer, live):
    from diffhost.host.live.midi import velocity_gain

    session, router, port = live
    assert port.port_name == "diffhost-midi:in" and port.ordered
    audio.assign(1, np.full((1, 600), 0.5, np.float32), RATE)
    peer.connect_midi(port.port_name)
    rng = np.random.default_rng(12)
    velocities = [127, 90, 64, 32]
    rows, delay = [], 2 * BLOCK
    for i in range(120):
        delay += 1500 + int(rng.integers(0, BLOCK))  # every offset within a block, over the run
        v = velocities[i % 4]
        rows.append([delay, NOTE_ON, 36, v])
        rows.append([delay + 100, NOTE_OFF, 36, 0])  # a one-shot plays through its note-off
    peer.start()
    wait_frames(audio, 2 * BLOCK)
    base = peer.send_midi(np.array(rows))
    wait_frames(audio, delay + 600 + 8 * BLOCK)
    out, first = peer.stop()
    onsets = _onsets(out[0])
    played = np.array([base + r[0] for r in rows if r[1] == NOTE_ON])
    assert onsets.size == played.size, (onsets.size, played.size, router.errors, router.last_error)
    latency = onsets + first - played  # frames, both on the peer's clock
    assert latency.min() >= 0
    p99 = float(np.percentile(latency, 99))
    assert p99 <= BLOCK + 0.001 * RATE, (p99, np.bincount(latency))
    # velocity -> gain on the documented curve: (v / 127) ** 2
    levels = out[0, onsets + 10]
    expected = np.array([0.5 * velocity_gain(velocities[i % 4]) for i in range(onsets.size)])
    np.testing.assert_allclose(levels, expected, rtol=1e-5)
    assert out[0, onsets[0] + 100] != 0  # note-off did not cut the one-shot


def test_note_off_ends_a_gate_pad_and_learned_notes_and_ccs_apply(audio, peer, live):
    session, router, port = live
    audio.assign(3, np.full((1, RATE), 0.25, np.float32), RATE)
    audio.set_slot_options(3, mode="gate")
    peer.connect_midi(port.port_name)
    peer.start()
    wait_frames(audio, 2 * BLOCK)
    base = peer.send_midi(np.array([[0, NOTE_ON, 38, 127], [2000, NOTE_OFF, 38, 0]]))  # 38 = pad 3
    wait_frames(audio, 2000 + 400 + 4 * BLOCK)
    out, first = peer.stop()
    sounding = np.flatnonzero(out[0])
    start, end = sounding[0] + first - base, sounding[-1] + first - base
    assert 0 <= start <= BLOCK and 2000 <= end <= 2000 + BLOCK + 240 + 1  # until note-off + a 5 ms fade

    router.learn_pad(3)
    peer.send_midi(np.array([[0, NOTE_ON, 60, 100]]))
    wait_frames(audio, 4 * BLOCK)
    assert router.map.pad_for(60) == 3 and router.map.pad_for(38) is None
    router.learn_cc("gain", 3)
    peer.send_midi(np.array([[0, CC, 20, 64]]))
    wait_frames(audio, 4 * BLOCK)
    router.wait_idle()
    peer.send_midi(np.array([[0, CC, 20, 127]]))
    wait_frames(audio, 4 * BLOCK)
    router.wait_idle()
    assert audio.slot_options(3).gain == pytest.approx(2.0)  # CC 127 = the top of gain's 0..2
    router.learn_cc("temperature")
    peer.send_midi(np.array([[0, CC, 21, 0], [BLOCK, CC, 21, 127]]))
    wait_frames(audio, 4 * BLOCK)
    router.wait_idle()
    assert session.get_param("temperature") == pytest.approx(2.0)
