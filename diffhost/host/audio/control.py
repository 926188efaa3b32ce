"""The one audio-settings store, and the one way the app opens (and re-opens) its audio device.

The window, `diffhost serve` and `diffhost audio` read and write the same settings file
(host.audio.settings). Command-line flags override the saved choice for one run and are not saved;
a change made in the window is saved once the device has opened with it, so a setup that fails to
open never becomes the remembered one.

A re-open keeps the performance going: every slot's clip and options move to the new stream
(reconverted at its rate), and a setup that does not open falls back to the last one that did,
with a plain message saying what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffhost.host.audio.devices import (
    AudioDeviceError,
    DeviceInfo,
    left_behind,
    list_devices,
    rescan_devices,
    resolve_device,
    supported_rates,
)
from diffhost.host.audio.host_audio import HostAudio, open_from_settings
from diffhost.host.audio.settings import AudioSettings, load_settings, save_settings


@dataclass(frozen=True)
class Reopened:
    """What a re-open gave: the open device, whether it is the requested setup, and a plain message."""

    audio: HostAudio
    applied: bool  # False: the requested setup failed and the previous one was reopened
    message: str
    problems: tuple[str, ...] = ()  # slots that could not be restored (e.g. a clip too long)


class AudioControl:
    def __init__(self, config_dir: Path | None = None, *, slots: int = 16):
        self.config_dir = config_dir
        self.slots = slots

    def saved(self) -> AudioSettings:
        """The remembered choice (defaults when none is saved; a damaged file raises, naming it)."""
        return load_settings(self.config_dir)

    def resolve(self, **overrides: Any) -> AudioSettings:
        """The saved choice with the given (non-None) values on top; validated, nothing saved."""
        changes = {k: v for k, v in overrides.items() if v is not None}
        return self.saved().with_(**changes)

    def open(self, **overrides: Any) -> HostAudio:
        """Open the saved setup, with one run's overrides (e.g. `serve --sample-rate`) on top."""
        return open_from_settings(self.resolve(**overrides), slots=self.slots)

    def reopen(self, old: HostAudio | None, **changes: Any) -> Reopened:
        """Close `old`, open the saved setup with `changes` on top, move every slot over and remember
        the setup once it opened. If it does not open, reopen `old`'s setup (the last that worked),
        restore the slots there and say so; only when that fails too does this raise."""
        settings = self.saved().with_(**changes)  # a bad value raises before the old device is closed
        state = old.snapshot() if old is not None else None
        previous = getattr(old, "settings", None) if old is not None else None
        if old is not None:
            old.close()
        if left_behind():  # a device died under a stream: only a fresh PortAudio sees devices again
            rescan_devices(None)
        try:
            audio = open_from_settings(settings, slots=self.slots)
        except AudioDeviceError as exc:
            if previous is None:
                raise
            try:
                audio = open_from_settings(previous, slots=self.slots)
            except AudioDeviceError as again:
                raise AudioDeviceError(
                    f"{exc}; the previous setup did not reopen either: {again}", detail=again.detail
                ) from None
            problems = tuple(audio.restore(state)) if state is not None else ()
            return Reopened(audio, False, f"{exc}. Kept the previous setup: {describe_setup(audio)}", problems)
        problems = tuple(audio.restore(state)) if state is not None else ()
        save_settings(settings, self.config_dir)
        return Reopened(audio, True, f"Audio: {describe_setup(audio)}", problems)

    def list_devices(self) -> list[DeviceInfo]:
        return list_devices()

    def supported_rates(self, output: Any = None, input: Any = None) -> list[int]:
        """Sample rates the chosen output (and input) run; what the settings dialog offers."""
        out = resolve_device(output, "output")
        if out is None:
            return []
        inp = None if input in (None, False) else resolve_device(input, "input")
        return supported_rates(out, inp)


def describe_setup(audio: HostAudio) -> str:
    name = audio.output_device.name if audio.output_device is not None else "default output"
    return f"{name}, {audio.sample_rate / 1000:g} kHz, {audio.block_size}-frame blocks"
