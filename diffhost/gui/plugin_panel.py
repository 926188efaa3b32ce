"""The Plugin row: the diffhost Bridge instances connected from DAWs, and where a render will go.

Lists the instances by their track's name (the id when the host gives no name), a pad 1..16,
"Send last render" (the render shown in the window) and "Renders go there" (every later finished
render lands on that pad). Reads host.live.bridge.PluginLink on a timer; the link does the work on
its own thread, so nothing here waits.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QCheckBox, QComboBox, QGridLayout, QLabel, QPushButton, QSpinBox, QWidget

POLL_MS = 1000  # instances say hello once a second


class PluginPanel(QWidget):
    def __init__(
        self,
        link: Any,
        current_path: Callable[[], Path | None],
        report: Callable[[str], None],
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.link = link  # host.live.bridge.PluginLink, or None without the live parts
        self.current_path = current_path
        self.report = report
        self.instance = QComboBox()
        self.instance.setToolTip("diffhost Bridge plugins in your DAW, by track (docs/plugin.md)")
        self.pad = QSpinBox()
        self.pad.setRange(1, 16)
        self.pad.setPrefix("pad ")
        self.send_button = QPushButton("Send last render")
        self.follow = QCheckBox("Renders go there")
        self.where = QLabel()
        self.where.setObjectName("dim")
        self.where.setWordWrap(True)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.instance, 0, 0, 1, 2)
        grid.addWidget(self.pad, 0, 2)
        grid.addWidget(self.send_button, 1, 0)
        grid.addWidget(self.follow, 1, 1, 1, 2)
        grid.addWidget(self.where, 2, 0, 1, 3)
        self.send_button.clicked.connect(self.send_last)
        self.follow.toggled.connect(self._retarget)
        self.instance.currentIndexChanged.connect(self._retarget)
        self.pad.valueChanged.connect(self._retarget)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.timer.start()
        self.poll()

    def chosen(self) -> str | None:
        ident = self.instance.currentData()
        return str(ident) if ident else None

    def poll(self) -> None:
        if self.link is None:
            self.setEnabled(False)
            self.where.setText("off: this window runs without the live parts")
            return
        infos = self.link.instances()
        # An asleep instance (its host stopped it) still takes renders: they wait for it to wake.
        wanted = [(f"{i.name} (asleep)" if i.state == "asleep" else i.name, i.id) for i in infos]
        have = [(self.instance.itemText(k), self.instance.itemData(k)) for k in range(self.instance.count())]
        if wanted != have:
            keep = self.chosen()
            self.instance.blockSignals(True)
            self.instance.clear()
            for name, ident in wanted:
                self.instance.addItem(name, ident)
            index = self.instance.findData(keep) if keep else -1
            self.instance.setCurrentIndex(index if index >= 0 else 0 if wanted else -1)
            self.instance.blockSignals(False)
        if not infos:
            self.instance.setPlaceholderText("no plugin connected")
        self.send_button.setEnabled(bool(infos))
        self._show_where()

    def _show_where(self) -> None:
        if self.link is None:
            return
        if self.follow.isChecked() and self.link.target is not None:
            text = self.link.describe_target()
            self.where.setText(text[:1].upper() + text[1:])
        elif self.chosen():
            self.where.setText(f"Send goes to {self.instance.currentText()}, pad {self.pad.value()}")
        else:
            self.where.setText("Add diffhost Bridge to a DAW track to send renders to its pads")

    def _retarget(self) -> None:
        if self.link is None:
            return
        ident = self.chosen()
        try:
            self.link.set_target(ident if self.follow.isChecked() and ident else None, self.pad.value())
        except ValueError as exc:  # the instance left meanwhile
            self.report(f"Plugin: {exc}")
            self.link.set_target(None)
        self._show_where()

    def send_last(self) -> None:
        ident, path = self.chosen(), self.current_path()
        if self.link is None or ident is None:
            return
        if path is None:
            self.report("Plugin: render something first (the render shown above is the one sent)")
            return
        try:
            self.link.send_render(ident, self.pad.value(), Path(path))
        except ValueError as exc:
            self.report(f"Plugin: {exc}")
            return
        self.report(f"Sending {Path(path).name} to {self.instance.currentText()}, pad {self.pad.value()}")
