"""Number fields that say when they change what was typed.

Qt's spin boxes silently drop a keystroke that would leave the range ("45" in a 0.1–9 s Length
stays "4") and round extra decimals away, so the musician gets a value they did not type and no
word about it. These spin boxes let any number be typed, then clamp (or round) it when the field is
committed and emit `adjusted` with a sentence naming the field, what was typed and what was set.
"""

from __future__ import annotations

import re

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtGui import QValidator
from PyQt6.QtWidgets import QDoubleSpinBox, QSpinBox, QToolTip

_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")


def _typed_number(box: QSpinBox | QDoubleSpinBox, text: str) -> float | None:
    t = text
    if box.prefix() and t.startswith(box.prefix()):
        t = t[len(box.prefix()):]
    if box.suffix() and t.endswith(box.suffix()):
        t = t[: -len(box.suffix())]
    t = t.strip().replace(",", ".")
    return float(t) if _NUMBER.match(t) else None


def _fmt(value: float) -> str:
    return f"{value:g}"


class _Saying:
    """Shared by both spin boxes (it comes first among their bases, so its validate and fixup are
    the ones Qt calls): `what` names the field in messages, `unit` follows numbers."""

    what = "Value"
    unit = ""

    def __init__(self, what: str, unit: str = "", parent=None):
        super().__init__(parent)  # type: ignore[call-arg]  # the Qt spin box's
        self.what, self.unit = what, unit

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        state, text2, pos2 = super().validate(text, pos)  # type: ignore[misc]
        return self._said_validate(state, text), text2, pos2

    def fixup(self, text: str) -> str:
        return self._said_fixup(text)

    def _said_validate(self, state: QValidator.State, text: str) -> QValidator.State:
        if state == QValidator.State.Invalid and _typed_number(self, text) is not None:  # type: ignore[arg-type]
            return QValidator.State.Intermediate  # let it stand; fixup says what it becomes
        return state

    def _said_fixup(self, text: str) -> str:
        typed = _typed_number(self, text)  # type: ignore[arg-type]
        if typed is None:
            return text
        lo, hi = self.minimum(), self.maximum()  # type: ignore[attr-defined]
        value = min(hi, max(lo, typed))
        decimals = getattr(self, "decimals", lambda: 0)()
        value = round(value, decimals) if decimals else round(value)
        if value != typed:
            unit = f" {self.unit}" if self.unit else ""
            if typed > hi:
                why = f"above the maximum {_fmt(hi)}{unit}"
            elif typed < lo:
                why = f"below the minimum {_fmt(lo)}{unit}"
            else:
                why = f"more precise than {decimals} decimals" if decimals else "not a whole number"
            message = f"{self.what} {_fmt(typed)}{unit} is {why}: set to {_fmt(value)}{unit}"
            self.adjusted.emit(message)  # type: ignore[attr-defined]
            # Said at the field itself too, where the musician is looking.
            QToolTip.showText(self.mapToGlobal(self.rect().bottomLeft()), message, self)  # type: ignore[attr-defined, arg-type]
        return self.prefix() + self.textFromValue(value) + self.suffix()  # type: ignore[attr-defined]


class SaidDoubleSpinBox(_Saying, QDoubleSpinBox):
    adjusted = pyqtSignal(str)  # what was typed and what was set, in a sentence


class SaidSpinBox(_Saying, QSpinBox):
    adjusted = pyqtSignal(str)  # what was typed and what was set, in a sentence
