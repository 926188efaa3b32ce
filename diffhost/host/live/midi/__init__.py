"""MIDI input: controllers, keyboards and DAWs fire pads, move parameters and send clock.

Ports: any port mido (python-rtmidi) sees (ALSA, CoreMIDI, Windows MIDI), and on Linux with
JACK a JACK MIDI input port named "diffhost-midi:in" whose note-ons are timestamped to the frame.
The default map (notes 36..51 -> pads 1..16, velocity -> gain) and learned mappings live in a
MidiMap, which kits save.
"""

from diffhost.host.live.midi.mapping import (
    DEFAULT_FIRST_NOTE,
    CcBinding,
    MidiMap,
    velocity_gain,
)

__all__ = ["DEFAULT_FIRST_NOTE", "CcBinding", "MidiMap", "velocity_gain"]
