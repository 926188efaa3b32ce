"""Presets menu: the store's presets to load, and Save as…"""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QInputDialog, QMenu, QWidget


class PresetsMenu(QMenu):
    load_requested = pyqtSignal(str)
    save_requested = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None, reason: str = ""):
        super().__init__("&Presets", parent)
        self.setToolTipsVisible(True)
        self._reason = reason
        self.names: list[str] = []
        self.set_names([])

    def set_names(self, names: list[str]) -> None:
        self.names = list(names)
        self.clear()
        save = self.addAction("Save as…", self._ask_name)
        save.setShortcut("Ctrl+Shift+S")
        save.setEnabled(not self._reason)
        self.addSeparator()
        if self._reason:
            info = self.addAction(f"Presets unavailable: {self._reason}")
            info.setEnabled(False)
            return
        if not names:
            empty = self.addAction("No presets yet")
            empty.setEnabled(False)
        for name in names:
            self.addAction(name, lambda n=name: self.load_requested.emit(n))

    def _ask_name(self) -> None:
        name, ok = QInputDialog.getText(self.parentWidget(), "Save preset", "Preset name:")
        if ok and name.strip():
            self.save_requested.emit(name.strip())
