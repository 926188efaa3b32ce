"""Small JSON caches in the platform's cache folder (weights hashes, measured step times).

DIFFHOST_CACHE_DIR overrides the folder (tests, read-only homes). Writes are atomic (a
temporary file in the same folder, then os.replace), so a crash or a second process never
leaves a half-written cache; a cache that cannot be read is treated as empty, and one that
cannot be written costs only the saving (the value is recomputed next time).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from diffhost import paths


def cache_dir() -> Path:
    return paths.cache_dir()


class JsonCache:
    """A dict persisted as one JSON file; reads once per process, writes through on every put."""

    def __init__(self, name: str):
        self.name = name
        self._lock = threading.Lock()
        self._data: dict[str, Any] | None = None
        self._path: Path | None = None

    @property
    def path(self) -> Path:
        return cache_dir() / self.name

    def _load(self) -> dict[str, Any]:
        path = self.path
        if self._data is None or self._path != path:  # the folder can change (DIFFHOST_CACHE_DIR)
            try:
                data = json.loads(path.read_text())
                self._data = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._data = {}
            self._path = path
        return self._data

    def get(self, key: str) -> Any:
        with self._lock:
            return self._load().get(key)

    def put(self, key: str, value: Any, *, drop_prefix: str | None = None) -> None:
        """Store key; drop_prefix first removes stale entries whose keys start with it."""
        with self._lock:
            data = self._load()
            if drop_prefix is not None:
                for stale in [k for k in data if k.startswith(drop_prefix)]:
                    del data[stale]
            data[key] = value
            with contextlib.suppress(OSError):  # a read-only cache folder costs only the saving
                _atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True))


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
