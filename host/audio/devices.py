"""Audio devices as PortAudio sees them, with their host APIs (ALSA, JACK, CoreAudio, WASAPI...)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sounddevice as sd


class AudioDeviceError(ValueError):
    """A device that does not exist or cannot do what was asked; the message lists the options."""


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float


def list_devices() -> list[DeviceInfo]:
    """Every input and output device PortAudio can open, in PortAudio's order."""
    apis = sd.query_hostapis()
    return [
        DeviceInfo(
            index=int(d["index"]),
            name=str(d["name"]),
            hostapi=str(apis[d["hostapi"]]["name"]),
            max_input_channels=int(d["max_input_channels"]),
            max_output_channels=int(d["max_output_channels"]),
            default_samplerate=float(d["default_samplerate"]),
        )
        for d in sd.query_devices()
    ]


def default_device(kind: str) -> DeviceInfo | None:
    """The system default input or output device, or None when there is none."""
    idx = sd.default.device[0 if kind == "input" else 1]
    if idx is None or idx < 0:
        try:
            idx = int(sd.query_devices(kind=kind)["index"])
        except (sd.PortAudioError, ValueError):
            return None
    return next((d for d in list_devices() if d.index == idx), None)


def resolve_device(spec: Any, kind: str) -> DeviceInfo | None:
    """A device from an index, an exact name or a unique part of a name ("JACK", "USB").

    None means the system default (None again when there is no such device).
    """
    if kind not in ("input", "output"):
        raise ValueError(f"device kind: expected 'input' or 'output', got {kind!r}")
    if spec is None or spec == "":
        return default_device(kind)
    devices = [d for d in list_devices() if _channels(d, kind) > 0]
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        idx = int(spec)
        match = [d for d in devices if d.index == idx]
    else:
        text = str(spec).strip().lower()
        match = [d for d in devices if d.name.lower() == text] or [
            d for d in devices if text in f"{d.name} ({d.hostapi})".lower()
        ]
    if len(match) == 1:
        return match[0]
    options = "; ".join(f"{d.index}: {d.name} ({d.hostapi})" for d in devices) or "none found"
    why = "matches several devices" if match else "matches no device"
    raise AudioDeviceError(f"{kind} device {spec!r} {why}; {kind} devices are: {options}")


def _channels(d: DeviceInfo, kind: str) -> int:
    return d.max_input_channels if kind == "input" else d.max_output_channels


_client_name: bytes | None = None  # PortAudio keeps the pointer; keep the bytes alive


def rescan_devices(jack_client_name: str | None = "diffhost") -> list[DeviceInfo]:
    """Re-initialize PortAudio so devices (and a JACK server) started since import appear.

    Only call it while no stream is open. The JACK client, which PortAudio opens at
    initialization, takes `jack_client_name` so patchbays show "diffhost", not "PortAudio".
    """
    global _client_name
    sd._terminate()
    if jack_client_name:
        try:
            import ctypes

            lib = ctypes.CDLL(sd._libname)
            _client_name = jack_client_name.encode()
            lib.PaJack_SetClientName(ctypes.c_char_p(_client_name))
        except (OSError, AttributeError):  # PortAudio built without JACK: nothing to name
            pass
    sd._initialize()
    return list_devices()
