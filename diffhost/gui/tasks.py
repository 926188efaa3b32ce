"""Run blocking work (disk, recording, opening devices) off the GUI thread.

The worker never touches widgets: it hands (callback, result, error) back
through a queued Qt signal, so callbacks run on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal


class Tasks(QObject):
    _finished = pyqtSignal(object, object, object)  # callback, value, error

    def __init__(self, parent: QObject | None = None, workers: int = 2):
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="diffhost-gui-task")
        self._finished.connect(self._deliver)
        self._pending = 0
        self._closed = False

    @property
    def pending(self) -> int:
        return self._pending

    def run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> Future | None:
        """Run fn on a worker; then on_done(value) or on_error(exc) on the GUI thread.

        After shutdown (the window is closing) new work is dropped: nothing would show it.
        """
        if self._closed:
            return None
        self._pending += 1

        def work() -> None:
            try:
                value = fn()
            except BaseException as exc:  # handed to on_error on the GUI thread
                self._finished.emit((on_done, on_error), None, exc)
            else:
                self._finished.emit((on_done, on_error), value, None)

        return self._pool.submit(work)

    def _deliver(self, callbacks: tuple, value: Any, error: BaseException | None) -> None:
        self._pending -= 1
        if self._closed:  # the window is closing or gone: its widgets must not be touched
            return
        on_done, on_error = callbacks
        if error is not None:
            if on_error is None:
                raise error  # reaches the app's excepthook: a message, not a crash
            on_error(error)
        elif on_done is not None:
            on_done(value)

    def shutdown(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
