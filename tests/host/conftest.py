"""Fixtures for host/ tests: the embedded default model (real, offline) and isolated folders."""

from __future__ import annotations

import pytest


def _default_model():
    from diffhost.engine import load_model

    return load_model(None, device="cpu")


@pytest.fixture(scope="session")
def model():
    return _default_model()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """DIFFHOST_HOME in a temp folder: user presets and the library never touch the real ones."""
    monkeypatch.setenv("DIFFHOST_HOME", str(tmp_path / "home"))
    return tmp_path / "home"
