"""Pads -> Session slot calls: trigger, release, assign (off-thread), per-pad options, quantize.
(The tempo is the window's one Tempo: gui.tempo_control.)

Pad numbers are 1..16, the same numbers the Session, OSC, kits and MIDI use. Slot states
arrive as pushed "slot" session events (MainWindow.on_event -> on_slot_event); nothing polls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from diffhost.gui.display import read_music
from diffhost.gui.errors import describe
from diffhost.gui.pads import PAD_COUNT, PadGrid, pad_label


def _source_name(source: Any) -> str:
    """What a pad held, as its face names it."""
    return pad_label(source.path) if source.path is not None else (source.label or "a clip")


class PadControl:
    """window supplies session, tasks, current, report(), call() and reason()."""

    def __init__(self, window: Any, grid: PadGrid):
        self.window = window
        self.grid = grid
        grid.triggered.connect(self.trigger)
        grid.released.connect(self.release)
        grid.stop_requested.connect(lambda n: window.call(f"Pad {n}", window.session.stop_slot, n))
        grid.stop_all_requested.connect(self.stop_all)
        grid.assign_file.connect(self.assign)
        grid.assign_current.connect(self.assign_current)
        grid.mode_changed.connect(self.set_mode)
        grid.fresh_requested.connect(self.set_fresh)
        grid.options_changed.connect(self.set_options)
        grid.selected_changed.connect(self.show_options)
        grid.quantize_changed.connect(lambda b: window.call("Quantize", window.session.set_quantize, b))

    def trigger(self, number: int) -> None:
        self.window.call(f"Pad {number}", self.window.session.play_slot, number)

    def release(self, number: int) -> None:
        """Note-off: a gate-mode slot fades out; one-shot and loop slots ignore it."""
        audio = self.window.session.audio
        if audio is not None:
            self.window.call(f"Pad {number}", audio.release, number)

    def assign(self, number: int, path: Path) -> None:
        """Load a file onto pad `number` (1..16). Reading and converting it runs as a task. A pad that
        held a clip can get it back (Edit ▸ Undo, Ctrl+Z); a loop render lands in loop mode."""
        w = self.window
        if not 1 <= int(number) <= PAD_COUNT:
            w.report(f"Pad {number}: out of range; pads are 1..{PAD_COUNT}")
            return
        if w.session.audio is None:
            w.report(f"Pad {number}: {w.reason('audio')}")
            return
        audio = w.session.audio
        previous = audio.slot_source(number)
        previous_options = audio.slot_options(number)

        def work() -> bool:
            w.session.assign_slot(number, path=Path(path))
            music = read_music(Path(path)) or {}
            return bool(music.get("loop"))

        def done(is_loop: bool) -> None:
            if is_loop:  # a loop render is meant to repeat: the pad plays it as a loop
                w.call(f"Pad {number}", lambda: audio.set_slot_options(number, mode="loop"))
            self.grid.set_state(number, audio.slot_state(number), pad_label(Path(path)))
            self.show_options(number)
            mode = " (loop)" if is_loop else ""
            if previous is not None:
                old = _source_name(previous)
                w.push_undo(f"pad {number} change", lambda: self._put_back(number, previous, previous_options))
                w.report(f"Pad {number}: {Path(path).name}{mode} replaced {old} (Ctrl+Z puts it back)")
            else:
                w.report(f"Pad {number}: {Path(path).name}{mode}")

        w.tasks.run(work, done, lambda e: w.report(f"Pad {number}: {describe(e)}"))

    def _put_back(self, number: int, source: Any, options: Any) -> None:
        """Undo a replacement: the clip the pad held before, with its options."""
        w = self.window
        audio = w.session.audio
        if audio is None:
            w.report(f"Pad {number}: {w.reason('audio')}")
            return

        def work() -> None:
            audio.assign(number, source.audio, source.sample_rate, path=source.path, label=source.label)
            audio.set_slot_options(
                number, gain=options.gain, pan=options.pan, mode=options.mode,
                choke_group=options.choke_group, quantize=options.quantize,
            )

        def done(_v: Any) -> None:
            self.grid.set_state(number, audio.slot_state(number), _source_name(source))
            self.show_options(number)
            w.report(f"Pad {number}: {_source_name(source)} is back")

        w.tasks.run(work, done, lambda e: w.report(f"Pad {number}: {describe(e)}"))

    def assign_current(self, number: int) -> None:
        current = self.window.current
        if current is None or current.path is None:
            self.window.report(f"Pad {number}: render something first")
        else:
            self.assign(number, current.path)

    def set_mode(self, number: int, mode: str) -> None:
        self.set_options(number, {"mode": mode})

    def set_options(self, number: int, change: dict[str, Any]) -> None:
        """Mode, gain, pan, choke group or quantize of one pad; a refused value is reported and undone."""
        w = self.window
        audio = w.session.audio
        if audio is None:
            w.report(f"Pad {number}: {w.reason('audio')}")
            return
        w.call(f"Pad {number}", lambda: audio.set_slot_options(number, **change))
        self.show_options(number)

    def set_fresh(self, number: int, on: bool) -> None:
        """A fresh pad renders variations of the session's current prompt and length."""
        w = self.window
        live = getattr(w, "live", None)
        if live is None:
            w.report(f"Pad {number}: fresh pads need the live parts (started without them)")
            return
        pad = self.grid.pads[number - 1]
        if not on:
            live.fresh.disable(number)
            pad.fresh = False
            pad.set_state(pad.state, pad.sample.removeprefix("fresh: "))  # it keeps its last take
            pad.set_mode(pad.mode)
            return
        p = w.session.params
        w.call(f"Pad {number}", lambda: live.fresh.enable(number, prompt=p.prompt, length=p.length))
        if not live.fresh.is_fresh(number):  # refused (no audio, a bad prompt): the reason is shown
            return
        pad.fresh = True
        pad.set_mode(pad.mode)
        w.report(f"Pad {number}: fresh variations of “{p.prompt or 'the current prompt'}” on every hit")

    def show_options(self, number: int) -> None:
        audio = self.window.session.audio
        if audio is not None:
            self.grid.show_options(number, audio.slot_options(number))

    def refresh(self) -> None:
        """Every pad's state, clip name and options from the (re)opened audio, e.g. after a device change."""
        audio = self.window.session.audio
        if audio is None:
            return
        for pad in self.grid.pads:
            n = pad.number
            if n > audio.num_slots:
                break
            live = getattr(self.window, "live", None)
            pad.fresh = bool(live is not None and live.fresh.is_fresh(n))
            label = self.label_of(n)
            pad.set_state(audio.slot_state(n), label)
            self.grid.show_options(n, audio.slot_options(n))

    def label_of(self, number: int) -> str:
        """A pad's name: a fresh pad's prompt; a clip kept only by the kit (a file named by its
        hash) by the label it was given; a render by its prompt part."""
        audio = self.window.session.audio
        src = audio.slot_source(number) if audio is not None else None
        live = getattr(self.window, "live", None)
        if live is not None and live.fresh.is_fresh(number):
            prompt = (live.fresh.specs().get(number) or {}).get("prompt")
            if prompt:
                return f"fresh: {prompt}"
        if src is None:
            return ""
        if src.path is None:
            return src.label
        if src.label and src.label != Path(src.path).stem:
            return src.label
        return pad_label(src.path)

    def on_slot_event(self, number: int, state: str, label: str = "") -> None:
        live = getattr(self.window, "live", None)
        if live is not None and live.fresh.is_fresh(number):
            self.grid.set_state(number, state, self.label_of(number))  # its prompt, not "fresh #12"
            return
        self.grid.set_state(number, state, pad_label(Path(label)) if label else None)

    def stop_all(self) -> None:
        if self.window.session.audio is not None:
            self.window.call("Pads", self.window.session.audio.stop_all)
