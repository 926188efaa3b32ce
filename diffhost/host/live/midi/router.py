"""Routes MIDI messages: note-ons straight into the mixer's command ring (on the input's own thread,
timestamped), everything else (CCs, program changes, clock) through a bounded queue to the MIDI
thread, which may do slower work (a preset load reads a file) without delaying a note.

Learning: learn_pad(n) makes the next note fire pad n; learn_cc(target, slot) makes the next CC
move the target. The map (with what was learned) is what kits save.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from diffhost.host.live.midi.mapping import PARAM_TARGETS, SLOT_TARGETS, CcBinding, MidiMap, velocity_gain

CLOCK_TYPES = {"clock", "start", "stop", "continue", "songpos"}
QUEUE_SIZE = 1024


@dataclass(frozen=True)
class Learning:
    kind: str  # "pad" or "cc"
    slot: int | None = None
    target: str | None = None


class MidiRouter:
    """session: host.Session (its .audio may change on a device re-open). clock: a MIDI clock
    follower (host.sync.MidiClock) or None. notify(text) tells the front ends what happened."""

    def __init__(
        self,
        session: Any,
        midi_map: MidiMap | None = None,
        *,
        clock: Any = None,
        notify: Callable[[str], None] | None = None,
    ):
        self.session = session
        self.map = midi_map or MidiMap()
        self.clock = clock
        self.notify = notify or (lambda _text: None)
        self.learning: Learning | None = None
        self.notes_in = 0
        self.errors = 0
        self.last_error = ""
        self._q: queue.Queue[Any] = queue.Queue(QUEUE_SIZE)
        self._thread = threading.Thread(target=self._run, name="diffhost-midi", daemon=True)
        self._thread.start()

    # -- from input threads ----------------------------------------------------------------
    def handle(self, msg: Any, *, frame: int = 0, t_ns: int | None = None) -> None:
        """One message. frame: the stream frame it belongs to (JACK MIDI), 0 = now; t_ns: its
        CLOCK_MONOTONIC_RAW time when the port gives no frame (rtmidi)."""
        kind = msg.type
        if hasattr(msg, "channel") and self.map.channel is not None and msg.channel + 1 != self.map.channel:
            return
        if kind == "note_on" and msg.velocity > 0:
            self._note_on(msg.note, msg.velocity, frame)
        elif kind in ("note_off", "note_on"):
            slot = self.map.pad_for(msg.note)
            audio = self.session.audio
            if slot is not None and audio is not None and self.learning is None:
                self._safely(lambda: audio.release(slot))
        else:
            try:
                self._q.put_nowait((msg, frame, t_ns))
            except queue.Full:  # a flood of CCs: drop rather than block the input thread
                self.errors += 1

    def _note_on(self, note: int, velocity: int, frame: int) -> None:
        learning = self.learning
        if learning is not None and learning.kind == "pad":
            self.learning = None
            self.map = self.map.with_note(note, learning.slot)  # type: ignore[arg-type]
            self.notify(f"MIDI learn: note {note} fires pad {learning.slot}")
            return
        slot = self.map.pad_for(note)
        audio = self.session.audio
        if slot is None or audio is None:
            return
        self.notes_in += 1
        self._safely(lambda: audio.trigger(slot, velocity_gain(velocity), at=frame))

    def note_played(self, slot: int, velocity: int) -> None:
        """A note the JACK MIDI reader (C) already triggered: count it and tell trigger listeners
        (a fresh pad swaps in its next variation)."""
        self.notes_in += 1
        audio = self.session.audio
        if audio is not None:
            self._safely(lambda: audio.notify_triggered(slot))

    def _safely(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except (ValueError, RuntimeError) as exc:  # an empty pad, a closed stream: count, never raise here
            self.errors += 1
            self.last_error = str(exc)

    # -- learning ----------------------------------------------------------------------------
    def learn_pad(self, slot: int) -> None:
        self.learning = Learning("pad", slot=int(slot))

    def learn_cc(self, target: str, slot: int | None = None) -> None:
        if target not in SLOT_TARGETS and target not in PARAM_TARGETS:
            valid = ", ".join([*SLOT_TARGETS, *PARAM_TARGETS])
            raise ValueError(f"learn: unknown target {target!r}; valid are {valid}")
        if target in SLOT_TARGETS and slot is None:
            raise ValueError(f"learn: the {target} target needs a pad 1..16")
        self.learning = Learning("cc", slot=slot, target=target)

    def cancel_learn(self) -> None:
        self.learning = None

    # -- the MIDI thread -------------------------------------------------------------------------
    def _run(self) -> None:
        while (item := self._q.get()) is not None:
            if isinstance(item, threading.Event):  # wait_idle's mark
                item.set()
                continue
            msg, frame, t_ns = item
            try:
                self._slow(msg, frame, t_ns)
            except Exception as exc:  # a bad preset, a closed device: report, keep listening
                self.errors += 1
                self.last_error = str(exc)
                self.notify(f"MIDI: {exc}")

    def _slow(self, msg: Any, frame: int, t_ns: int | None) -> None:
        kind = msg.type
        if kind in CLOCK_TYPES:
            if self.clock is not None:
                self.clock.feed(msg, frame=frame, t_ns=t_ns)
        elif kind == "control_change":
            self._cc(msg.control, msg.value)
        elif kind == "program_change":
            names = self.session.list_presets()
            if msg.program >= len(names):
                raise ValueError(f"program change {msg.program}: there are {len(names)} presets (0..{len(names) - 1})")
            self.session.load_preset(names[msg.program])

    def _cc(self, cc: int, value: int) -> None:
        learning = self.learning
        if learning is not None and learning.kind == "cc":
            self.learning = None
            self.map = self.map.with_cc(CcBinding(cc, learning.target or "", learning.slot))
            what = f"{learning.target} of pad {learning.slot}" if learning.slot else learning.target
            self.notify(f"MIDI learn: CC {cc} moves {what}")
            return
        for b in self.map.bindings_for(cc):
            v = b.value(value)
            if b.target in SLOT_TARGETS:
                audio = self.session.audio
                if audio is not None:
                    audio.set_slot_options(b.slot, **{b.target: v})
            elif b.target == "tempo":
                self.session.set_tempo(v)
            else:
                self.session.set_param(b.target, v)

    def wait_idle(self, timeout: float = 2.0) -> bool:
        """Block until the MIDI thread has handled everything queued so far (tests, shutdown)."""
        mark = threading.Event()
        self._q.put(mark, timeout=timeout)
        return mark.wait(timeout)

    def close(self) -> None:
        with contextlib.suppress(queue.Full):
            self._q.put(None, timeout=1)
        self._thread.join(timeout=2)
