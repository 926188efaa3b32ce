"""What identifies a model's weights, at no cost after the first load.

A hub id is identified by its snapshot commit (engine.hub). A local folder by a sha256 over
its safetensors files; each file's own sha256 is cached, keyed by its resolved path, size and
modification time, so a second load stats the files instead of reading gigabytes, and a
changed file (new size or mtime) is hashed again. The combined hash does not depend on where
the folder lives: a copy of the same weights elsewhere has the same identity.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from diffhost.engine.cache import JsonCache

_HASHES = JsonCache("weights-hashes.json")


def weights_hash(folder: Path) -> str:
    """sha256 over (relative path, file sha256) of every safetensors file under folder."""
    folder = Path(folder)
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*.safetensors")):
        h.update(str(path.relative_to(folder).as_posix()).encode())
        h.update(file_sha256(path).encode())
    return "sha256:" + h.hexdigest()


def file_sha256(path: Path) -> str:
    """The file's sha256, from the cache when its path, size and mtime are unchanged."""
    real = Path(path).resolve()  # hub snapshots are symlinks into a blob store: key by the blob
    st = real.stat()
    key = f"{real}|{st.st_size}|{st.st_mtime_ns}"
    cached = _HASHES.get(key)
    if isinstance(cached, str):
        return cached
    h = hashlib.sha256()
    with real.open("rb") as f:
        for block in iter(functools.partial(f.read, 1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    _HASHES.put(key, digest, drop_prefix=f"{real}|")  # the file's older versions
    return digest
