"""Argument checks for incoming OSC messages.

OSC clients disagree about types: TouchOSC and Max send floats for everything,
REAPER sends floats for buttons, SuperCollider sends ints. So numbers are
accepted as int or float when the value fits, and every refusal names the
argument, what was expected and what arrived.
"""

from __future__ import annotations

import math
import struct
from typing import Any

MAX_TEXT = 1000  # characters in a prompt, preset name or parameter name
MAX_PATH = 4096  # characters in a path
_F32 = struct.Struct(">f")
BUTTON_USAGE = "no arguments, or a button's value (1 acts, 0 is ignored)"


class OscArgError(ValueError):
    """A message whose arguments do not fit its address; nothing was changed."""


def osc_type(value: Any) -> str:
    """The OSC name of a parsed argument, for error messages."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "blob"
    if value is None:
        return "nil"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def as_typed(value: Any) -> Any:
    """A float that is exactly a 32-bit float (how OSC `f` arrives) as the shortest decimal that is
    that float32: 0.1 sent as `f` arrives as 0.10000000149011612, and is stored and shown as 0.1,
    the number the user typed. Other values come back unchanged."""
    if not isinstance(value, float) or not math.isfinite(value):
        return value
    try:
        if _F32.unpack(_F32.pack(value))[0] != value:
            return value  # a double with more precision than float32: keep every digit
    except OverflowError:
        return value
    for digits in range(1, 10):
        short = float(f"{value:.{digits}g}")
        if _F32.unpack(_F32.pack(short))[0] == value:
            return short
    return value


def shown(value: Any, limit: int = 40) -> str:
    """A short printable form of a value (long strings and blobs are cut; floats as typed)."""
    text = repr(as_typed(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def expect_count(args: list[Any], lo: int, hi: int, usage: str) -> None:
    if not lo <= len(args) <= hi:
        want = f"{lo}" if lo == hi else f"{lo}..{hi}"
        raise OscArgError(f"expected {usage} ({want} arguments), got {len(args)}")


def as_int(name: str, value: Any, lo: int, hi: int) -> int:
    """An int in lo..hi; a float with a whole value counts (TouchOSC/Max send floats)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OscArgError(
            f"{name}: expected a whole number in {lo}..{hi}, got {osc_type(value)} {shown(value)}"
        )
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise OscArgError(f"{name}: expected a whole number in {lo}..{hi}, got {shown(value)}")
        value = int(value)
    if not lo <= value <= hi:
        raise OscArgError(f"{name}: {value} is out of range; valid is {lo}..{hi}")
    return value


def as_float(name: str, value: Any, lo: float, hi: float, unit: str = "") -> float:
    """A finite number in lo..hi (int or float)."""
    span = f"{lo:g}..{hi:g}{' ' + unit if unit else ''}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OscArgError(f"{name}: expected a number in {span}, got {osc_type(value)} {shown(value)}")
    value = float(as_typed(value))
    if not math.isfinite(value) or not lo <= value <= hi:
        raise OscArgError(f"{name}: {shown(value)} is out of range; valid is {span}")
    return value


def as_text(name: str, value: Any, max_len: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise OscArgError(f"{name}: expected a string, got {osc_type(value)} {shown(value)}")
    if len(value) > max_len:
        raise OscArgError(f"{name}: {len(value)} characters is too long; the limit is {max_len}")
    return value


def as_switch(name: str, value: Any) -> bool:
    """On or off, as buttons and toggles send it: any nonzero number or OSC true is on; 0 or
    false is off (TouchOSC sends 1.0/0.0, MIDI-minded surfaces 127/0, some clients T/F)."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value)):
        raise OscArgError(
            f"{name}: expected a number or a boolean (nonzero or true is on, 0 or false is off), "
            f"got {osc_type(value)} {shown(value)}"
        )
    return value != 0


def as_button(args: list[Any]) -> bool:
    """An address that takes no arguments also takes a button's value: True to act (no argument,
    or nonzero / true), False for a release (0 / false), which does nothing."""
    expect_count(args, 0, 1, BUTTON_USAGE)
    return as_switch("value", args[0]) if args else True
