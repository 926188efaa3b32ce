"""MIDI clock in: 24 ticks per quarter note, start / stop / continue and song position.

The tempo is the least-squares slope of the latest 48 ticks' frames (two beats), so a clock's
jitter averages out and a tempo change is followed within two beats. A beat falls on every 24th
tick counted from start (or from the song position); that tick's frame becomes the grid origin,
so quantized pads land on the clock's beats. Stop stops every pad.
"""

from __future__ import annotations

import collections
from typing import Any

TICKS_PER_BEAT = 24
WINDOW = 2 * TICKS_PER_BEAT
MIN_TICKS = 6  # a quarter beat before the first estimate


class MidiClock:
    def __init__(self, sync: Any):
        self.sync = sync  # host.sync.TempoSync
        self.ticks: collections.deque[float] = collections.deque(maxlen=WINDOW + 1)
        self.position = 0  # ticks since song position 0
        self.running = False
        self.bpm: float | None = None

    def _frame(self, frame: int, t_ns: int | None) -> float | None:
        if frame:
            return float(frame)
        audio = self.sync.session.audio
        if audio is None or t_ns is None:
            return None
        clock = audio.clock()
        if clock is None:
            return None
        ns, f = clock
        return f + (t_ns - ns) * audio.sample_rate / 1e9

    def feed(self, msg: Any, *, frame: int = 0, t_ns: int | None = None) -> None:
        kind = msg.type
        if kind == "start":
            self.position, self.running = 0, True
            self.ticks.clear()
        elif kind == "continue":
            self.running = True
        elif kind == "stop":
            self.running = False
            audio = self.sync.session.audio
            if audio is not None and self.sync.source == "midi clock":
                audio.stop_all()
        elif kind == "songpos":
            self.position = int(msg.pos) * 6  # sixteenth notes -> ticks
        elif kind == "clock":
            f = self._frame(frame, t_ns)
            if f is None:
                return
            self._tick(f)

    def _tick(self, f: float) -> None:
        if self.ticks and f - self.ticks[-1] > 48000:  # a gap of a second or more: a new clock
            self.ticks.clear()
        self.ticks.append(f)
        on_beat = self.position % TICKS_PER_BEAT == 0
        if self.running:
            self.position += 1
        if len(self.ticks) < MIN_TICKS:
            return
        n = len(self.ticks)
        xs = range(n)
        mean_x = (n - 1) / 2
        mean_y = sum(self.ticks) / n
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, self.ticks, strict=True)) / sum(
            (x - mean_x) ** 2 for x in xs
        )
        audio = self.sync.session.audio
        if slope <= 0 or audio is None:
            return
        self.bpm = 60.0 * audio.sample_rate / (TICKS_PER_BEAT * slope)
        self.sync.update("midi clock", self.bpm, f if (on_beat and self.running) else None)
