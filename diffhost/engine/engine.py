"""The render engine: one worker thread owns torch and every loaded model.

Front ends (CLI, OSC, GUI, live slots) call `submit`, which validates and
queues without waiting; the worker renders one job at a time and publishes
events to subscriber queues. Live jobs jump ahead of batch jobs.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from diffhost.engine.errors import Cancelled, QueueFullError
from diffhost.engine.fanout import Fanout
from diffhost.engine.model import Model
from diffhost.engine.request import GenerationRequest, GenerationResult, ModelInfo, Priority

EventKind = Literal["accepted", "progress", "done", "cancelled", "error"]
TERMINAL: frozenset[str] = frozenset({"done", "cancelled", "error"})
_PRIORITY = {"live": 0, "batch": 1}
_STOP = object()  # sentinel: stops the worker


@dataclass(frozen=True)
class Job:
    id: int
    request: GenerationRequest
    model: str | None
    priority: Priority
    tag: str | None = None  # free-form, for the submitter (e.g. "osc", "slot:3")


@dataclass(frozen=True)
class JobEvent:
    kind: EventKind
    job: Job
    progress: float = 0.0
    result: GenerationResult | None = None
    message: str = ""
    # Seconds until the render ends, from this machine's measured step time for the model: on
    # "accepted" when the model is already loaded (Engine.load it first) and has rendered here
    # before, and on every "progress" event (from the first step on, also for a first render).
    eta_s: float | None = None

    @property
    def job_id(self) -> int:
        return self.job.id

    @property
    def terminal(self) -> bool:
        return self.kind in TERMINAL


Loader = Callable[[str | None], Model]


class Engine:
    """Owns the worker thread. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        loader: Loader | None = None,
        *,
        max_queue: int = 16,
        max_models: int = 2,
        device: str = "auto",
        dtype: str = "auto",
    ):
        if loader is None:
            from diffhost.engine.loader import load_model

            def loader(spec: str | None) -> Model:
                return load_model(spec, device=device, dtype=dtype)

        self._loader = loader
        self._max_models = max_models
        self._models: OrderedDict[str | None, Model] = OrderedDict()  # LRU, worker thread only
        # Unbounded itself: only jobs count against max_queue (see submit), so a model load asked
        # for by run_sync or preload never takes a musician's place in the queue.
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._waiting = 0  # jobs in the queue (not the running one); guarded by _lock
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()  # guards _cancels, never held while rendering
        self._cancels: dict[int, threading.Event] = {}
        # Held across "put + announce accepted" and "take out of the queue + announce cancelled",
        # so a job's "cancelled" can never overtake its "accepted".
        self._announce = threading.Lock()
        self._infos: dict[str | None, ModelInfo] = {}  # spec -> info of every model loaded so far
        self._fanout: Fanout[JobEvent] = Fanout()
        self._thread: threading.Thread | None = None
        self.max_queue = max_queue

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> Engine:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="diffhost-engine", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Cancel everything and stop the worker after the current step.

        True once the worker has ended. False when it is still inside something that cannot be
        cut short (a model load) after `timeout`: it is a daemon thread, so it ends with the
        process, and the caller decides whether to wait longer or to exit without it.
        """
        thread = self._thread
        if thread is None:
            return True
        self.cancel(-1)
        self._queue.put((-1, -1, _STOP))
        thread.join(timeout)
        self._thread = None
        return not thread.is_alive()

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- front-end API ------------------------------------------------------------
    def subscribe(self, maxsize: int = 1024) -> queue.Queue[JobEvent]:
        """A queue that receives every event from now on. Progress is dropped, never
        terminal events, when a slow reader lets it fill."""
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
        """Queue a render. Raises QueueFullError (nothing queued) when at capacity."""
        if priority not in _PRIORITY:
            raise ValueError(f"priority: {priority!r} is not valid; choose 'live' or 'batch'")
        if not isinstance(request, GenerationRequest):
            raise ValueError("request: expected a GenerationRequest")
        job = Job(next(self._ids), request, model, priority, tag)
        with self._announce:
            with self._lock:
                if self._waiting >= self.max_queue:
                    raise QueueFullError(
                        f"render queue is full ({self.max_queue} jobs waiting); "
                        "try again when a job finishes or cancel one"
                    )
                self._waiting += 1
                self._cancels[job.id] = threading.Event()
            self._queue.put((_PRIORITY[priority], next(self._seq), job))
            self._publish(JobEvent("accepted", job, eta_s=self._estimate(job)))
        return job

    def cancel(self, job_id: int) -> int:
        """Cancel a queued or running job (-1 = all); returns how many jobs it reached (0: none).

        A queued job leaves the queue and is announced "cancelled" before this returns (its place
        is free at once); the running job stops within one denoising step.
        """
        with self._announce:
            dropped = self._take_queued(job_id)
            with self._lock:
                self._waiting -= len(dropped)
                for job in dropped:
                    self._cancels.pop(job.id, None)
                running: list[threading.Event | None] = list(self._cancels.values()) if job_id == -1 else [self._cancels.get(job_id)]
            for job in dropped:
                self._publish(JobEvent("cancelled", job, message="cancelled"))
        hit = len(dropped)
        for ev in running:
            if ev is not None:
                ev.set()
                hit += 1
        return hit

    def _take_queued(self, job_id: int) -> list[Job]:
        """Remove queued jobs (one id, or all with -1) from the queue; returns them.

        Done under the queue's own mutex (the documented attributes of queue.Queue), so the
        worker either took a job before (it is running: its cancel flag stops it) or never will.
        """
        q = self._queue
        with q.mutex:
            kept, taken = [], []
            for item in q.queue:
                job = item[2]
                if isinstance(job, Job) and (job_id == -1 or job.id == job_id):
                    taken.append(job)
                else:
                    kept.append(item)
            if taken:
                heapq.heapify(kept)
                q.queue[:] = kept
                q.unfinished_tasks -= len(taken)  # as if each had been taken and finished
        return taken

    def model_info(self, spec: str | None) -> ModelInfo | None:
        """What a model can do (lengths, rate, features) once it has been loaded; None before.

        Cheap and non-blocking, for validating values when a front end sets them.
        """
        return self._infos.get(spec)

    def pending(self) -> int:
        """Jobs queued or running."""
        with self._lock:
            return len(self._cancels)

    def run_sync(self, fn: Callable[[], object], timeout: float | None = None) -> object:
        """Run fn on the worker thread (e.g. load a model) and return its result."""
        box: dict[str, object] = {}
        done = threading.Event()
        self._queue.put((-2, next(self._seq), (fn, box, done)))
        if not done.wait(timeout):
            raise TimeoutError("engine worker did not answer in time")
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box.get("value")

    def preload(self, spec: str | None) -> None:
        """Load a model on the worker soon, without waiting (model_info then knows its limits).

        Best effort: a failing load is left to the render that needs the model to report.
        """
        self._queue.put((-2, next(self._seq), (lambda: self._model(spec), {}, threading.Event())))

    def load(self, spec: str | None) -> Model:
        """Load (or fetch from cache) a model on the worker thread."""
        return self.run_sync(lambda: self._model(spec))  # type: ignore[return-value]

    # -- worker -------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            _, _, item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, tuple):  # run_sync call
                fn, box, done = item
                try:
                    box["value"] = fn()
                except BaseException as exc:  # handed back to the caller
                    box["error"] = exc
                done.set()
                continue
            with self._lock:
                self._waiting -= 1
            self._render(item)

    def _render(self, job: Job) -> None:
        with self._lock:
            cancel = self._cancels.get(job.id)
        try:
            if cancel is None or cancel.is_set():
                raise Cancelled()
            model = self._model(job.model)
            result = model.render(
                job.request,
                on_progress=lambda p: self._publish(
                    JobEvent("progress", job, progress=p.fraction, eta_s=p.eta_s)
                ),
                cancel=cancel,
            )
            final = JobEvent("done", job, progress=1.0, result=result)
        except Cancelled:
            final = JobEvent("cancelled", job, message="cancelled")
        except Exception as exc:  # a failing job fails alone; the worker carries on
            final = JobEvent("error", job, message=_describe(exc))
        # Forget the job before announcing its end, so cancel() of a finished job says False.
        with self._lock:
            self._cancels.pop(job.id, None)
        self._publish(final)

    def _model(self, spec: str | None) -> Model:
        if spec in self._models:
            self._models.move_to_end(spec)
            return self._models[spec]
        model = self._loader(spec)
        self._models[spec] = model
        self._infos[spec] = model.info
        while len(self._models) > self._max_models:
            self._models.popitem(last=False)
        return model

    def _estimate(self, job: Job) -> float | None:
        # Read from the submitting thread: a dict lookup, and the model's estimate reads only
        # its info and the timing cache (no torch), so it cannot disturb the worker.
        model = self._models.get(job.model)
        return None if model is None else _safe_estimate(model, job.request)

    def _publish(self, event: JobEvent) -> None:
        self._fanout.publish(event, droppable=event.kind == "progress")


def _safe_estimate(model: Model, request: GenerationRequest) -> float | None:
    try:
        return model.estimate_s(request)
    except Exception:  # an estimate is a courtesy: it never fails a job
        return None


def _describe(exc: BaseException) -> str:
    msg = str(exc).strip() or type(exc).__name__
    return msg if isinstance(exc, ValueError) else f"{type(exc).__name__}: {msg}"
