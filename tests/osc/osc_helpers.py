"""Small helpers shared by the OSC tests (a uniquely named module: every test folder has a conftest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def write_wav(path: Path, seconds: float = 0.25, sr: int = 22050) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    return path


def osc_string(s: str) -> bytes:
    b = s.encode() + b"\x00"
    return b + b"\x00" * (-len(b) % 4)
