"""A horizontal peak/RMS level meter in dBFS, drawn with QPainter."""

from __future__ import annotations

from PyQt6.QtCore import QRectF, QSize
from PyQt6.QtGui import QColor, QPainter
from PyQt6.QtWidgets import QSizePolicy, QWidget

from diffhost.gui import theme

FLOOR_DB = -60.0


class LevelMeter(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.peak_db = FLOOR_DB
        self.rms_db = FLOOR_DB
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Input level (peak and RMS, dBFS)")

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(160, 12)

    def set_levels(self, peak_db: float, rms_db: float) -> None:
        self.peak_db = max(FLOOR_DB, min(0.0, peak_db))
        self.rms_db = max(FLOOR_DB, min(0.0, rms_db))
        self.update()

    def paintEvent(self, _ev) -> None:  # noqa: N802
        p = QPainter(self)
        r = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        p.fillRect(r, QColor(theme.FIELD))
        w = r.width()

        def x(db: float) -> float:
            return w * (db - FLOOR_DB) / -FLOOR_DB

        colour = theme.PLAYING if self.peak_db < -12 else theme.ACCENT if self.peak_db < -3 else theme.DANGER
        p.fillRect(QRectF(r.left(), r.top(), x(self.rms_db), r.height()), QColor(colour))
        p.setPen(QColor("#ffffff"))
        px = r.left() + x(self.peak_db)
        p.drawLine(int(px), int(r.top()), int(px), int(r.bottom()))
        p.setPen(QColor(theme.LINE))
        for db in (-48, -24, -12, -6, -3):
            tx = r.left() + x(db)
            p.drawLine(int(tx), int(r.bottom() - 3), int(tx), int(r.bottom()))
        p.drawRect(r)
        p.end()
