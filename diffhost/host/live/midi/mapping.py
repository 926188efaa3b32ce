"""What MIDI messages do: notes -> pads, CCs -> parameters, velocity -> gain. Saved in kits.

Velocity curve (documented in docs/midi.md): gain = (velocity / 127) ** 2, the square law most
samplers use: velocity 127 plays at the pad's own gain (0 dB), 90 at -6 dB, 64 at -11.9 dB,
32 at -24 dB, 1 at -84 dB.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

DEFAULT_FIRST_NOTE = 36  # C1 in General MIDI drums: the bottom-left pad of most 4x4 controllers
VELOCITY_EXPONENT = 2.0
# What a CC can move. Slot targets need a slot; the rest are session parameters.
SLOT_TARGETS = {"gain": (0.0, 2.0), "pan": (-1.0, 1.0)}
PARAM_TARGETS = {
    "temperature": (0.1, 2.0),
    "strength": (0.0, 1.0),
    "guidance": (0.0, 15.0),
    "tempo": (60.0, 187.0),  # 127 steps of 1 bpm
}


def velocity_gain(velocity: int) -> float:
    """Linear gain for a MIDI velocity 1..127 (see the module doc for the curve)."""
    v = max(0, min(127, int(velocity)))
    return (v / 127.0) ** VELOCITY_EXPONENT


def gain_db(gain: float) -> float:
    return 20.0 * math.log10(gain) if gain > 0 else -math.inf


@dataclass(frozen=True)
class CcBinding:
    """A CC moving one target over lo..hi (CC 0 -> lo, 127 -> hi)."""

    cc: int
    target: str
    slot: int | None = None  # for slot targets (gain, pan)
    lo: float | None = None  # None: the target's full range
    hi: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.cc <= 127:
            raise ValueError(f"cc: {self.cc} is out of range 0..127")
        if self.target in SLOT_TARGETS:
            if self.slot is None or not 1 <= self.slot <= 64:
                raise ValueError(f"cc {self.cc}: the {self.target} target needs a slot 1..16")
        elif self.target not in PARAM_TARGETS:
            valid = ", ".join([*SLOT_TARGETS, *PARAM_TARGETS])
            raise ValueError(f"cc {self.cc}: unknown target {self.target!r}; valid are {valid}")

    @property
    def span(self) -> tuple[float, float]:
        lo, hi = {**SLOT_TARGETS, **PARAM_TARGETS}[self.target]
        return (lo if self.lo is None else self.lo, hi if self.hi is None else self.hi)

    def value(self, cc_value: int) -> float:
        lo, hi = self.span
        return lo + (hi - lo) * max(0, min(127, int(cc_value))) / 127.0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"cc": self.cc, "target": self.target}
        for k in ("slot", "lo", "hi"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        return d


def _default_notes() -> Mapping[int, int]:
    return MappingProxyType({DEFAULT_FIRST_NOTE + i: i + 1 for i in range(16)})


@dataclass(frozen=True)
class MidiMap:
    """Note -> pad number, CC bindings, and the channel listened to (None = all)."""

    notes: Mapping[int, int] = field(default_factory=_default_notes)
    ccs: tuple[CcBinding, ...] = ()
    channel: int | None = None  # 1..16

    def __post_init__(self) -> None:
        for note, slot in self.notes.items():
            if not 0 <= int(note) <= 127:
                raise ValueError(f"note: {note} is out of range 0..127")
            if not 1 <= int(slot) <= 64:
                raise ValueError(f"note {note}: pad {slot} is out of range 1..16")
        if self.channel is not None and not 1 <= self.channel <= 16:
            raise ValueError(f"channel: {self.channel} is out of range 1..16 (none = all)")
        object.__setattr__(self, "notes", MappingProxyType({int(k): int(v) for k, v in self.notes.items()}))

    def pad_for(self, note: int) -> int | None:
        return self.notes.get(int(note))

    def bindings_for(self, cc: int) -> list[CcBinding]:
        return [b for b in self.ccs if b.cc == cc]

    def with_note(self, note: int, slot: int) -> MidiMap:
        """Learn: `note` fires pad `slot` (the note it had before, if any, is forgotten)."""
        notes = {n: s for n, s in self.notes.items() if s != slot and n != note}
        notes[int(note)] = int(slot)
        return replace(self, notes=notes)

    def with_cc(self, binding: CcBinding) -> MidiMap:
        """Learn: a CC moves a target (one CC per target; the target's old CC is forgotten)."""
        kept = tuple(
            b for b in self.ccs if b.cc != binding.cc and (b.target, b.slot) != (binding.target, binding.slot)
        )
        return replace(self, ccs=(*kept, binding))

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "notes": {str(n): s for n, s in sorted(self.notes.items())},
            "ccs": [b.to_dict() for b in self.ccs],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MidiMap:
        try:
            notes = {int(k): int(v) for k, v in dict(d.get("notes", {})).items()}
            ccs = tuple(CcBinding(**dict(b)) for b in d.get("ccs", ()))
            return cls(notes=notes, ccs=ccs, channel=d.get("channel"))
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"midi map: {exc}") from None
