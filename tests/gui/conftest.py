"""GUI tests: a real MainWindow (offscreen Qt) on a real Session, Engine and the embedded default model."""

from __future__ import annotations

import importlib
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402

from tests.jackd import start_jackd  # noqa: E402


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
    from diffhost.gui.main_window import MainWindow

    w = MainWindow(session, settings=settings, unavailable={"audio": "no audio device in this test"})
    w.autoplay.setChecked(False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
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


@pytest.fixture(scope="session")
def host_audio(tmp_path_factory):
    """Real HostAudio on a JACK server with the dummy driver (paced like hardware)."""
    import shutil
    import subprocess

    from diffhost.host import audio as audio_mod

    require = os.environ.get("DIFFHOST_REQUIRE_DEVICES") == "1"

    def unavailable(reason: str):
        if require:
            pytest.fail(f"DIFFHOST_REQUIRE_DEVICES=1 but {reason}")
        pytest.skip(reason)

    jackd = shutil.which("jackd")
    if jackd is None:
        unavailable("jackd is not installed (Debian package jackd2)")
    import jack

    def reachable(server: str) -> bool:
        try:
            jack.Client("diffhost-gui-probe", servername=server, no_start_server=True).close()
            return True
        except jack.JackError:
            return False

    # Another test folder's JACK server (tests/audio) may already be PortAudio's: share it rather
    # than re-initializing PortAudio under streams that are still open.
    shared = os.environ.get("JACK_DEFAULT_SERVER")
    proc = None
    if not (shared and reachable(shared)):
        name = f"diffhost-gui-test-{os.getpid()}"
        log = tmp_path_factory.mktemp("jack") / "jackd.log"
        proc, probe = start_jackd(jackd, name, ["--no-realtime"], log)
        if probe is None:
            unavailable(f"jackd did not start: {log.read_text(errors='replace')[-500:]}")
        probe.close()
        os.environ["JACK_DEFAULT_SERVER"] = name  # PortAudio finds JACK servers when it initializes
        os.environ["JACK_NO_START_SERVER"] = "1"
        audio_mod.rescan_devices()
    audio = audio_mod.open_host_audio(output="JACK", input=False, sample_rate=48000, block_size=128)
    yield audio
    audio.close()
    if proc is not None:
        import sounddevice as sd

        sd._terminate()  # PortAudio's JACK client goes before its server
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
