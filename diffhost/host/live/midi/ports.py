"""MIDI ports through mido with python-rtmidi (ALSA sequencer, CoreMIDI, Windows MIDI).

Notes from these ports trigger as soon as they arrive (the next block); their clock messages
carry a CLOCK_MONOTONIC_RAW time so the clock follower can place beats on the stream.
"""

from __future__ import annotations

import time
from typing import Any


def list_inputs() -> list[str]:
    """MIDI input ports mido sees (empty when the rtmidi backend cannot load)."""
    try:
        import mido

        return list(mido.get_input_names())
    except Exception:  # noqa: BLE001 - no ALSA sequencer, no backend: just no ports
        return []


def resolve_input(name: str, names: list[str] | None = None) -> str:
    """A port by exact name or a unique part of it; a clear error lists the ports."""
    names = list_inputs() if names is None else names
    exact = [n for n in names if n == name]
    match = exact or [n for n in names if name.lower() in n.lower()]
    if len(match) == 1:
        return match[0]
    why = "matches several ports" if match else "matches no port"
    ports = "; ".join(names) or "none found"
    raise ValueError(f"midi-in {name!r} {why}; MIDI inputs are: {ports} (or 'jack' for a JACK MIDI port)")


class MidoInput:
    def __init__(self, router: Any, name: str):
        import mido

        self.name = resolve_input(name)
        self.router = router
        self.port = mido.open_input(self.name, callback=self._received)

    def _received(self, msg: Any) -> None:
        self.router.handle(msg, t_ns=time.clock_gettime_ns(time.CLOCK_MONOTONIC_RAW))

    def close(self) -> None:
        self.port.close()
