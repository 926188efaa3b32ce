"""The 4x4 pad grid: assign renders, trigger by click or key, show each slot's state; tempo and quantize."""

from __future__ import annotations

import re
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QDragEnterEvent, QDropEvent, QMouseEvent, QResizeEvent
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from diffhost.gui.dragout import dropped_files
from diffhost.gui.seed_panel import AUDIO_FILTER

PAD_KEYS = "1234QWERASDFZXCV"  # one row of the keyboard per row of pads
QUANTIZE = (("Off", 0.0), ("1/16", 0.25), ("1/8", 0.5), ("1/4", 1.0), ("1/2", 2.0), ("1 bar", 4.0))
MODES = ("oneshot", "loop", "gate")


def pad_label(path: Path) -> str:
    """A short pad name: diffhost's render names are <stamp>-<prompt>-s<seed>; keep the prompt."""
    m = re.match(r"^\d{8}-\d{6}-(.+?)(?:-s\d+)?(?:-v\d+)?(?:-\d+)?$", Path(path).stem)
    return (m.group(1) if m else Path(path).stem).replace("-", " ")


class Pad(QPushButton):
    dropped = pyqtSignal(int, Path)
    released = pyqtSignal(int)

    def __init__(self, slot: int):
        super().__init__()
        self.slot = slot
        self.sample = ""
        self.state = "empty"
        self.setObjectName("pad")
        self.setAcceptDrops(True)
        self.setMinimumSize(64, 52)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.set_state("empty")

    def set_state(self, state: str, sample: str | None = None) -> None:
        if sample is not None:
            self.sample = sample
        self.state = state
        self.setProperty("state", state)
        self.setText(f"{self.slot + 1}   [{PAD_KEYS[self.slot]}]\n{self._elided()}")
        self.setToolTip(
            f"Pad {self.slot + 1} ({state}) · key {PAD_KEYS[self.slot]}\n"
            f"{self.sample or 'empty: drop a render or file here, or right-click to assign'}"
        )
        self.style().unpolish(self)
        self.style().polish(self)

    def _elided(self) -> str:
        if not self.sample:
            return "—"
        return self.fontMetrics().elidedText(
            self.sample, Qt.TextElideMode.ElideRight, max(24, self.width() - 16)
        )

    def resizeEvent(self, ev: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(ev)
        self.setText(f"{self.slot + 1}   [{PAD_KEYS[self.slot]}]\n{self._elided()}")

    def dragEnterEvent(self, ev: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if dropped_files(ev.mimeData()):
            ev.acceptProposedAction()

    def dropEvent(self, ev: QDropEvent) -> None:  # noqa: N802
        files = dropped_files(ev.mimeData())
        if files:
            ev.acceptProposedAction()
            self.dropped.emit(self.slot, files[0])

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:  # noqa: N802
        super().mouseReleaseEvent(ev)
        self.released.emit(self.slot)


class PadGrid(QWidget):
    triggered = pyqtSignal(int)
    released = pyqtSignal(int)  # for gate mode
    stop_requested = pyqtSignal(int)
    stop_all_requested = pyqtSignal()
    assign_file = pyqtSignal(int, Path)
    assign_current = pyqtSignal(int)
    mode_changed = pyqtSignal(int, str)
    tempo_changed = pyqtSignal(float)
    quantize_changed = pyqtSignal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.pads = [Pad(i) for i in range(16)]
        grid = QGridLayout()
        grid.setSpacing(6)
        for pad in self.pads:
            grid.addWidget(pad, pad.slot // 4, pad.slot % 4)
            pad.pressed.connect(lambda s=pad.slot: self.triggered.emit(s))
            pad.released.connect(self.released)
            pad.dropped.connect(self.assign_file)
            pad.customContextMenuRequested.connect(lambda _p, s=pad.slot: self._menu(s))

        self.tempo = QDoubleSpinBox()
        self.tempo.setRange(20.0, 300.0)
        self.tempo.setDecimals(1)
        self.tempo.setValue(120.0)
        self.tempo.setSuffix(" BPM")
        self.tempo.setToolTip("Tempo for quantized pad triggers")
        self.quantize = QComboBox()
        for label, beats in QUANTIZE:
            self.quantize.addItem(label, beats)
        self.quantize.setToolTip("Quantize pad triggers to the next grid line (Off = immediately)")
        self.stop_all = QPushButton("■ All")
        self.stop_all.setToolTip("Stop every pad")
        self.status = QLabel("")
        self.status.setObjectName("dim")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Tempo"))
        row.addWidget(self.tempo)
        row.addWidget(QLabel("Quantize"))
        row.addWidget(self.quantize)
        row.addStretch(1)
        row.addWidget(self.stop_all)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(grid, 1)
        layout.addLayout(row)
        layout.addWidget(self.status)

        self.tempo.valueChanged.connect(self.tempo_changed)
        self.quantize.activated.connect(lambda _i: self.quantize_changed.emit(self.quantize.currentData()))
        self.stop_all.clicked.connect(self.stop_all_requested)

    def set_state(self, slot: int, state: str, sample: str | None = None) -> None:
        if 0 <= slot < len(self.pads):
            self.pads[slot].set_state(state, sample)

    def set_available(self, ok: bool, reason: str = "") -> None:
        """Pads need host audio; without it they stay visible, disabled, and say why."""
        for pad in self.pads:
            pad.setEnabled(ok)
        for w in (self.tempo, self.quantize, self.stop_all):
            w.setEnabled(ok)
        self.status.setText("" if ok else f"Pads unavailable: {reason}")

    def _menu(self, slot: int) -> None:
        menu = QMenu(self)
        menu.addAction("Assign current render", lambda: self.assign_current.emit(slot))
        menu.addAction("Assign file…", lambda: self._choose(slot))
        menu.addAction("Stop", lambda: self.stop_requested.emit(slot))
        modes = menu.addMenu("Mode")
        for mode in MODES:
            modes.addAction(mode, lambda m=mode: self.mode_changed.emit(slot, m))
        menu.exec(self.pads[slot].mapToGlobal(self.pads[slot].rect().center()))

    def _choose(self, slot: int) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Assign a file to pad {slot + 1}", "", AUDIO_FILTER)
        if path:
            self.assign_file.emit(slot, Path(path))
