"""Fresh pads on the real JACK server with the embedded default model: every hit sounds, each a
new variation while the pool lasts, the last one replayed when it runs dry; evolving loops switch
on the bar line."""

from __future__ import annotations

import time

import numpy as np
import pytest

from .conftest import BLOCK, wait_frames


@pytest.fixture(scope="module")
def engine():
    from diffhost.engine.engine import Engine

    e = Engine(device="cpu").start()
    e.load(None)
    yield e
    e.stop()


@pytest.fixture
def fresh(audio, engine, tmp_path):
    from diffhost.host.live.fresh import FreshPads
    from diffhost.host.session import Session

    session = Session(engine, renders_dir=tmp_path / "renders", audio=audio)
    pads = FreshPads(session)
    yield pads
    pads.close()
    session.close()


def _until(cond, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_every_hit_sounds_and_is_a_new_variation_while_the_pool_lasts(audio, peer, fresh, tmp_path):
    announced = fresh.session.subscribe()
    fresh.enable(2, prompt="tight snare", length=0.25, pool=3, batch=3)
    _until(lambda: audio.slot_state(2) == "ready" or fresh.last_error)
    assert not fresh.last_error
    peer.start()
    starts = []
    for _ in range(5):
        _until(lambda: fresh.pool_size(2) >= 1)  # a variation is waiting: this hit will be new
        tag = audio.trigger(2)
        _until(lambda tag=tag: audio.slot_start(2).tag == tag, 2)
        starts.append(audio.slot_start(2).frame)
        wait_frames(audio, 12000 + 4 * BLOCK)
    out, first = peer.stop()
    s = fresh.stats(2)
    assert (s.hits, s.fresh_hits, s.replays) == (5, 5, 0)
    assert s.rendered >= 5 and s.rendered % 3 == 0  # whole batches of 3, never one variation per job
    assert not [p for p in (tmp_path / "renders").rglob("*") if p.is_file()]  # played, never saved
    tags = [announced.get_nowait().tag for _ in range(announced.qsize())]
    assert not [t for t in tags if t and t.startswith("fresh:")]  # nor announced to the window or OSC
    offset = starts[0] - (np.flatnonzero(out[0])[0] + first)  # diffhost frame - peer frame of hit 1
    hits = [out[0, st - offset - first : st - offset - first + 4000] for st in starts]
    assert all(np.abs(h).max() > 1e-3 for h in hits)  # every hit sounds
    for a in range(5):
        for b in range(a + 1, 5):
            assert not np.allclose(hits[a], hits[b], atol=1e-4), (a, b)  # each a different variation

    # the pool runs dry: hits keep sounding (the last variation again), never silence
    fresh.disable(2)  # no refills from here
    peer.start()
    for _ in range(3):
        audio.trigger(2)
        wait_frames(audio, 12000 + 4 * BLOCK)
    out, _ = peer.stop()
    onsets = np.flatnonzero((np.abs(out[0, 1:]) > 1e-4) & (np.abs(out[0, :-1]) <= 1e-4))
    assert np.abs(out[0]).max() > 1e-3 and onsets.size >= 3


def test_an_evolving_loop_switches_variation_on_the_bar_line(audio, fresh):
    audio.set_tempo(480.0)  # one bar = 0.5 s = 24000 frames
    fresh.enable(5, prompt="warm pad loop", length=0.25, pool=2, batch=2, evolve_bars=1)
    _until(lambda: (audio.slot_state(5) == "ready" and fresh.pool_size(5) >= 1) or fresh.last_error)
    assert not fresh.last_error
    audio.set_slot_options(5, mode="loop")
    first = audio.trigger(5)
    bar = 4 * audio.frames_per_beat()
    _until(lambda: audio.slot_start(5).tag not in (first, -1) and audio.frames > audio.slot_start(5).frame, 5)
    s = audio.slot_start(5)  # the next variation's start
    line = (s.frame - audio.grid_origin) / bar
    assert line == pytest.approx(round(line), abs=1 / bar), (s.frame, bar)  # exactly on a bar line
    assert audio.slot_state(5) == "playing"
    audio.stop_slot(5)
