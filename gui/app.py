"""Start the desktop app: engine, session and optional components, then the window.

Each optional component (host audio, presets, render library, OSC server) is
opened here; one that cannot be opened is left out with the reason, and the
window shows that reason on the panel that needs it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QSettings, QTimer
from PyQt6.QtWidgets import QApplication

from diffhost.gui.errors import describe, install_excepthook
from diffhost.gui.theme import apply_theme


@dataclass
class Runtime:
    engine: Any
    session: Any
    osc: Any = None
    unavailable: dict[str, str] = field(default_factory=dict)
    audio_config: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        for closer in (
            getattr(self.osc, "stop", None) or getattr(self.osc, "close", None),
            getattr(self.session.audio, "close", None),
            self.session.close,
            lambda: self.engine.stop(timeout=2.0),  # a model still loading need not hold up quitting
        ):
            if closer is not None:
                try:
                    closer()
                except Exception as exc:  # shutting down: report and carry on closing the rest
                    print(f"diffhost: while closing: {describe(exc)}", file=sys.stderr)


def check_display() -> None:
    """Qt aborts the process when it finds no display; say so in words instead."""
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    ):
        raise OSError(
            "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set); "
            "headless, use `diffhost render ...`, or run the window under xvfb-run"
        )


def open_settings(path: Path | None = None) -> QSettings:
    """The app's QSettings: the platform's place, or an .ini file (portable installs, tests)."""
    if path is not None:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings("diffhost", "diffhost")


def _optional(name: str, make: Callable[[], Any], unavailable: dict[str, str]) -> Any:
    """make(), or None with the reason in unavailable[name] (no device, bad folder, port taken)."""
    try:
        return make()
    except Exception as exc:  # no device, bad folder, port taken: the app runs without it
        unavailable[name] = describe(exc)
    return None


# Modules the post-processing finisher imports on first use; scipy.signal alone takes ~1 s and,
# imported mid-render on the finisher thread, would stall the GUI. They are imported at startup on
# the engine's own thread: importing them beside a concurrent torch import (scipy looks for torch)
# can see a half-initialized torch module.
WARM_IMPORTS = ("scipy.signal", "pyloudnorm", "pedalboard", "soundfile", "soxr")


def warm_up(engine: Any, model: str | None, names: tuple[str, ...] = WARM_IMPORTS) -> threading.Thread:
    """On the engine's thread, in the background: the finisher's imports, then the model."""

    def imports() -> None:
        for name in names:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)

    def run() -> None:
        with contextlib.suppress(Exception):  # a warm-up only; the finisher imports them anyway
            engine.run_sync(imports, timeout=120)
        with contextlib.suppress(Exception):  # a bad spec is reported by the first render instead
            engine.load(model)  # so the first Render does not wait for the model to load

    thread = threading.Thread(target=run, name="diffhost-warm-imports", daemon=True)
    thread.start()
    return thread


ENGINE_NICE = 10  # renders yield the CPU to the window (and everything else the musician runs)


def lower_thread_priority(increment: int = ENGINE_NICE) -> None:
    """Lower the calling thread's CPU priority (Linux: nice is per thread; threads it starts,
    such as torch's worker pool, inherit it). Elsewhere this does nothing."""
    if (
        hasattr(os, "setpriority")
        and hasattr(threading, "get_native_id")
        and sys.platform.startswith("linux")
    ):
        with contextlib.suppress(OSError):
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + increment)


def build_runtime(
    *,
    renders_dir: Path,
    model: str | None = None,
    device: str = "auto",
    audio: bool = True,
    audio_config: dict[str, Any] | None = None,
    osc_port: int | None = 12000,
    library_dir: Path | None = None,
) -> Runtime:
    from diffhost.engine.engine import Engine
    from diffhost.host.session import Session

    renders_dir = Path(renders_dir).expanduser()
    unavailable: dict[str, str] = {}
    config = dict(audio_config or {})

    def open_audio() -> Any:
        from diffhost.host import audio as host_audio_mod

        if config:
            return host_audio_mod.open_host_audio(**config)
        return host_audio_mod.open_from_settings(host_audio_mod.load_settings())  # as `diffhost serve`

    def open_presets() -> Any:
        from diffhost.host.presets import PresetStore

        return PresetStore()

    def open_library() -> Any:
        from diffhost.host.library import RenderLibrary

        # One library shared with `diffhost render`, `library` and `serve` unless a folder is given.
        return RenderLibrary.open_default(library_dir)

    def make_finisher(library: Any) -> Any:
        # The finisher applies effects and finishing and writes files and library rows.
        from diffhost.host.save import Finisher

        return Finisher(library=library)

    host_audio = _optional("audio", open_audio, unavailable) if audio else None
    if not audio:
        unavailable["audio"] = "audio is off (--no-audio)"
    library = _optional("library", open_library, unavailable)
    finisher = _optional("finisher", lambda: make_finisher(library), unavailable)
    engine = Engine(device=device).start()
    # Before any torch work, so the render pool inherits it: on a busy machine the window
    # keeps the CPU it needs to stay responsive while a render runs.
    engine.run_sync(lower_thread_priority, timeout=10)
    warm_up(engine, model, WARM_IMPORTS if finisher is not None else ())
    session = Session(
        engine,
        renders_dir=renders_dir,
        model=model,
        finish=finisher,
        audio=host_audio,
        presets=_optional("presets", open_presets, unavailable),
        library=library,
    )
    osc = None
    if osc_port is None:
        unavailable["osc"] = "OSC is off (--no-osc)"
    else:

        def open_osc() -> Any:
            from diffhost.osc.server import OscConfig, OscServer

            return OscServer(session, OscConfig(port=osc_port)).start()

        osc = _optional("osc", open_osc, unavailable)
    return Runtime(engine, session, osc, unavailable, config)


def run(
    runtime: Runtime,
    settings: QSettings,
    *,
    quit_after_ms: int | None = None,
    on_ready: Callable[[Any], None] | None = None,
) -> int:
    """Show the window and run the event loop until it closes."""
    from diffhost.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("diffhost")
    app.setOrganizationName("diffhost")
    apply_theme(app)
    window = MainWindow(
        runtime.session,
        settings=settings,
        osc=runtime.osc,
        unavailable=runtime.unavailable,
        audio_config=runtime.audio_config,
    )
    previous = install_excepthook(window.show_unexpected)
    window.show()
    if on_ready is not None:
        QTimer.singleShot(0, lambda: on_ready(window))
    if quit_after_ms is not None:
        QTimer.singleShot(quit_after_ms, window.close)
    try:
        app.exec()
    finally:
        sys.excepthook = previous
    return 0


def main(
    *,
    renders_dir: Path,
    model: str | None = None,
    device: str = "auto",
    audio: bool = True,
    osc_port: int | None = 12000,
    settings_path: Path | None = None,
    library_dir: Path | None = None,
    quit_after_ms: int | None = None,
) -> int:
    """What `diffhost gui` (and plain `diffhost`) runs."""
    check_display()
    app = QApplication.instance() or QApplication(sys.argv[:1])  # QSettings wants an app first
    settings = open_settings(settings_path)
    try:
        audio_config = json.loads(settings.value("audio/config", "", type=str) or "{}")
    except ValueError:
        audio_config = {}
    runtime = build_runtime(
        renders_dir=renders_dir,
        model=model,
        device=device,
        audio=audio,
        audio_config=audio_config,
        osc_port=osc_port,
        library_dir=library_dir,
    )
    try:
        return run(runtime, settings, quit_after_ms=quit_after_ms)
    finally:
        runtime.close()
        del app
