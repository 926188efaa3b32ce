"""Play / Stop of the current render (and the seed clip) through the host audio, with the playhead."""

from __future__ import annotations

from typing import Any

from PyQt6.QtWidgets import QPushButton

from diffhost.gui.waveform import WaveformView


class Playback:
    """window supplies session, current, report(), call() and reason()."""

    def __init__(self, window: Any, waveform: WaveformView, button: QPushButton):
        self.window = window
        self.waveform = waveform
        self.button = button
        self.offset_s = 0.0  # where in the render playback started (seek)
        self.playing_current = False
        button.clicked.connect(self.toggle)
        waveform.seek_requested.connect(self.seek)

    def toggle(self) -> None:
        w = self.window
        audio = w.session.audio
        if audio is None:
            w.report(f"Playback: {w.reason('audio')}")
            return
        if w.call("Playback", audio.is_playing):
            w.call("Stop", audio.stop)
            self.playing_current = False
            self.waveform.set_playhead(None)
        else:
            self.play_current()

    def play_current(self, start_s: float = 0.0) -> None:
        """Play what the window says is audible: the processed render (or its unsaved re-process),
        or the dry audio when A/B is on B."""
        w = self.window
        audible = getattr(w, "audible", None)
        audio, current = w.session.audio, (audible() if audible is not None else w.current)
        if current is None:
            w.report("Nothing to play yet: render something first (Ctrl+R)")
            return
        if audio is None:
            w.report(f"Playback: {w.reason('audio')}")
            return
        start = int(start_s * current.sample_rate)
        if w.call("Playback", audio.play, current.audio[:, start:], current.sample_rate) is None:
            self.offset_s = start_s
            self.playing_current = True

    def seek(self, seconds: float) -> None:
        audible = getattr(self.window, "audible", None)
        current = audible() if audible is not None else self.window.current
        if current is not None and self.window.session.audio is not None and seconds < current.duration_s:
            self.play_current(seconds)

    def play_seed(self) -> None:
        w = self.window
        clip = w.session.seed_clip
        if clip is not None and w.session.audio is not None:
            self.playing_current = False
            w.call("Seed playback", w.session.audio.play, clip.audio, clip.sample_rate)

    def poll(self, audio: Any) -> None:
        playing = audio.is_playing()
        if self.playing_current:
            if playing:
                self.waveform.set_playhead(self.offset_s + audio.position())
            else:
                self.playing_current = False
                self.waveform.set_playhead(None)
        self.button.setText("■ Stop" if playing else "▶ Play")
