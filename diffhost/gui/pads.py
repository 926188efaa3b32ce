"""The 4x4 pad grid: assign renders, trigger by click or key, show each pad's state and mode; the
selected pad's mode, gain, pan, choke group and quantize; tempo (and where it comes from), quantize.

Pads are numbered 1..16 here as everywhere (OSC, kits, MIDI). Clicking a pad or the grid takes
the keyboard focus away from any text field, so the pad keys fire pads. The selected pad's number
fields take typed values only when focused on purpose (Tab, or a double-click); Enter or Esc hands
the keys back to the pads. A click or the wheel changes them without taking the keyboard.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from PyQt6.QtCore import QEvent, QObject, QRect, QSize, Qt, pyqtSignal
from PyQt6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QFont,
    QFontMetrics,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QValidator,
)
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QStyle,
    QStyleOptionButton,
    QVBoxLayout,
    QWidget,
)

from diffhost.gui.dragout import dropped_files
from diffhost.gui.fit import ElidedLabel
from diffhost.gui.numbers import SaidDoubleSpinBox, SaidSpinBox
from diffhost.gui.seed_panel import AUDIO_FILTER

PAD_KEYS = "1234QWERASDFZXCV"  # one row of the keyboard per row of pads
QUANTIZE = (("Off", 0.0), ("1/16", 0.25), ("1/8", 0.5), ("1/4", 1.0), ("1/2", 2.0), ("1 bar", 4.0))
MODES = ("oneshot", "loop", "gate")
MODE_BADGE = {"oneshot": "▶ one-shot", "loop": "⟳ loop", "gate": "▮ gate"}
MODE_MARK = {"oneshot": "▶", "loop": "⟳", "gate": "▮"}  # on the pad face, where room is short
PAD_COUNT = 16


def pad_label(path: Path) -> str:
    """A short pad name: diffhost's render names are <stamp>-<prompt>-s<seed>; keep the prompt."""
    m = re.match(r"^\d{8}-\d{6}-(.+?)(?:-s\d+)?(?:-v\d+)?(?:-\d+)?$", Path(path).stem)
    return (m.group(1) if m else Path(path).stem).replace("-", " ")


def gain_db(gain: float) -> float:
    return -60.0 if gain <= 0.001 else 20.0 * math.log10(gain)


def db_gain(db: float) -> float:
    return 0.0 if db <= -60.0 else 10.0 ** (db / 20.0)


def pan_text(pan: float) -> str:
    """Pan as a mixer shows it: L50, C, R100 (pan is -1..1)."""
    v = round(pan * 100)
    return "C" if v == 0 else f"L{-v}" if v < 0 else f"R{v}"


def face_options(gain: float, pan: float, choke_group: int) -> str:
    """The pad face's short form: "-6 dB L50 ch2"."""
    db = gain_db(gain)
    level = "-inf" if db <= -60.0 else "0" if abs(db) < 0.05 else f"{db:+.1f}".removesuffix(".0")
    level += " dB"
    return f"{level} {pan_text(pan)}" + (f" ch{choke_group}" if choke_group else "")


def options_text(gain: float, pan: float, choke_group: int) -> str:
    """A pad's gain, pan and choke group in a few characters, for its face."""
    db = gain_db(gain)
    level = "-inf dB" if db <= -60.0 else f"{db:+.1f} dB".replace("+0.0", "0.0")
    return f"{level} · {pan_text(pan)}" + (f" · choke {choke_group}" if choke_group else "")


