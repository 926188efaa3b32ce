"""The window's render-engine choice: this machine, or a `diffhost engine-serve` elsewhere.

Kept in the window's settings and used from the next start (`diffhost gui --engine URL` wins for
one run): the engine is part of the runtime the window is given, built before the window opens.
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QInputDialog, QLineEdit, QWidget

from diffhost.engine.remote.client import parse_engine_url

SETTINGS_KEY = "engine/url"


def saved_engine_url(settings: QSettings) -> str | None:
    url = str(settings.value(SETTINGS_KEY, "") or "").strip()
    return url or None


def describe(engine: Any) -> str:
    """'this machine', or the remote engine's URL."""
    url = getattr(engine, "url", None)
    return str(url) if url else "this machine"


def choose_engine(parent: QWidget, settings: QSettings, engine: Any) -> str | None:
    """Ask for an engine URL (blank: this machine) and keep it; returns a line for the status bar,
    or None when the dialog was dismissed. A bad URL is refused with its reason and not kept."""
    current = saved_engine_url(settings) or ""
    text, ok = QInputDialog.getText(
        parent,
        "Render engine",
        f"Rendering on: {describe(engine)}.\n\n"
        "Engine URL for the next start, e.g. http://gpu-box:8450 (a `diffhost engine-serve`;\n"
        "set DIFFHOST_ENGINE_TOKEN if it has a token). Leave blank to render on this machine.",
        QLineEdit.EchoMode.Normal,
        current,
    )
    if not ok:
        return None
    url = text.strip()
    if url:
        try:
            parse_engine_url(url)
        except ValueError as exc:
            return str(exc)
    settings.setValue(SETTINGS_KEY, url)
    settings.sync()
    return f"Render engine: {url or 'this machine'} from the next start"
