"""Ableton Link: shared tempo, beat phase and start/stop with other Link apps on the network.

Through LinkPython-extern (`import link`), a thin binding of Ableton's Link library. Link itself is
GPL-2.0-or-later (or Ableton's proprietary licence), so it is an optional extra of diffhost
(`pip install diffhost[link]`): without it, diffhost stays MIT and Link is simply unavailable.

A thread reads Link's session state every few milliseconds and maps Link's clock (on Linux,
CLOCK_MONOTONIC_RAW) to stream frames through the mixer's per-block clock stamps, putting a grid
line where Link's beat falls as heard (the output latency is taken off). Link's stop stops every pad.
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
        self._last: tuple[float, float] | None = None
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

    def beat_origin(self, state: Any, audio: Any) -> float | None:
        """A stream frame on which a Link beat is heard, or None before the stream's first block."""
        clock = audio.clock()
        if clock is None:
            return None
        ns, frame = clock
        now_us = self.link.clock().micros()
        beat = math.floor(state.beatAtTime(now_us, QUANTUM))
        t_us = state.timeAtBeat(beat, QUANTUM)
        latency_s = audio.output_latency_s()  # a block computed at t is heard at t + latency
        return frame + ((t_us - latency_s * 1e6) * 1000.0 - ns) * audio.sample_rate / 1e9

    def _run(self) -> None:
        while not self._stop.wait(PERIOD_S):
            audio = self.sync.session.audio
            if audio is None or self.sync.source != "link":
                continue
            try:
                state = self.link.captureAppSessionState()
                bpm = float(state.tempo())
                origin = self.beat_origin(state, audio)
                playing = bool(state.isPlaying())
            except Exception:  # noqa: BLE001 - a closed stream mid-read: try again next period
                continue
            if origin is None:
                continue
            fpb = 60.0 * audio.sample_rate / bpm
            phase = origin % fpb
            last = self._last
            if last is None or abs(last[0] - bpm) > 1e-6 or _circular(last[1], phase, fpb) > 0.25:
                self._last = (bpm, phase)
                self.sync.update("link", bpm, origin)
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
