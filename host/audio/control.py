"""The one audio-settings store, and the one way the app opens its audio device.

The window, `diffhost serve` and `diffhost audio` read and write the same settings file
(host.audio.settings). Command-line flags override the saved choice for one run and are not saved;
a change made in the window is saved once the device has opened with it, so a setup that fails to
open never becomes the remembered one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from diffhost.host.audio.devices import DeviceInfo, list_devices
from diffhost.host.audio.host_audio import HostAudio, open_from_settings
from diffhost.host.audio.settings import AudioSettings, load_settings, save_settings


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

    def reopen(self, old: HostAudio | None, **changes: Any) -> HostAudio:
        """Close `old`, open the saved setup with `changes` on top, and remember it once it opened."""
        settings = self.saved().with_(**changes)  # a bad value raises before the old device is closed
        if old is not None:
            old.close()
        audio = open_from_settings(settings, slots=self.slots)
        save_settings(settings, self.config_dir)
        return audio

    def list_devices(self) -> list[DeviceInfo]:
        return list_devices()
