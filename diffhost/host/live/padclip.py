"""Reading a clip for a pad: bounded in length, read in blocks and converted to the stream's rate
on the way, so a long file neither stalls a front end for long nor fills memory.

A pad holds at most MAX_PAD_S seconds. A longer file is trimmed to its first MAX_PAD_S seconds and
the note says so; the whole file is never read. With 16 pads that bounds the bank's memory: each
pad keeps its clip as read plus the copy the mixer plays, at most
2 x MAX_PAD_S x rate x channels x 4 bytes (about 46 MB at 48 kHz stereo; 16 pads: about 740 MB).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from diffhost.engine.audio import read_seed_file

MAX_PAD_S = 60.0


def read_pad_clip(path: Path, sample_rate: int | None = None) -> tuple[np.ndarray, int, str]:
    """(audio (channels, samples) float32, its rate, note): at most MAX_PAD_S seconds of the file,
    at `sample_rate` when given (the stream's: the mixer then has nothing left to resample).
    note is "" when the whole file fits; otherwise what was kept. Slow for long files: call it off
    the OSC, MIDI, GUI and audio threads."""
    loaded = read_seed_file(Path(path), max_s=MAX_PAD_S, sample_rate=sample_rate)
    clip = loaded.clip
    note = ""
    if loaded.trimmed:
        note = (
            f"{Path(path).name} trimmed to its first {clip.duration_s:g} s of {loaded.source_s:g} s "
            f"(a pad holds at most {MAX_PAD_S:g} s)"
        )
    return clip.audio, int(clip.sample_rate), note
