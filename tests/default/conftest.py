"""The embedded default model, loaded once for the session through the public load_model path."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def default_model():
    from diffhost.engine import load_model

    return load_model(None, device="cpu")
