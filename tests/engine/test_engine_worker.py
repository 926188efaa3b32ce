"""The Engine worker with a real tiny pipeline: queueing, priorities, cancel, failures, progress, cache."""

from __future__ import annotations

import queue
import time

import pytest

from diffhost.engine import Engine, GenerationRequest, QueueFullError

FAMILY = "StableAudio3Pipeline"  # the quickest tiny family
TIMEOUT = 60.0


def events_until_terminal(q: queue.Queue, job_id: int) -> list:
    out = []
    deadline = time.monotonic() + TIMEOUT
    while True:
        ev = q.get(timeout=max(0.1, deadline - time.monotonic()))
        if ev.job_id != job_id:
            continue
        out.append(ev)
        if ev.terminal:
            return out


@pytest.fixture
def spec(tiny_dir) -> str:
    return str(tiny_dir(FAMILY))


def request(**kw) -> GenerationRequest:
    base = {"prompt": "tight snare", "length": 0.25, "steps": 3, "seed": 1, "sample_rate": 22050}
    return GenerationRequest(**(base | kw))


def test_render_progress_is_monotonic_and_ends_at_one(spec):
    with Engine(device="cpu") as engine:
        q = engine.subscribe()
        job = engine.submit(request(steps=5, variations=2), model=spec)
        evs = events_until_terminal(q, job.id)
    kinds = [e.kind for e in evs]
    assert kinds[0] == "accepted" and kinds[-1] == "done"
    progress = [e.progress for e in evs if e.kind == "progress"]
    assert progress == sorted(progress)
    assert len(progress) == 10 and progress[-1] == 1.0
    assert evs[-1].result.audio.shape == (2, 2, int(0.25 * 22050))


def test_cancel_stops_within_one_step(spec):
    with Engine(device="cpu") as engine:
        q = engine.subscribe()
        job = engine.submit(request(steps=400), model=spec)
        seen = 0
        while True:  # wait until it is denoising
            ev = q.get(timeout=TIMEOUT)
            if ev.job_id == job.id and ev.kind == "progress":
                seen += 1
                break
        assert engine.cancel(job.id)
        seen_before = seen + sum(1 for e in list(q.queue) if e.job_id == job.id and e.kind == "progress")
        rest = events_until_terminal(q, job.id)
    progress_after = [e for e in rest if e.kind == "progress"]
    assert rest[-1].kind == "cancelled"
    after = len(progress_after) - (seen_before - seen)
    assert after <= 1  # the step in flight when cancel() returned, at most
    assert seen_before < 400


def test_model_render_cancel_takes_effect_at_the_next_step(tiny_model):
    import threading

    from diffhost.engine.errors import Cancelled

    model = tiny_model(FAMILY)
    flag = threading.Event()
    seen: list[float] = []

    def progress(f: float) -> None:
        seen.append(f)
        if len(seen) == 2:
            flag.set()

    with pytest.raises(Cancelled):
        model.render(request(steps=20), progress=progress, cancel=flag)
    assert len(seen) == 2  # no step completed after the one that asked to cancel
    assert "step" not in model.pipe.scheduler.__dict__  # hooks are gone
    assert "prepare_latents" not in model.pipe.__dict__
    assert model.render(request(steps=2)).audio.shape == (1, 2, int(0.25 * 22050))


def test_full_queue_rejects_with_reason_and_queued_jobs_still_run(spec):
    engine = Engine(device="cpu", max_queue=2)  # not started: the queue fills deterministically
    q = engine.subscribe()
    a = engine.submit(request(seed=1), model=spec)
    b = engine.submit(request(seed=2), model=spec)
    with pytest.raises(QueueFullError, match=r"queue is full \(2 jobs waiting\)"):
        engine.submit(request(seed=3), model=spec)
    assert engine.pending() == 2  # the rejected job left nothing behind
    with engine:
        done = [events_until_terminal(q, j.id)[-1].kind for j in (a, b)]
    assert done == ["done", "done"]


def test_a_failing_job_does_not_stop_the_next(spec, tmp_path):
    with Engine(device="cpu") as engine:
        q = engine.subscribe()
        bad_model = engine.submit(request(), model=str(tmp_path / "no-such-model"))
        bad_request = engine.submit(request(length=500.0), model=spec)  # beyond the model's maximum
        good = engine.submit(request(), model=spec)
        e1 = events_until_terminal(q, bad_model.id)[-1]
        e2 = events_until_terminal(q, bad_request.id)[-1]
        e3 = events_until_terminal(q, good.id)[-1]
    assert e1.kind == "error" and "no-such-model" in e1.message
    assert e2.kind == "error" and e2.message.startswith("length: 500.0 s is out of range")
    assert e3.kind == "done" and e3.result.audio.shape[-1] == int(0.25 * 22050)


def test_live_jobs_jump_ahead_of_batch(spec):
    engine = Engine(device="cpu")
    q = engine.subscribe()
    b1 = engine.submit(request(seed=1), model=spec, priority="batch")
    b2 = engine.submit(request(seed=2), model=spec, priority="batch")
    live = engine.submit(request(seed=3), model=spec, priority="live", tag="slot:1")
    order = []
    with engine:
        while len(order) < 3:
            ev = q.get(timeout=TIMEOUT)
            if ev.kind == "done":
                order.append(ev.job_id)
    assert order == [live.id, b1.id, b2.id]


def test_loaded_models_are_cached(spec):
    with Engine(device="cpu") as engine:
        t0 = time.perf_counter()
        first = engine.load(spec)
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        second = engine.load(spec)
        cached_s = time.perf_counter() - t0
    assert second is first
    assert cached_s < load_s


def test_submit_rejects_bad_arguments_by_name(spec):
    engine = Engine(device="cpu")
    with pytest.raises(ValueError, match="priority: 'urgent'"):
        engine.submit(request(), model=spec, priority="urgent")
    with pytest.raises(ValueError, match="request"):
        engine.submit({"prompt": "kick"}, model=spec)
    assert engine.pending() == 0
