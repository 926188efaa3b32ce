"""RemoteEngine: the Engine interface, rendering on a `diffhost engine-serve` elsewhere.

Same calls (start, submit, cancel, subscribe, unsubscribe, pending, load, run_sync, stop) and
the same JobEvents, so the Session, the window, OSC and the CLI use it unchanged. Each job runs
on its own WebSocket to the server (see replica.py; a finished job's socket is kept for the next
job): the server orders live before batch and answers "busy" when its queue is full; a cancel
travels on the job's socket to the replica running it. Keepalive pings every PING_INTERVAL_S: a connection that stops answering fails its jobs
within PING_INTERVAL_S + PING_TIMEOUT_S (under 2 s) and the host carries on.

A job whose replica dies mid-render (the connection drops without a close: a crash, the OOM
killer) is run once more on a live replica. Renders are deterministic, and a request without a
seed gets one here before it is first sent, so the second run's audio is bit-identical to what the
first would have given; the client sees one "accepted" and one "done".

Needs numpy and `websockets` only: no torch, no Ray.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import queue
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from diffhost.engine.engine import Job, JobEvent
from diffhost.engine.errors import ModelLoadError, QueueFullError
from diffhost.engine.fanout import Fanout
from diffhost.engine.remote import wire
from diffhost.engine.remote.access import TOKEN_ENV, read_token
from diffhost.engine.request import GenerationRequest, ModelInfo, Priority

CONNECT_TIMEOUT_S = 2.0
PING_INTERVAL_S = 0.3
PING_TIMEOUT_S = 1.0
SPARE_MAX_AGE_S = 20.0  # a connection opened ahead of a job is used within this (the replica waits 30 s)
RERUN_CONNECT_S = 15.0  # how long the one re-run may look for a live replica (Serve notices the dead one)
SEED_DRAW = 2**31  # as the local engine draws a seed for a request without one (engine.model)
_DEFAULT_NAMES = (None, "", "default", "diffhost-default")
# The websockets library logs a lost connection (a keepalive without an answer) as an error with
# its traceback, which Python prints on stderr when the app configures no logging: in a user's
# terminal. The job's own error event already says it in plain words, so the library's log stays
# here (a handler added to this logger still sees it).
_WS_LOG = logging.getLogger("diffhost.engine.remote.websockets")
_WS_LOG.addHandler(logging.NullHandler())
_WS_LOG.propagate = False


def parse_engine_url(url: str) -> tuple[str, str]:
    """http(s)://HOST:PORT[/prefix] -> (the http base, the ws base). Raises ValueError naming the URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"engine: {url!r} is not an engine URL; expected http://HOST:PORT, e.g. http://127.0.0.1:8450"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError(f"engine: {url!r} has a bad port; valid is 1..65535") from None
    base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    ws = ("wss" if parts.scheme == "https" else "ws") + base[len(parts.scheme) :]
    return base, ws


@dataclass(frozen=True)
class RemoteModel:
    """What `load` returns: the served model's info. Rendering happens through submit()."""

    info: ModelInfo


@dataclass
class _Live:
    job: Job
    cancel: threading.Event = field(default_factory=threading.Event)
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    conn: Any = None
    thread: threading.Thread | None = None
    runs: int = 0  # how many replicas accepted the job (2 after a re-run)
    progress: float = 0.0  # the highest progress announced
    used_spare: bool = False  # the last attempt went out on the connection opened ahead of time
    reusable: bool = False  # the job ended with the replica's own answer: its socket can take the next


