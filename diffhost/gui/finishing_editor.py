"""Finishing editor: the steps after the effects (host.finishing), visible and editable.

Shows what the loaded preset (or "No preset") does to every render: DC removal, channels, the
effect tail (reverb and delay ring on past the clip's end), trim, fades, sample rate and
normalization. Loop and tempo fit, which presets may carry, are kept and listed read-only.
Every edit emits the whole finishing dict; host.finishing validates it when it is applied.
"""

from __future__ import annotations

import copy
from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from diffhost.gui.numbers import SaidDoubleSpinBox
from diffhost.host.render.export import MENU_CHOICES

DEFAULT: dict[str, Any] = {
    "dc_remove": "loop_mean",  # host.render.finishing.DC_LOOP_MEAN (no host import in the GUI's defaults)
    "channels": None,
    "tail_s": 0.0,
    "trim_silence": None,
    "tempo_fit": None,
    "loop": None,
    "fade_in_ms": 0.0,
    "fade_out_ms": 0.0,
    "fade_shape": "linear",
    "sample_rate": None,
    "normalize": {"mode": "peak", "peak_db": -1.0},
}
SAMPLE_RATES = (None, 22050, 32000, 44100, 48000, 88200, 96000)


def _spin(
    lo: float, hi: float, step: float, suffix: str, decimals: int = 1, what: str = "Value", unit: str = ""
) -> SaidDoubleSpinBox:
    w = SaidDoubleSpinBox(what, unit)  # says when it clamps or rounds what was typed
    w.setRange(lo, hi)
    w.setSingleStep(step)
    w.setDecimals(decimals)
    w.setSuffix(suffix)
    return w


FORMATS = MENU_CHOICES  # label -> host.export settings; 24-bit WAV is the default


