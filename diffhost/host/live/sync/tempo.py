"""The one place the tempo's source is chosen and the mixer's beat grid is moved.

Sources: "session" (the window's Tempo box, OSC /diffhost/tempo, a CC), "link" (Ableton Link),
"midi clock" and "plugin" (a DAW's tempo, from the diffhost Bridge plugin: host.live.bridge). Only the active source moves the tempo; every change is announced as a session
"param" event named "tempo" whose message says the source, so the window shows where it comes from.
"""

from __future__ import annotations

import threading
from typing import Any

SOURCES = ("session", "link", "midi clock", "plugin")
ANNOUNCE_BPM_STEP = 0.01  # smaller moves (a follower's jitter) are applied but not announced


class TempoSync:
    def __init__(self, session: Any):
        self.session = session
        self.source = "session"
        self._lock = threading.Lock()
        self._announced: tuple[str, float] | None = None
        self.bpm: float | None = None  # the followed source's latest tempo (kept without an audio device too)

    def follow(self, source: str) -> None:
        if source not in SOURCES:
            raise ValueError(f"tempo source: {source!r} is not one of {', '.join(SOURCES)}")
        with self._lock:
            self.source = source
        audio = self.session.audio
        if audio is not None and source != "link" and audio.grid_clock == "time":
            audio.set_tempo(audio.tempo, origin=audio.grid_origin)  # back to a grid of frames
        self._announce(audio.tempo if audio is not None else 120.0, force=True)

    def update(
        self,
        source: str,
        bpm: float,
        origin: float | None = None,
        *,
        origin_ns: float | None = None,
        latency_ns: float = 0.0,
    ) -> bool:
        """From a follower: tempo, and where a beat falls (a frame, or a clock time: see
        HostAudio.set_tempo); ignored unless `source` is the active one."""
        if source != self.source:
            return False
        bpm = min(999.0, max(20.0, float(bpm)))
        self.bpm = bpm
        audio = self.session.audio
        if audio is None:  # headless: renders and the plugin's pads still follow it
            self._announce(bpm)
            return True
        audio.set_tempo(bpm, origin=origin, origin_ns=origin_ns, latency_ns=latency_ns)
        self._announce(bpm)
        return True

    def _announce(self, bpm: float, force: bool = False) -> None:
        last = self._announced
        if not force and last is not None and last[0] == self.source and abs(last[1] - bpm) < ANNOUNCE_BPM_STEP:
            return
        self._announced = (self.source, bpm)
        publish = getattr(self.session, "publish", None)
        if publish is not None:
            from diffhost.host.session import SessionEvent

            publish(SessionEvent("param", name="tempo", value=round(bpm, 3), message=self.source))
