"""A queued job leaves the queue and is answered at once; every cancel gets an
answer, even when nothing matched; a running job stops within a step. Real UDP, real engine."""

from __future__ import annotations

import threading

import pytest

from diffhost.engine.engine import Engine
from diffhost.host.session import Session
from diffhost.osc.client import DiffhostClient
from diffhost.osc.server import OscConfig, OscServer


@pytest.fixture
def idle_engine_client(dirs):
    """An engine whose worker is not started: jobs stay queued, deterministically."""
    engine = Engine(max_queue=3)
    session = Session(engine, renders_dir=dirs["renders"])
    with OscServer(session, OscConfig(port=0)) as server, DiffhostClient("127.0.0.1", server.address[1]) as c:
        yield engine, c
    session.close()


def accept(c: DiffhostClient, prompt: str) -> int:
    c.send("/diffhost/render", prompt, 0.5)
    return c.wait_for(lambda m: m[0] in ("/diffhost/job/accepted", "/diffhost/error"))[1][0]


def test_queued_job_is_removed_and_answered_at_once(idle_engine_client):
    engine, c = idle_engine_client
    jobs = [accept(c, f"kick {i}") for i in range(3)]
    assert engine.pending() == 3
    c.send("/diffhost/render", "one too many", 0.5)
    assert "render queue is full" in c.wait_for(lambda m: m[0] == "/diffhost/error")[1][1]
    c.send("/diffhost/cancel", jobs[1])
    assert c.wait_for(lambda m: m[0] == "/diffhost/cancelled")[1] == [jobs[1], 1]
    assert c.wait_for(lambda m: m[0] == "/diffhost/job/cancelled")[1] == [jobs[1]]  # the worker never ran
    assert engine.pending() == 2
    assert isinstance(accept(c, "fits again"), int)  # its place in the queue is free
    c.send("/diffhost/cancel", jobs[1])  # gone: answered with what became of it
    assert c.wait_for(lambda m: m[0] == "/diffhost/cancelled")[1] == [jobs[1], 0, "cancelled"]


def test_cancel_all_answers_with_the_count_even_when_nothing_matched(idle_engine_client):
    engine, c = idle_engine_client
    c.send("/diffhost/cancel", -1)
    assert c.wait_for(lambda m: m[0] == "/diffhost/cancelled")[1] == [-1, 0]
    jobs = [accept(c, f"snare {i}") for i in range(2)]
    c.send("/diffhost/cancel", -1)
    assert c.wait_for(lambda m: m[0] == "/diffhost/cancelled")[1] == [-1, 2]
    cancelled = {c.wait_for(lambda m: m[0] == "/diffhost/job/cancelled")[1][0] for _ in jobs}
    assert cancelled == set(jobs) and engine.pending() == 0


def test_queued_job_is_answered_while_the_worker_is_busy(client, session):
    """The worker is held inside other work (gate): a queued job's cancel is answered without it."""
    gate = threading.Event()
    busy = threading.Thread(target=session.engine.run_sync, args=(lambda: gate.wait(30),))
    busy.start()
    try:
        client.send("/diffhost/render", "short hat", 0.5)
        b = client.wait_for(lambda m: m[0] == "/diffhost/job/accepted")[1][0]
        client.send("/diffhost/cancel", b)
        assert client.wait_for(lambda m: m[0] == "/diffhost/cancelled")[1] == [b, 1]
        assert client.wait_for(lambda m: m[0] == "/diffhost/job/cancelled")[1] == [b]
        assert busy.is_alive()  # answered while the worker was still held
    finally:
        gate.set()
        busy.join()


# A running job stopping within one step: tests/engine/test_engine_worker.py (a model slow enough
# to be caught mid-render; the default model renders in milliseconds).
