"""Prompt, model and generation parameters; every field maps to a Session parameter."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QRegularExpression, Qt, pyqtSignal
from PyQt6.QtGui import QFocusEvent, QKeyEvent, QMouseEvent, QRegularExpressionValidator, QWheelEvent
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from diffhost.engine.request import (
    BARS_RANGE,
    BPM_RANGE,
    GUIDANCE_RANGE,
    LENGTH_RANGE_S,
    STEPS_RANGE,
    TEMPERATURE_RANGE,
    VARIATIONS_RANGE,
    key_name,
    parse_key_name,
)
from diffhost.gui.fit import ElidedLabel
from diffhost.gui.numbers import SaidDoubleSpinBox, SaidSpinBox

DEFAULT_MODEL_LABEL = "Embedded default"  # short: the Generate panel is narrow on a laptop
SAMPLE_RATES = (22050, 32000, 44100, 48000, 88200, 96000)
# Spelled as the default model names the key it used (engine.request.key_name: "Eb major",
# "Bb minor"), so the sidecar's key and the box read alike; any spelling parse_key_name takes
# ("D# major", "am") finds its item.
KEY_NAMES = tuple(key_name(p, False) for p in range(12)) + tuple(key_name(p, True) for p in range(12))
AUTO = "auto"
MODEL_TIP = (
    "The embedded default, a local diffusers folder (…),\n"
    "or a Hugging Face id such as stabilityai/stable-audio-open-1.0 (needs network once)."
)


def parse_bpm_text(text: str) -> Any:
    """What the Tempo field holds: None for empty / "auto" (renders choose), a number, else the text
    as typed, which the session refuses with its own message (the one place bpm is validated)."""
    t = text.strip().lower().removesuffix("bpm").strip()
    if t in ("", AUTO):
        return None
    try:
        return float(t)
    except ValueError:
        return text.strip()


def format_bpm(bpm: float | None) -> str:
    return "" if bpm is None else f"{float(bpm):.2f}".rstrip("0").rstrip(".")


class TempoEdit(QLineEdit):
    """The tempo as text, so a bad value can be typed and answered inline; arrows and the wheel step
    it by 1 BPM (Shift: 0.1), the way the pads' old Tempo box did."""

    stepped = pyqtSignal(float)  # the new tempo after an arrow or wheel step

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.current = 120.0  # the tempo shown (what a step starts from)
        self._select_on_release = False

    def step(self, steps: float) -> None:
        value = round(min(BPM_RANGE[1], max(BPM_RANGE[0], self.current + steps)), 2)
        self.setText(format_bpm(value))
        self.stepped.emit(value)

    def keyPressEvent(self, ev: QKeyEvent) -> None:  # noqa: N802 - Qt override
        size = 0.1 if ev.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1.0
        if ev.key() == Qt.Key.Key_Up:
            self.step(size)
        elif ev.key() == Qt.Key.Key_Down:
            self.step(-size)
        elif ev.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            super().keyPressEvent(ev)  # editingFinished commits it
            self.clearFocus()  # and hands the keys back to the pads
        else:
            super().keyPressEvent(ev)

    def focusInEvent(self, ev: QFocusEvent) -> None:  # noqa: N802 - Qt override
        super().focusInEvent(ev)
        # A click into the field selects the tempo, so the new one types over it (Tab already does).
        self._select_on_release = ev.reason() == Qt.FocusReason.MouseFocusReason

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:  # noqa: N802 - Qt override
        super().mouseReleaseEvent(ev)
        if self._select_on_release:
            self._select_on_release = False
            self.selectAll()

    def wheelEvent(self, ev: QWheelEvent) -> None:  # noqa: N802 - Qt override
        if not self.isEnabled() or ev.angleDelta().y() == 0:
            return super().wheelEvent(ev)
        size = 0.1 if ev.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1.0
        self.step(size if ev.angleDelta().y() > 0 else -size)
        ev.accept()


