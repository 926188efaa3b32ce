"""The host's audio side: devices, seed recording with a meter, a player and the live slot bank.

audio = open_host_audio()            # default devices, 48 kHz, 128-frame blocks, 16 slots
audio.assign(0, kick, 44100)         # converted once; triggering only moves an index
audio.trigger(0)                     # sounds in the next block
"""

from diffhost.host.audio.control import AudioControl
from diffhost.host.audio.devices import (
    AudioDeviceError,
    DeviceInfo,
    list_devices,
    rescan_devices,
    resolve_device,
)
from diffhost.host.audio.host_audio import HostAudio, SlotOptions, open_from_settings, open_host_audio
from diffhost.host.audio.mixer import AudioBusyError, SlotStart
from diffhost.host.audio.settings import AudioSettings, load_settings, save_settings, settings_path

__all__ = [
    "AudioControl",
    "AudioBusyError",
    "AudioDeviceError",
    "AudioSettings",
    "DeviceInfo",
    "HostAudio",
    "SlotOptions",
    "SlotStart",
    "list_devices",
    "load_settings",
    "open_from_settings",
    "open_host_audio",
    "rescan_devices",
    "resolve_device",
    "save_settings",
    "settings_path",
]
