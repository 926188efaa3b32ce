"""Waveform and spectrogram of the current render, with the playhead; drag it out as a file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPoint, Qt, pyqtSignal
from PyQt6.QtGui import QMouseEvent
from PyQt6.QtWidgets import QApplication, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from diffhost.gui import theme
from diffhost.gui.display import DisplayData, music_label
from diffhost.gui.dragout import start_file_drag
from diffhost.gui.fit import ElidedLabel


class _Plots(pg.GraphicsLayoutWidget):
    """The plots, with mouse pan/zoom off so a press-and-drag carries the file out."""

    def __init__(self, owner: WaveformView):
        super().__init__()
        self._owner = owner
        self._press: QPoint | None = None

    def mousePressEvent(self, ev: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if ev.button() == Qt.MouseButton.LeftButton:
            self._press = ev.position().toPoint()
        super().mousePressEvent(ev)

    def mouseMoveEvent(self, ev: QMouseEvent) -> None:  # noqa: N802
        path = self._owner.path
        if (
            self._press is not None
            and path is not None
            and (ev.position().toPoint() - self._press).manhattanLength() >= QApplication.startDragDistance()
        ):
            self._press = None
            start_file_drag(self, [path])
            return
        super().mouseMoveEvent(ev)

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:  # noqa: N802
        if self._press is not None and ev.button() == Qt.MouseButton.LeftButton:
            x = self._owner.wave.vb.mapSceneToView(self.mapToScene(ev.position().toPoint())).x()
            self._owner.seek_requested.emit(max(0.0, float(x)))
        self._press = None
        super().mouseReleaseEvent(ev)


class WaveformView(QWidget):
    seek_requested = pyqtSignal(float)  # seconds

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.data: DisplayData | None = None
        theme.configure_plots()

        # Names and figures elide (whole in the tooltip) so a long file name never widens the window.
        self.title = ElidedLabel("No render yet: type a prompt and press Render (Ctrl+R)", min_chars=10)
        self.info = ElidedLabel("", min_chars=10)
        self.info.setObjectName("value")
        # The music a loop or phrase was rendered with (its sidecar's tempo, key, bars, loop).
        self.music = ElidedLabel("", min_chars=10)
        self.music.setObjectName("music")  # a framed tag, apart from the file's own figures
        self.music.setVisible(False)
        self.music.setToolTip("Tempo, key and length in bars this render used (from its sidecar)")
        self.music_info: dict | None = None
        self.hint = QLabel("⇲ drag")
        self.hint.setToolTip("Drag the waveform onto a DAW track to import the file")
        self.hint.setObjectName("dim")
        self.hint.setVisible(False)
        head = QHBoxLayout()
        head.setContentsMargins(4, 0, 4, 0)
        head.addWidget(self.title, 2)
        head.addWidget(self.music, 1)
        head.addSpacing(8)
        head.addWidget(self.info, 1)
        head.addSpacing(8)
        head.addWidget(self.hint)

        self.plots = _Plots(self)
        self.plots.setToolTip(
            "Waveform and spectrogram of the current render.\nDrag onto a DAW track to import the file; click to move the playhead."
        )
        self.plots.ci.setContentsMargins(0, 0, 0, 0)
        self.plots.ci.setSpacing(2)
        self.wave = self.plots.addPlot(row=0, col=0)
        self.spec = self.plots.addPlot(row=1, col=0)
        self.plots.ci.layout.setRowStretchFactor(0, 3)
        self.plots.ci.layout.setRowStretchFactor(1, 2)
        for p in (self.wave, self.spec):
            p.setMouseEnabled(x=False, y=False)
            p.hideButtons()
            p.setMenuEnabled(False)
            p.getAxis("left").setWidth(44)
        self.wave.setYRange(-1, 1, padding=0.02)
        self.wave.getAxis("bottom").setStyle(showValues=False)
        self.spec.setXLink(self.wave)
        self.spec.setLabel("bottom", "time", units="s")
        self.spec.getAxis("left").setLabel("kHz")

        self.curve = pg.PlotDataItem(pen=pg.mkPen(theme.ACCENT, width=1), connect="pairs")
        self.wave.addItem(self.curve)
        self.wave.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen(theme.LINE)))
        self.image = pg.ImageItem()
        self.image.setColorMap(pg.colormap.get("inferno"))
        self.spec.addItem(self.image)
        self.playheads = []
        for p in (self.wave, self.spec):
            line = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen("#ffffff", width=1.5))
            line.setVisible(False)
            p.addItem(line)
            self.playheads.append(line)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addWidget(self.plots, 1)
        self.clear()

    @property
    def path(self) -> Path | None:
        return self.data.path if self.data is not None else None

    def clear(self) -> None:
        self.data = None
        self.curve.setData([], [])
        self.image.clear()
        self.wave.setXRange(0, 1, padding=0)
        self.spec.setYRange(0, 22.05, padding=0)
        self.hint.setVisible(False)
        self.info.setText("")
        self.music_info = None
        self.music.setText("")
        self.music.setVisible(False)

    def show_data(self, data: DisplayData) -> None:
        # A re-processed take of the same render (A/B, a new chain) keeps the music it was made with.
        same = self.data is not None and data.path is not None and self.data.path == data.path
        self.music_info = data.music if data.music is not None or not same else self.music_info
        self.music.setText(music_label(self.music_info))
        self.music.setVisible(bool(self.music.text()))
        self.data = data
        env = data.envelope
        cols = env.shape[1]
        x = np.repeat(np.linspace(0.0, data.duration_s, cols, dtype=np.float32), 2)
        y = np.empty(cols * 2, dtype=np.float32)
        y[0::2], y[1::2] = env[0], env[1]
        self.curve.setData(x, y)
        self.image.setImage(data.spectrogram, autoLevels=False, levels=(-100.0, 0.0))
        self.image.setRect(0.0, 0.0, data.duration_s, data.max_freq / 1000)
        self.wave.setXRange(0, data.duration_s, padding=0)
        self.spec.setYRange(0, data.max_freq / 1000, padding=0)
        name = data.path.name if data.path else "seed clip"
        self.title.setText(name)
        self.title.setToolTip(str(data.path) if data.path else "")
        ch = data.audio.shape[0]
        self.info.setText(
            f"{data.duration_s:.2f} s · {data.sample_rate / 1000:g} kHz · {ch} ch · peak {data.peak_dbfs:.1f} dBFS"
        )
        self.hint.setVisible(data.path is not None)
        self.set_playhead(None)

    def set_playhead(self, seconds: float | None) -> None:
        for line in self.playheads:
            line.setVisible(seconds is not None)
            if seconds is not None:
                line.setPos(seconds)

    def plotted_points(self) -> int:
        """How many envelope points are on screen (tests and status)."""
        x, _ = self.curve.getData()
        return 0 if x is None else len(x)
