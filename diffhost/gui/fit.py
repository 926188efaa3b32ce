"""Helpers that keep the window small and still: labels that elide instead of widening the window,
and buttons whose width does not change with their text.

A label that asks for the width of its whole text makes the window's minimum size grow with a long
file or preset name, until the window no longer fits a laptop screen. An ElidedLabel asks for a few
characters, shows what fits with "…", and puts the whole text in its tooltip.

A button that says "▶ Play" and then "■ Stop" changes width, and every widget beside it moves under
the musician's mouse. fix_width() sizes a button once for the widest text it will ever show.
"""

from __future__ import annotations

from collections.abc import Iterable

from PyQt6.QtCore import QEvent, QObject, QSize, Qt
from PyQt6.QtGui import QPainter, QPaintEvent, QPalette
from PyQt6.QtWidgets import QAbstractButton, QLabel, QSizePolicy, QStyle, QStyleOption, QWidget

# The smallest screens the window must fit with a window manager (title bar, panel) around it.
SMALL_SCREENS = ((1280, 800), (1366, 768))
SLACK = 2  # pixels: text advances are rounded, and a label exactly as wide as them may elide


class ElidedLabel(QLabel):
    """A one-line label that never asks for more than `min_chars` characters of width: longer text
    is elided with "…" and shown whole in the tooltip. text() returns the whole text."""

    def __init__(
        self, text: str = "", parent: QWidget | None = None, *, min_chars: int = 8, max_chars: int | None = None
    ):
        super().__init__(text, parent)
        self._min_chars = min_chars
        self._max_chars = max_chars  # the most it asks for (status bar labels beside a message)
        self._tip = ""  # a tooltip set by the owner; the full text is added above it when elided
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setWordWrap(False)

    def setToolTip(self, tip: str | None) -> None:  # noqa: N802 - Qt name
        self._tip = tip or ""
        self._update_tip()

    def setText(self, text: str | None) -> None:  # noqa: N802 - Qt name
        super().setText(text or "")
        self._update_tip()

    def is_elided(self) -> bool:
        return self.fontMetrics().horizontalAdvance(self.text()) > self.contentsRect().width()

    def _update_tip(self) -> None:
        full = self.text()
        elided = bool(full) and self.is_elided()
        tip = full + ("\n" + self._tip if self._tip and self._tip != full else "") if elided else self._tip
        super().setToolTip(tip)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        fm = self.fontMetrics()
        m = self.contentsMargins()
        width = min(fm.horizontalAdvance(self.text()) + SLACK, fm.averageCharWidth() * self._min_chars)
        return QSize(width + m.left() + m.right(), super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        m = self.contentsMargins()
        fm = self.fontMetrics()
        width = fm.horizontalAdvance(self.text()) + SLACK
        if self._max_chars is not None:
            width = min(width, fm.averageCharWidth() * self._max_chars)
        return QSize(width + m.left() + m.right(), super().sizeHint().height())

    def resizeEvent(self, ev) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(ev)
        self._update_tip()

    def paintEvent(self, _ev: QPaintEvent) -> None:  # noqa: N802 - Qt override
        rect = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        p = QPainter(self)
        opt = QStyleOption()
        opt.initFrom(self)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_Widget, opt, p, self)  # a styled frame
        align = self.alignment() if int(self.alignment().value) else Qt.AlignmentFlag.AlignVCenter
        self.style().drawItemText(
            p, rect, int(align.value | Qt.AlignmentFlag.AlignVCenter.value),
            self.palette(), self.isEnabled(), text, QPalette.ColorRole.WindowText,
        )
        p.end()


def fix_width(button: QAbstractButton, texts: Iterable[str]) -> int:
    """Fix `button`'s width to the widest of `texts` (the texts it will show), so changing its text
    never moves its neighbours; it is measured again when the style or font changes (a theme
    applied later). Returns the width."""
    keeper = _FixedWidth(button, tuple(texts))
    return keeper.apply()


class _FixedWidth(QObject):
    def __init__(self, button: QAbstractButton, texts: tuple[str, ...]):
        super().__init__(button)
        self.button, self.texts = button, texts
        button.installEventFilter(self)

    def apply(self) -> int:
        b = self.button
        b.ensurePolished()
        shown = b.text()
        width = 0
        b.setMinimumWidth(0)
        b.setMaximumWidth(16777215)
        for t in (shown, *self.texts):
            b.setText(t)
            width = max(width, b.sizeHint().width())
        b.setText(shown)
        b.setFixedWidth(width)
        return width

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:  # noqa: N802 - Qt override
        if obj is self.button and ev.type() in (QEvent.Type.StyleChange, QEvent.Type.FontChange):
            self.apply()
        return False
