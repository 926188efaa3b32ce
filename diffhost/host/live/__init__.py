"""Live performance around the session: the rig (kits, MIDI, tempo sync, fresh pads), pads'
kits as files, fresh-pad pools, MIDI input and mapping, and tempo sources (session, Link, MIDI
clock). The audio callback itself lives in host/audio."""
