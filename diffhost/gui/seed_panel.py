"""Seed audio: load (dialog or drop), record with a live meter, see and play it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtGui import QDragEnterEvent, QDropEvent
from PyQt6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from diffhost.gui import theme
from diffhost.gui.display import envelope
from diffhost.gui.dragout import dropped_files
from diffhost.gui.fit import ElidedLabel, fix_width
from diffhost.gui.meter import LevelMeter
from diffhost.gui.numbers import SaidDoubleSpinBox

SILENT_DBFS = -60.0  # a recording whose peak stays below this is taken for a dead input
AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.aiff *.aif *.mp3 *.m4a);;All files (*)"


class SeedPanel(QWidget):
    load_requested = pyqtSignal(Path)
    record_requested = pyqtSignal(float)
    record_render_requested = pyqtSignal(float)  # record, then render from it: one gesture
    play_requested = pyqtSignal()
    clear_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setToolTip(
            "Seed audio: drop a file here, load one, or record from the input.\nRender then re-imagines it (see Strength)."
        )
        self.name = ElidedLabel("No seed audio: prompt only")  # long names elide, whole in the tooltip
        self.name.setObjectName("dim")
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setVisible(False)

        theme.configure_plots()
        self.plot = pg.PlotWidget()
        self.plot.setFixedHeight(44)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setYRange(-1, 1, padding=0.05)
        self.curve = pg.PlotDataItem(pen=pg.mkPen(theme.READY), connect="pairs")
        self.plot.addItem(self.curve)

        self.load = QPushButton("Load…")
        self.load.setToolTip("Load seed audio from a file (WAV, FLAC, OGG, AIFF, MP3…)")
        self.play = QPushButton("▶")
        self.play.setToolTip("Play the seed clip")
        self.clear = QPushButton("✕")
        self.clear.setToolTip("Remove the seed clip")
        self.seconds = SaidDoubleSpinBox("Record length", "s")
        self.seconds.setRange(0.5, 60.0)
        self.seconds.setValue(4.0)
        self.seconds.setSuffix(" s")
        self.seconds.setToolTip("How long to record")
        self.record = QPushButton("● Rec")
        self.record.setToolTip("Record the seed clip from the audio input")
        self.record.setStyleSheet(f"QPushButton {{ color: {theme.DANGER}; }}")
        self.record_render = QPushButton("● Rec → Render")
        self.record_render.setObjectName("record-render")
        self.record_render.setToolTip(self._record_render_tip)
        self.record_render.setStyleSheet(f"QPushButton {{ color: {theme.DANGER}; }}")
        self.meter = LevelMeter()
        self.meter_label = QLabel("Input")
        self.meter_label.setObjectName("dim")
        self.meter_label.setToolTip("The audio input's level (peak and RMS, dBFS): what Rec records")
        # A recording that stays silent (a muted or wrong input) is said here, not rendered from.
        self.warning = QLabel("")
        self.warning.setObjectName("error")
        self.warning.setWordWrap(True)
        self.warning.setVisible(False)
        # Recording changes these labels; fixed widths keep the row still.
        fix_width(self.record, ("● Rec", "● Recording…"))
        fix_width(self.record_render, ("● Rec → Render", "● Recording…"))

        row = QHBoxLayout()
        row.addWidget(self.load)
        row.addWidget(self.play)
        row.addWidget(self.clear)
        row.addStretch(1)
        row.addWidget(self.seconds)
        rec = QHBoxLayout()
        rec.addWidget(self.record)
        rec.addWidget(self.record_render)
        rec.addStretch(1)
        meter_row = QHBoxLayout()
        meter_row.addWidget(self.meter_label)
        meter_row.addWidget(self.meter, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.name)
        layout.addWidget(self.plot)
        layout.addLayout(row)
        layout.addLayout(rec)
        layout.addLayout(meter_row)
        layout.addWidget(self.warning)
        layout.addWidget(self.error)

        self.load.clicked.connect(self._choose)
        self.play.clicked.connect(self.play_requested)
        self.clear.clicked.connect(self.clear_requested)
        self.record.clicked.connect(lambda: self.record_requested.emit(self.seconds.value()))
        self.seconds.adjusted.connect(self.show_error)
        self.record_render.clicked.connect(lambda: self.record_render_requested.emit(self.seconds.value()))
        self.show_clip(None, 0, "")

    def show_clip(self, audio: np.ndarray | None, sample_rate: int, name: str) -> None:
        self.error.setVisible(False)
        if name != "recording":
            self.warning.setVisible(False)
        if audio is None:
            self.curve.setData([], [])
            self.name.setText("No seed audio: prompt only")
            self.play.setEnabled(False)
            self.clear.setEnabled(False)
            return
        env = envelope(audio.mean(axis=0), 600)
        cols = env.shape[1]
        x = np.repeat(np.arange(cols, dtype=np.float32), 2)
        y = np.empty(cols * 2, dtype=np.float32)
        y[0::2], y[1::2] = env[0], env[1]
        self.curve.setData(x, y)
        self.plot.setXRange(0, cols, padding=0)
        self.name.setText(
            f"{name} · {audio.shape[1] / sample_rate:.2f} s · {sample_rate} Hz · {audio.shape[0]} ch"
        )
        self.play.setEnabled(self._audio_ok)
        self.clear.setEnabled(True)

    def check_recording(self, audio: np.ndarray) -> str | None:
        """Warn when a recording is silent (below SILENT_DBFS); returns its peak as text if so."""
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        db = 20 * np.log10(peak) if peak > 0 else float("-inf")
        if db >= SILENT_DBFS:
            self.warning.setVisible(False)
            return None
        said = "-inf dBFS" if peak <= 0 else f"{db:.0f} dBFS"
        self.warning.setText(
            f"⚠ The recording is silent (peak {said}): is the right input chosen in Audio… and is it "
            "turned up? Watch the Input meter while you play."
        )
        self.warning.setVisible(True)
        return said

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(True)

    _audio_ok = True
    _record_render_tip = (
        "Record the seed clip, then render from it at once (Tempo, Key, Strength and the prompt "
        "apply): beatbox a rhythm or hum a line, get a loop on it"
    )

    def set_audio_available(self, ok: bool, reason: str = "") -> None:
        """Recording and playback need host audio; without it they are off and say why."""
        self._audio_ok = ok
        for w in (self.record, self.record_render, self.seconds, self.play):
            w.setEnabled(ok)
        tip = "" if ok else f"Unavailable: {reason}"
        self.record.setToolTip(tip or "Record the seed clip from the audio input")
        self.record_render.setToolTip(tip or self._record_render_tip)
        self.meter.setEnabled(ok)

    def set_recording(self, on: bool, then_render: bool = False) -> None:
        """While recording, the button that was pressed says so and neither can start another."""
        self.record.setText("● Recording…" if on and not then_render else "● Rec")
        self.record_render.setText("● Recording…" if on and then_render else "● Rec → Render")
        self.record.setEnabled(not on and self._audio_ok)
        self.record_render.setEnabled(not on and self._audio_ok)

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load seed audio", "", AUDIO_FILTER)
        if path:
            self.load_requested.emit(Path(path))

    def dragEnterEvent(self, ev: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if dropped_files(ev.mimeData()):
            ev.acceptProposedAction()

    def dropEvent(self, ev: QDropEvent) -> None:  # noqa: N802
        files = dropped_files(ev.mimeData())
        if files:
            ev.acceptProposedAction()
            self.load_requested.emit(files[0])
