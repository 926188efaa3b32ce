"""Audio settings dialog: output and input devices, sample rate, block size.

The rate list holds only the rates the chosen devices run (asked through `rates(output, input)`,
host.audio.AudioControl.supported_rates); it is asked again when the device choice changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

SAMPLE_RATES = (44100, 48000, 88200, 96000)
BLOCK_SIZES = (32, 64, 128, 256, 512, 1024)
SYSTEM_DEFAULT = "System default"


class AudioSettingsDialog(QDialog):
    """devices: host.audio.DeviceInfo list; current: {output, input, sample_rate, block_size}."""

    def __init__(
        self,
        devices: list[Any],
        current: dict[str, Any],
        error: str = "",
        parent: QWidget | None = None,
        *,
        rates: Callable[[Any, Any], list[int]] | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Audio settings")
        self.setMinimumWidth(460)
        self.output = QComboBox()
        self.input = QComboBox()
        self.output.addItem(SYSTEM_DEFAULT, None)
        self.input.addItem("None (no recording)", False)
        self.input.addItem(SYSTEM_DEFAULT, None)
        for d in devices:
            label = f"{d.name}  ({d.hostapi})"
            if d.max_output_channels > 0:
                self.output.addItem(label, d.name)
            if d.max_input_channels > 0:
                self.input.addItem(label, d.name)
        self._rates = rates
        self.sample_rate = QComboBox()
        self.rate_note = QLabel()
        self.rate_note.setObjectName("dim")
        self.rate_note.setWordWrap(True)
        self.block_size = QComboBox()
        for bs in BLOCK_SIZES:
            self.block_size.addItem(f"{bs} samples", bs)
        self.latency = QLabel()
        self.latency.setObjectName("dim")
        self.output.setToolTip("Where renders, pads and the seed clip play")
        self.input.setToolTip("Where seed audio is recorded from")
        self.block_size.setToolTip(
            "Smaller blocks trigger pads sooner but cost more CPU; raise it on underruns"
        )
        _select(self.output, current.get("output"))
        _select(self.input, current.get("input"))
        self._fill_rates(current.get("sample_rate", 48000))
        _select(self.block_size, current.get("block_size", 128))

        form = QFormLayout()
        form.addRow("Output", self.output)
        form.addRow("Input", self.input)
        form.addRow("Sample rate", self.sample_rate)
        form.addRow("", self.rate_note)
        form.addRow("Block size", self.block_size)
        form.addRow("", self.latency)
        self.error = QLabel(error)
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setVisible(bool(error))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.sample_rate.currentIndexChanged.connect(self._update_latency)
        self.output.currentIndexChanged.connect(lambda _i: self._fill_rates(self.sample_rate.currentData()))
        self.input.currentIndexChanged.connect(lambda _i: self._fill_rates(self.sample_rate.currentData()))
        self.block_size.currentIndexChanged.connect(self._update_latency)
        self._update_latency()

    def settings(self) -> dict[str, Any]:
        return {
            "output": self.output.currentData(),
            "input": self.input.currentData(),
            "sample_rate": self.sample_rate.currentData(),
            "block_size": self.block_size.currentData(),
        }

    def _fill_rates(self, keep: Any) -> None:
        """Offer the rates the chosen devices run; without a way to ask, the common ones."""
        offered = list(SAMPLE_RATES)
        note = ""
        if self._rates is not None:
            try:
                offered = self._rates(self.output.currentData(), self.input.currentData()) or []
            except ValueError as exc:  # a remembered device that is gone
                offered, note = [], str(exc)
            if not offered:
                note = note or "These devices confirmed no sample rate; choose other devices."
            elif len(offered) == 1:
                note = f"This device runs at {offered[0]} Hz only (e.g. a JACK server's rate)."
        self.sample_rate.blockSignals(True)
        self.sample_rate.clear()
        for sr in offered:
            self.sample_rate.addItem(f"{sr} Hz", sr)
        self.sample_rate.blockSignals(False)
        _select(self.sample_rate, keep)
        self.rate_note.setText(note)
        self.rate_note.setVisible(bool(note))
        self._update_latency()

    def _update_latency(self) -> None:
        rate = self.sample_rate.currentData()
        if not rate:
            self.latency.setText("")
            return
        ms = 1000.0 * self.block_size.currentData() / rate
        self.latency.setText(f"one block = {ms:.2f} ms")


def _select(combo: QComboBox, value: Any) -> None:
    i = combo.findData(value)
    if i >= 0:
        combo.setCurrentIndex(i)
