"""Pads -> Session slot calls: trigger, release, assign (off-thread), modes, tempo, and state polling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from diffhost.gui.errors import describe
from diffhost.gui.pads import PadGrid, pad_label


class PadControl:
    """window supplies session, tasks, current, report(), call() and reason()."""

    def __init__(self, window: Any, grid: PadGrid):
        self.window = window
        self.grid = grid
        grid.triggered.connect(self.trigger)
        grid.released.connect(self.release)
        grid.stop_requested.connect(lambda s: window.call(f"Pad {s + 1}", window.session.stop_slot, s))
        grid.stop_all_requested.connect(self.stop_all)
        grid.assign_file.connect(self.assign)
        grid.assign_current.connect(self.assign_current)
        grid.mode_changed.connect(self.set_mode)
        grid.tempo_changed.connect(lambda bpm: window.call("Tempo", window.session.set_tempo, bpm))
        grid.quantize_changed.connect(lambda b: window.call("Quantize", window.session.set_quantize, b))

    def trigger(self, slot: int) -> None:
        self.window.call(f"Pad {slot + 1}", self.window.session.play_slot, slot)

    def release(self, slot: int) -> None:
        """Note-off: a gate-mode slot fades out; one-shot and loop slots ignore it."""
        release = getattr(self.window.session.audio, "release", None)
        if release is not None:
            self.window.call(f"Pad {slot + 1}", release, slot)

    def assign(self, slot: int, path: Path) -> None:
        """Assigning reads and converts the file, so it runs as a task."""
        w = self.window
        if w.session.audio is None:
            w.report(f"Pad {slot + 1}: {w.reason('audio')}")
            return

        def done(_v: Any) -> None:
            self.grid.set_state(slot, w.session.audio.slot_state(slot), pad_label(Path(path)))
            w.report(f"Pad {slot + 1}: {Path(path).name}")

        w.tasks.run(
            lambda: w.session.assign_slot(slot, path=Path(path)),
            done,
            lambda e: w.report(f"Pad {slot + 1}: {describe(e)}"),
        )

    def assign_current(self, slot: int) -> None:
        current = self.window.current
        if current is None or current.path is None:
            self.window.report(f"Pad {slot + 1}: render something first")
        else:
            self.assign(slot, current.path)

    def set_mode(self, slot: int, mode: str) -> None:
        w = self.window
        if w.session.audio is None:
            w.report(f"Pad {slot + 1}: {w.reason('audio')}")
            return
        w.call(f"Pad {slot + 1}", w.session.audio.set_slot_options, slot, mode=mode)

    def stop_all(self) -> None:
        if self.window.session.audio is not None:
            self.window.call("Pads", self.window.session.audio.stop_all)

    def poll(self, audio: Any) -> None:
        """Slots go from playing to ready without an event: read their states (latest values)."""
        for slot in range(min(len(self.grid.pads), audio.num_slots)):
            state = audio.slot_state(slot)
            if self.grid.pads[slot].state != state:
                self.grid.set_state(slot, state)
