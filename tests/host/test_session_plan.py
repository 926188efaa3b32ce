"""One render plan: the session validates a render once, and the plan is submitted as it is."""

from __future__ import annotations

import dataclasses
import queue
import time

import pytest

from diffhost.engine.engine import Engine
from diffhost.host.presets import PresetStore
from diffhost.host.render.finisher import Finisher
from diffhost.host.session import RenderPlan, ReplyRoute, Session


@pytest.fixture
def session(tmp_path, model, home):
    engine = Engine(loader=lambda spec: model).start()
    s = Session(engine, renders_dir=tmp_path / "renders", finish=Finisher(), presets=PresetStore())
    yield s
    s.close()
    engine.stop()


def _events_of(events: queue.Queue, job_id: int, timeout: float = 60.0) -> list:
    """Every session event of one job, up to its end."""
    got = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ev = events.get(timeout=end - time.monotonic())
        if ev.job_id == job_id:
            got.append(ev)
            if ev.terminal:
                return got
    raise TimeoutError(job_id)


def test_a_plan_holds_the_resolved_render_and_is_submitted_as_it_is(session):
    preset = PresetStore().load("808 kick")
    route = ReplyRoute("127.0.0.1", 9000, token=77)
    plan = session.plan(preset="808 kick", seed=5, reply_to=route, tag="osc")
    # Resolved once: the preset's prompt and recipe, the session's model, the overrides on top.
    assert isinstance(plan, RenderPlan)
    assert plan.request.prompt == preset.params["prompt"] and plan.request.seed == 5
    assert plan.recipe.preset == "808 kick" and plan.model == session.model
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.tag = "other"  # type: ignore[misc]
    # Planning changed nothing shared, and what changes later does not reach the plan.
    assert session.params.prompt != preset.params["prompt"]
    session.set_param("prompt", "something else entirely")

    events = session.subscribe()
    try:
        job = session.submit(plan)
        got = _events_of(events, job.id)
    finally:
        session.unsubscribe(events)
    done = got[-1]
    assert done.kind == "done", done.message
    assert done.result.request.prompt == preset.params["prompt"] and done.result.seed == 5
    assert done.paths and done.paths[0].is_file()
    # The reply route travels with the job into every one of its events, not inside the tag.
    kinds = {ev.kind for ev in got}
    assert {"accepted", "done"} <= kinds
    assert all(ev.reply_to == route for ev in got)
    assert all(ev.tag == "osc" for ev in got)


def test_a_render_without_a_route_has_none_and_a_bad_value_plans_nothing(session):
    with pytest.raises(ValueError, match="temperature"):
        session.plan(temperature=99.0)
    events = session.subscribe()
    try:
        job = session.render(length=0.25, tag="gui")
        got = _events_of(events, job.id)
    finally:
        session.unsubscribe(events)
    assert got[-1].kind == "done", got[-1].message
    assert all(ev.reply_to is None for ev in got)


def test_a_seed_clip_joins_the_plan_it_was_read_for(session):
    import numpy as np

    from diffhost.engine.request import SeedClip

    plan = session.plan(length=0.5, prompt="kick")
    clip = SeedClip(np.zeros((1, 2205), dtype=np.float32), 44100)
    with_clip = plan.with_seed_clip(clip)
    assert with_clip.request.seed_clip is clip and with_clip.request.length == 0.5
    assert plan.request.seed_clip is None  # the first plan is unchanged
