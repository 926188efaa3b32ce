"""Argument checks for incoming OSC messages.

OSC clients disagree about types: TouchOSC and Max send floats for everything,
REAPER sends floats for buttons, SuperCollider sends ints. So numbers are
accepted as int or float when the value fits, and every refusal names the
argument, what was expected and what arrived.
"""

from __future__ import annotations

import math
from typing import Any

MAX_TEXT = 1000  # characters in a prompt, preset name or parameter name
MAX_PATH = 4096  # characters in a path


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


def shown(value: Any, limit: int = 40) -> str:
    """A short printable form of a value (long strings and blobs are cut)."""
    text = repr(value)
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
    value = float(value)
    if not math.isfinite(value) or not lo <= value <= hi:
        raise OscArgError(f"{name}: {shown(value)} is out of range; valid is {span}")
    return value


def as_text(name: str, value: Any, max_len: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise OscArgError(f"{name}: expected a string, got {osc_type(value)} {shown(value)}")
    if len(value) > max_len:
        raise OscArgError(f"{name}: {len(value)} characters is too long; the limit is {max_len}")
    return value
