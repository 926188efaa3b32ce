"""ETA: measured on this machine, stored per model/device/dtype, carried by engine events."""

from __future__ import annotations

import queue
import time

import pytest

from diffhost.engine import Engine, GenerationRequest
from diffhost.engine.timing import StepTime, lookup, record

FAMILY = "LongCatAudioDiTPipeline"


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFHOST_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def request(**kw) -> GenerationRequest:
    base = {"prompt": "dark pad", "length": 0.5, "steps": 4, "seed": 2, "sample_rate": 22050}
    return GenerationRequest(**(base | kw))


def test_no_estimate_until_this_machine_rendered_it_then_every_step_has_one(tiny_model, fresh_cache):
    model = tiny_model(FAMILY)
    assert model.estimate_s(request()) is None
    seen = []
    model.render(request(variations=2), on_progress=seen.append)
    assert [p.done for p in seen] == list(range(1, 9)) and seen[-1].fraction == 1.0
    assert all(p.eta_s is not None and p.eta_s >= 0.0 for p in seen)
    assert seen[-1].eta_s == 0.0  # nothing left after the last step of the last variation
    assert (fresh_cache / "step-times.json").is_file()
    estimate = model.estimate_s(request())
    assert estimate is not None and estimate > 0.0


def test_the_estimate_is_steps_times_the_measured_step_plus_the_rest(tiny_model, fresh_cache):
    model = tiny_model(FAMILY)
    model.render(request())  # creates the key for this model, device, dtype and guidance
    key = model._timing_key(model.info.default_guidance)
    record(key, StepTime(window_s=0.5, step_s=2.0, other_s=3.0))
    assert model.estimate_s(request(steps=10)) == pytest.approx(10 * 2.0 + 3.0)
    assert model.estimate_s(request(steps=10, variations=3)) == pytest.approx(3 * (10 * 2.0 + 3.0))
    # Twice the window costs about twice as much until that length has been measured.
    assert model.estimate_s(request(steps=10, length=1.0)) == pytest.approx(2 * (10 * 2.0 + 3.0))
    # Without guidance the batch halves: a separate measurement, none yet.
    assert model.estimate_s(request(steps=10, guidance=1.0)) is None


def test_measurements_are_kept_per_window_and_the_nearest_is_used(fresh_cache):
    record("k", StepTime(1.0, 1.0, 0.0))
    record("k", StepTime(10.0, 20.0, 5.0))
    assert lookup("k", 9.0) == StepTime(9.0, 18.0, 4.5)
    assert lookup("k", 1.5) == StepTime(1.5, 1.5, 0.0)
    assert lookup("other", 1.0) is None


def test_engine_events_carry_the_eta(tiny_dir, fresh_cache):
    spec = str(tiny_dir(FAMILY))
    with Engine(device="cpu") as engine:
        q = engine.subscribe()
        first = engine.submit(request(), model=spec)
        evs = _until_done(q, first.id)
        assert evs[0].kind == "accepted" and evs[0].eta_s is None  # not loaded, never rendered here
        assert all(e.eta_s is not None for e in evs if e.kind == "progress")
        expected = engine.load(spec).estimate_s(request(steps=8))  # loaded, rendered once: known
        second = engine.submit(request(steps=8), model=spec)
        evs = _until_done(q, second.id)
        accepted = evs[0]
        assert accepted.kind == "accepted" and expected is not None and expected > 0
        assert accepted.eta_s == pytest.approx(expected)
        assert {e.kind for e in evs} == {"accepted", "progress", "done"}  # no new event kinds


def _until_done(q: queue.Queue, job_id: int) -> list:
    out = []
    deadline = time.monotonic() + 60
    while not out or not out[-1].terminal:
        ev = q.get(timeout=max(0.1, deadline - time.monotonic()))
        if ev.job_id == job_id:
            out.append(ev)
    assert out[-1].kind == "done", out[-1].message
    return out


def test_a_quick_render_of_a_known_window_writes_nothing(fresh_cache):
    record("k", StepTime(1.0, 0.01, 0.0))
    path = fresh_cache / "step-times.json"
    before = path.stat().st_mtime_ns
    record("k", StepTime(1.0, 0.02, 0.0), total_s=0.05)  # a live one-shot: no file write
    assert path.stat().st_mtime_ns == before and lookup("k", 1.0).step_s == 0.01
    record("k", StepTime(1.0, 3.0, 1.0), total_s=7.0)  # a long render updates the measurement
    assert lookup("k", 1.0).step_s == 3.0


def test_both_progress_callbacks_end_at_one_when_a_model_runs_fewer_steps_than_planned(tmp_path):
    """The embedded default runs only the strength's share of its steps for a seed clip."""
    import numpy as np

    from diffhost.engine import load_model
    from diffhost.engine.request import SeedClip

    model = load_model(None, device="cpu")
    fractions, events = [], []
    clip = SeedClip(np.sin(np.linspace(0, 900, 22050)).astype(np.float32)[None], 44100)
    req = GenerationRequest(
        prompt="kick", seed_clip=clip, strength=0.5, length=0.5, steps=10, seed=1, sample_rate=44100
    )
    model.render(req, progress=fractions.append, on_progress=events.append)
    assert fractions[-1] == 1.0 and events[-1].fraction == 1.0 and events[-1].eta_s == 0.0
    assert [e.fraction for e in events] == fractions
