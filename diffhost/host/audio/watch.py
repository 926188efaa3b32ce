"""Noticing that the audio device went away, and saying so in plain words.

When the JACK server dies (or an interface is unplugged) under a running stream, PortAudio stops
calling back and every later stop or close of that stream blocks forever. The watch checks the
stream a few times a second; when it is lost it saves the pads as the last kit (so they come back
on the next start, or with the next device), takes the device out of the session (slot messages
then answer with the reason instead of pretending to play), and announces one plain message: the
window shows it, `diffhost serve` prints it, OSC subscribers get `/diffhost/audio s:message`.
Renders and OSC keep working throughout: neither needs the audio device.

The lost stream itself is never touched again (HostAudio.close leaves it behind), so quitting
stays quick. PortAudio cannot re-scan its devices while that stream exists (its re-initialise
closes every stream, which blocks the same way), so the pads come back with the next start: they
are saved as the last kit the moment the device goes. `lost_state` keeps the bank for a front end
that opens another device in the same run.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

CHECK_PERIOD_S = 0.25


def lost_message(audio: Any) -> str:
    name = getattr(getattr(audio, "output_device", None), "name", None) or "the audio device"
    api = getattr(getattr(audio, "output_device", None), "hostapi", "") or ""
    server = " (the JACK server stopped)" if "JACK" in api else ""
    return (
        f"Audio: {name}{server} went away. Renders and OSC keep working; the pads are saved "
        "and come back when diffhost starts again with the device back."
    )


class AudioWatch:
    """Watches `session.audio`; on loss calls `save` (the last kit), clears the session's device with
    the reason, and publishes the message. stop() ends the thread at once."""

    def __init__(self, session: Any, *, save: Callable[[], None] | None = None, period: float = CHECK_PERIOD_S):
        self.session = session
        self._save = save
        self._period = period
        self._stop = threading.Event()
        self.lost_state: Any = None  # the bank (host_audio.BankState) as it was when the device went
        self.message = ""
        self._thread = threading.Thread(target=self._run, name="diffhost-audio-watch", daemon=True)

    def start(self) -> AudioWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=1)

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            audio = self.session.audio
            if audio is None or not getattr(audio, "lost", False):
                continue
            self._on_lost(audio)

    def _on_lost(self, audio: Any) -> None:
        from diffhost.host.session import SessionEvent

        self.message = lost_message(audio)
        try:
            self.lost_state = audio.snapshot()
            if self._save is not None:
                self._save()  # while the bank is still readable: the pads as they were
        except Exception as exc:  # the message matters more than the copy
            print(f"diffhost: could not keep the pads: {exc}", file=sys.stderr)
        self.session.audio_problem = self.message
        self.session.audio = None
        audio.close(timeout=0)  # marks it closed; a lost stream is left alone (it would block)
        print(f"diffhost: {self.message}", file=sys.stderr, flush=True)
        self.session.publish(SessionEvent("message", name="audio", value=self.message))
