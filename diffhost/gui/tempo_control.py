"""One tempo in the window: the pads' grid tempo (Session.set_tempo, what quantized triggers land
on) and the render tempo (the session's `bpm` param) move together.

A musician expects one tempo: a loop rendered at the session tempo must stay in sync with the pads.
The host keeps two values (the mixer's beat grid, which always has a tempo and may follow Ableton
Link or MIDI clock, and the render request's `bpm`, which may be unset), so the window joins them:

- the Tempo field (gui.params_panel) is the one control and shows the grid's tempo; its "auto"
  toggle is `bpm` unset: renders choose their own tempo. It stays a toggle beside a tempo that is
  always there, rather than an empty field, because a tempo makes the default model render a loop
  or phrase (engine/default/model/loops.py `wants_loop`): with auto on, one-shots stay one-shots while
  the pads keep their tempo;
- a tempo typed there moves the grid and, with auto off, `bpm`; it is checked with the session's
  own rule (GenerationRequest's BPM_RANGE) either way, so what the pads play to can be rendered at;
- `bpm` set from elsewhere (OSC /diffhost/param/set bpm, a preset) turns auto off and moves the grid;
- the grid's tempo set from elsewhere (OSC /diffhost/tempo, a MIDI CC, Link, MIDI clock) becomes
  `bpm` unless auto is on (and unless renders cannot take it: then a note says so, and renders
  keep their tempo).

Each side is only followed from an event that is news (not the echo of the window's own edit, which
moved both already) and still current (the value it carries is the value now), so two changes in
flight settle on one value instead of chasing each other.
"""

from __future__ import annotations

from typing import Any

from diffhost.gui.errors import describe
from diffhost.gui.params_panel import format_bpm

SAME_BPM = 1e-3  # tempo events are rounded to 3 decimals (host.sync.tempo)
FOLLOW_STEP = 0.1  # a followed clock's tempo reaches the renders in 0.1 BPM steps (clock jitter)


class TempoControl:
    """window supplies session, live (LiveRig or None), params (ParamsPanel), pads (PadGrid) and call()."""

    def __init__(self, window: Any):
        self.window = window
        self.params = window.params
        self.pads = window.pads

    @property
    def session(self) -> Any:
        return self.window.session

    @property
    def source(self) -> str:
        """Who sets the grid now: asked, not remembered from events, which may be older than a
        switch to Link or clock (moving the grid then would undo the clock's tempo)."""
        live = getattr(self.window, "live", None)
        return live.sync.source if live is not None else "session"

    # -- from the window's own controls -----------------------------------------------------------
    def edited(self, name: str, value: Any) -> None:
        """The user changed the Tempo ("tempo"), auto ("bpm": None or the tempo) or Key. The session
        validates; a refusal is shown inline and nothing changes (the field shows what is still set)."""
        try:
            if name == "tempo":
                self.session.build_request(bpm=value)  # the session's check, changing nothing
                value = float(value)
                if not self.params.bpm_auto.isChecked():
                    self.params.set_values({"bpm": self.session.set_param("bpm", value)})
                self.params.show_tempo(value)
            else:
                self.params.set_values({name: self.session.set_param(name, value)})
        except ValueError as exc:
            self._refused(name, exc)
            return
        self.params.clear_refusal("bpm" if name == "tempo" else name)
        self.params.clear_refusal("grid")
        if name == "tempo" or (name == "bpm" and value is not None):
            self.move_grid(float(value))

    def _refused(self, name: str, exc: ValueError) -> None:
        if name == "key":
            current = self.session.get_param("key")
            self.params.set_values({"key": current})
            self.params.refuse("key", f"{describe(exc)} · Key stays {current or 'auto'}")
            return
        bpm = self.session.get_param("bpm")
        self.params.set_values({"bpm": bpm})
        if name == "tempo":  # a typed tempo: the field goes back to the one still set
            self.params.show_tempo(self.params.bpm.current if bpm is None else bpm)
            self.params.refuse("bpm", f"{describe(exc)} · Tempo stays {format_bpm(self.params.bpm.current)}")
        else:  # auto off at a tempo renders cannot take (one a clock or OSC put the pads at)
            # said as a note, not a refused typed value: Render still goes out at the renders' tempo
            self.params.refuse("grid", f"{describe(exc)} · renders stay on {format_bpm(bpm) or 'auto'}")

    def restore(self, saved_grid_tempo: float) -> None:
        """At start: the grid takes the restored render tempo; on auto, the open audio keeps its
        tempo (the last kit's), and without audio the window shows the last one it had."""
        bpm = self.session.params.bpm
        audio = self.session.audio
        if bpm is not None:
            tempo = float(bpm)
        else:
            tempo = float(audio.tempo) if audio is not None else float(saved_grid_tempo)
        self.params.show_tempo(tempo)
        self.pads.set_tempo(tempo)
        self.move_grid(tempo)

    # -- events from the session ------------------------------------------------------------------
    def on_bpm(self, value: Any) -> None:
        """`bpm` changed elsewhere (OSC, a preset; the panel already shows it; the window's own edits
        moved the grid themselves): a current one moves the grid."""
        if value is not None and self.session.params.bpm == value:
            self.params.show_tempo(float(value))
            self.move_grid(float(value))

    def on_tempo(self, bpm: float, source: str | None) -> None:
        """The grid's tempo changed: the pads and the field show it; `bpm` follows unless auto."""
        if source:
            self.params.set_tempo_source(self.source)
        audio = self.session.audio
        self.pads.set_tempo(float(audio.tempo) if audio is not None else bpm, source)  # now, not then
        self.params.clear_refusal("grid")
        if audio is not None and abs(float(audio.tempo) - bpm) > SAME_BPM:
            return  # a stale event: the grid has moved on since
        following = self.source != "session"
        target = round(round(bpm / FOLLOW_STEP) * FOLLOW_STEP, 3) if following else bpm
        self.params.show_tempo(target)
        current = self.session.params.bpm
        if current is None:
            return  # auto: renders choose their own tempo
        if abs(current - target) < (FOLLOW_STEP if following else SAME_BPM):
            return
        try:
            stored = self.session.set_param("bpm", target)
        except ValueError as exc:  # said, but no refusal of a typed value: Render still goes out
            self.params.refuse(
                "grid", f"{describe(exc)} · renders stay at {format_bpm(current)} BPM; the pads play at {bpm:g}"
            )
            return
        self.params.set_values({"bpm": stored})

    # -- the pads' grid ---------------------------------------------------------------------------
    def move_grid(self, bpm: float) -> None:
        """Put the pads' grid at `bpm` (when there are pads and the session, not a clock, sets it);
        without audio the pads just show it (it is what they start at once audio is on)."""
        audio = self.session.audio
        if audio is None:
            self.pads.set_tempo(bpm)
            return
        if self.source != "session" or abs(float(audio.tempo) - bpm) <= SAME_BPM:
            return
        self.window.call("Tempo", self.session.set_tempo, bpm)
