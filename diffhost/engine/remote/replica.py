"""One replica of the remote engine: a local Engine behind a WebSocket, one connection per job.

A replica owns its Engine (worker thread, priority queue, bounded) and the model it serves,
loaded once when the replica starts; on a GPU node it renders on the GPU Ray gives it. Each job
is one WebSocket: the client sends the request, the replica streams accepted / progress /
done / cancelled / error back, and a "cancel" frame on the same socket (or the socket closing)
cancels the job within one step on the very replica that runs it.

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
import uuid
from typing import Any, Literal

from diffhost.engine.engine import Engine, JobEvent
from diffhost.engine.errors import QueueFullError
from diffhost.engine.loader import DEFAULT_NAMES
from diffhost.engine.remote import wire
from diffhost.engine.remote.access import token_ok

MAX_SEED_BYTES = 256 << 20  # a seed clip larger than this is refused before it is read
FIRST_MESSAGE_TIMEOUT_S = 30.0


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
        self._routes: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Queue[JobEvent]]] = {}
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

    # -- one job per WebSocket --------------------------------------------------------------
    async def serve_job(self, ws: Any) -> None:
        await ws.accept()
        if not self.authorized(ws.headers.get("authorization")):
            await _send(ws, {"type": "error", "reason": "unauthorized", "message": _UNAUTHORIZED})
            await ws.close(code=1008)
            return
        try:
            msg = await asyncio.wait_for(
                _receive(ws, wire.Assembler(MAX_SEED_BYTES)), FIRST_MESSAGE_TIMEOUT_S
            )
            if msg is None:
                return  # the client left before asking anything
            request, model, priority = self._parse(msg)
        except (ValueError, TimeoutError) as exc:
            await _send(ws, {"type": "error", "reason": "bad_request", "message": _text(exc)})
            await ws.close()
            return
        key = uuid.uuid4().hex
        events: asyncio.Queue[JobEvent] = asyncio.Queue()
        with self._lock:
            self._routes[key] = (asyncio.get_running_loop(), events)
        job = None
        listener = None
        try:
            try:
                job = self.engine.submit(request, model=model, priority=priority, tag=key)
            except QueueFullError as exc:
                await _send(ws, {"type": "error", "reason": "busy", "message": f"{exc} (on {self.where})"})
                await ws.close()
                return
            listener = asyncio.create_task(self._listen(ws, job.id))
            while True:
                ev = await events.get()
                await _send_event(ws, ev, self)
                if ev.terminal:
                    break
            await ws.close()
        finally:
            with self._lock:
                self._routes.pop(key, None)
            if job is not None:
                self.engine.cancel(job.id)  # the client left mid-job: stop spending the GPU on it
            if listener is not None:
                listener.cancel()

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

    async def _listen(self, ws: Any, job_id: int) -> None:
        """Cancel frames from the client; a closed socket cancels too."""
        asm = wire.Assembler(max_array_bytes=0)
        try:
            while True:
                msg = await _receive(ws, asm)
                if msg is None or msg.type == "cancel":
                    self.engine.cancel(job_id)
                    if msg is None:
                        return
        except asyncio.CancelledError:
            raise
        except Exception:  # a malformed frame after the request: treat as a cancel, the job ends
            self.engine.cancel(job_id)

    def _pump(self) -> None:
        """Engine worker -> the job's asyncio queue on the loop that serves its socket."""
        while True:
            try:
                ev = self._events.get(timeout=1.0)
            except queue.Empty:
                continue
            with self._lock:
                route = self._routes.get(ev.job.tag or "")
            if route is not None:
                loop, q = route
                with contextlib.suppress(RuntimeError):  # loop already closed: the socket is gone
                    loop.call_soon_threadsafe(q.put_nowait, ev)


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
