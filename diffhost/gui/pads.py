"""The 4x4 pad grid: assign renders, trigger by click or key, show each pad's state and mode; the
selected pad's mode, gain, pan, choke group and quantize; tempo (and where it comes from), quantize.

Pads are numbered 1..16 here as everywhere (OSC, kits, MIDI). The controls of this panel never
take the keyboard focus (Qt.FocusPolicy.NoFocus: mouse and wheel only), so a pad key pressed
after touching one still fires its pad instead of typing into the field.
"""

from __future__ import annotations

import math
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
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from diffhost.gui.dragout import dropped_files
from diffhost.gui.seed_panel import AUDIO_FILTER

PAD_KEYS = "1234QWERASDFZXCV"  # one row of the keyboard per row of pads
QUANTIZE = (("Off", 0.0), ("1/16", 0.25), ("1/8", 0.5), ("1/4", 1.0), ("1/2", 2.0), ("1 bar", 4.0))
MODES = ("oneshot", "loop", "gate")
MODE_BADGE = {"oneshot": "▶ one-shot", "loop": "⟳ loop", "gate": "▮ gate"}
PAD_COUNT = 16


def pad_label(path: Path) -> str:
    """A short pad name: diffhost's render names are <stamp>-<prompt>-s<seed>; keep the prompt."""
    m = re.match(r"^\d{8}-\d{6}-(.+?)(?:-s\d+)?(?:-v\d+)?(?:-\d+)?$", Path(path).stem)
    return (m.group(1) if m else Path(path).stem).replace("-", " ")


def gain_db(gain: float) -> float:
    return -60.0 if gain <= 0.001 else 20.0 * math.log10(gain)


def db_gain(db: float) -> float:
    return 0.0 if db <= -60.0 else 10.0 ** (db / 20.0)