class FinishingEditor(QWidget):
    finishing_changed = pyqtSignal(dict)
    export_changed = pyqtSignal(dict)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._data: dict[str, Any] = copy.deepcopy(DEFAULT)
        self._dc_mode: bool | str = DEFAULT["dc_remove"]

        self.dc_remove = QCheckBox("Remove DC offset")
        self.channels = QComboBox()
        for label, value in (("Keep", None), ("Mono", 1), ("Stereo", 2)):
            self.channels.addItem(label, value)
        self.tail = _spin(0.0, 30.0, 0.25, " s", 2, "Effect tail", "s")
        self.tail.setToolTip(
            "Effect tail: silence added after the clip before the effects run, so reverb and\n"
            "delay tails ring out instead of being cut at the render length (0 = no tail)"
        )
        self.trim = QCheckBox("Trim silence")
        self.trim_db = _spin(-120.0, -10.0, 1.0, " dB below peak", 1, "Trim threshold", "dB")
        self.fade_in = _spin(0.0, 60000.0, 5.0, " ms", 1, "Fade in", "ms")
        self.fade_out = _spin(0.0, 60000.0, 5.0, " ms", 1, "Fade out", "ms")
        self.fade_shape = QComboBox()
        self.fade_shape.addItems(["linear", "sine"])
        self.sample_rate = QComboBox()
        for sr in SAMPLE_RATES:
            self.sample_rate.addItem("Keep" if sr is None else f"{sr} Hz", sr)
        self.normalize = QComboBox()
        for label, mode in (("Off", None), ("Peak", "peak"), ("Loudness (LUFS)", "lufs")):
            self.normalize.addItem(label, mode)
        self.level = _spin(-60.0, 0.0, 0.5, " dBFS", 1, "Normalize level", "dBFS")
        self.ceiling = _spin(-60.0, 0.0, 0.5, " dBFS ceiling", 1, "Ceiling", "dBFS")
        self.format = QComboBox()
        for label, spec in FORMATS.items():
            self.format.addItem(label, spec)
        self.format.setToolTip("The file each render (and each kept re-process) is written as")
        self.extra = QLabel("")
        self.extra.setObjectName("dim")
        self.extra.setWordWrap(True)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.number_fields = (self.tail, self.trim_db, self.fade_in, self.fade_out, self.level, self.ceiling)

        trim_row = QHBoxLayout()
        trim_row.addWidget(self.trim)
        trim_row.addWidget(self.trim_db, 1)
        fade_row = QHBoxLayout()
        fade_row.addWidget(QLabel("in"))
        fade_row.addWidget(self.fade_in, 1)
        fade_row.addWidget(QLabel("out"))
        fade_row.addWidget(self.fade_out, 1)
        fade_row.addWidget(self.fade_shape)
        norm_row = QHBoxLayout()
        norm_row.addWidget(self.normalize)
        norm_row.addWidget(self.level, 1)
        norm_row.addWidget(self.ceiling, 1)
        form = QFormLayout()
        form.addRow("", self.dc_remove)
        form.addRow("Channels", self.channels)
        form.addRow("Effect tail", self.tail)
        form.addRow("Trim", trim_row)
        form.addRow("Fades", fade_row)
        form.addRow("Sample rate", self.sample_rate)
        form.addRow("Normalize", norm_row)
        form.addRow("File format", self.format)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.extra)
        layout.addStretch(1)
        layout.addWidget(self.error)

        for w in (self.dc_remove, self.trim):
            w.toggled.connect(self._edited)
        for spin in (self.tail, self.trim_db, self.fade_in, self.fade_out, self.level, self.ceiling):
            spin.valueChanged.connect(self._edited)
        for combo in (self.channels, self.fade_shape, self.sample_rate, self.normalize):
            combo.currentIndexChanged.connect(self._edited)
        self.format.currentIndexChanged.connect(lambda _i: self.export_changed.emit(self.export()))
        self.set_finishing(DEFAULT)

    def export(self) -> dict[str, Any]:
        return dict(self.format.currentData())

    def set_export(self, export: dict[str, Any]) -> None:
        """Show an export setting (a preset's) without emitting it; an unlisted one is added."""
        spec = {k: v for k, v in export.items() if k in ("format", "bit_depth", "quality")}
        index = next((i for i in range(self.format.count()) if self.format.itemData(i) == spec), -1)
        if index < 0:
            label = " ".join(str(v) for v in spec.values()).upper()
            self.format.addItem(label, spec)
            index = self.format.count() - 1
        self.format.blockSignals(True)
        self.format.setCurrentIndex(index)
        self.format.blockSignals(False)

    # -- values ---------------------------------------------------------------------
    def finishing(self) -> dict[str, Any]:
        return copy.deepcopy(self._data)

    def set_finishing(self, data: dict[str, Any] | None) -> None:
        """Show a finishing dict (a preset's, or the default) without emitting it back."""
        d = {**copy.deepcopy(DEFAULT), **copy.deepcopy(data or {})}
        if data is not None and "dc_remove" not in data:
            d["dc_remove"] = True  # a preset from before DC modes keeps its 5 Hz high-pass
        self._dc_mode = d["dc_remove"] or DEFAULT["dc_remove"]  # what ticking the box turns on
        self._data = d
        widgets = self._widgets()
        for w in widgets:
            w.blockSignals(True)
        try:
            self.dc_remove.setChecked(bool(d["dc_remove"]))
            self.channels.setCurrentIndex(max(0, self.channels.findData(d["channels"])))
            self.tail.setValue(float(d["tail_s"] or 0.0))
            trim = d["trim_silence"]
            self.trim.setChecked(bool(trim))
            self.trim_db.setValue(float((trim or {}).get("threshold_db", -60.0)))
            self.fade_in.setValue(float(d["fade_in_ms"] or 0.0))
            self.fade_out.setValue(float(d["fade_out_ms"] or 0.0))
            self.fade_shape.setCurrentText(d["fade_shape"] or "linear")
            if self.sample_rate.findData(d["sample_rate"]) < 0:
                self.sample_rate.addItem(f"{d['sample_rate']} Hz", d["sample_rate"])
            self.sample_rate.setCurrentIndex(self.sample_rate.findData(d["sample_rate"]))
            norm = d["normalize"] or {}
            self.normalize.setCurrentIndex(max(0, self.normalize.findData(norm.get("mode"))))
            if norm.get("mode") == "lufs":
                self.level.setValue(float(norm.get("lufs", -14.0)))
                ceiling = norm.get("ceiling_db")
                self.ceiling.setValue(float(ceiling if ceiling is not None else -1.0))
            else:
                self.level.setValue(float(norm.get("peak_db", -1.0)))
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._update_enabled()
        self._show_extra()
        self.error.setText("")

    # -- internals ------------------------------------------------------------------------
    def _widgets(self) -> list[QWidget]:
        return [
            self.dc_remove,
            self.channels,
            self.tail,
            self.trim,
            self.trim_db,
            self.fade_in,
            self.fade_out,
            self.fade_shape,
            self.sample_rate,
            self.normalize,
            self.level,
            self.ceiling,
        ]

    def _edited(self, *_a: Any) -> None:
        d = self._data
        # on: the mode the finishing was shown with (a preset's high-pass, or a loop's mean)
        d["dc_remove"] = self._dc_mode if self.dc_remove.isChecked() else False
        d["channels"] = self.channels.currentData()
        d["tail_s"] = round(self.tail.value(), 3)
        if self.trim.isChecked():
            d["trim_silence"] = {**(d.get("trim_silence") or {"pad_ms": 2.0}), "threshold_db": self.trim_db.value()}
        else:
            d["trim_silence"] = None
        d["fade_in_ms"] = self.fade_in.value()
        d["fade_out_ms"] = self.fade_out.value()
        d["fade_shape"] = self.fade_shape.currentText()
        d["sample_rate"] = self.sample_rate.currentData()
        mode = self.normalize.currentData()
        old = d.get("normalize") or {}
        if mode is None:
            d["normalize"] = None
        elif mode == "peak":
            level = self.level.value() if old.get("mode") == "peak" else -1.0
            d["normalize"] = {"mode": "peak", "peak_db": level}
        else:
            level = self.level.value() if old.get("mode") == "lufs" else -14.0
            d["normalize"] = {"mode": "lufs", "lufs": level, "ceiling_db": self.ceiling.value()}
        if mode != old.get("mode"):  # switching modes: show the new mode's default level
            self.set_finishing(d)
        self._update_enabled()
        self.error.setText("")
        self.finishing_changed.emit(self.finishing())

    def _update_enabled(self) -> None:
        mode = self.normalize.currentData()
        self.trim_db.setEnabled(self.trim.isChecked())
        self.level.setEnabled(mode is not None)
        self.level.setSuffix(" LUFS" if mode == "lufs" else " dBFS peak")
        self.ceiling.setVisible(mode == "lufs")

    def _show_extra(self) -> None:
        notes = []
        loop = self._data.get("loop")
        if loop:
            notes.append(
                f"Loop: {loop.get('bars', 1):g} bar(s) at {loop.get('bpm'):g} BPM, "
                f"{loop.get('crossfade_ms', 30):g} ms {loop.get('mode', 'crossfade')}"
            )
        tempo = self._data.get("tempo_fit")
        if tempo:
            notes.append(f"Tempo fit: {tempo.get('source_bpm'):g} → {tempo.get('target_bpm'):g} BPM")
        self.extra.setText(" · ".join(notes) + (" (from the preset)" if notes else ""))
