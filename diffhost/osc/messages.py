"""Outgoing OSC messages: addresses and typed encoding.

Types are explicit so clients always see the same tags: ints as `i` (`h` when
they do not fit 32 bits), floats as `f`, text as `s`. Parameters that are unset
(None) go out as "" for text and -1 for numbers, the same values that unset
them in /diffhost/param/set (DAWs and Max handle Nil poorly).
"""

from __future__ import annotations

import math
import struct
from typing import Any

PREFIX = "/diffhost"
PONG = f"{PREFIX}/pong"
STATUS = f"{PREFIX}/status"
ERROR = f"{PREFIX}/error"
SUBSCRIBED = f"{PREFIX}/subscribed"
UNSUBSCRIBED = f"{PREFIX}/unsubscribed"
JOB_ACCEPTED = f"{PREFIX}/job/accepted"
JOB_PROGRESS = f"{PREFIX}/job/progress"
JOB_DONE = f"{PREFIX}/job/done"
JOB_MUSIC = f"{PREFIX}/job/music"  # just before done: what a loop or phrase was rendered as
JOB_CANCELLED = f"{PREFIX}/job/cancelled"
JOB_ERROR = f"{PREFIX}/job/error"
PARAM = f"{PREFIX}/param"
PRESETS = f"{PREFIX}/presets"
PRESET_LOADED = f"{PREFIX}/preset/loaded"
SEED = f"{PREFIX}/seed"
CANCELLED = f"{PREFIX}/cancelled"  # the answer to every /diffhost/cancel: i:job i:how_many
KIT_SAVED = f"{PREFIX}/kit/saved"
KIT_LOADED = f"{PREFIX}/kit/loaded"
TEMPO_SOURCE = f"{PREFIX}/tempo/source"
MIDI_LEARN = f"{PREFIX}/midi/learn"

_INT32 = (-(2**31), 2**31 - 1)
_FLOAT32_MAX = 3.4028234663852886e38
_I32 = struct.Struct(">i").pack
_I64 = struct.Struct(">q").pack
_F32 = struct.Struct(">f").pack
_F64 = struct.Struct(">d").pack
MAX_REPLY_TEXT = 2000  # characters of a reply string (error messages, paths stay well below)


def slot_state_address(slot: int) -> str:
    return f"{PREFIX}/slot/{slot}/state"


def encode(address: str, *args: Any) -> bytes:
    """One OSC message as bytes, with explicit type tags.

    Written out here rather than with python-osc's OscMessageBuilder, whose build()
    re-parses every message it makes: replies are on the hot path of the server.
    tests/osc/test_messages.py checks the bytes against python-osc's parser.
    """
    tags = [","]
    body: list[bytes] = []
    for value in args:
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, int):
            if _INT32[0] <= value <= _INT32[1]:
                tags.append("i")
                body.append(_I32(value))
            else:
                tags.append("h")
                body.append(_I64(max(-(2**63), min(2**63 - 1, value))))
        elif isinstance(value, float):
            value = value if math.isfinite(value) else 0.0
            if abs(value) <= _FLOAT32_MAX:
                tags.append("f")
                body.append(_F32(value))
            else:
                tags.append("d")
                body.append(_F64(value))
        else:
            text = "" if value is None else str(value)
            tags.append("s")
            body.append(_string(text[:MAX_REPLY_TEXT].replace("\x00", " ")))
    return _string(address) + _string("".join(tags)) + b"".join(body)


def _string(text: str) -> bytes:
    raw = text.encode("utf-8", "replace") + b"\x00"
    return raw + b"\x00" * (-len(raw) % 4)


def error(address: str, message: str) -> bytes:
    return encode(ERROR, address, message)


# Parameters whose unset value is sent as -1 rather than "".
_NUMERIC_PARAMS = {
    "sample_rate": int,
    "length": float,
    "temperature": float,
    "steps": int,
    "guidance": float,
    "seed": int,
    "strength": float,
    "variations": int,
    "tempo": float,
    "quantize": float,
    "bpm": float,
    "stems": int,  # 1 / 0
    "midi": int,
    "mix": int,
}


def param_value(name: str, value: Any) -> Any:
    """The wire form of a parameter value (None -> -1 or "")."""
    kind = _NUMERIC_PARAMS.get(name)
    if kind is None:
        return "" if value is None else str(value)
    if value is None:
        return kind(-1)
    return kind(value)
