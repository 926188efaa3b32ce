"""Ableton Link: shared tempo, beat phase and start/stop with other Link apps on the network.

Through LinkPython-extern (`import link`), a thin binding of Ableton's Link library. Link itself is
GPL-2.0-or-later (or Ableton's proprietary licence), so it is an optional extra of diffhost
(`pip install diffhost[link]`): without it, diffhost stays MIT and Link is simply unavailable.

A thread reads Link's session state every few milliseconds and hands the mixer a grid on Link's
own clock (on Linux, CLOCK_MONOTONIC_RAW): the mixer stamps every block with that clock and places
a quantized start where Link's beat is heard (the output latency taken off), re-estimating its
frame each block, so a device whose rate drifts from the clock still starts on the beat.
Link's stop stops every pad.
"""

from __future__ import annotations

import math
import threading
from typing import Any

PERIOD_S = 0.005
QUANTUM = 4.0  # beats per bar, as Link apps agree on phase


class LinkUnavailable(OSError):
    pass


class LinkSync:
    def __init__(self, sync: Any, *, bpm: float = 120.0, start_stop: bool = True):
        try:
            import link
        except ImportError as exc:
            raise LinkUnavailable(
                f"Ableton Link: the LinkPython-extern package is not installed ({exc}); "
                "pip install 'diffhost[link]' (Link is GPL-2.0-or-later)"
            ) from None
        self.sync = sync
        self.link = link.Link(float(bpm))
        self.link.startStopSyncEnabled = start_stop
        self.link.enabled = True
        self.playing: bool | None = None
        self._stop = threading.Event()
        self._last: tuple[float, float, Any, float] | None = None
        self._thread = threading.Thread(target=self._run, name="diffhost-link", daemon=True)
        self._thread.start()

    @property
    def peers(self) -> int:
        return int(self.link.numPeers())

    def set_tempo(self, bpm: float) -> None:
        """Propose a tempo to the Link session (any peer may)."""
        state = self.link.captureAppSessionState()
        state.setTempo(float(bpm), self.link.clock().micros())
        self.link.commitAppSessionState(state)

    def _run(self) -> None:
        while not self._stop.wait(PERIOD_S):
            audio = self.sync.session.audio
            if audio is None or self.sync.source != "link":
                self._last = None
                continue
            try:
                state = self.link.captureAppSessionState()
                bpm = float(state.tempo())
                now_us = self.link.clock().micros()
                beat_us = state.timeAtBeat(math.floor(state.beatAtTime(now_us, QUANTUM)), QUANTUM)
                playing = bool(state.isPlaying())
                latency_ns = audio.output_latency_s() * 1e9
            except Exception:  # noqa: BLE001 - a closed stream mid-read: try again next period
                continue
            # The grid lives on Link's own clock (the mixer maps it to frames block by block), so it
            # only needs sending when the tempo or the phase moves, the stream changed, or the
            # stream's output latency did (the grid is placed that much early, so a pad is heard on
            # the beat; JACK recomputes a port's latency when connections change).
            beat_ns = 60e9 / bpm
            phase = (beat_us * 1000.0) % beat_ns
            last = self._last
            if (
                last is None
                or last[2] is not audio
                or abs(last[0] - bpm) > 1e-9
                or _circular(last[1], phase, beat_ns) > 1000.0
                or abs(last[3] - latency_ns) > 1000.0
                or audio.grid_clock != "time"
            ):
                self._last = (bpm, phase, audio, latency_ns)
                self.sync.update("link", bpm, origin_ns=beat_us * 1000.0, latency_ns=latency_ns)
            if self.playing is True and not playing:
                audio.stop_all()
            self.playing = playing

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        self.link.enabled = False


def _circular(a: float, b: float, period: float) -> float:
    d = abs(a - b) % period
    return min(d, period - d)
