"""Tempo sync on the real JACK server: MIDI clock from a JACK MIDI peer, Ableton Link with a second
Link peer in the test. The session tempo follows the active source; quantized triggers land on its grid."""

from __future__ import annotations

import time

import numpy as np
import pytest

from .conftest import BLOCK, RATE, wait_frames

CLOCK, START, STOP = 0xF8, 0xFA, 0xFC


@pytest.fixture
def clocked(audio, jack_server, tmp_path):
    from diffhost.engine.engine import Engine
    from diffhost.host.live.midi.jack_input import JackMidiInput
    from diffhost.host.live.midi.router import MidiRouter
    from diffhost.host.live.sync import MidiClock, TempoSync
    from diffhost.host.session import Session

    engine = Engine(device="cpu").start()
    session = Session(engine, renders_dir=tmp_path / "renders", audio=audio)
    sync = TempoSync(session)
    router = MidiRouter(session, clock=MidiClock(sync))
    port = JackMidiInput(router, session, server=jack_server.name)
    events = session.subscribe()
    try:
        yield session, sync, port, events
    finally:
        port.close()
        router.close()
        session.close()
        engine.stop()


def test_midi_clock_sets_the_tempo_within_two_beats_and_quantized_pads_land_on_its_beats(audio, peer, clocked):
    session, sync, port, events = clocked
    sync.follow("midi clock")
    audio.set_tempo(90.0)
    audio.assign(1, np.full((1, 300), 0.5, np.float32), RATE)
    audio.set_quantize(1.0)  # one beat
    peer.connect_midi(port.port_name)
    tick = RATE * 60 // (120 * 24)  # 1000 frames: 120 bpm
    first = 700
    rows = [[first - 200, START, -1, -1]] + [[first + k * tick, CLOCK, -1, -1] for k in range(24 * 9)]
    peer.start()
    wait_frames(audio, 2 * BLOCK)
    base = peer.send_midi(np.array(rows))
    wait_frames(audio, first + 48 * tick + 2 * BLOCK)  # two beats of clock
    assert audio.tempo == pytest.approx(120.0, abs=0.5)
    for pause in (3100, 17000, 9000):  # triggers anywhere in a beat
        wait_frames(audio, pause)
        audio.trigger(1)
        wait_frames(audio, 24000 + 2 * BLOCK)
    out, first_frame = peer.stop()
    onsets = np.flatnonzero((out[0, 1:] != 0) & (out[0, :-1] == 0)) + 1 + first_frame
    beats = (onsets - (base + first)) / (24 * tick)  # in beats from the clock's first (downbeat) tick
    assert onsets.size == 3
    np.testing.assert_allclose(beats, np.round(beats), atol=1.5 / (24 * tick))  # on a beat, to the frame
    seen = []
    while not events.empty():
        ev = events.get_nowait()
        if ev.kind == "param" and ev.name == "tempo":
            seen.append((ev.message, ev.value))
    assert seen[-1][0] == "midi clock" and seen[-1][1] == pytest.approx(120.0, abs=0.01)

    peer.start()
    peer.send_midi(np.array([[0, STOP, -1, -1]]))
    wait_frames(audio, 4 * BLOCK)
    peer.stop()


@pytest.fixture
def link_peer():
    link = pytest.importorskip("link", reason="LinkPython-extern (the optional [link] extra) is not installed")
    peer = link.Link(100.0)
    peer.startStopSyncEnabled = True
    peer.enabled = True
    yield peer
    peer.enabled = False


def _wait(cond, timeout: float) -> float:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.001)
    return time.monotonic() - t0


def test_link_shares_tempo_and_beat_phase_and_follows_a_tempo_change_within_a_beat(audio, link_peer, tmp_path):
    from diffhost.engine.engine import Engine
    from diffhost.host.live.sync import TempoSync
    from diffhost.host.live.sync.link import LinkSync
    from diffhost.host.session import Session

    engine = Engine(device="cpu").start()
    session = Session(engine, renders_dir=tmp_path / "renders", audio=audio)
    sync = TempoSync(session)
    ours = LinkSync(sync, bpm=100.0)
    try:
        sync.follow("link")
        _wait(lambda: ours.peers >= 1, 10)
        peer_tempo = lambda: link_peer.captureAppSessionState().tempo()  # noqa: E731
        _wait(lambda: abs(audio.tempo - peer_tempo()) < 1e-6, 5)

        # a tempo change at the peer is followed within one beat
        state = link_peer.captureAppSessionState()
        state.setTempo(133.0, link_peer.clock().micros())
        link_peer.commitAppSessionState(state)
        took = _wait(lambda: abs(audio.tempo - 133.0) < 1e-3, 5)  # (Link keeps tempo as whole µs per beat)
        assert took <= 60.0 / 133.0, took

        # quantized triggers start on the shared beat grid, as heard
        audio.assign(1, np.full((1, 100), 0.5, np.float32), RATE)
        audio.set_quantize(1.0)
        errors_ms = []
        for pause in (0.13, 0.29, 0.07, 0.41):
            time.sleep(pause)
            tag = audio.trigger(1)
            _wait(lambda tag=tag: audio.slot_start(1).tag == tag, 2)
            s = audio.slot_start(1)
            # rendered at its block's CLOCK_MONOTONIC_RAW stamp (+ its offset), heard a latency later
            t_us = s.clock_ns / 1000.0 + audio.output_latency_s() * 1e6
            beat = link_peer.captureAppSessionState().beatAtTime(round(t_us), 4.0)
            errors_ms.append(abs(beat - round(beat)) * 60.0 / 133.0 * 1000.0)
        print("link grid errors (ms):", [round(e, 3) for e in errors_ms], "tempo follow (s):", round(took, 3))
        assert max(errors_ms) <= 1.0, errors_ms
    finally:
        ours.close()
        session.close()
        engine.stop()
