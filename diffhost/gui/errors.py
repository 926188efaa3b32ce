"""Unexpected errors become a message in the window, never a traceback in the user's face.

PyQt6 aborts the process on an exception escaping a slot unless sys.excepthook
is replaced, so the app installs this hook first. The traceback still goes to
stderr for bug reports.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Callable
from types import TracebackType


def describe(exc: BaseException) -> str:
    """A one-line message: ValueErrors already read as user messages; others get their type."""
    msg = str(exc).strip() or type(exc).__name__
    return msg if isinstance(exc, ValueError) else f"{type(exc).__name__}: {msg}"


def install_excepthook(report: Callable[[str], None]) -> Callable:
    """Route uncaught exceptions to report(message); returns the previous hook."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, exc, tb)
            return
        traceback.print_exception(kind, exc, tb, file=sys.stderr)
        # If the reporter itself fails (window gone), stderr already has the traceback.
        with contextlib.suppress(Exception):
            report(f"Unexpected error: {describe(exc)}")

    sys.excepthook = hook
    return previous
