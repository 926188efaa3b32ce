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

A clip reaches a playing plugin fast (a 30 s stereo clip is 11.5 MB): its bytes are hashed on a
second thread while they are written, and the plugin is told (`then`) as soon as the file is in
place under its name, before the bytes are fsynced (the fsync, a third of the time, follows at
once). The file appears whole or not at all for every reader; only a power cut in those few
milliseconds could leave a short file under the name, and the next `put` of that clip replaces a
file of the wrong size with the right bytes (the name is their hash, so nothing is lost).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import re
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from diffhost import paths
from diffhost.host.render.atomic import fsync_dir

CACHE_ENV = "DIFFHOST_CLIP_CACHE"
CAPTURES = "captures"  # where the plugin writes the audio it captured (float32 WAV)
_HASH = re.compile(r"^[0-9a-f]{64}$")
MAX_CHANNELS = 2  # the plugin plays mono or stereo clips
INCOMING = ".incoming."  # a clip being written (in the cache's root, the same filesystem as its place)
STALE_INCOMING_S = 3600.0
PIECE_FRAMES = 1 << 16  # frames per piece written and hashed (512 KB of stereo)  # older ones were left by a killed process: removed when a cache opens


def default_cache_dir() -> Path:
    """`DIFFHOST_CLIP_CACHE`, else the platform's cache folder + `diffhost/clips` (the plugin
    resolves the same folder the same way, so both sides agree without talking)."""
    return paths.clip_cache_dir()


def _finite(audio: np.ndarray) -> bool:
    # A NaN or an infinity anywhere makes the sum non-finite: one fast pass instead of a mask of
    # the whole clip. Only a sum that overflowed float32 (absurd levels) needs the exact check.
    return bool(np.isfinite(audio.sum()) or np.isfinite(audio).all())


def _checked(audio: np.ndarray, *, values: bool = True) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None, :]
    channels, frames = audio.shape
    if not 1 <= channels <= MAX_CHANNELS:
        raise ValueError(f"clip: {channels} channels; valid is 1..{MAX_CHANNELS}")
    if frames == 0:
        raise ValueError("clip: the audio is empty; valid is at least one sample")
    if values and not _finite(audio):
        raise ValueError(_NOT_FINITE)
    return audio


_NOT_FINITE = "clip: the audio contains NaN or infinite samples"


def wav_header(channels: int, frames: int, sample_rate: int) -> bytes:
    """The bytes before the samples (see the module doc)."""
    block = 4 * channels
    fmt = struct.pack("<HHIIHH", 3, channels, int(sample_rate), int(sample_rate) * block, block, 32)
    fact = struct.pack("<I", frames)
    nbytes = frames * block
    size = 4 + (8 + len(fmt)) + (8 + len(fact)) + (8 + nbytes)
    return b"".join(
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
            struct.pack("<I", nbytes),
        )
    )


def _interleave(audio: np.ndarray, out: np.ndarray, start: int = 0) -> None:
    for c in range(audio.shape[0]):  # channel by channel: several times faster than copying audio.T
        out[:, c] = audio[c, start : start + out.shape[0]]


def wav_parts(audio: np.ndarray, sample_rate: int) -> tuple[bytes, np.ndarray]:
    """(header, interleaved little-endian float32 samples): the file is the one, then the other."""
    audio = _checked(audio)
    channels, frames = audio.shape
    data = np.empty((frames, channels), dtype="<f4")
    _interleave(audio, data)
    return wav_header(channels, frames, sample_rate), data


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
        with contextlib.suppress(OSError):
            for part in self.root.glob(f"{INCOMING}*.part"):
                if time.time() - part.stat().st_mtime > STALE_INCOMING_S:
                    part.unlink()

    @property
    def captures_dir(self) -> Path:
        return self.root / CAPTURES

    def path_of(self, hash_hex: str) -> Path:
        h = check_hash(hash_hex)
        return self.root / h[:2] / f"{h}.wav"

    def has(self, hash_hex: str) -> bool:
        return self.path_of(hash_hex).is_file()

    def put(
        self, audio: np.ndarray, sample_rate: int, *, then: Callable[[str], None] | None = None
    ) -> str:
        """Store a clip; returns its hash once its bytes are on disk. `then(hash)` is called as
        soon as the whole file can be read under its name (before the fsync: see the module doc).
        A clip already there is left as it is (same name, same bytes)."""
        audio = _checked(audio, values=False)  # the samples are checked piece by piece below
        channels, frames = audio.shape
        header = wav_header(channels, frames, sample_rate)
        data = np.empty((frames, channels), dtype="<f4")
        size = len(header) + data.nbytes
        digest = hashlib.sha256(header)
        # One pass from memory, a piece at a time: each piece is interleaved, written, and handed
        # to a second thread that hashes it (sha256 lets go of the GIL on large buffers), so the
        # hash, the longest part, starts with the first piece instead of after the whole clip.
        pieces: queue.SimpleQueue[memoryview | None] = queue.SimpleQueue()

        def hash_pieces() -> None:
            while (piece := pieces.get()) is not None:
                digest.update(piece)

        self.root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=INCOMING, suffix=".part", dir=self.root)
        tmp = Path(name)
        hasher = threading.Thread(target=hash_pieces, daemon=True)
        hasher.start()
        try:
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(header)
                    for start in range(0, frames, PIECE_FRAMES):
                        block = data[start : start + PIECE_FRAMES]
                        _interleave(audio, block, start)
                        if not _finite(block):  # while the piece is in the CPU's cache: no extra pass
                            raise ValueError(_NOT_FINITE)  # (the partial file is removed below)
                        piece = block.data.cast("B")  # the piece's bytes, not a copy
                        pieces.put(piece)
                        out.write(piece)
            finally:
                pieces.put(None)
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; the plugin runs as the same user, others may read
            hasher.join()
            h = digest.hexdigest()
            path = self.path_of(h)
            path.parent.mkdir(exist_ok=True)
            placed = self._place(tmp, path, size)
            if then is not None:
                then(h)
            if placed:  # sync its bytes, then its new name
                with open(path, "rb") as f:
                    os.fsync(f.fileno())
                fsync_dir(path.parent)
        finally:
            hasher.join()
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return h

    @staticmethod
    def _place(tmp: Path, path: Path, size: int) -> bool:
        """Link the written clip under its name; False when the same clip is already there."""
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links: a rename, still never over a clip
            if not path.exists():
                os.replace(tmp, path)
                return True
        if path.stat().st_size == size:
            return False  # another writer put the same bytes there (the name is their hash)
        os.replace(tmp, path)  # a short file a power cut left under this name: made whole
        return True

    def is_capture(self, path: Path) -> bool:
        """Whether `path` lies in the captures folder (the only files the plugin may point us at)."""
        try:
            Path(path).resolve().relative_to(self.captures_dir.resolve())
        except ValueError:
            return False
        return True
