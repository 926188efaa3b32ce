"""Fixtures for host/ tests: a real model through the engine's Model interface, isolated folders."""

from __future__ import annotations

import numpy as np
import pytest

from engine.model import Model, StepMonitor
from engine.request import GenerationRequest, ModelInfo


class ToneModel(Model):
    """A small deterministic synthesizer behind the real Model interface (seeded noise + decaying
    tones), used only while the embedded default model is not importable."""

    info = ModelInfo(
        name="test-tone",
        family="test-tone",
        native_sample_rate=44100,
        channels=2,
        max_length_s=8.0,
        default_steps=4,
        revision="tone-1",
    )

    def _render(self, request: GenerationRequest, *, seed: int, steps: int, guidance, monitor: StepMonitor):
        rng = np.random.default_rng(seed)
        sr = self.info.native_sample_rate
        n = int(round(request.length * sr))
        t = np.arange(n) / sr
        out = np.empty((request.variations, 2, n), np.float32)
        for v in range(request.variations):
            f = rng.uniform(60, 800)
            env = np.exp(-t * rng.uniform(2, 10))
            tone = np.sin(2 * np.pi * f * t) * env
            noise = rng.standard_normal((2, n)) * 0.05 * env * request.temperature
            out[v] = (0.5 * tone + noise).astype(np.float32)
        for _ in range(steps):
            monitor.step()
        return out


def _default_model():
    try:
        from engine import load_model

        return load_model(None, device="cpu")
    except Exception:  # the embedded default is not on this branch yet
        return ToneModel()


@pytest.fixture(scope="session")
def model():
    return _default_model()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """DIFFHOST_HOME in a temp folder: user presets and the library never touch the real ones."""
    monkeypatch.setenv("DIFFHOST_HOME", str(tmp_path / "home"))
    return tmp_path / "home"