class PanBox(SaidSpinBox):
    """Pan in percent, shown and typed as L100 … C … R100 ("-50" and "50" are read too)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Pan", "", parent)
        self.setRange(-100, 100)

    def textFromValue(self, v: int) -> str:  # noqa: N802 - Qt override
        return pan_text(v / 100.0)

    def valueFromText(self, text: str) -> int:  # noqa: N802 - Qt override
        parsed = _parse_pan(text)
        return self.value() if parsed is None else max(-100, min(100, parsed))

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        t = text.strip().upper()
        if t in ("", "L", "R", "-", "+"):
            return QValidator.State.Intermediate, text, pos
        parsed = _parse_pan(text)
        if parsed is None:
            return QValidator.State.Invalid, text, pos
        ok = -100 <= parsed <= 100
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate), text, pos

    def fixup(self, text: str) -> str:
        parsed = _parse_pan(text)
        if parsed is None:
            return self.textFromValue(self.value())
        value = max(-100, min(100, parsed))
        if value != parsed:
            self.adjusted.emit(f"Pan {text.strip()} is beyond L100…R100: set to {self.textFromValue(value)}")
        return self.textFromValue(value)


def _parse_pan(text: str) -> int | None:
    m = re.fullmatch(r"\s*([LRC]?)\s*([+-]?\d*)\s*", text.strip().upper())
    if not m:
        return None
    side, digits = m.groups()
    if side == "C":
        return 0 if digits in ("", "0") else None
    if not digits or digits in ("+", "-"):
        return None
    n = int(digits)
    if side == "L":
        return -abs(n)
    return abs(n) if side == "R" else n


class _OnPurpose(QObject):
    """A pad option field takes the keyboard only when asked: a double-click (or Tab) focuses it;
    Enter or Esc gives the keys back to the pads."""

    def __init__(self, box: QAbstractSpinBox, home: QWidget):
        super().__init__(box)
        self.box, self.home = box, home
        box.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        box.installEventFilter(self)
        box.lineEdit().installEventFilter(self)

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:  # noqa: N802 - Qt override
        if ev.type() == QEvent.Type.MouseButtonDblClick:
            self.box.setFocus(Qt.FocusReason.MouseFocusReason)
            self.box.selectAll()
            return True
        if ev.type() == QEvent.Type.KeyPress and ev.key() in (  # type: ignore[attr-defined]
            Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape
        ):
            # Enter (and Esc, as everywhere in the window) takes what was typed and leaves
            self.box.interpretText()
            self.home.setFocus(Qt.FocusReason.OtherFocusReason)
            return True
        return False


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
        self.options = ""  # gain, pan and choke group as options_text() writes them
        self.face_options = ""  # the same, short enough for the pad's face
        self.setObjectName("pad")
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setMinimumSize(60, 58)
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

    def set_options(self, gain: float, pan: float, choke_group: int) -> None:
        self.options = options_text(gain, pan, choke_group)
        self.face_options = face_options(gain, pan, choke_group)
        self._refresh()

    def _refresh(self) -> None:
        # text() says everything (tests, screen readers); paintEvent draws it to fit the pad.
        mode = MODE_BADGE.get(self.mode, self.mode) + (" ✱ fresh" if self.fresh else "")
        self.setText(f"{self.number} [{self.key}] {mode}\n{self.sample or '—'}\n{self.options}")
        self.setToolTip(
            f"Pad {self.number} ({self.state}, {mode}) · key {self.key}\n"
            + (f"{self.options}\n" if self.options else "")
            + f"{self.sample or 'empty: drop a render or file here, or right-click to assign'}"
        )
        self.update()

    def paintEvent(self, _ev: QPaintEvent) -> None:  # noqa: N802 - Qt override
        """Three lines that fit a small pad: number, key and mode; the clip; gain, pan and choke."""
        opt = QStyleOptionButton()
        self.initStyleOption(opt)
        opt.text = ""
        p = QPainter(self)
        self.style().drawControl(QStyle.ControlElement.CE_PushButton, opt, p, self)
        r = self.rect().adjusted(6, 4, -6, -4)
        pen = self.palette().color(QPalette.ColorRole.ButtonText)
        p.setPen(pen)
        font = QFont(self.font())
        font.setBold(True)
        p.setFont(font)
        fm = QFontMetrics(font)
        line = fm.height()
        mark = MODE_MARK.get(self.mode, self.mode) + (" ✱" if self.fresh else "")
        top = QRect(r.left(), r.top(), r.width(), line)
        p.drawText(top, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), f"{self.number} [{self.key}]")
        p.drawText(top, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), mark)
        font.setBold(False)
        p.setFont(font)
        fm = QFontMetrics(font)
        middle = QRect(r.left(), top.bottom() + 1, r.width(), max(line, r.height() - 2 * line))
        name = fm.elidedText(self.sample or "—", Qt.TextElideMode.ElideRight, r.width())
        p.drawText(middle, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter), name)
        small = QFont(font)
        small.setPointSizeF(max(6.5, font.pointSizeF() * 0.85))
        p.setFont(small)
        dim = QColor(pen)
        dim.setAlphaF(0.7)
        p.setPen(dim)
        bottom = QRect(r.left(), r.bottom() - line + 1, r.width(), line)
        text = QFontMetrics(small).elidedText(self.face_options, Qt.TextElideMode.ElideRight, r.width())
        p.drawText(bottom, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter), text)
        p.end()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(84, 66)  # every pad asks the same, whatever its text: the grid stays even

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return self.minimumSize()

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
            grid.setColumnStretch((pad.number - 1) % 4, 1)
            grid.setRowStretch((pad.number - 1) // 4, 1)
            pad.pressed.connect(lambda n=pad.number: self._pressed(n))
            pad.released.connect(self.released)
            pad.dropped.connect(self.assign_file)
            pad.customContextMenuRequested.connect(lambda _p, n=pad.number: self._menu(n))

        # the selected pad's options, stacked in a grid so the panel stays narrow
        self.pad_title = QLabel()
        self.pad_title.setObjectName("value")
        self.mode = QComboBox()
        for m in MODES:
            self.mode.addItem(MODE_BADGE[m], m)
        self.mode.setToolTip("one-shot plays to the end; loop repeats until stopped; gate plays while held")
        self.gain = SaidDoubleSpinBox("Gain", "dB")
        self.gain.setRange(-60.0, 12.0)
        self.gain.setDecimals(1)
        self.gain.setSuffix(" dB")
        self.gain.setSpecialValueText("-inf dB")
        self.gain.setToolTip("The pad's gain (velocity multiplies it). Double-click or Tab to type; wheel to step")
        self.pan = PanBox()
        self.pan.setToolTip("Pan: L100 … C … R100. Double-click or Tab to type (L30, R30, C); wheel to step")
        self.choke = SaidSpinBox("Choke group")
        self.choke.setRange(0, 16)
        self.choke.setSpecialValueText("none")
        self.choke.setToolTip("Choke group: a pad starting cuts the other pads of its group (0 = none)")
        self.pad_quantize = QComboBox()
        self.pad_quantize.addItem("Session", None)
        for label, beats in QUANTIZE:
            self.pad_quantize.addItem(label, beats)
        self.pad_quantize.setToolTip("This pad's quantize (Session = the Quantize below)")

        # The pads' grid tempo, shown here and set with the window's one Tempo (Generate panel), so
        # loops rendered at that tempo stay in sync with quantized triggers (gui.tempo_control).
        self.tempo_bpm = 120.0
        self.tempo = QLabel()
        self.tempo.setObjectName("value")
        self.tempo.setToolTip(
            "Tempo of the pads' grid: quantized triggers land on it. Set it with Tempo in the "
            "Generate panel (renders use the same tempo), OSC /diffhost/tempo, Link or MIDI clock."
        )
        self.tempo_source = ElidedLabel("session", min_chars=6)
        self.tempo_source.setObjectName("dim")
        self.tempo_source.setToolTip("Where the tempo comes from: session, Ableton Link or MIDI clock")
        self.quantize = QComboBox()
        for label, beats in QUANTIZE:
            self.quantize.addItem(label, beats)
        self.quantize.setToolTip("Quantize pad triggers to the next grid line (Off = immediately)")
        self.stop_all = QPushButton("■ All")
        self.stop_all.setToolTip("Stop every pad")
        _no_focus(self.mode, self.pad_quantize, self.quantize, self.stop_all)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # a click on the grid takes the keys from text fields
        self._on_purpose = [_OnPurpose(box, self) for box in (self.gain, self.pan, self.choke)]
        self.status = QLabel("")
        self.status.setObjectName("dim")
        self.status.setWordWrap(True)
        opts = QGridLayout()
        opts.setHorizontalSpacing(6)
        opts.setVerticalSpacing(4)
        opts.addWidget(self.pad_title, 0, 0)
        opts.addWidget(self.mode, 0, 1)
        opts.addWidget(QLabel("Q"), 0, 2, Qt.AlignmentFlag.AlignRight)
        opts.addWidget(self.pad_quantize, 0, 3)
        opts.addWidget(QLabel("Gain"), 1, 0)
        opts.addWidget(self.gain, 1, 1)
        opts.addWidget(QLabel("Pan"), 1, 2, Qt.AlignmentFlag.AlignRight)
        opts.addWidget(self.pan, 1, 3)
        opts.addWidget(QLabel("Choke"), 2, 0)
        opts.addWidget(self.choke, 2, 1)
        opts.addWidget(self.stop_all, 2, 3)
        tempo_row = QHBoxLayout()
        tempo_row.setSpacing(6)
        tempo_row.addWidget(self.tempo)
        tempo_row.addWidget(self.tempo_source, 1)
        opts.addWidget(QLabel("Tempo"), 3, 0)
        opts.addLayout(tempo_row, 3, 1)
        opts.addWidget(QLabel("Quant."), 3, 2, Qt.AlignmentFlag.AlignRight)
        opts.addWidget(self.quantize, 3, 3)
        opts.setColumnStretch(1, 1)
        opts.setColumnStretch(3, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(grid, 1)
        layout.addLayout(opts)
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
        pad.set_options(options.gain, options.pan, options.choke_group)  # type: ignore[attr-defined]
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

    def mousePressEvent(self, ev: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self.setFocus(Qt.FocusReason.MouseFocusReason)  # out of any text field: the pad keys play
        super().mousePressEvent(ev)

    def _pressed(self, number: int) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)  # out of any text field: the pad keys play
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