class ParamsPanel(QWidget):
    """Emits `changed(name, value)` when the user edits a field; never talks to the session itself."""

    changed = pyqtSignal(str, object)
    render_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # 1. The prompt, the negative prompt and the model.
        self._make_text_fields()
        # 2. The numbers: length (in seconds or bars), sample rate, temperature, steps, guidance,
        #    the seed and its lock, variations, strength.
        self._make_numbers()
        # 3. Tempo and key of loops and phrases.
        self._make_tempo_and_key()
        # 4. The notes under the fields (a refused value, what the model allows) and their state.
        self._make_notes()
        # 5. One form, in the order a musician reads it.
        self._lay_out()
        # 6. Every edit goes out as `changed(name, value)`.
        self._connect()

    def _make_text_fields(self) -> None:
        self.prompt = QLineEdit()
        self.prompt.setObjectName("prompt")
        self.prompt.setPlaceholderText("punchy analog kick, dark, short…")
        self.prompt.setToolTip("What to render. Enter renders (Ctrl+R anywhere).")
        self.prompt.setStyleSheet("font-size: 13pt; padding: 6px 8px;")
        self.negative = QLineEdit()
        self.negative.setPlaceholderText("steer away from… (negative prompt)")
        self.negative.setToolTip("Negative prompt: what the model should avoid.")

        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.addItem(DEFAULT_MODEL_LABEL)
        self.model.setToolTip(MODEL_TIP)
        self.model.lineEdit().setPlaceholderText("default, folder or org/name")
        # A long model name must not widen the panel; the box shows its start, the tooltip all of it.
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model.setMinimumContentsLength(12)
        self.model.lineEdit().textChanged.connect(self._show_model_start)
        self._show_model_start(self.model.currentText())
        self.browse = QToolButton()
        self.browse.setText("…")
        self.browse.setToolTip("Choose a local diffusers model folder")

    def _make_numbers(self) -> None:
        self.length = SaidDoubleSpinBox("Length", "s")
        self.length.setRange(*LENGTH_RANGE_S)
        self.length.setDecimals(2)
        self.length.setSingleStep(0.25)
        self.length.setSuffix(" s")
        self.length.setToolTip(
            f"Length in seconds ({LENGTH_RANGE_S[0]:g}..{LENGTH_RANGE_S[1]:g}; the model may allow less)"
        )
        # Length in bars instead of seconds: exactly N bars at the tempo (the set one, else the one
        # the model picks); the unit box switches which of the two boxes shows.
        self.bars = SaidDoubleSpinBox("Length", "bars")
        self.bars.setObjectName("bars")
        self.bars.setRange(*BARS_RANGE)
        self.bars.setDecimals(2)
        self.bars.setSingleStep(1.0)
        self.bars.setValue(4.0)
        self.bars.setSuffix(" bars")
        self.bars.setToolTip("Length in bars of 4/4: exactly that many bars at the tempo, a seamless loop")
        self.bars.setVisible(False)
        self.length_unit = QComboBox()
        self.length_unit.setObjectName("length-unit")
        self.length_unit.addItem("seconds", "s")
        self.length_unit.addItem("bars", "bars")
        self.length_unit.setToolTip("Length in seconds, or in bars of 4/4 at the tempo")
        self.sample_rate = QComboBox()
        for sr in SAMPLE_RATES:
            self.sample_rate.addItem(f"{sr} Hz", sr)
        self.sample_rate.setToolTip(
            "Output sample rate; the host resamples from the model's native rate (soxr VHQ)"
        )
        self.temperature = SaidDoubleSpinBox("Temperature")
        self.temperature.setRange(*TEMPERATURE_RANGE)
        self.temperature.setSingleStep(0.05)
        self.temperature.setToolTip(
            "Scale of the initial noise: 1.0 is the model's own sampling, lower is tamer, higher wilder"
        )
        self.steps = SaidSpinBox("Steps")
        self.steps.setRange(STEPS_RANGE[0] - 1, STEPS_RANGE[1])
        self.steps.setSpecialValueText("model default")
        self.steps.setToolTip("Denoising steps: more is slower and usually cleaner")
        self.guidance = SaidDoubleSpinBox("Guidance")
        self.guidance.setRange(GUIDANCE_RANGE[0] - 0.5, GUIDANCE_RANGE[1])
        self.guidance.setSingleStep(0.5)
        self.guidance.setSpecialValueText("model default")
        self.guidance.setToolTip("Classifier-free guidance: how closely to follow the prompt")
        self.seed = QLineEdit()
        self.seed.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,18}")))
        self.seed.setPlaceholderText("random")
        self.seed.setToolTip("Random seed: the same seed and settings give identical audio")
        self.dice = QToolButton()
        self.dice.setText("⚄")
        self.dice.setToolTip("Roll a new seed (and lock it)")
        self.lock = QToolButton()
        self.lock.setCheckable(True)
        self.lock.setText("Lock")
        self.lock.setToolTip("Lock the seed: unlocked, every render draws a new one")
        self.variations = SaidSpinBox("Variations")
        self.variations.setRange(*VARIATIONS_RANGE)
        self.variations.setToolTip("How many takes per render")
        self.strength = SaidDoubleSpinBox("Strength")
        self.strength.setRange(0.0, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setToolTip("With seed audio: how far it is re-imagined (0 = unchanged, 1 = fully new)")

    def _make_tempo_and_key(self) -> None:
        # Tempo and key of loops and phrases. The Tempo is the window's one tempo: the pads quantize
        # to it and, unless "auto" is on, renders are made at it (gui.tempo_control keeps them
        # together). "auto" is the session's bpm left unset, because a tempo makes the default model
        # render a loop or phrase: one-shots want it on.
        self.bpm = TempoEdit()
        self.bpm.setObjectName("bpm")
        self.bpm.setMaximumWidth(76)
        self.bpm.setToolTip(
            f"Tempo in BPM ({BPM_RANGE[0]:g}–{BPM_RANGE[1]:g}): the pads quantize to it and, with "
            "auto off, renders are loops and phrases at it\n(a Length of whole bars loops "
            "seamlessly). Arrows or the wheel step it (Shift: 0.1)."
        )
        self.bpm_auto = QToolButton()
        self.bpm_auto.setObjectName("bpm-auto")
        self.bpm_auto.setText(AUTO)
        self.bpm_auto.setCheckable(True)
        self.bpm_auto.setChecked(True)
        self.bpm_auto.setToolTip(
            "auto: renders choose their own tempo (the prompt's “at 90 bpm”, else the model's).\n"
            "Off: renders use the Tempo, so loops stay in sync with the pads; a tempo makes the "
            "default model render a loop or phrase, so leave auto on for one-shots."
        )
        # The session's bpm as last shown: the field shows the tempo (the pads'), which a clock or
        # OSC may move where renders cannot follow (outside BPM_RANGE).
        self._render_bpm: float | None = None
        self.tempo_note = ElidedLabel("BPM", min_chars=5)
        self.tempo_note.setObjectName("dim")
        self.tempo_source = "session"  # where the tempo comes from (session, link, midi clock)
        self.key = QComboBox()
        self.key.setObjectName("key")
        self.key.addItem(AUTO, None)
        self.key.insertSeparator(1)
        for i, name in enumerate(KEY_NAMES):
            if i == 12:
                self.key.insertSeparator(self.key.count())
            self.key.addItem(name, name)
        self.key.setMaxVisibleItems(27)
        self.key.setToolTip(
            "Key of loops and phrases; auto = the prompt's (“in F# minor”), else the model's.\n"
            "A key makes the default model render a loop or phrase: leave it on auto for one-shots."
        )

    def _make_notes(self) -> None:
        # A refused Tempo or Key, said under the fields; nothing changed.
        self.field_error = QLabel("")
        self.field_error.setObjectName("error")
        self.field_error.setWordWrap(True)
        self.field_error.setVisible(False)
        self._field_error_for = ""
        # What the loaded model allows, said before Render (not after, in the status bar).
        self.limits = QLabel("")
        self.limits.setObjectName("error")
        self.limits.setWordWrap(True)
        self.limits.setVisible(False)
        self.model_info: Any = None  # engine.request.ModelInfo of the selected model, once known
        self._asked_length: float | None = None  # a length set from outside that the box had to clamp
        self._has_seed_clip = False

    def _lay_out(self) -> None:
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.browse)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.dice)
        seed_row.addWidget(self.lock)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setVerticalSpacing(3)  # eleven rows and the seed panel fit a 768-pixel-high screen
        form.addRow("Model", model_row)
        length_row = QHBoxLayout()
        length_row.addWidget(self.length, 1)
        length_row.addWidget(self.bars, 1)
        length_row.addWidget(self.length_unit)
        form.addRow("Length", length_row)
        tempo_row = QHBoxLayout()
        tempo_row.addWidget(self.bpm)
        tempo_row.addWidget(self.tempo_note, 1)
        tempo_row.addWidget(self.bpm_auto)
        form.addRow("Tempo", tempo_row)
        form.addRow("Key", self.key)
        form.addRow("Sample rate", self.sample_rate)
        form.addRow("Temperature", self.temperature)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        form.addRow("Seed", seed_row)
        form.addRow("Variations", self.variations)
        form.addRow("Strength", self.strength)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.field_error)
        layout.addWidget(self.limits)
        layout.addStretch(1)

    def _connect(self) -> None:
        self.prompt.returnPressed.connect(self.render_requested)
        self.prompt.editingFinished.connect(lambda: self._emit("prompt"))
        self.negative.editingFinished.connect(lambda: self._emit("negative_prompt"))
        self.model.activated.connect(lambda _i: self._emit("model"))
        self.model.lineEdit().editingFinished.connect(lambda: self._emit("model"))
        self.browse.clicked.connect(self._browse_model)
        for name in ("length", "temperature", "steps", "guidance", "variations", "strength"):
            getattr(self, name).valueChanged.connect(lambda _v, n=name: self._emit(n))
        self.length.valueChanged.connect(self._length_edited)
        self.prompt.textChanged.connect(lambda _t: self.check_limits())
        self.negative.textChanged.connect(lambda _t: self.check_limits())
        self.guidance.valueChanged.connect(lambda _v: self.check_limits())
        self.sample_rate.activated.connect(lambda _i: self._emit("sample_rate"))
        self.seed.editingFinished.connect(self._seed_edited)
        self.dice.clicked.connect(self.roll_seed)
        self.bpm.editingFinished.connect(self.commit_bpm)
        self.bpm.stepped.connect(lambda v: self.changed.emit("tempo", v))
        self.bpm_auto.toggled.connect(self._auto_toggled)
        self.key.activated.connect(lambda _i: self._emit("key"))
        self.length.valueChanged.connect(lambda _v: self._show_bars())
        def bars_changed(_value: float) -> None:
            self._emit("bars")
            self._show_bars()

        self.bars.valueChanged.connect(bars_changed)
        self.length_unit.activated.connect(lambda _i: self._unit_chosen())
        for box in (self.length, self.bars, self.temperature, self.steps, self.guidance, self.variations, self.strength):
            box.adjusted.connect(self.say_adjusted)

    def say_adjusted(self, message: str) -> None:
        """A number field changed what was typed (clamped or rounded): say so under the fields."""
        self.refuse("typed", message)

    # -- values ---------------------------------------------------------------------
    def value(self, name: str) -> Any:
        if name == "prompt":
            return self.prompt.text().strip() or None
        if name == "negative_prompt":
            return self.negative.text().strip() or None
        if name == "model":
            text = self.model.currentText().strip()
            return None if text in ("", DEFAULT_MODEL_LABEL, "default", "Embedded default (diffhost)") else text
        if name == "sample_rate":
            return self.sample_rate.currentData()
        if name == "steps":
            return self.steps.value() or None
        if name == "guidance":
            g = self.guidance.value()
            return None if g < GUIDANCE_RANGE[0] else g
        if name == "seed":
            return int(self.seed.text()) if self.seed_locked and self.seed.text() else None
        if name == "bpm":  # what the session took (None: auto); typed text counts once committed
            return self._render_bpm
        if name == "key":
            return self.key.currentData()
        if name == "bars":
            return self.bars.value() if self.in_bars else None
        return getattr(self, name).value()

    @property
    def in_bars(self) -> bool:
        return self.length_unit.currentData() == "bars"

    def _unit_chosen(self) -> None:
        """Bars: the bars box shows and its value is sent; seconds: the seconds box (which clears bars)."""
        self.bars.setVisible(self.in_bars)
        self.length.setVisible(not self.in_bars)
        self._emit("bars" if self.in_bars else "length")
        self._show_bars()
        self.check_limits()

    def values(self) -> dict[str, Any]:
        names: tuple[str, ...] = ("prompt", "negative_prompt", "model", "length", "sample_rate", "temperature", "steps")
        names += ("guidance", "seed", "variations", "strength", "bpm", "key", "bars")
        return {n: self.value(n) for n in names}

    # -- tempo and key ------------------------------------------------------------------------
    def commit_bpm(self) -> bool:
        """Send typed Tempo text on (once: focus-out after Enter sends nothing new): a number as
        changed("tempo", …), empty or "auto" as turning auto on. Returns False while the field
        holds a value the session refused."""
        typed = parse_bpm_text(self.bpm.text())
        if typed is None:
            self.bpm.setText(format_bpm(self.bpm.current))  # the tempo stays; renders choose theirs
            if not self.bpm_auto.isChecked():
                self.bpm_auto.setChecked(True)  # emits changed("bpm", None)
        elif typed == self.bpm.current:
            if self.bpm.isModified():  # the tempo in force typed again: an earlier refusal is answered
                self.clear_refusal("bpm")
            self.bpm.setText(format_bpm(self.bpm.current))  # "124.0" or " 124 bpm" reads back as 124
        else:
            self.changed.emit("tempo", typed)  # the window sets it, or calls refuse() with the reason
        return self._field_error_for != "bpm"

    def show_tempo(self, bpm: float) -> None:
        """The tempo moved (the pads' grid, a render tempo set elsewhere): show it, send nothing."""
        self.bpm.current = float(bpm)
        if not self.bpm.hasFocus() or not self.bpm.isModified():  # never under the user's typing
            self.bpm.setText(format_bpm(self.bpm.current))
        self._show_bars()

    def _auto_toggled(self, on: bool) -> None:
        self._show_bars()
        self.changed.emit("bpm", None if on else self.bpm.current)

    def refuse(self, name: str, message: str) -> None:
        """The session refused a Tempo or Key: say why under the fields and show what is still set."""
        self._field_error_for = name
        self.field_error.setText(f"⚠ {message}")
        self.field_error.setVisible(True)

    def clear_refusal(self, name: str) -> None:
        if self._field_error_for == name:
            self._field_error_for = ""
            self.field_error.setVisible(False)

    def set_tempo_source(self, source: str) -> None:
        """Following Ableton Link or MIDI clock, the tempo is not typed here (it would be overridden)."""
        self.tempo_source = source
        self.bpm.setEnabled(source == "session")
        self._show_bars()

    def _show_bars(self) -> None:
        """Next to the tempo (the row is narrow, so one thing): the clock it follows, else the
        Length in bars when renders use it (whole bars loop seamlessly)."""
        bpm = self.bpm.current
        bars = self.length.value() * bpm / 240.0  # 4 beats a bar
        whole = abs(bars - round(bars)) < 1e-3 and round(bars) >= 1
        about = f"{self.length.value():g} s at {bpm:g} BPM is {bars:.3g} bars of 4/4" + (
            "" if whole else ": make it a whole number of bars for a seamless loop"
        )
        if self.in_bars:
            bars = self.bars.value()
            whole = float(bars).is_integer()
            about = f"{bars:g} bars at {bpm:g} BPM are {bars * 240.0 / bpm:.3f} s, exactly"
        follows = {"link": "Link", "midi clock": "MIDI clock", "plugin": "DAW"}.get(self.tempo_source)
        if follows:
            self.tempo_note.setText(f"BPM · {follows}")
            self.tempo_note.setToolTip(f"The tempo follows {follows} (Live ▸ Tempo from). {about}")
        elif self.bpm_auto.isChecked():
            self.tempo_note.setText("BPM")
            self.tempo_note.setToolTip("Renders choose their own tempo (auto is on)")
        else:
            self.tempo_note.setText(f"BPM · {round(bars):d} bars" if whole else f"BPM · {bars:.2f} bars")
            self.tempo_note.setToolTip(about)

    def _show_key(self, key: str | None) -> None:
        if key is None:
            self.key.setCurrentIndex(0)
            return
        try:
            pitch, minor = parse_key_name(key)
        except ValueError:  # not a key (the session never holds one): show it as given
            pitch, minor = -1, None
        if pitch >= 0 and minor is not None:
            index = self.key.findData(key_name(pitch, minor))
        else:  # "F#": a tonic without a mode is a choice of its own
            index = self.key.findData(key)
            if index < 0:
                self.key.addItem(key, key)
                index = self.key.count() - 1
        self.key.setCurrentIndex(index)

    def set_values(self, params: dict[str, Any]) -> None:
        """Show values (from the session or a preset) without echoing them back."""
        for w in self._widgets():
            w.blockSignals(True)
        try:
            if "prompt" in params:
                self.prompt.setText(params["prompt"] or "")
            if "negative_prompt" in params:
                self.negative.setText(params["negative_prompt"] or "")
            if "model" in params:
                self.model.setCurrentText(params["model"] or DEFAULT_MODEL_LABEL)
                self._show_model_start(self.model.currentText())
            if "bars" in params:
                in_bars = params["bars"] is not None
                self.length_unit.setCurrentIndex(1 if in_bars else 0)
                self.bars.setVisible(in_bars)
                self.length.setVisible(not in_bars)
                if in_bars:
                    self.bars.setValue(float(params["bars"]))
            if "length" in params:
                length = float(params["length"])
                inside = self.length.minimum() <= length <= self.length.maximum()
                self._asked_length = None if inside else length
                self.length.setValue(length)
            if "sample_rate" in params:
                sr = int(params["sample_rate"])
                if self.sample_rate.findData(sr) < 0:
                    self.sample_rate.addItem(f"{sr} Hz", sr)
                self.sample_rate.setCurrentIndex(self.sample_rate.findData(sr))
            if "temperature" in params:
                self.temperature.setValue(float(params["temperature"]))
            if "steps" in params:
                self.steps.setValue(int(params["steps"] or 0))
            if "guidance" in params:
                g = params["guidance"]
                self.guidance.setValue(self.guidance.minimum() if g is None else float(g))
            if "seed" in params and params["seed"] is not None:
                self.seed.setText(str(int(params["seed"])))
                self.lock.setChecked(True)
            if "variations" in params:
                self.variations.setValue(int(params["variations"]))
            if "strength" in params:
                self.strength.setValue(float(params["strength"]))
            if "bpm" in params:  # None: auto, the field keeps showing the tempo
                bpm = params["bpm"]
                self._render_bpm = None if bpm is None else float(bpm)
                self.bpm_auto.setChecked(bpm is None)
                if bpm is not None:
                    self.bpm.current = float(bpm)
                self.bpm.setText(format_bpm(self.bpm.current))
                self.clear_refusal("bpm")
            if "key" in params:
                self._show_key(params["key"])
                self.clear_refusal("key")
        finally:
            for w in self._widgets():
                w.blockSignals(False)
        self._show_bars()
        self.check_limits()

    # -- the loaded model's limits ----------------------------------------------------------
    def set_model_info(self, info: Any) -> None:
        """The selected model is known: the Length box takes its range, and anything the model
        cannot do is said inline."""
        self.model_info = info
        lo = max(LENGTH_RANGE_S[0], float(info.min_length_s))
        hi = min(LENGTH_RANGE_S[1], float(info.max_length_s))
        asked = self._asked_length if self._asked_length is not None else self.length.value()
        self.length.blockSignals(True)
        # Enough decimals to show the model's true limits (a spin box rounds its range to them).
        self.length.setDecimals(3 if round(lo, 2) != lo or round(hi, 2) != hi else 2)
        self.length.setRange(lo, hi)
        self.length.setValue(asked)  # clamped into the range; the note says so if it had to
        self.length.blockSignals(False)
        self._asked_length = None if lo <= asked <= hi else asked
        self.length.setToolTip(f"Length in seconds: {model_label(info)} makes {lo:g}–{hi:g} s")
        self.check_limits()

    def set_has_seed_clip(self, present: bool) -> None:
        self._has_seed_clip = bool(present)
        self.check_limits()

    def problems(self) -> list[str]:
        """What the selected model would refuse in the current values, each with what is valid."""
        info = self.model_info
        if info is None:
            return []
        who = model_label(info)
        out = []
        lo, hi = self.length.minimum(), self.length.maximum()
        if self.in_bars and self.bpm.current and not self.bpm_auto.isChecked():
            seconds = self.bars.value() * 240.0 / float(self.bpm.current)
            if not lo <= seconds <= hi:
                out.append(
                    f"{self.bars.value():g} bars at {float(self.bpm.current):g} BPM last {seconds:.2f} s, "
                    f"outside {who}'s range {lo:g}–{hi:g} s"
                )
        elif self._asked_length is not None:
            out.append(
                f"Length {self._asked_length:g} s is outside {who}'s range {lo:g}–{hi:g} s: "
                f"Render uses {self.length.value():g} s"
            )
        if self.value("prompt") and not info.supports_prompt:
            out.append(f"{who} is unconditional and takes no prompt: clear the prompt to render")
        if info.requires_prompt and not self.value("prompt"):
            out.append(f"{who} needs a text prompt")
        if self.value("negative_prompt") and not info.supports_negative_prompt:
            out.append(f"{who} has no negative prompt: clear it to render")
        if self.value("guidance") is not None and not info.supports_guidance:
            out.append(f"{who} has no guidance: set Guidance to “model default”")
        if self._has_seed_clip and not info.supports_seed_clip:
            out.append(f"{who} cannot start from seed audio: clear the seed clip")
        if info.requires_seed_clip and not self._has_seed_clip:
            out.append(f"{who} needs a seed clip to work from")
        return out

    def check_limits(self) -> list[str]:
        found = self.problems()
        self.limits.setText("\n".join(f"⚠ {p}" for p in found))
        self.limits.setVisible(bool(found))
        return found

    def _length_edited(self, _value: float) -> None:
        if self._asked_length is not None:  # the user chose a length: the clamp note is answered
            self._asked_length = None
            self.check_limits()

    @property
    def seed_locked(self) -> bool:
        return self.lock.isChecked()

    def show_used_seed(self, seed: int) -> None:
        """After a render: show the seed it used, so locking it recalls the take."""
        if not self.seed_locked:
            self.seed.setText(str(seed))

    def roll_seed(self) -> None:
        self.seed.setText(str(secrets.randbelow(2**31)))
        self.lock.setChecked(True)
        self._emit("seed")

    # -- internals ----------------------------------------------------------------------
    def _widgets(self) -> list[QWidget]:
        return [
            self.prompt,
            self.negative,
            self.model,
            self.length,
            self.bars,
            self.length_unit,
            self.sample_rate,
            self.temperature,
            self.steps,
            self.guidance,
            self.seed,
            self.lock,
            self.variations,
            self.strength,
            self.bpm,
            self.bpm_auto,
            self.key,
        ]

    def _emit(self, name: str) -> None:
        self.changed.emit(name, self.value(name))

    def _seed_edited(self) -> None:
        if self.seed.text():
            self.lock.setChecked(True)
        self._emit("seed")

    def _show_model_start(self, text: str) -> None:
        """An editable box scrolls to its cursor, so a long name showed its end ("Ξmbedded": the E
        cut in half); show it from the start, and all of it in the tooltip."""
        if not self.model.lineEdit().hasFocus():
            self.model.lineEdit().setCursorPosition(0)
        self.model.setToolTip(_model_tip(text) + MODEL_TIP)

    def _browse_model(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a diffusers model folder")
        if folder:
            self.model.setCurrentText(folder)
            self._emit("model")


def _model_tip(text: str) -> str:
    return f"Model: {text}\n" if text else ""


def model_label(info: Any) -> str:
    if info.family in ("diffhost-default", "DiffhostDefaultPipeline", "DiffhostOneShotPipeline"):
        return "the embedded default model"
    return f"model {Path(info.name).name or info.name} ({info.family})"
