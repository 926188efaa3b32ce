"""Audio devices as PortAudio sees them, with their host APIs (ALSA, JACK, CoreAudio, WASAPI...)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sounddevice as sd

from diffhost import paths


class AudioDeviceError(ValueError):
    """A device that does not exist or cannot do what was asked; the message lists the options.

    The message is plain words for the musician; `detail` keeps PortAudio's own text for a log.
    """

    def __init__(self, message: str, *, detail: str = ""):
        super().__init__(message)
        self.detail = detail


# PortAudio error codes (portaudio.h) that a musician can act on.
_PA_INVALID_CHANNELS, _PA_INVALID_RATE, _PA_INVALID_DEVICE = -9998, -9997, -9996
_PA_UNAVAILABLE, _PA_BAD_COMBINATION = -9985, -9993


def plain_open_error(
    exc: BaseException, output: DeviceInfo, input: DeviceInfo | None, sample_rate: int, block_size: int
) -> str:
    """Why a stream did not open, in words a musician can act on (no PortAudio text)."""
    code = exc.args[1] if isinstance(exc, sd.PortAudioError) and len(exc.args) > 1 else None
    text = str(exc).lower()
    where = f"{output.name!r}" + (f" with input {input.name!r}" if input is not None else "")
    if code == _PA_INVALID_RATE or "sample rate" in text or "samplerate" in text:
        rates = supported_rates(output, input)
        runs = f"it runs at {', '.join(f'{r} Hz' for r in rates)}" if rates else "no rate could be confirmed"
        return f"{where} does not run at {sample_rate} Hz; {runs}"
    if code == _PA_UNAVAILABLE or "unavailable" in text or "busy" in text:
        return f"{where} is busy or unplugged; close the app using it or choose another device"
    if code == _PA_INVALID_CHANNELS or "channel" in text:
        return f"{where} cannot play or record that many channels; choose another device"
    if code in (_PA_INVALID_DEVICE, _PA_BAD_COMBINATION) or "device" in text:
        return f"{where} cannot be opened together; choose an input and output of the same audio system"
    return f"{where} did not open at {sample_rate} Hz with {block_size}-frame blocks; try another device or setting"


def supported_rates(
    output: DeviceInfo, input: DeviceInfo | None = None, candidates: tuple[int, ...] | None = None
) -> list[int]:
    """The sample rates PortAudio confirms the device(s) run (a JACK server runs exactly one)."""
    from diffhost.host.audio.settings import SAMPLE_RATES

    good = []
    for rate in candidates or SAMPLE_RATES:
        try:
            sd.check_output_settings(
                device=output.index, samplerate=rate, channels=min(2, output.max_output_channels), dtype="float32"
            )
            if input is not None:
                sd.check_input_settings(device=input.index, samplerate=rate, channels=1, dtype="float32")
        except (sd.PortAudioError, ValueError):
            continue
        good.append(rate)
    return good


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
# PortAudio is one library instance per process, and a stream whose device died pins it: stopping,
# closing or terminating that stream waits (ten minutes) for an audio thread that is gone. So a
# re-scan after such a loss loads a fresh copy of the library and leaves the pinned one alone.
_pa_lock = threading.RLock()  # one re-scan or stream opening at a time
_pa_path: str | None = None  # the file of the copy sounddevice calls now (None: the one it loaded)
_pa_pinned = False  # a dead stream was left behind on the current copy
_pa_kept: list[Any] = []  # every copy ever used stays loaded: libjack keeps pointers into them


def portaudio_lock() -> threading.RLock:
    """Held while PortAudio re-scans or a stream opens, so neither runs under the other."""
    return _pa_lock


def stream_left_behind() -> None:
    """A stream died with its device and was left open (HostAudio.close): the next re-scan loads a
    fresh PortAudio instead of re-initialising this one, which would wait on the dead stream."""
    global _pa_pinned
    _pa_pinned = True


def left_behind() -> bool:
    """Whether a dead stream pins the current PortAudio (then only rescan_devices() finds devices)."""
    return _pa_pinned


def rescan_devices(jack_client_name: str | None = "diffhost") -> list[DeviceInfo]:
    """Re-initialize PortAudio so devices (and a JACK server) started since import appear.

    Only call it while no live stream is open (a dead one left behind is fine: then a fresh copy
    of the library takes over). The JACK client, which PortAudio opens at initialization, takes
    `jack_client_name` so patchbays show "diffhost", not "PortAudio".
    """
    global _client_name, _pa_pinned
    with _pa_lock:
        if _pa_pinned:
            _load_fresh_portaudio()
            _pa_pinned = False
        elif sd._initialized:
            sd._terminate()
        if jack_client_name:
            _client_name = jack_client_name.encode()
        if _client_name:
            try:
                import ctypes

                lib = ctypes.CDLL(_pa_path or sd._libname)  # the copy in use: dlopen hands back its handle
                lib.PaJack_SetClientName(ctypes.c_char_p(_client_name))
            except (OSError, AttributeError):  # PortAudio built without JACK: nothing to name
                pass
        sd._initialize()
        return list_devices()


def _load_fresh_portaudio() -> None:
    """Make sounddevice call a new instance of PortAudio, loaded from a private copy of its file
    (the dynamic loader shares one instance per file, so a copy is the only way to get a second).
    The old instance stays loaded, untouched: its dead stream and libjack still point into it."""
    global _pa_path
    source = _pa_path or _library_file()
    folder = Path(tempfile.mkdtemp(prefix="diffhost-portaudio-"))
    copy = folder / Path(source).name
    shutil.copyfile(source, copy)
    _pa_kept.append(sd._lib)
    sd._lib = sd._ffi.dlopen(str(copy))
    sd._initialized = 0  # the new instance has not been initialised yet
    _pa_path = str(copy)
    _pa_kept.append(folder)  # the file must stay while it is mapped on systems that lock it


def _library_file() -> str:
    """The PortAudio file sounddevice loaded (its path; the loader found it by name)."""
    if os.path.isabs(sd._libname):
        return sd._libname
    with contextlib.suppress(OSError), open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if "libportaudio" in path and os.path.isabs(path):
                return path
    raise AudioDeviceError("audio: cannot find PortAudio's library file to load it afresh")


def forget_dead_jack_client(client: str, server: str | None = None) -> bool:
    """Remove the wake-up word a JACK server that died left behind for one of this process's
    clients; True when there was one.

    JACK2 wakes each client through a small shared-memory file named after the server and the
    client (/dev/shm/jack_sem.<uid>_<server>_<client> on Linux). A killed server leaves it, and
    the dead client's thread in this process still waits on it. A server restarted under the same
    name opens the same file for the new client of the same name, so the dead thread would take
    some of the new client's wake-ups and the new client would stall the whole graph. Removing
    the file while the server is down makes the restarted server create a fresh one. Call it only
    once the server is known to be dead (nothing else uses the file then)."""
    if not sys.platform.startswith("linux"):
        return False
    server = server or paths.jack_server() or "default"
    path = Path("/dev/shm") / f"jack_sem.{os.getuid()}_{server}_{client}"
    try:
        path.unlink()
    except OSError:
        return False
    return True


def jack_client_name() -> str:
    """The name PortAudio's JACK client has in the graph (set by rescan_devices, else PortAudio's)."""
    return _client_name.decode() if _client_name else "PortAudio"
