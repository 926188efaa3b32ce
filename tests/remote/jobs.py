"""Waiting on a remote job's events, for the remote engine's tests."""

from __future__ import annotations

import queue
import time


def wait_job(events: queue.Queue, job_id: int, timeout: float = 120.0) -> list:
    """Every event of one job up to and including its terminal one."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        ev = events.get(timeout=max(0.1, deadline - time.monotonic()))
        if ev.job_id == job_id:
            seen.append(ev)
            if ev.terminal:
                return seen
