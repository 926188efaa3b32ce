"""Post-processing of rendered audio (float32, (channels, samples))."""

from __future__ import annotations

import numpy as np


def normalize_audio(audio: np.ndarray, peak_db: float = -1.0) -> np.ndarray:
    """Scale so the highest absolute sample sits at peak_db dBFS. Silence is returned unchanged."""
    if not -60.0 <= peak_db <= 0.0:
        raise ValueError(f"peak_db: {peak_db} dBFS is out of range; valid is -60..0 dBFS")
    audio = np.asarray(audio, dtype=np.float32)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak == 0.0 or not np.isfinite(peak):
        return audio.copy()
    return (audio * np.float32(10.0 ** (peak_db / 20.0) / peak)).astype(np.float32)
