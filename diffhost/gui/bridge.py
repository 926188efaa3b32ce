"""Session events into Qt signals: a QTimer drains the session's queue on the GUI thread.

The engine and finisher threads only ever put SessionEvents on a bounded
queue (friture-style); this is the single place they become Qt signals.
"""

from __future__ import annotations

import queue
from typing import TYPE_CHECKING

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

if TYPE_CHECKING:
    from diffhost.host.session import Session


class EventBridge(QObject):
    received = pyqtSignal(object)  # every SessionEvent
    progress = pyqtSignal(int, float, float)  # job id, 0..1, seconds left (-1: unknown); latest per tick

    def __init__(self, session: Session, parent: QObject | None = None, interval_ms: int = 15):
        super().__init__(parent)
        self._session = session
        self._queue = session.subscribe()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.drain)
        self._timer.start()

    def drain(self, limit: int = 200) -> int:
        """Deliver queued events; progress is coalesced to the latest value per job."""
        latest: dict[int, tuple[float, float]] = {}
        n = 0
        while n < limit:
            try:
                ev = self._queue.get_nowait()
            except queue.Empty:
                break
            n += 1
            if ev.kind == "progress":
                latest[ev.job_id] = (ev.progress, -1.0 if ev.eta_s is None else float(ev.eta_s))
                continue
            if ev.job_id in latest:  # keep order: flush progress before this job's next event
                self.progress.emit(ev.job_id, *latest.pop(ev.job_id))
            self.received.emit(ev)
        for job_id, (p, eta) in latest.items():
            self.progress.emit(job_id, p, eta)
        return n

    def close(self) -> None:
        self._timer.stop()
        self._session.unsubscribe(self._queue)
