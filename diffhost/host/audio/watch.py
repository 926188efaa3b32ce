"""Noticing that the audio device went away, bringing it back when it returns, and saying both in
plain words.

When the JACK server dies (or an interface is unplugged) under a running stream, PortAudio stops
calling back and every later stop or close of that stream waits for an audio thread that is gone.
The watch checks the stream a few times a second; when it is lost it saves the pads as the last
kit (so they also survive a restart), keeps the bank in memory, takes the device out of the
session (slot messages then answer with the reason instead of pretending to play), and announces
one plain message: the window shows it, `diffhost serve` prints it, OSC subscribers get
`/diffhost/audio s:message`. Renders and OSC keep working throughout: neither needs the device.

The lost stream itself is never touched again (HostAudio.close leaves it behind), so quitting stays
quick. While the device is away the watch looks for it once a second: a re-scan (a fresh PortAudio,
since the dead stream pins the old one: host/audio/devices.py) and, when the same device is there
again, a stream opened with the same settings and every pad restored onto it. Then the pads play
again in the same run, and the watch says so the same way. Inputs that died with the server (the
JACK MIDI port) are reopened by the `revive` hook the runtime passes.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

CHECK_PERIOD_S = 0.25
RETRY_PERIOD_S = 1.0  # how often to look for the device while it is away


def lost_message(audio: Any) -> str:
    name = getattr(getattr(audio, "output_device", None), "name", None) or "the audio device"
    api = getattr(getattr(audio, "output_device", None), "hostapi", "") or ""
    server = " (the JACK server stopped)" if "JACK" in api else ""
    return (
        f"Audio: {name}{server} went away. Renders and OSC keep working; the pads are kept "
        "and play again as soon as the device is back."
    )


def back_message(audio: Any, problems: list[str]) -> str:
    name = getattr(getattr(audio, "output_device", None), "name", None) or "the audio device"
    text = f"Audio: {name} is back ({audio.sample_rate / 1000:g} kHz); the pads play again."
    return text + (f" Not restored: {'; '.join(problems)}." if problems else "")


class AudioWatch:
    """Watches `session.audio`. On loss: calls `save` (the last kit), keeps the bank, clears the
    session's device with the reason and publishes the message. While lost: looks for the same
    device once a second and, when it opens, restores the bank, puts it back in the session and
    publishes that. `revive()` (optional) runs each retry period after that and returns plain
    lines for inputs it reopened (the JACK MIDI port). stop() ends the thread."""

    def __init__(
        self,
        session: Any,
        *,
        save: Callable[[], None] | None = None,
        revive: Callable[[], list[str]] | None = None,
        period: float = CHECK_PERIOD_S,
        retry: float = RETRY_PERIOD_S,
    ):
        self.session = session
        self._save = save
        self._revive = revive
        self._period = period
        self._retry = retry
        self._stop = threading.Event()
        self.lost_state: Any = None  # the bank (host_audio.BankState) as it was when the device went
        self._lost: Any = None  # the HostAudio that was lost (its devices and settings), until back
        self._next_try = 0.0
        self._dead: list[Any] = []  # every stream lost in this run
        self.message = ""
        self._thread = threading.Thread(target=self._run, name="diffhost-audio-watch", daemon=True)

    def start(self) -> AudioWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            try:
                self._check()
            except Exception as exc:  # the watch must outlive any one failure; say it, look again
                print(f"diffhost: audio watch: {exc}", file=sys.stderr)

    def _check(self) -> None:
        audio = self.session.audio
        if audio is not None and getattr(audio, "lost", False):
            self._on_lost(audio)
            return
        if audio is not None and self._lost is not None:  # another device was chosen meanwhile
            self._lost = self.lost_state = None
        if time.monotonic() < self._next_try:
            return
        self._next_try = time.monotonic() + self._retry
        if audio is None and self._lost is not None:
            self._try_back()
        if self._revive is not None and self._lost is None:
            for line in self._revive():
                self._say(line)

    def _on_lost(self, audio: Any) -> None:
        from diffhost.host.session import SessionEvent

        self.message = lost_message(audio)
        try:
            self.lost_state = audio.snapshot()
            if self._save is not None:
                self._save()  # while the bank is still readable: the pads as they were
        except Exception as exc:  # the message matters more than the copy
            print(f"diffhost: could not keep the pads: {exc}", file=sys.stderr)
        if "JACK" in str(getattr(audio.output_device, "hostapi", "")):
            from diffhost.host.audio.devices import forget_dead_jack_client, jack_client_name

            forget_dead_jack_client(jack_client_name())  # before the server can come back
        self._lost = audio
        self._dead.append(audio)  # never freed: PortAudio may still hold pointers into its mixer
        self.session.audio_problem = self.message
        self.session.audio = None
        audio.close(timeout=0)  # marks it closed; a lost stream is left alone (it would block)
        self._next_try = time.monotonic() + self._retry
        print(f"diffhost: {self.message}", file=sys.stderr, flush=True)
        self.session.publish(SessionEvent("message", name="audio", value=self.message))

    def _try_back(self) -> None:
        """Open the lost device again if it is there; nothing changes when it is not."""
        from diffhost.host.audio.devices import AudioDeviceError, list_devices, rescan_devices
        from diffhost.host.audio.host_audio import open_host_audio

        lost = self._lost
        rescan_devices(None)  # keeps the JACK client's name; a fresh PortAudio after the loss
        found = {(d.name, d.hostapi): d for d in list_devices()}

        def same(dev: Any) -> Any:
            return None if dev is None else found.get((dev.name, dev.hostapi))

        out = same(lost.output_device)
        if out is None:
            return  # not back yet
        inp = same(lost.input_device)
        settings = lost.settings
        try:
            audio = open_host_audio(
                out.index,
                inp.index if inp is not None else False,
                lost.sample_rate,
                settings.block_size if settings is not None else 128,
                lost.num_slots,
                input_channels=settings.input_channels if settings is not None else 1,
                max_record_s=lost.max_record_s,
            )
        except (AudioDeviceError, OSError):
            return  # there, but not ready (a server still starting): the next period tries again
        if settings is not None:
            audio.settings = settings  # as the user chose it (system default stays the default)
        problems = audio.restore(self.lost_state) if self.lost_state is not None else []
        if self.session.audio is not None:  # the user chose another device meanwhile: theirs wins
            audio.close(timeout=2)
            self._lost = self.lost_state = None
            return
        self.session.audio_problem = ""
        self.session.audio = audio
        self._lost = self.lost_state = None
        self._say(back_message(audio, problems))

    def _say(self, message: str) -> None:
        from diffhost.host.session import SessionEvent

        self.message = message
        print(f"diffhost: {message}", file=sys.stderr, flush=True)
        self.session.publish(SessionEvent("message", name="audio", value=message))
