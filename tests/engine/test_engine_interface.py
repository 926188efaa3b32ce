"""One engine interface: the local Engine and the RemoteEngine client both satisfy RenderEngine.

mypy checks the signatures (scripts/test.sh); this checks the running objects, and that the
remote client answers the two questions the session asks of every engine without blocking.
"""

from __future__ import annotations

import inspect

import pytest

from diffhost.engine.engine import Engine
from diffhost.engine.interface import RenderEngine
from diffhost.engine.remote.client import RemoteEngine

METHODS = [name for name, _ in inspect.getmembers(RenderEngine, inspect.isfunction) if not name.startswith("_")]


def test_the_interface_names_what_the_session_uses():
    assert set(METHODS) >= {"submit", "cancel", "subscribe", "unsubscribe", "model_info", "preload", "load"}


@pytest.mark.parametrize("make", [lambda: Engine(loader=lambda spec: None), lambda: RemoteEngine("http://127.0.0.1:9")])
def test_both_engines_satisfy_it(make):
    engine = make()
    assert isinstance(engine, RenderEngine)
    for name in METHODS:  # same parameter names, so keyword calls work on either
        ours = inspect.signature(getattr(RenderEngine, name)).parameters
        theirs = inspect.signature(getattr(type(engine), name)).parameters
        assert list(theirs) == list(ours), (type(engine).__name__, name, list(theirs))


def test_the_remote_engine_answers_model_questions_without_a_server():
    """Port 9 (discard) has no engine-serve: neither call may block or raise."""
    engine = RemoteEngine("http://127.0.0.1:9")
    assert engine.model_info(None) is None
    engine.preload(None)
    assert engine.pending() == 0
