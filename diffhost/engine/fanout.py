"""Fan-out of events to subscriber queues, shared by the Engine and the Session (no torch).

Each subscriber gets its own bounded queue. A slow reader never blocks the publisher:
progress-like events are dropped when its queue is full (they are latest-value signals),
and any other event makes room by dropping the oldest queued item.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class Fanout(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[queue.Queue[T]] = []

    def subscribe(self, maxsize: int = 1024) -> queue.Queue[T]:
        q: queue.Queue[T] = queue.Queue(maxsize=maxsize)
        with self._lock:
            self._subscribers.append(q)
        return q

    def unsubscribe(self, q: queue.Queue[T]) -> None:
        with self._lock:
            if q in self._subscribers:
                self._subscribers.remove(q)

    def publish(self, event: T, *, droppable: bool) -> None:
        with self._lock:
            subs = list(self._subscribers)
        for q in subs:
            try:
                q.put_nowait(event)
            except queue.Full:
                if droppable:
                    continue
                with contextlib.suppress(queue.Empty):
                    q.get_nowait()
                with contextlib.suppress(queue.Full):
                    q.put_nowait(event)
