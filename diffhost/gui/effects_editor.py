"""Effects chain editor: add, remove, reorder, bypass, edit parameters; VST3 by path.

The chain is host.effects' JSON form: [{"effect": "Reverb", "params": {...}, "bypass": false}, ...],
with {"effect": "plugin", "path": ".../X.vst3", ...} for a VST3.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from diffhost.gui import effects_catalog as cat
from diffhost.gui.numbers import SaidDoubleSpinBox, SaidSpinBox


class EffectsEditor(QWidget):
    chain_changed = pyqtSignal(list)

    def __init__(self, parent: QWidget | None = None, validator: Callable[[list[dict]], Any] | None = None):
        super().__init__(parent)
        self._chain: list[dict] = []
        self._validate = validator if validator is not None else cat.validator()
        self._catalog = cat.catalog()

        self.list = QListWidget()
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.list.setToolTip("Signal flows top to bottom. Drag to reorder; untick to bypass.")
        self.kind = QComboBox()
        self.kind.addItems(sorted(self._catalog))
        self.kind.setCurrentText("Reverb")
        self.kind.setToolTip("Effect to add")
        self.add = QPushButton("Add")
        self.vst = QPushButton("VST3…")
        self.vst.setToolTip("Add a VST3 plug-in by its path (.vst3)")
        self.remove = QPushButton("Remove")
        self.up = QPushButton("▲")
        self.up.setToolTip("Move earlier in the chain")
        self.down = QPushButton("▼")
        self.down.setToolTip("Move later in the chain")
        self.form = QFormLayout()
        self.title = QLabel("Select an effect to edit its parameters")
        self.title.setObjectName("dim")
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)

        add_row = QHBoxLayout()
        add_row.addWidget(self.kind, 1)
        add_row.addWidget(self.add)
        add_row.addWidget(self.vst)
        move_row = QHBoxLayout()
        move_row.addWidget(self.up)
        move_row.addWidget(self.down)
        move_row.addStretch(1)
        move_row.addWidget(self.remove)
        left = QVBoxLayout()
        left.addLayout(add_row)
        left.addWidget(self.list, 1)
        left.addLayout(move_row)
        right = QVBoxLayout()
        right.addWidget(self.title)
        right.addLayout(self.form)
        right.addStretch(1)
        right.addWidget(self.error)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 3)
        layout.addLayout(right, 2)

        self.add.clicked.connect(lambda: self.add_effect(self.kind.currentText()))
        self.vst.clicked.connect(self._choose_vst)
        self.remove.clicked.connect(self.remove_selected)
        self.up.clicked.connect(lambda: self.move_selected(-1))
        self.down.clicked.connect(lambda: self.move_selected(+1))
        self.list.currentRowChanged.connect(self._show_params)
        self.list.itemChanged.connect(self._item_toggled)
        self.list.model().rowsMoved.connect(self._rows_moved)

    # -- the chain ------------------------------------------------------------------
    def chain(self) -> list[dict]:
        return copy.deepcopy(self._chain)

    def set_chain(self, chain: list[dict]) -> None:
        self._chain = [cat.normalize(e) for e in chain]
        self._rebuild(select=0 if self._chain else -1)
        self._changed(emit=False)

    def add_effect(self, name: str, params: dict | None = None) -> None:
        effect = cat.default_effect(name)
        if params:
            effect["params"].update(params)
        self._chain.append(effect)
        self._rebuild(select=len(self._chain) - 1)
        self._changed()

    def add_vst3(self, path: Path) -> None:
        self._chain.append({"effect": cat.PLUGIN, "path": str(path), "params": {}, "bypass": False})
        self._rebuild(select=len(self._chain) - 1)
        self._changed()

    def remove_selected(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self._chain):
            del self._chain[row]
            self._rebuild(select=min(row, len(self._chain) - 1))
            self._changed()

    def move_selected(self, delta: int) -> None:
        row = self.list.currentRow()
        to = row + delta
        if 0 <= row < len(self._chain) and 0 <= to < len(self._chain):
            self._chain.insert(to, self._chain.pop(row))
            self._rebuild(select=to)
            self._changed()

    def set_bypass(self, row: int, bypass: bool) -> None:
        self.list.item(row).setCheckState(Qt.CheckState.Unchecked if bypass else Qt.CheckState.Checked)

    def set_param(self, row: int, name: str, value: Any) -> None:
        self._chain[row]["params"][name] = value
        self._changed()

    # -- internals ------------------------------------------------------------------------
    def _label(self, e: dict) -> str:
        if e["effect"] == cat.PLUGIN:
            return f"VST3 · {Path(e.get('path') or '?').name}"
        return e["effect"]

    def _rebuild(self, select: int) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for e in self._chain:
            item = QListWidgetItem(self._label(e))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsDragEnabled)
            item.setCheckState(Qt.CheckState.Unchecked if e["bypass"] else Qt.CheckState.Checked)
            item.setToolTip("Ticked: active · unticked: bypassed")
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.list.setCurrentRow(select)
        self._show_params(select)

    def _show_params(self, row: int) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        if not 0 <= row < len(self._chain):
            self.title.setText("Select an effect to edit its parameters")
            return
        e = self._chain[row]
        self.title.setText(self._label(e))
        if e["effect"] == cat.PLUGIN:
            path = QLabel(e.get("path") or "")
            path.setWordWrap(True)
            self.form.addRow("Plug-in file", path)
            return
        for spec in self._catalog.get(e["effect"], ()):
            label = QLabel(spec.label)
            label.setToolTip(spec.name)  # the name presets and OSC use
            self.form.addRow(label, self._editor(row, spec, e["params"].get(spec.name, spec.default)))

    def _editor(self, row: int, spec: cat.ParamSpec, value: Any) -> QWidget:
        """A widget for one parameter; edits go straight into the chain."""

        def setter(v: Any, n: str = spec.name) -> None:
            self.set_param(row, n, v)

        w: QWidget
        if spec.kind == "bool":
            w = check = QCheckBox()
            check.setChecked(bool(value))
            check.toggled.connect(setter)
        elif spec.kind == "enum":
            w = combo = QComboBox()
            combo.addItems(spec.choices)
            combo.setCurrentText(str(value))
            combo.currentTextChanged.connect(setter)
        elif spec.kind == "path":
            w = line = QLineEdit(str(value or ""))
            line.setPlaceholderText("file path")
            line.editingFinished.connect(lambda: setter(line.text().strip()))
        else:
            # says when it clamps or rounds what was typed, under the chain
            spin: SaidSpinBox | SaidDoubleSpinBox
            if spec.kind == "int":
                spin = SaidSpinBox(spec.label, spec.unit)
                spin.setRange(int(spec.lo), int(spec.hi))
                spin.setSingleStep(max(1, int(spec.step)))
                spin.setValue(int(value))
            else:
                spin = SaidDoubleSpinBox(spec.label, spec.unit)
                spin.setDecimals(0 if spec.step >= 1 else 2 if spec.step >= 0.01 else 3)
                spin.setRange(spec.lo, spec.hi)
                spin.setSingleStep(spec.step)
                spin.setValue(float(value if value is not None else spec.lo))
            # after the edit it causes, which clears the error line
            spin.adjusted.connect(lambda m: QTimer.singleShot(0, lambda: self.error.setText(m)))
            spin.setSuffix(f" {spec.unit}" if spec.unit else "")
            spin.valueChanged.connect(setter)
            w = spin
        w.setToolTip(
            f"{spec.label} ({spec.name})"
            + (f": {spec.lo:g}..{spec.hi:g} {spec.unit}".rstrip() if spec.kind in ("float", "int") else "")
        )
        return w

    def _item_toggled(self, item: QListWidgetItem) -> None:
        row = self.list.row(item)
        if 0 <= row < len(self._chain):
            self._chain[row]["bypass"] = item.checkState() != Qt.CheckState.Checked
            self._changed()

    def _rows_moved(self, _parent, start: int, _end: int, _dest, dest_row: int) -> None:
        to = dest_row - 1 if dest_row > start else dest_row
        self._chain.insert(to, self._chain.pop(start))
        self._changed()

    def _changed(self, emit: bool = True) -> None:
        self.error.setText("")
        if self._validate is not None:
            try:  # plug-ins are loaded (slow, disk) when the chain is applied, not on every edit
                self._validate([e for e in self.chain() if e["effect"] != cat.PLUGIN])
            except ValueError as exc:
                self.error.setText(str(exc))
        if emit:
            self.chain_changed.emit(self.chain())

    def _choose_vst(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a VST3 plug-in", "", "VST3 (*.vst3);;All files (*)")
        if path:
            self.add_vst3(Path(path))
