"""The clip cache the Bridge plugin plays from: content-addressed float32 WAV files.

A clip's name is the sha256 of its file's bytes, and it lives at `<cache>/<hash[0:2]>/<hash>.wav`
(docs/plugin.md). A DAW project stores only hashes, so it opens on any machine that has the cache,
and the same audio always gets the same name: a clip written twice is one file.

The WAV bytes are written here rather than by libsndfile: libsndfile adds a PEAK chunk to float
WAVs that carries the time of writing, so the same audio written twice would get two names and a
clip re-rendered from its recipe could never be recognised as the one the project asked for.
The layout is the plainest float WAV every reader takes: RIFF/WAVE, a 16-byte `fmt ` chunk
(format 3, IEEE float, 32 bits), a `fact` chunk (the frame count) and `data`, little-endian,
channels interleaved.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import struct
from pathlib import Path

import numpy as np

from diffhost import paths
from diffhost.host.render.atomic import atomic_target

CACHE_ENV = "DIFFHOST_CLIP_CACHE"
CAPTURES = "captures"  # where the plugin writes the audio it captured (float32 WAV)
_HASH = re.compile(r"^[0-9a-f]{64}$")
MAX_CHANNELS = 2  # the plugin plays mono or stereo clips


def default_cache_dir() -> Path:
    """`DIFFHOST_CLIP_CACHE`, else the platform's cache folder + `diffhost/clips` (the plugin
    resolves the same folder the same way, so both sides agree without talking)."""
    return paths.clip_cache_dir()


def wav_parts(audio: np.ndarray, sample_rate: int) -> tuple[bytes, np.ndarray]:
    """(header, interleaved little-endian float32 samples): the file is the one, then the other.
    Kept apart so a 30 s clip is hashed and written without copying its 11 MB again."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None, :]
    channels, frames = audio.shape
    if not 1 <= channels <= MAX_CHANNELS:
        raise ValueError(f"clip: {channels} channels; valid is 1..{MAX_CHANNELS}")
    if frames == 0:
        raise ValueError("clip: the audio is empty; valid is at least one sample")
    # A NaN or an infinity anywhere makes the float64 sum non-finite (and float32 values cannot
    # overflow it): one fast pass instead of a mask of the whole clip.
    if not np.isfinite(audio.sum(dtype=np.float64)):
        raise ValueError("clip: the audio contains NaN or infinite samples")
    data = np.empty((frames, channels), dtype="<f4")
    for c in range(channels):  # channel by channel: several times faster than copying audio.T
        data[:, c] = audio[c]
    block = 4 * channels
    fmt = struct.pack("<HHIIHH", 3, channels, int(sample_rate), int(sample_rate) * block, block, 32)
    fact = struct.pack("<I", frames)
    size = 4 + (8 + len(fmt)) + (8 + len(fact)) + (8 + data.nbytes)
    header = b"".join(
        (
            b"RIFF",
            struct.pack("<I", size),
            b"WAVE",
            b"fmt ",
            struct.pack("<I", len(fmt)),
            fmt,
            b"fact",
            struct.pack("<I", len(fact)),
            fact,
            b"data",
            struct.pack("<I", data.nbytes),
        )
    )
    return header, data


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """(channels, samples) float32 audio as the bytes of a float WAV file (see the module doc)."""
    header, data = wav_parts(audio, sample_rate)
    return header + data.tobytes()


def check_hash(value: str) -> str:
    if not isinstance(value, str) or not _HASH.match(value):
        raise ValueError(f"hash: {value!r} is not a clip hash; valid is 64 lowercase hex digits (sha256)")
    return value


class ClipCache:
    """Writes and finds clips; safe to use from several threads (every write is atomic)."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()

    @property
    def captures_dir(self) -> Path:
        return self.root / CAPTURES

    def path_of(self, hash_hex: str) -> Path:
        h = check_hash(hash_hex)
        return self.root / h[:2] / f"{h}.wav"

    def has(self, hash_hex: str) -> bool:
        return self.path_of(hash_hex).is_file()

    def put(self, audio: np.ndarray, sample_rate: int) -> str:
        """Store a clip; returns its hash. A clip already there is left as it is (same bytes)."""
        header, data = wav_parts(audio, sample_rate)
        digest = hashlib.sha256(header)
        digest.update(data.tobytes())
        h = digest.hexdigest()
        path = self.path_of(h)
        if not path.is_file():
            with contextlib.suppress(FileExistsError), atomic_target(path) as tmp, open(tmp, "wb") as f:
                f.write(header)  # another writer may put the same bytes there meanwhile: fine
                data.tofile(f)
        return h

    def is_capture(self, path: Path) -> bool:
        """Whether `path` lies in the captures folder (the only files the plugin may point us at)."""
        try:
            Path(path).resolve().relative_to(self.captures_dir.resolve())
        except ValueError:
            return False
        return True
