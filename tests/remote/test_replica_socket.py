"""A replica's socket without Ray: the same ReplicaCore engine-serve runs, behind uvicorn (the server
Serve's proxy runs too) on an ephemeral loopback port, and the real RemoteEngine client or a raw
WebSocket client. Jobs follow one another on one socket, progress is held to ~20 messages a
second and still ends at the last step, a late cancel never reaches the next job, and a second
request while a job runs is refused."""

import socket
import threading
import time

import numpy as np
import pytest

from diffhost.engine import Engine, GenerationRequest
from diffhost.engine.engine import Job, JobEvent
from diffhost.engine.remote import wire
from diffhost.engine.remote.client import RemoteEngine
from diffhost.engine.remote.replica import PROGRESS_INTERVAL_S, ProgressThrottle, ReplicaCore
from tests.remote.jobs import wait_job

fastapi = pytest.importorskip("fastapi", reason="the cluster extra (ray[serve]) is not installed")
uvicorn = pytest.importorskip("uvicorn", reason="the cluster extra (ray[serve]) is not installed")
WebSocket = fastapi.WebSocket

KICK = GenerationRequest(prompt="punchy analog kick", length=1.0, seed=7)
LONG = GenerationRequest(prompt="slow evolving pad", length=4.0, seed=3, steps=1000)  # never ends here


class Server:
    def __init__(self) -> None:
        self.core = ReplicaCore(None, torch_threads=1, replica="test")
        self.sockets = 0  # WebSocket connections the replica accepted
        app = fastapi.FastAPI()

        @app.websocket("/render")
        async def render(websocket: WebSocket) -> None:
            self.sockets += 1
            await self.core.serve_job(websocket)

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(30)
        self.core.engine.stop()


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.close()



def test_jobs_follow_one_another_on_one_socket_bit_identical_with_progress_to_the_last_step(server):
    import torch

    with Engine(device="cpu") as local:
        local.run_sync(lambda: torch.set_num_threads(1))
        events = local.subscribe()
        seen = wait_job(events, local.submit(KICK).id)
    reference = seen[-1].result
    local_progress = [ev.progress for ev in seen if ev.kind == "progress"]

    # Keepalive generous: a loaded machine must not close the socket between jobs (that is not what
    # this test is about; tests/remote/test_remote_engine.py covers a silent connection).
    engine = RemoteEngine(server.url, ping_timeout=30.0).start()
    events = engine.subscribe(maxsize=100000)
    try:
        before = server.sockets
        runs = []
        for _ in range(2):
            seen = wait_job(events, engine.submit(KICK).id)
            assert seen[-1].kind == "done", seen[-1].message
            runs.append(seen)
        # A cancel on the reused socket stops the running job; the socket then takes the next job.
        job = engine.submit(LONG)
        while (ev := events.get(timeout=60)).kind != "progress" or ev.job_id != job.id:
            assert not ev.terminal, ev.message
        engine.cancel(job.id)
        assert wait_job(events, job.id, timeout=30)[-1].kind == "cancelled"
        last = wait_job(events, engine.submit(KICK.with_(seed=8)).id)[-1]
        assert last.kind == "done", last.message
        assert server.sockets - before == 1  # four jobs, one connection: no handshake after the first
    finally:
        engine.stop()
    for seen in runs:
        assert np.array_equal(seen[-1].result.audio, reference.audio)  # bit-identical to local
        progress = [ev.progress for ev in seen if ev.kind == "progress"]
        # Each value is a step the local engine reports too, rising, ending at the last step.
        assert progress and set(progress) <= set(local_progress), (progress, local_progress)
        assert progress[-1] == 1.0 and all(b > a for a, b in zip(progress, progress[1:], strict=False))
    assert not np.array_equal(last.result.audio, reference.audio)  # another seed: another render


def render_frames(request: GenerationRequest) -> list[bytes]:
    header, arrays = wire.request_header(request)
    return wire.encode({"type": "render", "request": header, "model": None, "priority": "batch"}, arrays)


def read_until(conn, asm: wire.Assembler, kinds: set[str]) -> list[str]:
    got = []
    while not got or got[-1] not in kinds:
        msg = asm.feed(conn.recv(timeout=60))
        if msg is not None:
            got.append(msg.type if msg.type != "error" else f"error: {msg.header.get('message')}")
            if msg.type == "error":
                return got
    return got


def test_a_late_cancel_never_reaches_the_next_job_and_a_second_request_mid_job_is_refused(server):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    ws_url = server.url.replace("http://", "ws://") + "/render"
    with connect(ws_url, max_size=wire.MAX_FRAME_BYTES, compression=None) as conn:
        asm = wire.Assembler()
        short = GenerationRequest(prompt="kick", length=0.5, seed=1)
        for frame in render_frames(short):
            conn.send(frame)
        assert read_until(conn, asm, {"done"})[-1] == "done"
        for frame in wire.encode({"type": "cancel"}):  # too late: that job has ended
            conn.send(frame)
        for frame in render_frames(short.with_(seed=2)):
            conn.send(frame)
        got = read_until(conn, asm, {"done", "cancelled"})
        assert got[0] == "accepted" and got[-1] == "done", got  # the late cancel did not stop it
        for frame in render_frames(LONG):
            conn.send(frame)
        assert read_until(conn, asm, {"accepted"}) == ["accepted"]
        for frame in render_frames(short):  # a second request while LONG runs on this socket
            conn.send(frame)
        got = read_until(conn, asm, {"cancelled"})
        assert got[-1] == "cancelled", got  # the running job stops ...
        got = read_until(conn, asm, set())
        assert got[-1].startswith("error: ") and "while a job runs" in got[-1], got  # ... and says why
        with pytest.raises(ConnectionClosed):
            conn.recv(timeout=30)
    assert server.core.engine.pending() == 0


def test_progress_goes_out_at_most_once_per_interval_and_always_reaches_the_last_step():
    job = Job(1, KICK, None, "batch", None)

    def step(p: float) -> JobEvent:
        return JobEvent("progress", job, progress=p)

    t = ProgressThrottle(start=10.0, interval_s=0.05)
    assert t.wait_s(10.0) is None  # nothing held: wait for the next event as long as it takes
    assert t.pass_on(step(0.1), 10.01) == []  # within the interval since the job started: held
    assert t.wait_s(10.02) == pytest.approx(0.03)
    assert t.pass_on(step(0.2), 10.03) == []  # replaces the held step
    assert [e.progress for e in t.pass_on(None, 10.05)] == [0.2]  # its time came with nothing newer
    assert t.wait_s(10.06) is None
    assert [e.progress for e in t.pass_on(step(0.3), 10.11)] == [0.3]  # an interval later: at once
    assert t.pass_on(step(0.9), 10.12) == [] and t.pass_on(step(1.0), 10.13) == []
    done = JobEvent("done", job, progress=1.0)
    out = t.pass_on(done, 10.13)
    assert [(e.kind, e.progress) for e in out] == [("progress", 1.0), ("done", 1.0)]  # last step first
    accepted = JobEvent("accepted", job)
    assert ProgressThrottle(start=0.0).pass_on(accepted, 0.0) == [accepted]  # never held
    assert PROGRESS_INTERVAL_S == 0.05
