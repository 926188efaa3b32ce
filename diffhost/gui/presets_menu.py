"""Presets menu: "No preset", the store's presets to load (the current one ticked), and Save as…"""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QInputDialog, QMenu, QWidget


class PresetsMenu(QMenu):
    load_requested = pyqtSignal(str)
    save_requested = pyqtSignal(str)
    clear_requested = pyqtSignal()  # "No preset": default chain, finishing and tags
    apply_requested = pyqtSignal()  # re-process the loaded render with the current recipe

    def __init__(self, parent: QWidget | None = None, reason: str = ""):
        super().__init__("&Presets", parent)
        self.setToolTipsVisible(True)
        self._reason = reason
        self.names: list[str] = []
        self.current: str | None = None
        self.set_names([])

    def set_current(self, name: str | None) -> None:
        self.current = name
        self.set_names(self.names)

    def set_names(self, names: list[str]) -> None:
        self.names = list(names)
        self.clear()
        save = self.addAction("Save as…", self._ask_name)
        save.setShortcut("Ctrl+Shift+S")
        save.setEnabled(not self._reason)
        self.addSeparator()
        none = self.addAction("No preset", self.clear_requested.emit)
        none.setCheckable(True)
        none.setChecked(self.current is None)
        none.setToolTip("No effects, default finishing (DC removal, peak −1 dBFS) and no preset tags")
        self.no_preset_action = none
        apply = self.addAction("Apply to this render", self.apply_requested.emit)
        apply.setToolTip(
            "Re-process the loaded render with the current preset's effects and finishing "
            "(Keep or Replace then saves it); choosing a preset alone only sets the next render"
        )
        self.apply_action = apply
        self.addSeparator()
        if self._reason:
            info = self.addAction(f"Presets unavailable: {self._reason}")
            info.setEnabled(False)
            return
        if not names:
            empty = self.addAction("No presets yet")
            empty.setEnabled(False)
        for name in names:
            action = self.addAction(name, lambda n=name: self.load_requested.emit(n))
            action.setCheckable(True)
            action.setChecked(name == self.current)

    def _ask_name(self) -> None:
        name, ok = QInputDialog.getText(self.parentWidget(), "Save preset", "Preset name:")
        if ok and name.strip():
            self.save_requested.emit(name.strip())
