"""The engine interface every front end and the session render through.

Two engines satisfy it: `Engine` (this machine: a worker thread that owns torch) and
`RemoteEngine` (another machine's `diffhost engine-serve`, over a websocket). The session, the
runtime and the window take a `RenderEngine`, so either can be plugged in; the type checker
(mypy, run by scripts/test.sh) checks both classes against it (tests/engine/test_engine_interface.py
checks it at run time too).
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from diffhost.engine.request import GenerationRequest, ModelInfo, Priority

if TYPE_CHECKING:
    from diffhost.engine.engine import Job, JobEvent


@runtime_checkable
class LoadedModel(Protocol):
    """What `load` returns: something that knows what the model is and can do."""

    @property
    def info(self) -> ModelInfo: ...


@runtime_checkable
class RenderEngine(Protocol):
    """Queue renders, hear their events, cancel them, and learn what a model can do."""

    max_queue: int

    def start(self) -> RenderEngine: ...

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Cancel everything and stop; True once nothing of the engine is running any more."""
        ...

    def subscribe(self, maxsize: int = 1024) -> queue.Queue[JobEvent]:
        """A queue that receives every job event from now on (terminal events are never dropped)."""
        ...

    def unsubscribe(self, q: queue.Queue[JobEvent]) -> None: ...

    def submit(
        self,
        request: GenerationRequest,
        *,
        model: str | None = None,
        priority: Priority = "batch",
        tag: str | None = None,
    ) -> Job:
        """Queue a render; raises QueueFullError (nothing queued) when at capacity."""
        ...

    def cancel(self, job_id: int) -> int:
        """Cancel a job (-1: all); how many were cancelled (a bool counts as 0 or 1)."""
        ...

    def pending(self) -> int:
        """Jobs queued or running."""
        ...

    def run_sync(self, fn: Callable[[], object], timeout: float | None = None) -> object:
        """Run fn where the engine runs its work, and return its result."""
        ...

    def model_info(self, spec: str | None) -> ModelInfo | None:
        """What a model can do once it is loaded; None before. Never blocks."""
        ...

    def preload(self, spec: str | None) -> None:
        """Start loading a model without waiting (best effort: a failing load is left to the
        render that needs the model to report)."""
        ...

    def load(self, spec: str | None) -> LoadedModel:
        """Load a model (or find it loaded) and return it; blocks."""
        ...
