"""One tempo in the window: the render tempo (the session's `bpm` param) and the pads' grid tempo
(Session.set_tempo, what quantized triggers land on) move together.

A musician expects one tempo: a loop rendered at the session tempo must stay in sync with the pads.
The host keeps two values (the render request's `bpm`, which may be "auto", and the mixer's beat
grid, which always has a tempo and may follow Ableton Link or MIDI clock), so the window joins them:

- the Tempo field (gui.params_panel) is the one control; a number there sets both, "auto" (empty)
  lets renders choose their own tempo and leaves the pads' grid where it is;
- `bpm` set from elsewhere (OSC /diffhost/param/set bpm, a preset) moves the pads' grid too;
- the grid's tempo set from elsewhere (OSC /diffhost/tempo, a MIDI CC, Link, MIDI clock) becomes the
  render tempo, unless renders are on auto (following Link or clock: always, so loops match it).

Each side is only followed from an event that is still current (the value it carries is the value
now), so two changes in flight settle on one value instead of chasing each other.
"""

from __future__ import annotations

from typing import Any

from diffhost.engine.request import BPM_RANGE
from diffhost.gui.errors import describe
from diffhost.gui.params_panel import format_bpm

SAME_BPM = 1e-3  # tempo events are rounded to 3 decimals (host.sync.tempo)
FOLLOW_STEP = 0.1  # a followed clock's tempo reaches the renders in 0.1 BPM steps (clock jitter)


class TempoControl:
    """window supplies session, params (ParamsPanel), pads (PadGrid), call() and report()."""

    def __init__(self, window: Any):
        self.window = window
        self.params = window.params
        self.pads = window.pads
        live = getattr(window, "live", None)
        self.source = live.sync.source if live is not None else "session"

    @property
    def session(self) -> Any:
        return self.window.session

    # -- from the window's own controls -----------------------------------------------------------
    def edited(self, name: str, value: Any) -> None:
        """The user changed Tempo or Key: the session validates; a refusal is shown inline and
        nothing changes (the field shows what is still set)."""
        try:
            stored = self.session.set_param(name, value)
        except ValueError as exc:
            current = self.session.get_param(name)
            self.params.set_values({name: current})
            field, shown = ("Tempo", format_bpm(current)) if name == "bpm" else ("Key", current)
            self.params.refuse(name, f"{describe(exc)} · {field} stays {shown or 'auto'}")
            return
        self.params.set_values({name: stored})
        if name == "bpm" and stored is not None:
            self.move_grid(stored)

    def restore(self, saved_grid_tempo: float) -> None:
        """At start: the pads' grid takes the restored render tempo, else the last grid tempo."""
        audio = self.session.audio
        if audio is None:
            self.pads.set_tempo(float(saved_grid_tempo))
            return
        bpm = self.session.params.bpm
        self.move_grid(float(bpm) if bpm is not None else float(saved_grid_tempo))
        self.pads.set_tempo(float(audio.tempo))

    # -- events from the session ------------------------------------------------------------------
    def on_bpm(self, value: Any) -> None:
        """`bpm` changed (any front end); the panel already shows it. The grid follows a current one."""
        if value is not None and self.session.params.bpm == value:
            self.move_grid(float(value))

    def on_tempo(self, bpm: float, source: str | None) -> None:
        """The grid's tempo changed: show it on the pads; the render tempo follows (see the module)."""
        if source:
            self.source = source
            self.params.set_tempo_source(source)
        self.pads.set_tempo(bpm, source)
        audio = self.session.audio
        if audio is None or abs(float(audio.tempo) - bpm) > SAME_BPM:
            return  # a stale event: the grid has moved on since
        current = self.session.params.bpm
        following = self.source != "session"
        if current is None and not following:
            return  # renders on auto choose their own tempo
        target = round(bpm / FOLLOW_STEP) * FOLLOW_STEP if following else bpm
        target = round(target, 3)
        if current is not None and abs(current - target) < (FOLLOW_STEP if following else SAME_BPM):
            return
        if not BPM_RANGE[0] <= target <= BPM_RANGE[1]:
            self.params.refuse(
                "bpm",
                f"bpm: the pads' tempo {bpm:g} BPM is outside {BPM_RANGE[0]:g}–{BPM_RANGE[1]:g} BPM, "
                f"what renders take · renders stay at {format_bpm(current) or 'auto'}",
            )
            return
        try:
            self.session.set_param("bpm", target)
        except ValueError as exc:
            self.params.refuse("bpm", describe(exc))
            return
        self.params.set_values({"bpm": target})

    # -- the pads' grid ---------------------------------------------------------------------------
    def move_grid(self, bpm: float) -> None:
        """Put the pads' grid at `bpm` (when there are pads and the session, not a clock, sets it)."""
        audio = self.session.audio
        if audio is None or self.source != "session" or abs(float(audio.tempo) - bpm) <= SAME_BPM:
            return
        self.window.call("Tempo", self.session.set_tempo, bpm)
