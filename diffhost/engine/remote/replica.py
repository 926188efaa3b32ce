"""One replica of the remote engine: a local Engine behind a WebSocket, one job at a time per
connection.

A replica owns its Engine (worker thread, priority queue, bounded) and the model it serves,
loaded once when the replica starts; on a GPU node it renders on the GPU Ray gives it. On a
WebSocket the client sends a request, the replica streams accepted / progress (at most 20 a
second) / done / cancelled / error back, and a "cancel" frame on the same socket (or the socket
closing) cancels the job within one step on the very replica that runs it. Once a job has ended,
the client may send its next request on the same socket.

Ray-free (Starlette's WebSocket interface only), so the Serve deployment in `serve_app` stays a
thin shell around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from diffhost.engine.engine import Engine, JobEvent
from diffhost.engine.errors import QueueFullError
from diffhost.engine.loader import DEFAULT_NAMES
from diffhost.engine.remote import wire
from diffhost.engine.remote.access import token_ok

MAX_SEED_BYTES = 256 << 20  # a seed clip larger than this is refused before it is read
FIRST_MESSAGE_TIMEOUT_S = 30.0
PROGRESS_INTERVAL_S = 0.05  # at most 20 progress messages a second per job (see ProgressThrottle)


class ReplicaCore:
    def __init__(
        self,
        model: str | None,
        *,
        token: str | None = None,
        max_queue: int = 16,
        device: str = "auto",
        replica: str = "",
        torch_threads: int | None = None,
    ):
        self.model_spec = None if model in DEFAULT_NAMES else model
        self.token = token
        self.engine = Engine(device=device, max_queue=max_queue).start()
        if torch_threads:
            # CPU float32 results depend on torch's thread count (reductions split differently), so
            # a replica renders bit-identically to a local engine with the same count; see docs/remote.md.
            self.engine.run_sync(lambda: _set_threads(torch_threads), timeout=60)
        self.model = self.engine.load(self.model_spec)  # once, now: a bad spec fails the deployment
        info = self.model.info
        self.where = f"replica {replica or '?'} on {socket.gethostname()} pid {os.getpid()} ({info.device})"
        self._routes: dict[str, _Route] = {}
        self._lock = threading.Lock()
        self._events = self.engine.subscribe(maxsize=4096)
        threading.Thread(target=self._pump, name="diffhost-replica-events", daemon=True).start()

    # -- plain HTTP -------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        return {
            "model": self.model.info.to_dict(),
            "model_spec": self.model_spec,
            "replica": self.where,
            "max_queue": self.engine.max_queue,
            "pending": self.engine.pending(),
            "wire": wire.VERSION,
        }

    def alive(self) -> bool:
        thread = self.engine._thread  # Serve's health check restarts a replica whose worker died
        return thread is not None and thread.is_alive()

    def authorized(self, authorization: str | None) -> bool:
        return token_ok(self.token, authorization)

    # -- jobs on a WebSocket, one after another ------------------------------------------------
    async def serve_job(self, ws: Any) -> None:
        """One connection: the client sends a render, gets its events, and may send the next
        render on the same socket once the last one ended (so a host that renders again soon pays
        for no new handshake, no new routing through Serve). Idle longer than
        FIRST_MESSAGE_TIMEOUT_S, the socket is closed."""
        await ws.accept()
        if not self.authorized(ws.headers.get("authorization")):
            await _send(ws, {"type": "error", "reason": "unauthorized", "message": _UNAUTHORIZED})
            await ws.close(code=1008)
            return
        inbox: asyncio.Queue[wire.Message | Exception | None] = asyncio.Queue()
        state = _Conn()
        reader = asyncio.create_task(self._read(ws, inbox, state))
        try:
            first = True
            while True:
                try:
                    msg = await asyncio.wait_for(inbox.get(), FIRST_MESSAGE_TIMEOUT_S)
                except TimeoutError as exc:
                    if first:  # a client that connected and never asked: say why it is closed
                        await _send(ws, {"type": "error", "reason": "bad_request", "message": _text(exc)})
                    await ws.close()
                    return
                if msg is None:
                    return  # the client left
                try:
                    if isinstance(msg, Exception):
                        raise msg
                    request, model, priority = self._parse(msg)
                except ValueError as exc:
                    await _send(ws, {"type": "error", "reason": "bad_request", "message": _text(exc)})
                    await ws.close()
                    return
                first = False
                if not await self._run_job(ws, request, model, priority, state):
                    return
        finally:
            reader.cancel()

    async def _run_job(
        self, ws: Any, request: Any, model: str | None, priority: Literal["live", "batch"], state: _Conn
    ) -> bool:
        """One job on the connection; True when the connection may take the next one."""
        key = uuid.uuid4().hex
        events: asyncio.Queue[JobEvent] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        with self._lock:
            self._routes[key] = _Route(loop, events, ProgressThrottle(start=time.monotonic()))
        job = None
        try:
            try:
                job = self.engine.submit(request, model=model, priority=priority, tag=key)
            except QueueFullError as exc:
                await _send(ws, {"type": "error", "reason": "busy", "message": f"{exc} (on {self.where})"})
                await ws.close()
                return False
            state.job = job.id
            if state.cancelled:  # a cancel came while the request was being checked
                self.engine.cancel(job.id)
            while True:
                ev = await events.get()  # progress already thinned out by the pump
                await _send_event(ws, ev, self)
                if ev.terminal:
                    return True
        finally:
            with self._lock:
                self._routes.pop(key, None)
            if job is not None:
                self.engine.cancel(job.id)  # the client left mid-job: stop spending the GPU on it
            state.job, state.cancelled, state.busy = None, False, False

    async def _read(self, ws: Any, inbox: asyncio.Queue[Any], state: _Conn) -> None:
        """Everything the client sends: renders go to the inbox, a cancel stops the running job, a
        closed socket cancels it too. A cancel that arrives after its job ended finds none and does
        nothing (the socket keeps the client's order, so it can never reach the next job)."""
        asm = wire.Assembler(MAX_SEED_BYTES)
        try:
            while True:
                msg = await _receive(ws, asm)
                if msg is None or msg.type == "cancel":
                    state.cancelled = state.busy
                    if state.job is not None:
                        self.engine.cancel(state.job)
                    if msg is None:
                        inbox.put_nowait(None)
                        return
                    continue
                if state.busy:  # one job at a time per socket: a client opens another for more
                    raise wire.WireError(f"a {msg.type!r} message arrived while a job runs on this socket")
                state.busy = True
                inbox.put_nowait(msg)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # malformed: the running job (if any) is cancelled, then the socket closed
            if state.job is not None:
                self.engine.cancel(state.job)
            state.busy = True
            inbox.put_nowait(exc)

    def _parse(self, msg: wire.Message) -> tuple[Any, str | None, Literal["live", "batch"]]:
        if msg.type != "render":
            raise ValueError(f"expected a 'render' message first, got {msg.type!r}")
        request = wire.request_from(msg.header.get("request"), msg.arrays)
        priority = msg.header.get("priority", "batch")
        if priority not in ("live", "batch"):
            raise ValueError(f"priority: {priority!r} is not valid; choose 'live' or 'batch'")
        model = msg.header.get("model")
        if model not in DEFAULT_NAMES and model != self.model_spec:
            # A client never makes a replica load or download something else: it serves one model.
            raise ValueError(
                f"model {model!r}: this remote engine serves only {self.model_spec or 'the default model'} "
                "(start engine-serve with --model to serve another)"
            )
        return request, self.model_spec, "live" if priority == "live" else "batch"

    def _pump(self) -> None:
        """Engine worker -> the job's asyncio queue on the loop that serves its socket. Progress is
        thinned out here (ProgressThrottle), before it wakes the socket's loop at all: the engine
        reports every step, and each wake-up takes the interpreter from the render for a moment."""
        while True:
            now = time.monotonic()
            with self._lock:
                waits = [w for r in self._routes.values() if (w := r.throttle.wait_s(now)) is not None]
            try:
                ev = self._events.get(timeout=min(waits, default=1.0))
            except queue.Empty:
                ev = None
            now = time.monotonic()
            sends: list[tuple[_Route, list[JobEvent]]] = []
            with self._lock:
                if ev is not None and (route := self._routes.get(ev.job.tag or "")) is not None:
                    sends.append((route, route.throttle.pass_on(ev, now)))
                for route in self._routes.values():  # held-back steps whose time has come
                    if route.throttle.wait_s(now) == 0.0:
                        sends.append((route, route.throttle.pass_on(None, now)))
            for route, out in sends:
                if out:
                    with contextlib.suppress(RuntimeError):  # loop already closed: the socket is gone
                        route.loop.call_soon_threadsafe(_put_all, route.events, out)


@dataclass
class _Route:
    """Where a job's events go: its socket's loop and queue, and its progress throttle (the pump's)."""

    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue[JobEvent]
    throttle: ProgressThrottle


def _put_all(q: asyncio.Queue[JobEvent], events: list[JobEvent]) -> None:
    for ev in events:
        q.put_nowait(ev)


@dataclass
class _Conn:
    """What the socket's reader and its job loop share (both on the same event loop)."""

    job: int | None = None  # the engine's id of the job running on this socket
    busy: bool = False  # a render was received and has not ended yet
    cancelled: bool = False  # a cancel came for it before the engine knew the job


class ProgressThrottle:
    """Which of a job's events go out, and when: every event but "progress" at once; progress at
    most once per PROGRESS_INTERVAL_S (counted from the job's start), and a step held back goes
    out when its time comes or just before the job's last event, so a client still sees progress
    rise to the last step. A window redraws at most ~20 times a second, while a fast model runs a step
    every few milliseconds: each message crosses Serve's proxy and costs CPU the render needs
    (measured with bench/remote_profile.py), and the client keeps only the latest value anyway."""

    def __init__(self, start: float, interval_s: float = PROGRESS_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._held: JobEvent | None = None
        self._last = start  # when progress last went out; the job's start counts as such

    def wait_s(self, now: float) -> float | None:
        """How long to wait for the next event before the held-back step is due (None: no limit)."""
        return None if self._held is None else max(0.0, self._last + self.interval_s - now)

    def pass_on(self, ev: JobEvent | None, now: float) -> list[JobEvent]:
        """The events to send now, given the next one (None: the wait ran out)."""
        out: list[JobEvent] = []
        if ev is not None and ev.kind == "progress":
            if now - self._last < self.interval_s:
                self._held = ev  # replaces an older held step: only the latest matters
                return out
            self._held = None
            self._last = now
            return [ev]
        if self._held is not None:  # its time came, or the job ends: the last step goes out first
            out.append(self._held)
            self._held = None
            self._last = now
        if ev is not None:
            out.append(ev)
        return out


_UNAUTHORIZED = (
    "unauthorized: this engine needs its token; set DIFFHOST_ENGINE_TOKEN on the client to the server's token"
)


async def _receive(ws: Any, asm: wire.Assembler) -> wire.Message | None:
    while True:
        frame = await ws.receive()
        if frame.get("type") == "websocket.disconnect":
            return None
        data = frame.get("bytes")
        if data is None:
            raise wire.WireError("expected binary frames, got a text frame")
        msg = asm.feed(data)
        if msg is not None:
            return msg


async def _send(ws: Any, header: dict[str, Any], arrays: dict | None = None) -> None:
    for frame in wire.encode(header, arrays):
        await ws.send_bytes(frame)


async def _send_event(ws: Any, ev: JobEvent, core: ReplicaCore) -> None:
    if ev.kind == "accepted":
        await _send(ws, {"type": "accepted", "replica": core.where, "pending": core.engine.pending()})
    elif ev.kind == "progress":
        await _send(ws, {"type": "progress", "progress": ev.progress})
    elif ev.kind == "done" and ev.result is not None:
        header, arrays = wire.result_header(ev.result)
        await _send(ws, {"type": "done", "result": header, "replica": core.where}, arrays)
    elif ev.kind == "cancelled":
        await _send(ws, {"type": "cancelled", "message": ev.message})
    else:
        await _send(ws, {"type": "error", "reason": "failed", "message": ev.message})


def _set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


def _text(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no request within {FIRST_MESSAGE_TIMEOUT_S:g} s"
    return str(exc).strip() or type(exc).__name__
