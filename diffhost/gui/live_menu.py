"""The Live menu: kits (save, load), MIDI inputs, MIDI learn and the tempo source.

Talks to host.live.LiveRig (built by the composition root). Kit loads read files, so they run as
tasks; everything else is quick. Learned mappings are confirmed by a "live" session message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QFileDialog, QMenu

from diffhost.gui.errors import describe
from diffhost.host.live.kit import KIT_SUFFIX

KIT_FILTER = f"diffhost kits (*{KIT_SUFFIX});;Kits saved as .json (*.json);;All files (*)"
TEMPO_SOURCES = (
    ("Session", "session"),
    ("Ableton Link", "link"),
    ("MIDI clock", "midi clock"),
    ("DAW (diffhost Bridge plugin)", "plugin"),
)
CC_TARGETS = (("gain of the selected pad", "gain"), ("pan of the selected pad", "pan"),
              ("temperature", "temperature"), ("strength", "strength"), ("guidance", "guidance"),
              ("tempo", "tempo"))


class LiveMenu:
    """window supplies live (LiveRig or None), pads, pad_control, tasks, report() and call()."""

    def __init__(self, window: Any, menu: QMenu):
        self.window = window
        self.menu = menu
        self.live = window.live
        menu.addAction("Save kit…", self.save_kit)
        menu.addAction("Load kit…", self.load_kit)
        menu.addSeparator()
        self.midi_menu = menu.addMenu("MIDI inputs")
        self.midi_menu.aboutToShow.connect(self._fill_midi)
        learn = menu.addMenu("MIDI learn")
        learn.addAction("Next note → selected pad", self.learn_pad)
        cc = learn.addMenu("Next CC →")
        for label, target in CC_TARGETS:
            cc.addAction(label, lambda t=target: self.learn_cc(t))
        learn.addAction("Cancel learning", lambda: self.live and self.live.router.cancel_learn())
        tempo = menu.addMenu("Tempo from")
        self.tempo_actions: dict[str, QAction] = {}
        for label, source in TEMPO_SOURCES:
            act = tempo.addAction(label, lambda s=source: self.set_tempo_source(s))
            act.setCheckable(True)
            self.tempo_actions[source] = act
        self._show_source()
        menu.setEnabled(self.live is not None)

    def _need(self) -> Any:
        if self.live is None:
            self.window.report("Live: this window was started without the live parts")
        return self.live

    def save_kit(self) -> None:
        if self._need() is None:
            return
        path, _ = QFileDialog.getSaveFileName(self.window, "Save kit", str(self.kits_dir()), KIT_FILTER)
        if path:
            self.save_kit_to(Path(path), asked=True)

    def kits_dir(self) -> Path:
        """Kits' own folder (<config>/kits), not the renders folder full of sidecars."""
        store = getattr(self.live, "kits", None)
        folder = Path(store.dir) if store is not None else Path.home()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return Path.home()
        return folder

    def save_kit_to(self, path: Path, *, asked: bool = False) -> None:
        """A name without an extension gets the kit extension; the save dialog asked before
        replacing the name it showed (`asked`), but not one we completed: that one is never replaced."""
        path = Path(path)
        completed = path.suffix == ""
        if completed:
            path = path.with_suffix(KIT_SUFFIX)
        overwrite = asked and not completed
        saved = self.window.call("Kit", lambda: self.live.save_kit(path, overwrite=overwrite))
        if saved is not None:
            self.window.report(f"Kit saved: {Path(saved).name}")

    def load_kit(self) -> None:
        if self._need() is None:
            return
        path, _ = QFileDialog.getOpenFileName(self.window, "Load kit", str(self.kits_dir()), KIT_FILTER)
        if path:
            self.load_kit_from(Path(path))

    def load_kit_from(self, path: Path) -> None:
        """Load a kit into the pads. The pads as they were are kept first, so Edit ▸ Undo (Ctrl+Z)
        puts them back: a kit loaded by mistake on stage must not cost the set that was there."""
        w = self.window
        live = self.live

        def work() -> tuple[Any, Path | None, list[str]]:
            before = live.snapshot() if live.kits is not None else None
            was = live.kit_path
            return before, was, live.load_kit(path)

        def done(result: tuple[Any, Path | None, list[str]]) -> None:
            before, was, problems = result
            w.pad_control.refresh()
            if before is not None:
                w.push_undo(f"kit load ({path.name})", lambda: self._put_back(before, was))
            undo = " (Ctrl+Z puts the pads back)" if before is not None else ""
            w.report(f"Kit loaded: {path.name}" + (f" ({'; '.join(problems)})" if problems else "") + undo,
                     timeout_ms=0 if problems else 8000)

        w.tasks.run(work, done, lambda e: w.report(f"Kit: {describe(e)}", timeout_ms=0))

    def _put_back(self, before: Any, was: Path | None) -> None:
        w = self.window

        def done(problems: list[str]) -> None:
            w.pad_control.refresh()
            w.report("Pads are back as they were before the kit load"
                     + (f" ({'; '.join(problems)})" if problems else ""), timeout_ms=0 if problems else 8000)

        w.tasks.run(lambda: self.live.restore(before, was), done,
                    lambda e: w.report(f"Kit: {describe(e)}", timeout_ms=0))

    def _fill_midi(self) -> None:
        self.midi_menu.clear()
        if self.live is None:
            return
        for name in self.live.midi_ports():
            label = "JACK MIDI port (diffhost-midi:in)" if name == "jack" else name
            act = self.midi_menu.addAction(label, lambda n=name: self.toggle_midi(n))
            act.setCheckable(True)
            act.setChecked(name in self.live.inputs)

    def toggle_midi(self, name: str) -> None:
        if self._need() is None:
            return
        if name in self.live.inputs:
            self.live.close_midi(name)
            self.window.report(f"MIDI: closed {name}")
            return
        opened = self.window.call("MIDI", self.live.open_midi, name)
        if opened:
            self.window.report(f"MIDI: listening to {opened}")

    def learn_pad(self) -> None:
        if self._need() is not None:
            n = self.window.pads.selected
            self.live.router.learn_pad(n)
            self.window.report(f"MIDI learn: play the note for pad {n}", timeout_ms=0)

    def learn_cc(self, target: str) -> None:
        if self._need() is None:
            return
        slot = self.window.pads.selected if target in ("gain", "pan") else None
        try:
            self.live.router.learn_cc(target, slot)
        except ValueError as exc:
            self.window.report(f"MIDI learn: {describe(exc)}")
            return
        what = f"{target} of pad {slot}" if slot else target
        self.window.report(f"MIDI learn: move the control for {what}", timeout_ms=0)

    def set_tempo_source(self, source: str) -> None:
        if self._need() is not None:
            self.window.call("Tempo", self.live.set_tempo_source, source)
        self._show_source()

    def _show_source(self) -> None:
        current = self.live.sync.source if self.live is not None else "session"
        for source, act in self.tempo_actions.items():
            act.setChecked(source == current)
        self.window.pads.set_tempo(self.window.pads.tempo_bpm, current)
        self.window.params.set_tempo_source(current)
