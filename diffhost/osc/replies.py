"""Session events -> OSC messages for subscribers (and for the client that asked for a job).

A thread drains the session's event queue. Job events go to every subscriber
and to the client that asked (the reply route travels with the job's plan
into every event, so there is no race in learning who asked); the origin's "accepted" is sent by the render handler
itself, and a shared lock keeps it ahead of everything else about the job. Progress is coalesced: at most
one message per denoising step, and only the newest when the network falls
behind.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from diffhost.osc import messages as out
from diffhost.osc.dispatcher import Address, Reply
from diffhost.osc.subscribers import Subscribers

if TYPE_CHECKING:
    from diffhost.host.session import Session

log = logging.getLogger(__name__)
JOB_EVENTS = frozenset({"accepted", "progress", "done", "cancelled", "error"})
BATCH = 256
_WAKE = object()  # put into our own queue by stop() so the thread ends at once


def _token(event: Any) -> list[int]:
    """The client's token as the last argument of a job's messages; nothing when it gave none."""
    route = event.reply_to
    return [route.token] if route is not None and route.token else []


def _origin(event: Any) -> Address | None:
    """Where the client that asked for a job listens (None: no OSC client asked)."""
    route = event.reply_to
    return (route.host, route.port) if route is not None else None


def translate(event: Any) -> bytes | None:
    """One SessionEvent as an OSC message (None for events OSC does not carry).

    Job events end with the client's token (an int) when the render carried one; it is the only
    int after the strings of "done", so extra variation paths and the token cannot be confused.
    """
    kind = event.kind
    token = _token(event) if kind in JOB_EVENTS else []
    if kind == "accepted":
        return out.encode(out.JOB_ACCEPTED, event.job_id, *token)
    if kind == "progress":
        return out.encode(out.JOB_PROGRESS, event.job_id, float(event.progress), *token)
    if kind == "done":
        paths = [str(p) for p in event.paths]
        if not paths:
            return out.encode(out.JOB_ERROR, event.job_id, "render finished but no file was written", *token)
        # Variations beyond the first follow as extra paths, so v1 readers of 4 args still work.
        return out.encode(
            out.JOB_DONE,
            event.job_id,
            paths[0],
            float(event.length_s),
            int(event.sample_rate),
            *paths[1:],
            *token,
        )
    if kind == "cancelled":
        return out.encode(out.JOB_CANCELLED, event.job_id, *token)
    if kind == "error":
        return out.encode(out.JOB_ERROR, event.job_id, event.message or "render failed", *token)
    if kind == "param":
        return out.encode(out.PARAM, event.name, out.param_value(event.name, event.value))
    if kind == "seed":
        note = [event.message] if event.message else []  # how a long clip was trimmed
        return out.encode(out.SEED, float(event.value or 0.0), *note)
    if kind == "slot" and event.name.isdigit():
        return out.encode(out.slot_state_address(int(event.name)), str(event.value))
    if kind == "message" and event.name == "audio":  # the audio device went away, in plain words
        return out.encode(f"{out.PREFIX}/audio", str(event.value))
    if kind == "message" and event.name == "preset":
        return out.encode(out.PRESET_LOADED, str(event.value))
    if kind == "message" and event.name == "plugin":  # a Bridge plugin instance came, went, loaded a pad
        return out.encode(f"{out.PREFIX}/plugin/event", str(event.value or ""), event.message)
    return None


def music_messages(event: Any) -> list[bytes]:
    """Before a "done": `/diffhost/job/music i:job f:bpm s:key f:bars i:loop [i:token]`, the tempo,
    key and length in bars the render has (the model's choice, or the settings'), for models that
    report them."""
    if event.kind != "done" or event.result is None:
        return []
    music = (getattr(event.result, "extra", None) or {}).get("music") or []
    if not music or not music[0].get("bpm"):
        return []
    m = music[0]
    token = _token(event)
    return [
        out.encode(
            out.JOB_MUSIC,
            event.job_id,
            float(m["bpm"]),
            str(m.get("key") or ""),
            float(m.get("bars") or 0.0),
            1 if m.get("loop") else 0,
            *token,
        )
    ]


def coalesce(batch: list[Any]) -> list[Any]:
    """Drop progress events that a later progress event of the same job supersedes."""
    latest: dict[int, int] = {}
    for i, ev in enumerate(batch):
        if ev.kind == "progress":
            latest[ev.job_id] = i
    return [ev for i, ev in enumerate(batch) if ev.kind != "progress" or latest[ev.job_id] == i]


class EventForwarder:
    def __init__(
        self,
        session: Session,
        subscribers: Subscribers,
        send: Callable[[Address, bytes], None],
        order: threading.Lock | None = None,
    ):
        self._order = order or threading.Lock()
        self._session = session
        self._subscribers = subscribers
        self._send = send
        self._queue: queue.Queue = session.subscribe(maxsize=4096)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._slot_last: dict[str, str] = {}  # slot number -> the state last forwarded

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="diffhost-osc-replies", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_WAKE)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._session.unsubscribe(self._queue)

    def replies_for(self, event: Any) -> list[Reply]:
        if event.kind == "slot":
            # One message per change: a load is announced by the session and by the mixer once it
            # swapped the clip in; the same state twice in a row says nothing new.
            if self._slot_last.get(event.name) == str(event.value):
                return []
            self._slot_last[event.name] = str(event.value)
        dests = list(self._subscribers.snapshot())
        if event.kind in JOB_EVENTS and event.kind != "accepted":  # the handler answered "accepted"
            origin = _origin(event)
            if origin is not None and origin not in dests:
                dests.append(origin)
        if not dests:
            return []
        message = translate(event)
        messages = [*music_messages(event), message] if message is not None else []
        return [(d, m) for m in messages for d in dests]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                batch = [self._queue.get(timeout=0.5)]
            except queue.Empty:
                continue
            if self._stop.is_set():
                return
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            for event in coalesce([e for e in batch if e is not _WAKE]):
                try:
                    with self._order:
                        for dest, message in self.replies_for(event):
                            self._send(dest, message)
                except Exception:  # one bad event must not silence every later one
                    log.exception("could not forward session event %r", event)
