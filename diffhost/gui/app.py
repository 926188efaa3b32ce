"""Show the desktop window on a ready Runtime (built by diffhost.runtime, the composition root).

Components the runtime could not open (no audio device, a port taken) are listed in
runtime.unavailable; the window shows each reason on the panel that needs it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from PyQt6.QtCore import QSettings, QTimer
from PyQt6.QtWidgets import QApplication

from diffhost import paths
from diffhost.gui.errors import install_excepthook
from diffhost.gui.theme import apply_theme


def check_display() -> None:
    """Qt aborts the process when it finds no display; say so in words instead."""
    if paths.display_missing():
        raise OSError(
            "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set); "
            "headless, use `diffhost render ...`, or run the window under xvfb-run"
        )


def open_settings(path: Path | None = None) -> QSettings:
    """The window's QSettings: an .ini file, by default window.ini in diffhost's config folder
    (DIFFHOST_CONFIG_DIR moves it, as it moves the audio settings and kits; on Windows it sits
    beside them instead of in the registry). `path` names another file (portable installs, tests)."""
    if path is not None:
        return QSettings(str(path), QSettings.Format.IniFormat)
    ini = paths.window_settings_path()
    settings = QSettings(str(ini), QSettings.Format.IniFormat)
    if not ini.exists() and not settings.allKeys():
        _import_native_settings(settings)
    return settings


def _import_native_settings(settings: QSettings) -> None:
    """Earlier versions kept the window's state in Qt's native place for ("diffhost", "diffhost");
    the first start with the .ini copies it over, so nobody loses their layout. Only the default
    location is read: with DIFFHOST_CONFIG_DIR set (tests, portable installs) nothing is imported."""
    if paths.env(paths.CONFIG_DIR_ENV):
        return
    native = QSettings("diffhost", "diffhost")
    for key in native.allKeys():
        settings.setValue(key, native.value(key))


def run(
    runtime: Any,  # diffhost.runtime.Runtime (gui/ sits below the composition root)
    settings: QSettings,
    *,
    quit_after_ms: int | None = None,
    on_ready: Callable[[Any], None] | None = None,
) -> int:
    """Show the window and run the event loop until it closes."""
    from diffhost.gui.main_window import MainWindow

    app = cast(QApplication, QApplication.instance() or QApplication(sys.argv[:1]))
    # Before the window is built (seconds on a busy machine, while OSC already answers): a SIGTERM
    # or Ctrl-C then closes the window as soon as it exists, instead of ending the process unsaved.
    close_now = _close_on_signals()
    app.setApplicationName("diffhost")
    app.setOrganizationName("diffhost")
    apply_theme(app)
    window = MainWindow(
        runtime.session,
        settings=settings,
        osc=runtime.osc,
        unavailable=runtime.unavailable,
        audio_control=runtime.audio_control,
        live=runtime.live,
    )
    previous = install_excepthook(window.show_unexpected)
    window.show()
    if on_ready is not None:
        QTimer.singleShot(0, lambda: on_ready(window))
    if quit_after_ms is not None:
        QTimer.singleShot(quit_after_ms, window.close)
    close_now.append(window.close)
    try:
        app.exec()
    finally:
        sys.excepthook = previous
    return 0


def _close_on_signals() -> list[Callable[[], Any]]:
    """Ctrl-C in the terminal and SIGTERM (a service manager, `kill`) close the window the way its
    close button does, so settings and the kit are saved; by default they would end the process on
    the spot. Returns the list the caller appends the window's close to; a signal that came before
    it is acted on once the event loop runs. Python runs signal handlers only between bytecodes, so
    a light timer gives it the chance while Qt waits for events."""
    import signal

    closers: list[Callable[[], Any]] = []
    if threading.current_thread() is not threading.main_thread():
        return closers
    asked = threading.Event()

    def close_when_ready() -> None:
        if closers:
            closers[-1]()
        else:  # the window is still being built: try again on the next turn of the loop
            QTimer.singleShot(50, close_when_ready)

    def on_signal(*_: Any) -> None:
        if not asked.is_set():
            asked.set()
            QTimer.singleShot(0, close_when_ready)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    tick = QTimer(QApplication.instance())
    tick.timeout.connect(lambda: None)
    tick.start(250)
    return closers


def run_window(
    runtime: Any,
    *,
    settings_path: Path | None = None,
    quit_after_ms: int | None = None,
    on_ready: Callable[[Any], None] | None = None,
) -> int:
    """What `diffhost gui` runs once its runtime is built: the app, its settings, the window."""
    app = QApplication.instance() or QApplication(sys.argv[:1])  # QSettings wants an app first
    settings = open_settings(settings_path)
    try:
        return run(runtime, settings, quit_after_ms=quit_after_ms, on_ready=on_ready)
    finally:
        settings.sync()  # window state is on disk before the runtime closes
        del app