class Pad(QPushButton):
    """One pad; `number` is 1..16."""

    dropped = pyqtSignal(int, Path)
    released = pyqtSignal(int)

    def __init__(self, number: int):
        super().__init__()
        self.number = number
        self.sample = ""
        self.state = "empty"
        self.mode = "oneshot"
        self.fresh = False
        self.setObjectName("pad")
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setMinimumSize(64, 52)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.set_state("empty")

    @property
    def key(self) -> str:
        return PAD_KEYS[self.number - 1]

    def set_state(self, state: str, sample: str | None = None) -> None:
        if sample is not None:
            self.sample = sample
        self.state = state
        self.setProperty("state", state)
        self._refresh()
        self.style().unpolish(self)
        self.style().polish(self)

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.setProperty("mode", mode)
        self._refresh()

    def _refresh(self) -> None:
        badge = MODE_BADGE.get(self.mode, self.mode) + ("  ✱ fresh" if self.fresh else "")
        self.setText(f"{self.number}   [{self.key}]   {badge}\n{self._elided()}")
        self.setToolTip(
            f"Pad {self.number} ({self.state}, {self.mode}) · key {self.key}\n"
            f"{self.sample or 'empty: drop a render or file here, or right-click to assign'}"
        )

    def _elided(self) -> str:
        if not self.sample:
            return "—"
        return self.fontMetrics().elidedText(
            self.sample, Qt.TextElideMode.ElideRight, max(24, self.width() - 16)
        )

    def resizeEvent(self, ev: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(ev)
        self._refresh()

    def dragEnterEvent(self, ev: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if dropped_files(ev.mimeData()):
            ev.acceptProposedAction()

    def dropEvent(self, ev: QDropEvent) -> None:  # noqa: N802
        files = dropped_files(ev.mimeData())
        if files:
            ev.acceptProposedAction()
            self.dropped.emit(self.number, files[0])

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:  # noqa: N802
        super().mouseReleaseEvent(ev)
        self.released.emit(self.number)


def _no_focus(*widgets: QWidget) -> None:
    for w in widgets:
        w.setFocusPolicy(Qt.FocusPolicy.NoFocus)


class PadGrid(QWidget):
    """Signals carry pad numbers 1..16."""

    triggered = pyqtSignal(int)
    released = pyqtSignal(int)  # for gate mode
    stop_requested = pyqtSignal(int)
    stop_all_requested = pyqtSignal()
    assign_file = pyqtSignal(int, Path)
    assign_current = pyqtSignal(int)
    fresh_requested = pyqtSignal(int, bool)  # pad, on: a new variation of the current prompt per hit
    mode_changed = pyqtSignal(int, str)
    options_changed = pyqtSignal(int, dict)  # pad, {gain, pan, choke_group, quantize}
    selected_changed = pyqtSignal(int)
    quantize_changed = pyqtSignal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.pads = [Pad(n) for n in range(1, PAD_COUNT + 1)]
        self.selected = 1
        grid = QGridLayout()
        grid.setSpacing(6)
        for pad in self.pads:
            grid.addWidget(pad, (pad.number - 1) // 4, (pad.number - 1) % 4)
            pad.pressed.connect(lambda n=pad.number: self._pressed(n))
            pad.released.connect(self.released)
            pad.dropped.connect(self.assign_file)
            pad.customContextMenuRequested.connect(lambda _p, n=pad.number: self._menu(n))

        # the selected pad's options
        self.pad_title = QLabel()
        self.mode = QComboBox()
        for m in MODES:
            self.mode.addItem(MODE_BADGE[m], m)
        self.mode.setToolTip("one-shot plays to the end; loop repeats until stopped; gate plays while held")
        self.gain = QDoubleSpinBox()
        self.gain.setRange(-60.0, 12.0)
        self.gain.setDecimals(1)
        self.gain.setSuffix(" dB")
        self.gain.setSpecialValueText("-inf dB")
        self.gain.setToolTip("The pad's gain (velocity multiplies it)")
        self.pan = QSpinBox()
        self.pan.setRange(-100, 100)
        self.pan.setToolTip("Pan: -100 left … 0 centre … 100 right")
        self.choke = QSpinBox()
        self.choke.setRange(0, 16)
        self.choke.setSpecialValueText("none")
        self.choke.setToolTip("Choke group: a pad starting cuts the other pads of its group (0 = none)")
        self.pad_quantize = QComboBox()
        self.pad_quantize.addItem("Session", None)
        for label, beats in QUANTIZE:
            self.pad_quantize.addItem(label, beats)
        self.pad_quantize.setToolTip("This pad's quantize (Session = the Quantize below)")
        pad_row = QHBoxLayout()
        pad_row.addWidget(self.pad_title)
        for label, w in (
            ("", self.mode),
            ("Gain", self.gain),
            ("Pan", self.pan),
            ("Choke", self.choke),
            ("Q", self.pad_quantize),
        ):
            if label:
                pad_row.addWidget(QLabel(label))
            pad_row.addWidget(w)
        pad_row.addStretch(1)

        # The pads' grid tempo, shown here and set with the window's one Tempo (Generate panel), so
        # loops rendered at that tempo stay in sync with quantized triggers (gui.tempo_control).
        self.tempo_bpm = 120.0
        self.tempo = QLabel()
        self.tempo.setObjectName("value")
        self.tempo.setToolTip(
            "Tempo of the pads' grid: quantized triggers land on it. Set it with Tempo in the "
            "Generate panel (renders use the same tempo), OSC /diffhost/tempo, Link or MIDI clock."
        )
        self.tempo_source = QLabel("session")
        self.tempo_source.setObjectName("dim")
        self.tempo_source.setToolTip("Where the tempo comes from: session, Ableton Link or MIDI clock")
        self.quantize = QComboBox()
        for label, beats in QUANTIZE:
            self.quantize.addItem(label, beats)
        self.quantize.setToolTip("Quantize pad triggers to the next grid line (Off = immediately)")
        self.stop_all = QPushButton("■ All")
        self.stop_all.setToolTip("Stop every pad")
        _no_focus(self.mode, self.gain, self.pan, self.choke, self.pad_quantize)
        _no_focus(self.quantize, self.stop_all)
        self.status = QLabel("")
        self.status.setObjectName("dim")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Tempo"))
        row.addWidget(self.tempo)
        row.addWidget(self.tempo_source)
        row.addWidget(QLabel("Quantize"))
        row.addWidget(self.quantize)
        row.addStretch(1)
        row.addWidget(self.stop_all)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(grid, 1)
        layout.addLayout(pad_row)
        layout.addLayout(row)
        layout.addWidget(self.status)

        self.quantize.activated.connect(lambda _i: self.quantize_changed.emit(self.quantize.currentData()))
        self.stop_all.clicked.connect(self.stop_all_requested)
        self.mode.activated.connect(lambda _i: self.mode_changed.emit(self.selected, self.mode.currentData()))
        self.gain.valueChanged.connect(lambda v: self._option(gain=db_gain(v)))
        self.pan.valueChanged.connect(lambda v: self._option(pan=v / 100.0))
        self.choke.valueChanged.connect(lambda v: self._option(choke_group=int(v)))
        self.pad_quantize.activated.connect(lambda _i: self._option(quantize=self.pad_quantize.currentData()))
        self._showing = False
        self.set_tempo(self.tempo_bpm)
        self.select(1)

    def pad(self, number: int) -> Pad | None:
        return self.pads[number - 1] if 1 <= number <= len(self.pads) else None

    def set_state(self, number: int, state: str, sample: str | None = None) -> None:
        pad = self.pad(number)
        if pad is not None:
            pad.set_state(state, sample)

    def show_options(self, number: int, options: object) -> None:
        """Show a pad's options (host.audio.SlotOptions) on the pad and, if selected, in the controls."""
        pad = self.pad(number)
        if pad is None:
            return
        pad.set_mode(str(options.mode))  # type: ignore[attr-defined]
        if number != self.selected:
            return
        self._showing = True  # setting the controls must not send their values back
        try:
            self.mode.setCurrentIndex(max(0, self.mode.findData(options.mode)))  # type: ignore[attr-defined]
            self.gain.setValue(gain_db(options.gain))  # type: ignore[attr-defined]
            self.pan.setValue(round(options.pan * 100))  # type: ignore[attr-defined]
            self.choke.setValue(options.choke_group)  # type: ignore[attr-defined]
            q = options.quantize  # type: ignore[attr-defined]
            self.pad_quantize.setCurrentIndex(max(0, self.pad_quantize.findData(q)) if q is not None else 0)
        finally:
            self._showing = False

    def select(self, number: int) -> None:
        if self.pad(number) is None:
            return
        self.selected = number
        self.pad_title.setText(f"Pad {number}")
        for p in self.pads:
            p.setProperty("selected", p.number == number)
        self.selected_changed.emit(number)

    def set_tempo(self, bpm: float, source: str | None = None) -> None:
        self.tempo_bpm = float(bpm)
        self.tempo.setText(f"{float(bpm):.2f}".rstrip("0").rstrip(".") + " BPM")
        if source is not None:
            self.tempo_source.setText(source)

    def set_available(self, ok: bool, reason: str = "") -> None:
        """Pads need host audio; without it they stay visible, disabled, and say why."""
        for pad in self.pads:
            pad.setEnabled(ok)
        for w in (self.quantize, self.stop_all, self.mode, self.gain, self.pan, self.choke):
            w.setEnabled(ok)
        self.pad_quantize.setEnabled(ok)
        self.status.setText("" if ok else f"Pads unavailable: {reason}")

    def _pressed(self, number: int) -> None:
        self.select(number)
        self.triggered.emit(number)

    def _option(self, **change: object) -> None:
        if not self._showing:
            self.options_changed.emit(self.selected, dict(change))

    def _menu(self, number: int) -> None:
        self.select(number)
        menu = QMenu(self)
        menu.addAction("Assign current render", lambda: self.assign_current.emit(number))
        menu.addAction("Assign file…", lambda: self._choose(number))
        menu.addAction("Stop", lambda: self.stop_requested.emit(number))
        fresh = menu.addAction("Fresh: a new variation per hit", lambda: None)
        fresh.setCheckable(True)
        fresh.setChecked(self.pads[number - 1].fresh)
        fresh.setToolTip("Renders a pool of variations of the current prompt; each hit plays the next")
        fresh.toggled.connect(lambda on: self.fresh_requested.emit(number, on))
        modes = menu.addMenu("Mode")
        for mode in MODES:
            act = modes.addAction(MODE_BADGE[mode], lambda m=mode: self.mode_changed.emit(number, m))
            act.setCheckable(True)
            act.setChecked(self.pads[number - 1].mode == mode)
        menu.exec(self.pads[number - 1].mapToGlobal(self.pads[number - 1].rect().center()))

    def _choose(self, number: int) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Assign a file to pad {number}", "", AUDIO_FILTER)
        if path:
            self.assign_file.emit(number, Path(path))
