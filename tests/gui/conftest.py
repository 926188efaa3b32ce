"""GUI tests: a real MainWindow (offscreen Qt) on a real Session, Engine and the embedded default model."""

from __future__ import annotations

import importlib
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402

from tests.gui.windows import shown_window  # noqa: E402
from tests.jack_fixtures import jack_server_fixture  # noqa: E402


def _component(module: str, attr: str):
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None


@pytest.fixture(scope="session")
def engine():
    """One engine (and one loaded default model) for the whole GUI test run."""
    from diffhost.engine.engine import Engine

    eng = Engine(device="cpu").start()
    eng.load(None)  # load the embedded default once, up front
    yield eng
    eng.stop()


@pytest.fixture
def settings(tmp_path):
    from PyQt6.QtCore import QSettings

    return QSettings(str(tmp_path / "diffhost-test.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def session(engine, tmp_path):
    from diffhost.host.session import Session

    library_cls = _component("diffhost.host.library", "RenderLibrary")
    library = library_cls(tmp_path / "library.sqlite", tmp_path / "trash") if library_cls else None
    store_cls = _component("diffhost.host.presets", "PresetStore")
    presets = store_cls(shipped_dir=tmp_path / "shipped", user_dir=tmp_path / "user") if store_cls else None
    finisher_cls = _component("diffhost.host.render.finisher", "Finisher")  # post-processing: files + library rows
    finish = finisher_cls(library=library) if finisher_cls else None
    s = Session(engine, renders_dir=tmp_path / "renders", finish=finish, presets=presets, library=library)
    yield s
    s.close()


@pytest.fixture
def window(qtbot, session, settings):
    w = shown_window(qtbot, session, settings, unavailable={"audio": "no audio device in this test"})
    yield w
    w.close()


@pytest.fixture
def wav(tmp_path):
    """A real 0.5 s 440 Hz stereo WAV file."""
    path = tmp_path / "tone.wav"
    t = np.arange(22050) / 44100
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    sf.write(path, np.stack([tone, tone]).T, 44100)
    return path


# The JACK server comes and goes with each test module that plays audio (see tests/jack_fixtures.py):
# a server of this folder must not outlive it, beside the servers later folders start.
jack_server = jack_server_fixture("module", tag="gui")


@pytest.fixture(scope="module")
def host_audio(jack_server):
    """Real HostAudio on a JACK server with the dummy driver (paced like hardware)."""
    from diffhost.host import audio as audio_mod

    audio = audio_mod.open_host_audio(output="JACK", input=False, sample_rate=48000, block_size=128)
    yield audio
    audio.close()

