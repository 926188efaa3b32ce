"""Tempo sync: where the session's tempo and beat phase come from (the session itself, Ableton Link,
or MIDI clock), and the thread that keeps the mixer's quantize grid on that beat."""

from diffhost.host.live.sync.midi_clock import MidiClock
from diffhost.host.live.sync.tempo import SOURCES, TempoSync

__all__ = ["SOURCES", "MidiClock", "TempoSync"]
