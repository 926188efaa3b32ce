"""The main window: composes the panels and turns their signals into Session calls.

Everything that may block (files, the library, recording, opening devices)
goes through gui.tasks; engine and finisher events arrive through
gui.bridge. The only calls made directly on the GUI thread are ones that
only queue work (Session.render / cancel / set_param) or read a latest value
(HostAudio.meter / position / slot_state).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PyQt6.QtCore import QSettings, Qt, QTimer
from PyQt6.QtGui import QAction, QCloseEvent, QKeySequence, QResizeEvent, QShortcut
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from diffhost.gui import display, engine_choice, window_state
from diffhost.gui.audio_settings import AudioSettingsDialog
from diffhost.gui.bridge import EventBridge
from diffhost.gui.dragout import DragSource
from diffhost.gui.effects_editor import EffectsEditor
from diffhost.gui.errors import describe
from diffhost.gui.finishing_editor import FinishingEditor
from diffhost.gui.fit import ElidedLabel, fix_width
from diffhost.gui.history import HistoryPanel
from diffhost.gui.live_menu import LiveMenu
from diffhost.gui.osc_status import OscStatus
from diffhost.gui.pad_control import PadControl
from diffhost.gui.pads import PAD_KEYS, PadGrid
from diffhost.gui.params_panel import ParamsPanel
from diffhost.gui.playback import Playback
from diffhost.gui.plugin_panel import PluginPanel
from diffhost.gui.preset_control import ChainApplier, ExportApplier, FinishingApplier, PresetControl
from diffhost.gui.presets_menu import PresetsMenu
from diffhost.gui.reprocess_control import ReprocessControl
from diffhost.gui.seed_panel import SeedPanel
from diffhost.gui.tasks import Tasks
from diffhost.gui.tempo_control import TempoControl
from diffhost.gui.waveform import WaveformView
from diffhost.gui.window_state import PANEL_PARAMS

if TYPE_CHECKING:  # the components the window is handed (built by diffhost.runtime)
    from diffhost.host.audio import AudioControl
    from diffhost.host.live.rig import LiveRig
    from diffhost.host.session import Session


def _box(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title.upper())
    lay = QVBoxLayout(box)
    lay.setContentsMargins(6, 8, 6, 6)
    lay.addWidget(widget)
    return box


def _scrolled(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    return area


class MainWindow(QMainWindow):
    def __init__(
        self,
        session: Session,
        *,
        settings: QSettings,
        osc: Any = None,  # diffhost.osc.server.OscServer (a sibling layer: gui/ does not import osc/)
        unavailable: dict[str, str] | None = None,
        audio_control: AudioControl | None = None,
        live: LiveRig | None = None,
    ):
        super().__init__()
        self.live = live  # host.live.LiveRig: kits, MIDI, tempo sync; None: no Live menu actions
        self.session = session
        self.settings = settings
        self.osc = osc
        self.unavailable = dict(unavailable or {})
        # host.audio.AudioControl: the one audio-settings store (shared with `diffhost serve` and
        # `diffhost audio`) and the one way a device is opened; None: this window has no audio.
        self.audio_control = audio_control
        self.tasks = Tasks(self)
        self.jobs: set[int] = set()  # renders this window asked for and has not seen finish
        self.current: display.DisplayData | None = None
        self._recording = False
        self._seed_name = ""
        self._bar_job: int | None = None  # the render the progress bar shows
        self._bar_value = 0
        # What Edit ▸ Undo (Ctrl+Z) can take back, newest last: a replaced pad, a deleted render.
        self.undo_stack: list[tuple[str, Any]] = []

        self.setWindowTitle("diffhost")
        self.setObjectName("diffhost-main")
        self.setDockNestingEnabled(True)
        self._build_widgets()
        self._build_layout()
        self._build_actions()
        self._connect()
        window_state.restore(self)
        self._update_availability()
        self.pad_control.refresh()  # pads restored from the last kit show their clips and modes

        self.bridge = EventBridge(session, self)
        self.bridge.received.connect(self.on_event)
        self.bridge.progress.connect(self.on_progress)
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(40)
        self.poll_timer.timeout.connect(self._poll)
        self.poll_timer.start()
        self._ticks = 0
        self.history.refresh()
        self.preset_control.refresh()
        self.refresh_model_info()

    # -- construction ----------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.params = ParamsPanel()
        self.seed_panel = SeedPanel()
        self.waveform = WaveformView()
        self.effects = EffectsEditor()
        self.finishing = FinishingEditor()
        self.history = HistoryPanel(
            self.session.library, self.tasks, self.unavailable.get("library", "not attached")
        )
        self.pads = PadGrid()
        self.osc_status = OscStatus(self.osc, self.unavailable.get("osc", ""))
        self.plugin_panel = PluginPanel(
            getattr(self.live, "plugins", None), lambda: self.waveform.path, self.report
        )
        self.presets_menu = PresetsMenu(self, reason=self.reason("presets"))

        self.render_button = QPushButton("Render")
        self.render_button.setObjectName("render")
        self.render_button.setToolTip("Render with the current settings (Ctrl+R)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel this window's renders (Esc, outside a text field)")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress.setMinimumWidth(120)
        self.progress.setToolTip("The render's stage: queued, waiting for the engine, rendering, saving")
        # How many of this window's renders are queued or running; fixed width so nothing moves.
        self.queue_label = QLabel("")
        self.queue_label.setObjectName("dim")
        self.queue_label.setToolTip("Renders this window has queued or running (Esc cancels them)")
        self.queue_label.setFixedWidth(self.queue_label.fontMetrics().horizontalAdvance("99 queued") + 8)
        self.play_button = QPushButton("▶ Play")
        self.play_button.setToolTip("Play or stop the current render (Space)")
        self.autoplay = QCheckBox("Auto-play")
        self.autoplay.setToolTip("Play each render as soon as it is ready")
        self.ab_button = QToolButton()
        self.ab_button.setCheckable(True)
        self.keep_button = QPushButton("Keep")
        self.keep_button.setToolTip("Save the re-processed render as a new version beside the old one")
        self.replace_button = QPushButton("Replace")
        self.replace_button.setToolTip(
            "Replace the processed file with the re-processed one (the old file goes to the trash; "
            "the dry audio stays)"
        )
        self.ab_offset = QLabel("")  # the loudness offset that matches B (dry) to A (processed)
        self.ab_offset.setObjectName("dim")
        self.ab_offset.setFixedWidth(self.ab_offset.fontMetrics().horizontalAdvance("B −24.0 dB") + 8)
        self.ab_offset.setToolTip("B (dry) is played at this gain so it is as loud as A (processed)")
        self.preset_state = ElidedLabel("No preset")
        self.preset_state.setObjectName("dim")
        self.presets_button = QToolButton()
        self.presets_button.setText("Presets")  # the tool button draws its own menu arrow
        self.presets_button.setMenu(self.presets_menu)
        self.presets_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.presets_button.setToolTip("Load a preset, or save the current settings as one")
        self.audio_button = QToolButton()
        self.audio_button.setText("Audio…")
        self.audio_button.setToolTip("Audio devices, sample rate and block size")

        self.status_message = ElidedLabel("Ready")
        self._message_timer = QTimer(self)  # a child: it dies with the window
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(lambda: self.status_message.setText("Ready"))
        self.engine_label = ElidedLabel(min_chars=20, max_chars=34)
        self.engine_label.setObjectName("dim")
        self.audio_label = ElidedLabel(min_chars=12, max_chars=30)
        self.audio_label.setObjectName("dim")
        # Labels that change with the state keep one width, so nothing beside them moves.
        fix_width(self.play_button, ("▶ Play", "■ Stop"))
        fix_width(self.ab_button, ("A: processed", "B: dry"))
        fix_width(self.cancel_button, ("Cancel",))
        fix_width(self.render_button, ("Render",))

    def _build_layout(self) -> None:
        # Laid out for a 1280x800 laptop with a window manager: the transport is two short rows
        # (Audio… sits in the status bar), OSC is a tab beside History, the pad options stack in a
        # grid, and labels that show names elide instead of widening the window (gui.fit).
        transport = QHBoxLayout()
        transport.addWidget(self.render_button)
        transport.addWidget(self.cancel_button)
        transport.addWidget(self.progress, 3)
        transport.addWidget(self.queue_label)
        transport.addSpacing(8)
        transport.addWidget(self.presets_button)
        transport.addWidget(self.preset_state, 1)
        listen = QHBoxLayout()
        listen.addWidget(self.play_button)
        listen.addWidget(self.autoplay)
        listen.addWidget(self.ab_button)
        listen.addWidget(self.ab_offset)
        listen.addWidget(self.keep_button)
        listen.addWidget(self.replace_button)
        listen.addStretch(1)

        prompt_box = QWidget()
        pl = QVBoxLayout(prompt_box)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.setSpacing(4)
        pl.addWidget(self.params.prompt)
        pl.addWidget(self.params.negative)
        pl.addLayout(transport)
        pl.addLayout(listen)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.history, "History")
        # The editors scroll inside their tabs rather than making the window taller or wider.
        self.tabs.addTab(_scrolled(self.effects), "Effects chain")
        self.tabs.addTab(_scrolled(self.finishing), "Finishing")
        self.tabs.addTab(self.osc_status, "OSC")
        self.tabs.addTab(_scrolled(self.plugin_panel), "DAW plugin")
        split = QSplitter(Qt.Orientation.Vertical)
        split.setObjectName("center-split")
        split.addWidget(_box("Render", self.waveform))
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 1)  # on a laptop, History gets as much height as the waveform
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        self.splitter = split

        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(6, 6, 6, 2)
        cl.addWidget(prompt_box)
        cl.addWidget(split, 1)
        self.setCentralWidget(central)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(4, 2, 4, 4)
        ll.addWidget(_box("Generate", self.params))
        ll.addWidget(_box("Seed audio", self.seed_panel))
        ll.addStretch(1)
        self.generate_dock = self._dock("Generate", left, Qt.DockWidgetArea.LeftDockWidgetArea)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(4, 2, 4, 4)
        rl.addWidget(_box("Pads", self.pads), 1)
        self.perform_dock = self._dock("Perform", right, Qt.DockWidgetArea.RightDockWidgetArea)

        sb = self.statusBar()
        sb.addWidget(self.status_message, 1)
        sb.addPermanentWidget(self.engine_label)
        sb.addPermanentWidget(self.audio_label)
        sb.addPermanentWidget(self.audio_button)
        self.fit_to_screen()

    def fit_to_screen(self) -> None:
        """The first size: roomy, but never larger than the screen's free area (a 1280x800 laptop
        with a panel), with the pads' panel wide enough for four pads a row."""
        screen = self.screen()
        width, height = 1440, 880
        if screen is not None:
            free = screen.availableGeometry()
            width, height = min(width, free.width()), min(height, free.height())
        self.resize(width, height)
        pads = max(360, int(width * 0.26))  # on a wide screen the pads get wider, not just taller
        self.resizeDocks([self.generate_dock, self.perform_dock], [330, pads], Qt.Orientation.Horizontal)

    def resizeEvent(self, ev: QResizeEvent) -> None:  # noqa: N802 - Qt override
        """The pads keep their share of the width: maximized on a 1920 px screen they grow with the
        window instead of the centre taking all the new room (a share the musician set by dragging
        the dock's edge is kept, since it is read from the dock as it is before this resize)."""
        old = ev.oldSize().width()
        dock = self.perform_dock
        if old > 0 and ev.size().width() != old and dock.isVisible() and not dock.isFloating():
            share = dock.width() / old
            self.resizeDocks([dock], [int(round(share * ev.size().width()))], Qt.Orientation.Horizontal)
        super().resizeEvent(ev)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        dock.setTitleBarWidget(QWidget())  # the group boxes inside carry the titles
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction("Load seed audio…", self.seed_panel._choose)
        file_menu.addSeparator()
        self.history.add_file_actions(file_menu, self.current_row)  # Export ▸, Save As…, Reveal
        file_menu.addAction("Keep re-processed as new version", lambda: self.reprocess.keep(replace=False))
        file_menu.addAction("Replace processed file", lambda: self.reprocess.keep(replace=True))
        file_menu.addSeparator()
        file_menu.addAction("Audio settings…", self.open_audio_settings)
        file_menu.addAction("Render engine…", self.choose_engine)
        file_menu.addSeparator()
        file_menu.addAction("Quit", QKeySequence.StandardKey.Quit, self.close)
        edit_menu = bar.addMenu("&Edit")
        # Ctrl+Z undoes typing while a text field has the keys (it takes the shortcut first).
        self.undo_action = QAction("Undo", self)
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.undo_action.triggered.connect(self.undo)
        self.undo_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.undo_action.setEnabled(False)
        edit_menu.addAction(self.undo_action)
        self.live_menu = LiveMenu(self, bar.addMenu("&Live"))
        render_menu = bar.addMenu("&Render")
        # PyQt6 accepts a Q_PROPERTY and a signal as keyword arguments; its stubs do not list them.
        self.render_action = QAction("Render", self, shortcut=QKeySequence("Ctrl+R"), triggered=self.render)  # type: ignore[call-overload]
        self.cancel_action = QAction("Cancel", self, shortcut=QKeySequence("Esc"), triggered=self.cancel)  # type: ignore[call-overload]
        self.play_action = QAction(  # type: ignore[call-overload]
            "Play / Stop", self, shortcut=QKeySequence("Space"), triggered=lambda: self.playback.toggle()
        )
        for a in (self.render_action, self.cancel_action, self.play_action):
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            render_menu.addAction(a)
        bar.addMenu(self.presets_menu)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction("Keyboard shortcuts", self._show_keys)
        # Pad keys: plain letters; text fields swallow them while typing (Qt's ShortcutOverride).
        self.pad_shortcuts = []
        for number, key in enumerate(PAD_KEYS, start=1):
            sc = QShortcut(QKeySequence(key), self)
            sc.activated.connect(lambda n=number: self.pad_control.trigger(n))
            self.pad_shortcuts.append(sc)

    def _connect(self) -> None:
        self.playback = Playback(self, self.waveform, self.play_button)
        self.pad_control = PadControl(self, self.pads)
        self.tempo_control = TempoControl(self)
        self.reprocess = ReprocessControl(self, self.ab_button, self.keep_button, self.replace_button)
        self.preset_control = PresetControl(
            self, self.presets_menu, self.params, self.effects, self.finishing, self.preset_state
        )
        self.chain_applier = ChainApplier(self, self.effects)
        self.finishing_applier = FinishingApplier(self, self.finishing)
        self.export_applier = ExportApplier(self, self.finishing)
        self.drag_label = DragSource(self.waveform.hint, lambda: [self.waveform.path])
        self.render_button.clicked.connect(self.render)
        self.cancel_button.clicked.connect(self.cancel)
        self.audio_button.clicked.connect(self.open_audio_settings)
        self.params.changed.connect(self.on_param_edited)
        self.params.render_requested.connect(self.render)
        self.seed_panel.load_requested.connect(self.load_seed)
        self.seed_panel.record_requested.connect(self.record_seed)
        self.seed_panel.record_render_requested.connect(lambda s: self.record_seed(s, then_render=True))
        self.seed_panel.play_requested.connect(self.playback.play_seed)
        self.seed_panel.clear_requested.connect(lambda: self.session.set_seed_clip(None))
        self.history.open_requested.connect(lambda p: self.open_render(p, play=True))
        self.history.rerender_requested.connect(self.rerender)
        self.history.assign_requested.connect(self.pad_control.assign)
        self.history.deleted.connect(
            lambda rid, name: self.push_undo(f"delete of {name}", lambda: self.history.restore(rid, name))
        )
        self.history.message.connect(self.report)
        for box in self.finishing.number_fields:  # a clamped or rounded typed value is said
            box.adjusted.connect(self.report)

    def choose_engine(self) -> None:
        line = engine_choice.choose_engine(self, self.settings, self.session.engine)
        if line:
            self.report(line)

    # -- undo --------------------------------------------------------------------------
    def push_undo(self, what: str, undo: Any) -> None:
        """Remember how to take back a change the musician may regret (a replaced pad, a delete)."""
        self.undo_stack = [*self.undo_stack[-19:], (what, undo)]
        self._show_undo()

    def undo(self) -> None:
        if not self.undo_stack:
            self.report("Nothing to undo")
            return
        _what, undo = self.undo_stack.pop()
        self._show_undo()
        undo()

    def _show_undo(self) -> None:
        what = self.undo_stack[-1][0] if self.undo_stack else ""
        self.undo_action.setText(f"Undo {what}" if what else "Undo")
        self.undo_action.setEnabled(bool(what))

    # -- messages --------------------------------------------------------------------
    def report(self, message: str, timeout_ms: int = 8000) -> None:
        """Errors and news go to the status bar (and stay in its tooltip); timeout 0 keeps them."""
        self.status_message.setText(message)
        self.status_message.setToolTip(message)
        if timeout_ms:
            self._message_timer.start(timeout_ms)
        else:
            self._message_timer.stop()

    def show_unexpected(self, message: str) -> None:
        """From the excepthook: status bar plus a non-modal dialog; the app carries on."""
        self.report(message, timeout_ms=0)
        box = QMessageBox(QMessageBox.Icon.Warning, "diffhost", message, QMessageBox.StandardButton.Ok, self)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.show()

    def call(self, what: str, fn: Any, *args: Any) -> Any:
        """A quick session call from the GUI thread; a ValueError is shown, never raised."""
        try:
            return fn(*args)
        except (ValueError, RuntimeError, OSError) as exc:
            self.report(f"{what}: {describe(exc)}")
            return None

    def reason(self, component: str) -> str:
        if getattr(self.session, component) is not None:
            return ""
        if component == "audio" and self.session.audio_problem:  # the device went away
            return str(self.session.audio_problem)
        return self.unavailable.get(component) or f"no {component} component in this session"

    # -- rendering --------------------------------------------------------------------
    def render(self) -> int | None:  # type: ignore[override]  # the Render action, not QWidget.render (paint)
        if not self.params.commit_bpm():  # Tempo typed but not yet sent (Ctrl+R in the field)
            self.report(f"Render: {self.params.field_error.text().removeprefix('⚠ ')}")
            return None
        try:
            changed = self._unsent_params()
            if changed:  # one update, and subscribers hear only what is new
                self.session.update_params(**changed)
            job = self.session.render(tag="gui")
        except (ValueError, RuntimeError) as exc:  # bad value, queue full: nothing was queued
            self.report(f"Render: {describe(exc)}")
            return None
        self.params.clear_refusal("typed")  # a note on a clamped number is answered by rendering
        self._started(job.id)
        return job.id

    def _unsent_params(self) -> dict[str, Any]:
        """The panel's values that the session does not hold yet (a field set without an edit
        signal, or typed and not yet committed); most fields are sent as they are edited."""
        values = self.params.values()
        held = {name: self.session.get_param(name) for name in (*PANEL_PARAMS, "model")}
        changed = {name: values[name] for name in held if values[name] != held[name]}
        if "length" in changed and values["bars"] is not None:
            changed["bars"] = values["bars"]  # a length sent alone clears the bars: they go together
        return changed

    # The progress bar runs once per render through named stages and never backwards: the engine's
    # steps fill it to RENDER_SHARE, writing the files fills the rest ("saving 3/16").
    RENDER_SHARE = 0.9

    def _started(self, job_id: int) -> None:
        self.jobs.add(job_id)
        self.cancel_button.setEnabled(True)
        self._show_queue()
        if len(self.jobs) == 1:  # the bar follows the oldest render; later ones wait their turn
            self._stage(job_id, 0.0, "queued")

    def _stage(self, job_id: int, fraction: float, text: str) -> None:
        """Show `text` for render `job_id` at `fraction` of the bar, never below what it showed."""
        if job_id != self._bar_job:
            if self._bar_job in self.jobs:
                return  # another render of this window holds the bar until it ends
            self._bar_job, self._bar_value = job_id, 0
        self._bar_value = max(self._bar_value, int(fraction * 1000))
        self.progress.setFormat(f"render #{job_id}: {text}")
        self.progress.setValue(self._bar_value)

    def _ended(self, job_id: int, how: str) -> None:
        """A render that will not finish empties the bar (an end, not progress running backwards)."""
        if job_id == self._bar_job or self._bar_job not in self.jobs:
            self._bar_job, self._bar_value = None, 0
            self.progress.setFormat(how)
            self.progress.setValue(0)

    def _show_queue(self) -> None:
        n = len(self.jobs)
        self.queue_label.setText(f"{n} in queue" if n else "")
        self.queue_label.setToolTip(
            f"{n} render{'s' if n != 1 else ''} of this window queued or running (Esc cancels them)"
            if n else "No renders queued"
        )

    def cancel(self) -> None:
        """Esc: in a text or number field it leaves the field (the keys go back to the pads);
        elsewhere it cancels this window's renders."""
        if self.leave_text_field():
            return
        if not self.jobs:
            if self._recording:
                self.report("Recording finishes by itself; it cannot be cancelled")
            return
        for job_id in list(self.jobs):
            self.session.cancel(job_id)
        self.progress.setFormat("cancelling…")

    def leave_text_field(self) -> bool:
        focus = QApplication.focusWidget()
        typing = isinstance(focus, (QLineEdit, QAbstractSpinBox)) or (
            isinstance(focus, QComboBox) and focus.isEditable()
        )
        if not typing or focus.window() is not self:
            return False
        if isinstance(focus, QAbstractSpinBox):
            focus.interpretText()
        self.pads.setFocus(Qt.FocusReason.ShortcutFocusReason)
        return True

    def rerender(self, render_id: int) -> None:
        job = self.call("Re-render", self.session.rerender, render_id)
        if job is not None:
            self._started(job.id)

    def on_progress(self, job_id: int, fraction: float, eta_s: float = -1.0) -> None:
        if job_id in self.jobs:
            left = f" · {display.format_eta(eta_s)} left" if eta_s >= 0 and fraction < 1.0 else ""
            self._stage(job_id, fraction * self.RENDER_SHARE, f"rendering {fraction * 100:.0f}%{left}")

    def on_event(self, ev: Any) -> None:
        mine = ev.job_id in self.jobs
        kind = ev.kind
        if kind == "accepted" and mine:
            about = f" (about {display.format_eta(ev.eta_s)})" if ev.eta_s is not None else ""
            self._stage(ev.job_id, 0.0, f"waiting for the engine{about}")
        elif kind == "done":
            self._finished(ev.job_id)
            if mine:
                if ev.value is not None:
                    self.params.show_used_seed(int(ev.value))
                if ev.paths:
                    self.open_render(ev.paths[0], play=self.autoplay.isChecked())
                self._stage(ev.job_id, 1.0, "done")
                said = display.music_of_result(ev.result, 0) or {}
                music = display.music_label(said)
                about = f"{ev.length_s:.2f} s" + (f" · {music}" if music else "")
                about += "".join(f"; {note}" for note in said.get("notes") or ())  # snapped, overridden
                if (getattr(ev.result, "extra", None) or {}).get("no_parts"):  # stems asked of a one-shot
                    about += f"; {ev.result.extra['no_parts']}"
                self.report(f"Rendered {Path(ev.paths[0]).name if ev.paths else ''} ({about})")
            if self.session.library is not None:
                self.history.refresh()
            else:
                result = ev.result
                request = getattr(result, "request", None)
                prompt = request.prompt if request is not None else self.session.params.prompt
                for v, p in enumerate(ev.paths):
                    self.history.add_session_render(
                        ev.job_id,
                        p,
                        ev.length_s,
                        ev.sample_rate,
                        prompt,
                        variation=v,
                        seed=None if result is None else int(result.seed) + v,
                        has_seed_clip=request is not None and request.seed_clip is not None,
                        music=display.music_of_result(result, v),
                    )
        elif kind == "cancelled" and mine:
            self._ended(ev.job_id, "cancelled")
            self._finished(ev.job_id)
            self.report(f"Render #{ev.job_id} cancelled")
        elif kind == "error":
            if mine:
                self._ended(ev.job_id, "failed")
                self._finished(ev.job_id)
            self.report(f"Render failed: {ev.message}", timeout_ms=0)
        elif kind == "param":
            # Echoes of our own edits change nothing; skipping them saves a repaint per render.
            shown = ev.name in PANEL_PARAMS or ev.name == "model"
            news = shown and self.params.value(ev.name) != ev.value  # not an echo of our own edit
            if news and (ev.name != "seed" or ev.value is not None):
                self.params.set_values({ev.name: ev.value})
            if ev.name == "bpm" and news:
                self.tempo_control.on_bpm(ev.value)
            elif ev.name == "tempo":
                self.tempo_control.on_tempo(float(ev.value), ev.message or None)
        elif kind == "seed":
            self._show_seed()
            self.params.set_has_seed_clip(self.session.seed_clip is not None)
        elif kind == "message" and ev.name == "saving" and mine:
            done, total = ev.value
            share = self.RENDER_SHARE + (1 - self.RENDER_SHARE) * float(ev.progress)
            self._stage(ev.job_id, share, f"saving {done}/{total}")
        elif kind == "slot":
            self.pad_control.on_slot_event(int(ev.name), str(ev.value), ev.message)
        elif kind == "message" and ev.name in ("live", "audio"):  # audio: the device went away or came back
            self.report(str(ev.value))
            if ev.name == "audio":  # the pads and transport follow the device (refresh is a no-op without one)
                self._update_availability()
                self.pad_control.refresh()
        elif kind == "message" and ev.name == "plugin":  # a DAW's diffhost Bridge came, went or loaded
            self.report(ev.message)
        elif kind == "message" and ev.name == "preset" and ev.value is not None:
            self.report(f"Preset loaded: {ev.value}")

    def _finished(self, job_id: int) -> None:
        self.jobs.discard(job_id)
        self.cancel_button.setEnabled(bool(self.jobs))
        self._show_queue()

    def open_render(self, path: Path, play: bool = False) -> None:
        """Load a render's display data off-thread, then show (and maybe play) it."""

        def shown(data: display.DisplayData) -> None:
            self.current = data
            self.waveform.show_data(data)
            self.reprocess.open(Path(path))  # its dry audio, for re-processing and A/B
            if play and self.session.audio is not None:
                self.playback.play_current()

        self.tasks.run(lambda: display.load(Path(path)), shown, lambda e: self.report(describe(e)))

    # -- non-destructive post -------------------------------------------------------------------
    def reprocess_current(self) -> None:
        """The recipe changed (chain, finishing, preset): re-process the current render from its
        dry audio, so Play plays what the editors show. No engine job."""
        self.reprocess.request()

    def audible(self) -> display.DisplayData | None:
        return self.reprocess.audible()

    def current_row(self) -> Any:
        """The library row (or session row) of the current render, else the history's selection."""
        if self.current is not None and self.current.path is not None:
            for row in self.history.rows:
                if Path(row.path) == Path(self.current.path):
                    return row
        return self.history.selected_row()

    # -- the selected model's limits ----------------------------------------------------------------
    def refresh_model_info(self) -> None:
        """Load (or look up) the selected model off-thread; its range and features go to the panel."""
        fn = self.session.load_model_info
        model = self.session.model

        def known(info: Any) -> None:
            if self.session.model == model:
                self.params.set_model_info(info)
                self.params.set_has_seed_clip(self.session.seed_clip is not None)

        self.tasks.run(lambda: fn(model), known, lambda e: self.report(f"Model: {describe(e)}"))

    # -- seed audio -----------------------------------------------------------------------
    def load_seed(self, path: Path) -> None:
        self._seed_name = Path(path).name

        def failed(exc: BaseException) -> None:
            msg = f"Seed audio: {describe(exc)}"
            self.seed_panel.show_error(msg)
            self.report(msg)

        self.tasks.run(
            lambda: self.session.load_seed(path),
            lambda _c: self.report(f"Seed audio: {self._seed_name}"),
            failed,
        )

    def record_seed(self, seconds: float, then_render: bool = False) -> None:
        """Record `seconds` from the input into the seed clip (off the GUI thread); with
        `then_render`, render from it as soon as it is in: record and render as one gesture."""
        if self.session.audio is None:
            self.report(f"Record: {self.reason('audio')}")
            return
        self._recording = True
        self._seed_name = "recording"
        self.seed_panel.set_recording(True, then_render)

        def done(clip: Any) -> None:
            self._recording = False
            self.seed_panel.set_recording(False)
            peak = self.seed_panel.check_recording(clip.audio)
            if peak is not None:  # silent: a muted or wrong input; rendering from it would be a waste
                self.report(f"Recorded {seconds:g} s of silence (peak {peak}): check the input (Audio…)", 0)
                return
            self.report(f"Recorded {seconds:g} s of seed audio")
            if then_render:
                self.render()  # refused values (a bad length, a full queue) are reported by render

        def failed(exc: BaseException) -> None:
            self._recording = False
            self.seed_panel.set_recording(False)
            self.seed_panel.show_error(f"Record: {describe(exc)}")
            self.report(f"Record: {describe(exc)}")

        self.tasks.run(lambda: self.session.record_seed(seconds), done, failed)

    def _show_seed(self) -> None:
        clip = self.session.seed_clip
        if clip is None:
            self.seed_panel.show_clip(None, 0, "")
        else:
            self.seed_panel.show_clip(clip.audio, clip.sample_rate, self._seed_name or "seed clip")

    # -- params, effects, presets ------------------------------------------------------------
    def on_param_edited(self, name: str, value: Any) -> None:
        if name == "seed" and value is None:
            return  # unlocked: each render draws its own
        if name in ("tempo", "bpm", "key"):  # refused values are said inline; the tempo moves the pads
            self.tempo_control.edited(name, value)
            return
        self.call("Parameter", self.session.set_param, name, value)
        if name == "model":
            self.refresh_model_info()

    # -- audio settings --------------------------------------------------------------------------
    def open_audio_settings(self) -> None:
        devices: list[Any] = []
        error = ""
        if self.audio_control is None:
            error = "This window was started without audio."
        else:
            try:
                devices = self.audio_control.list_devices()
            except Exception as exc:  # PortAudio could not enumerate: say so, keep the dialog usable
                error = f"Could not list audio devices: {describe(exc)}"
        if self.session.audio is None and not error:
            error = f"Audio is off: {self.reason('audio')}"
        rates = self.audio_control.supported_rates if self.audio_control is not None else None
        dialog = AudioSettingsDialog(devices, self.current_audio_config(), error, self, rates=rates)
        dialog.accepted.connect(lambda: self.apply_audio_settings(dialog.settings()))
        dialog.open()

    def current_audio_config(self) -> dict[str, Any]:
        """What the open device runs at (read from HostAudio), else the saved choice."""
        config: dict[str, Any] = {"sample_rate": 48000, "block_size": 128}
        if self.audio_control is not None:
            with contextlib.suppress(ValueError):  # a damaged settings file: the dialog shows defaults
                saved = self.audio_control.saved()
                config.update(
                    output=saved.output,
                    input=saved.input,
                    sample_rate=saved.sample_rate,
                    block_size=saved.block_size,
                )
        audio = self.session.audio
        if audio is not None:
            out, inp = getattr(audio, "output_device", None), getattr(audio, "input_device", None)
            config.update(
                sample_rate=getattr(audio, "sample_rate", config["sample_rate"]),
                block_size=getattr(audio, "block_size", config["block_size"]),
                output=getattr(out, "name", config.get("output")),
                input=getattr(inp, "name", False) if out is not None else config.get("input"),
            )
        return config

    def apply_audio_settings(self, config: dict[str, Any]) -> None:
        if self.audio_control is None:
            self.report("Audio: this window was started without audio", timeout_ms=0)
            return
        old = self.session.audio

        def reopen() -> Any:  # saved through the one settings store once the device opened
            return self.audio_control.reopen(old, **config)

        def opened(result: Any) -> None:  # host.audio.Reopened: the new setup, or the previous one
            self.session.audio = result.audio
            self.unavailable.pop("audio", None)
            self._update_availability()
            self.pad_control.refresh()
            problems = "; ".join(result.problems)
            self.report(result.message + (f" ({problems})" if problems else ""), timeout_ms=0 if not result.applied else 8000)

        def failed(exc: BaseException) -> None:
            self.session.audio = None
            self.unavailable["audio"] = describe(exc)
            self._update_availability()
            self.report(f"Audio: {describe(exc)}", timeout_ms=0)

        self.tasks.run(reopen, opened, failed)

    def _update_availability(self) -> None:
        audio_ok = self.session.audio is not None
        reason = self.reason("audio")
        self.seed_panel.set_audio_available(audio_ok, reason)
        self.pads.set_available(audio_ok, reason)
        self.play_button.setEnabled(audio_ok)
        self.play_button.setToolTip(
            "Play or stop the current render (Space)" if audio_ok else f"Playback unavailable: {reason}"
        )
        if audio_ok:
            current = self.current_audio_config()
            self.audio_label.setText(f"Audio {current['sample_rate'] / 1000:g} kHz · {current['block_size']}")
        else:
            self.audio_label.setText("Audio off")
            self.audio_label.setToolTip(reason)

    # -- periodic reads of latest values -----------------------------------------------------------
    def _poll(self) -> None:
        self._ticks += 1
        audio = self.session.audio
        if audio is not None:
            try:
                self.playback.poll(audio)
                if self._recording or self._ticks % 3 == 0:
                    self.seed_panel.meter.set_levels(*audio.meter())
                if self._ticks % 25 == 0:
                    self.audio_label.setText(
                        self.audio_label.text().split(" · xruns")[0] + f" · xruns {audio.underflows}"
                    )
            except Exception as exc:  # a device that vanished: say so once, switch audio off
                self.session.audio = None
                self.unavailable["audio"] = f"audio device failed ({describe(exc)})"
                self._update_availability()
                self.report(f"Audio: {describe(exc)}", timeout_ms=0)
        if self._ticks % 12 == 0:
            self.osc_status.poll()
            n = len(self.jobs)
            where = "" if engine_choice.describe(self.session.engine) == "this machine" else " (remote)"
            self.engine_label.setText(f"Engine{where}: rendering {n}" if n else f"Engine{where}: idle")
            self.engine_label.setToolTip(f"Rendering on {engine_choice.describe(self.session.engine)}")

    # -- settings --------------------------------------------------------------------------
    def save_settings(self) -> None:
        window_state.save(self)

    def closeEvent(self, ev: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.save_settings()
        self.poll_timer.stop()
        self._message_timer.stop()
        self.bridge.close()
        self.tasks.shutdown()
        super().closeEvent(ev)

    def _show_keys(self) -> None:
        rows = "".join(
            f"<tr><td><b>{k}</b></td><td>{v}</td></tr>"
            for k, v in (
                ("Ctrl+R", "Render"),
                ("Esc", "Leave a text field (the keys play pads again); elsewhere cancel renders"),
                ("Space", "Play / stop the current render"),
                ("1 2 3 4 / Q W E R / A S D F / Z X C V", "Trigger pads 1–16 (click a pad to leave a text field)"),
                ("Ctrl+Z", "Undo a pad replaced or a render deleted"),
                ("Double-click / Tab", "Type into a pad's Gain, Pan (L30, C, R30) or Choke; Enter returns"),
                ("Ctrl+Shift+S", "Save preset as…"),
            )
        )
        QMessageBox.information(self, "Keyboard shortcuts", f"<table cellpadding=4>{rows}</table>")