class RemoteEngine:
    """Drop-in for Engine; `url` is the engine-serve address, e.g. http://gpu-box:8450."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        max_queue: int = 16,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        ping_interval: float = PING_INTERVAL_S,
        ping_timeout: float = PING_TIMEOUT_S,
        keep_spare: bool = True,
    ):
        """keep_spare: keep one connection open ahead of the next job (see _take_spare)."""
        self.url, self._ws_base = parse_engine_url(url)
        self.token = token if token is not None else read_token()
        self.max_queue = max_queue
        self._connect_timeout = connect_timeout
        self._ping = (ping_interval, ping_timeout)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._jobs: dict[int, _Live] = {}
        self._fanout: Fanout[JobEvent] = Fanout()
        self._closed = False
        self._info: ModelInfo | None = None  # the served model's, once load() has asked
        self._spare: tuple[Any, float] | None = None  # a connection opened ahead of the next job
        self._keep_spare = keep_spare
        self._refilling = False

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> RemoteEngine:
        self._closed = False
        return self

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Cancel every job (on its replica too) and wait for their sockets to close."""
        self._closed = True
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            with contextlib.suppress(Exception):
                spare[0].close()
        self.cancel(-1)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            threads = [live.thread for live in self._jobs.values() if live.thread is not None]
        for t in threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)

    def __enter__(self) -> RemoteEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the Engine interface ---------------------------------------------------------------
    def subscribe(self, maxsize: int = 1024) -> queue.Queue[JobEvent]:
        return self._fanout.subscribe(maxsize)

    def unsubscribe(self, q: queue.Queue[JobEvent]) -> None:
        self._fanout.unsubscribe(q)

    def submit(
        self,
        request: GenerationRequest,
        *,
        model: str | None = None,
        priority: Priority = "batch",
        tag: str | None = None,
    ) -> Job:
        """Send a render; returns at once. The server's answer (accepted, or an error with its
        reason: busy, unauthorized, unsupported ...) arrives as events. Raises QueueFullError
        when this host already has max_queue jobs out."""
        if priority not in ("live", "batch"):
            raise ValueError(f"priority: {priority!r} is not valid; choose 'live' or 'batch'")
        if not isinstance(request, GenerationRequest):
            raise ValueError("request: expected a GenerationRequest")
        if self._closed:
            raise ValueError("engine: the remote engine client is stopped")
        if request.seed is None:  # drawn here, so a re-run after a replica's death is the same render
            request = request.with_(seed=secrets.randbelow(SEED_DRAW))
        job = Job(next(self._ids), request, model, priority, tag)
        live = _Live(job)
        with self._lock:
            if len(self._jobs) >= self.max_queue:
                raise QueueFullError(
                    f"busy: {len(self._jobs)} renders are already out to the remote engine at {self.url} "
                    f"(at most {self.max_queue}); try again when one finishes or cancel one"
                )
            self._jobs[job.id] = live
        live.thread = threading.Thread(
            target=self._run, args=(live,), name=f"diffhost-remote-{job.id}", daemon=True
        )
        live.thread.start()
        return job

    def cancel(self, job_id: int) -> bool:
        """Cancel a job (-1 = all): sent on its socket, the replica stops it within one step."""
        with self._lock:
            targets: list[_Live | None] = list(self._jobs.values()) if job_id == -1 else [self._jobs.get(job_id)]
        hit = False
        for live in targets:
            if live is None:
                continue
            hit = True
            live.cancel.set()
            # Never wait here (the window calls this): while the job's thread is still sending the
            # request (a long seed clip on a slow link), it sends the cancel itself right after.
            if live.send_lock.acquire(blocking=False):
                try:
                    _send_cancel(live.conn)
                finally:
                    live.send_lock.release()
        return hit

    def pending(self) -> int:
        with self._lock:
            return len(self._jobs)

    def run_sync(self, fn: Callable[[], object], timeout: float | None = None) -> object:
        """Run fn on a helper thread of this host and return its result. There is no local torch
        worker: the window uses this for its warm-up imports and thread priority, which belong here."""
        box: dict[str, object] = {}

        def run() -> None:
            try:
                box["value"] = fn()
            except BaseException as exc:  # handed back to the caller
                box["error"] = exc

        t = threading.Thread(target=run, name="diffhost-remote-local", daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            raise TimeoutError("remote engine helper did not answer in time")
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box.get("value")

    def model_info(self, spec: str | None) -> ModelInfo | None:
        """The served model's info once `load` has asked the server for it; None before (never
        blocks: front ends call it while the user types)."""
        info = self._info
        return info if info is not None and (spec in _DEFAULT_NAMES or spec == info.name) else None

    def preload(self, spec: str | None) -> None:
        """Nothing to load here: the server loaded its one model when it started. `load` asks it
        which model that is (blocking), so front ends call that off their UI thread."""

    def load(self, spec: str | None) -> RemoteModel:
        """Ask the server which model it serves; raises ModelLoadError when that is not `spec` or the
        server cannot be reached (the reason names the URL)."""
        info = self.info()
        served = info["model"]
        name = served.get("name")
        if spec not in _DEFAULT_NAMES and spec != name and spec != info.get("model_spec"):
            raise ModelLoadError(f"model {spec!r}: the remote engine at {self.url} serves only {name}")
        fields = {k: v for k, v in served.items() if k in ModelInfo.__dataclass_fields__}
        fields["rendered_on"] = f"{self.url} ({info.get('replica', '')})"
        self._info = ModelInfo(**fields)
        return RemoteModel(self._info)

    def info(self, timeout: float | None = None) -> dict[str, Any]:
        """GET /info: the served model and the replica that answered."""
        req = urllib.request.Request(self.url + "/info", headers=self._headers())
        try:
            with urllib.request.urlopen(req, timeout=timeout or self._connect_timeout) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise ModelLoadError(_unauthorized(self.url)) from None
            raise ModelLoadError(f"remote engine at {self.url} answered HTTP {exc.code}") from None
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot reach the remote engine at {self.url}: {_reason(exc)}") from None

    # -- one job -------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _run(self, live: _Live) -> None:
        job = live.job
        final: JobEvent | None = None
        try:
            final = self._exchange(live)
        except Exception as exc:  # a bug here must still end the job, never hang it
            final = JobEvent("error", job, message=f"remote engine: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._jobs.pop(job.id, None)
            with live.send_lock:
                conn, live.conn = live.conn, None
            # Parked before "done" is published, so a caller that renders again on "done" finds it.
            if not (conn is not None and live.reusable and self._park(conn)):
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                self._refill_spare()
            self._publish(
                final or JobEvent("error", job, message="remote engine: the job ended without an answer")
            )

    def _exchange(self, live: _Live) -> JobEvent:
        """The job on one replica; when that replica dies mid-render, once more on a live one."""
        final, dropped = self._attempt(live, announce=True, use_spare=True)
        if live.used_spare and live.runs == 0 and final.kind == "error" and not live.cancel.is_set():
            # The connection opened ahead of time had gone stale (a network that went silent
            # meanwhile, a replica gone): nothing ran yet, so the job goes out on a fresh one.
            final, dropped = self._attempt(live, announce=True, use_spare=False)
        if not dropped or live.cancel.is_set():
            return final
        deadline = time.monotonic() + RERUN_CONNECT_S
        while True:  # one re-run; Serve may still route a connection or two to the dead replica
            again, lost = self._attempt(live, announce=False, first_error=final.message)
            if not lost or live.runs > 1 or live.cancel.is_set() or time.monotonic() > deadline:
                return again if not lost or live.runs > 1 else final
            time.sleep(0.2)

    def _attempt(
        self, live: _Live, *, announce: bool, use_spare: bool = False, first_error: str = ""
    ) -> tuple[JobEvent, bool]:
        """One connection: (the job's final event, whether the replica was lost before an answer)."""
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

        job = live.job
        live.reusable = False
        if live.cancel.is_set():
            return JobEvent("cancelled", job, message="cancelled"), False
        try:
            # A first run takes the connection opened ahead of time when there is one (its
            # handshake through Serve's proxy is then off the job's path); a re-run never does,
            # since that one may lead to the replica that just died.
            spare = self._take_spare() if use_spare else None
            live.used_spare = spare is not None
            conn = spare or self._connect()
        except InvalidStatus as exc:
            status = exc.response.status_code
            return JobEvent("error", job, message=_status_reason(self.url, status)), not announce and status >= 500
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            why = f"cannot reach the remote engine at {self.url}: {_reason(exc)}"
            return JobEvent("error", job, message=why), not announce
        header, arrays = wire.request_header(job.request)
        with live.send_lock:
            old, live.conn = live.conn, conn
            if old is not None:  # the dead replica's connection
                with contextlib.suppress(Exception):
                    old.close()
            if live.cancel.is_set():
                return JobEvent("cancelled", job, message="cancelled"), False
            msg = {"type": "render", "request": header, "model": job.model, "priority": job.priority}
            # A server that refuses at once (no token) closes before the request is sent: its
            # reason is already received, and the loop below reads it.
            with contextlib.suppress(ConnectionClosed):
                for frame in wire.encode(msg, arrays):
                    conn.send(frame)
            if live.cancel.is_set():  # cancelled while the request was on its way
                _send_cancel(conn)
        asm = wire.Assembler()
        where = ""
        try:
            while True:
                answer = asm.feed(conn.recv())
                if answer is None:
                    continue
                kind = answer.type
                if kind == "accepted":
                    where = str(answer.header.get("replica", ""))
                    live.runs += 1
                    if announce:
                        self._publish(JobEvent("accepted", job, message=f"remote: {where}"))
                elif kind == "progress":
                    p = float(answer.header.get("progress", 0.0))
                    if p > live.progress:  # monotonic, across a re-run too (it starts again from 0)
                        live.progress = p
                        self._publish(JobEvent("progress", job, progress=p))
                elif kind == "done":
                    where = str(answer.header.get("replica", where))
                    rendered_on = f"{self.url} ({where})" if where else self.url
                    if first_error:
                        rendered_on += f"; re-run after {first_error}"
                    result = wire.result_from(
                        answer.header["result"], answer.arrays, job.request, rendered_on
                    )
                    live.reusable = True
                    return JobEvent("done", job, progress=1.0, result=result), False
                elif kind == "cancelled":
                    live.reusable = True
                    return JobEvent("cancelled", job, message="cancelled"), False
                elif kind == "error":
                    reason = str(answer.header.get("reason", "failed"))
                    text = str(answer.header.get("message", "")) or reason
                    prefix = "" if text.startswith(reason) or reason == "failed" else f"{reason}: "
                    return JobEvent("error", job, message=prefix + text), False
        except ConnectionClosed as exc:
            if live.cancel.is_set():
                return JobEvent("cancelled", job, message="cancelled"), False
            return JobEvent("error", job, message=_lost(self.url, where, exc)), _crashed(exc)
        except wire.WireError as exc:
            why = f"remote engine at {self.url} sent a bad message: {exc}"
            return JobEvent("error", job, message=why), False

    def _connect(self) -> Any:
        from websockets.sync.client import connect

        conn = connect(
            self._ws_base + "/render",
            additional_headers=self._headers(),
            open_timeout=self._connect_timeout,
            ping_interval=self._ping[0],
            ping_timeout=self._ping[1],
            close_timeout=0.1,  # a peer that went silent will not answer a close either
            max_size=wire.MAX_FRAME_BYTES,  # per frame; the Assembler bounds the whole message
            compression=None,  # float32 audio does not compress; deflate would only cost CPU
            logger=_WS_LOG,
        )
        conn.__enter__()  # websockets >= 17 wants it entered; _run closes or parks it
        return conn

    # One connection is kept open ahead of the next job, once a first job has been sent: opening a
    # WebSocket through Serve's proxy (and Serve routing it to a replica) is the largest fixed cost
    # of a remote render, in time and in CPU that the render itself needs. A job that ended with
    # the replica's answer leaves its socket here for the next one (the replica takes the next
    # request on it); after one that did not, a fresh connection is opened in the background, off
    # any render's path. A replica waits FIRST_MESSAGE_TIMEOUT_S (30 s) for a request on an idle
    # socket, so a spare idle longer than SPARE_MAX_AGE_S is closed rather than used.
    def _take_spare(self) -> Any:
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is None:
            return None
        conn, born = spare
        if time.monotonic() - born < SPARE_MAX_AGE_S and _is_open(conn):
            return conn
        with contextlib.suppress(Exception):
            conn.close()
        return None

    def _park(self, conn: Any) -> bool:
        """Keep a finished job's socket as the spare; False when it is not wanted (the caller closes it)."""
        with self._lock:
            if not self._keep_spare or self._closed or self._spare is not None or not _is_open(conn):
                return False
            self._spare = (conn, time.monotonic())
            return True

    def _refill_spare(self) -> None:
        with self._lock:
            if not self._keep_spare or self._closed or self._spare is not None or self._refilling:
                return
            self._refilling = True

        def run() -> None:
            conn = None
            try:
                conn = self._connect()
            except Exception:  # no spare this time: the next job connects itself
                conn = None
            with self._lock:
                self._refilling = False
                if conn is not None and not self._closed and self._spare is None:
                    self._spare, conn = (conn, time.monotonic()), None
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()

        threading.Thread(target=run, name="diffhost-remote-spare", daemon=True).start()

    def _publish(self, event: JobEvent) -> None:
        self._fanout.publish(event, droppable=event.kind == "progress")


def _is_open(conn: Any) -> bool:
    from websockets.protocol import State

    return getattr(conn, "state", None) is State.OPEN


def _send_cancel(conn: Any) -> None:
    if conn is not None:
        with contextlib.suppress(Exception):  # already closed: the job is ending anyway
            for frame in wire.encode({"type": "cancel"}):
                conn.send(frame)


def _unauthorized(url: str) -> str:
    return (
        f"unauthorized: the remote engine at {url} needs its token; set {TOKEN_ENV} "
        "to the token engine-serve was started with"
    )


def _status_reason(url: str, status: int) -> str:
    if status == 503:
        return (
            f"busy: the remote engine at {url} has no free place in its queue (HTTP 503); try again shortly"
        )
    if status in (401, 403):
        return _unauthorized(url)
    if status == 404:
        return f"remote engine at {url}: no diffhost engine there (HTTP 404); is it `diffhost engine-serve`?"
    return f"remote engine at {url} refused the job (HTTP {status})"


def _crashed(exc: Exception) -> bool:
    """The connection dropped the way a dying replica drops it (no close, or a server error),
    not by a silent network (keepalive) or an orderly close."""
    frame = getattr(exc, "rcvd", None) or getattr(exc, "sent", None)
    code = getattr(frame, "code", None)
    why = getattr(frame, "reason", "") or ""
    return code in (None, 1006, 1011, 1012) and "keepalive" not in why


def _lost(url: str, where: str, exc: Exception) -> str:
    frame = getattr(exc, "rcvd", None) or getattr(exc, "sent", None)
    code = getattr(frame, "code", None)
    why = getattr(frame, "reason", "") or ""
    on = f" on {where}" if where else ""
    if "keepalive" in why:
        return (
            f"lost the connection to the remote engine at {url}: no answer to pings for {PING_TIMEOUT_S:g} s"
        )
    if code in (None, 1006, 1011, 1012):
        return (
            f"the remote engine at {url} dropped the job mid-render{on} (the replica crashed or the "
            f"server stopped; code {code or 'none'}{': ' + why if why else ''})"
        )
    return (
        f"the remote engine at {url} closed the job's connection{on} (code {code}{': ' + why if why else ''})"
    )


def _reason(exc: BaseException) -> str:
    inner = getattr(exc, "reason", None)
    if isinstance(inner, BaseException):
        exc = inner
    text = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
    return text if not isinstance(exc, TimeoutError) else f"no answer within {CONNECT_TIMEOUT_S:g} s"
