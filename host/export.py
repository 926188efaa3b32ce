"""Writing renders: atomic, never overwriting, with a JSON sidecar that reproduces them."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

SIDECAR_SUFFIX = ".json"
SIDECAR_VERSION = 1


def slug(text: str | None, fallback: str = "render", max_len: int = 40) -> str:
    """A filesystem-safe name from a prompt."""
    s = re.sub(r"[^a-zA-Z0-9]+", "-", (text or "").lower()).strip("-")
    return (s[:max_len].rstrip("-")) or fallback


def unique_path(path: Path) -> Path:
    """path itself if free, else 'name-2.ext', 'name-3.ext', ...: nothing is ever overwritten."""
    if not path.exists() and not sidecar_path(path).exists():
        return path
    for i in range(2, 100000):
        cand = path.with_name(f"{path.stem}-{i}{path.suffix}")
        if not cand.exists() and not sidecar_path(cand).exists():
            return cand
    raise FileExistsError(f"{path}: no free file name left")


def sidecar_path(audio_path: Path) -> Path:
    return audio_path.with_name(audio_path.name + SIDECAR_SUFFIX)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then link into place (no overwrite)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _publish(Path(tmp), path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_wav(path: Path, audio: np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> None:
    """Write (channels, samples) audio as WAV atomically; refuses to overwrite."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        sf.write(tmp, np.asarray(audio, dtype=np.float32).T, sample_rate, subtype=subtype, format="WAV")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        _publish(Path(tmp), path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_sidecar(audio_path: Path, info: dict[str, Any]) -> Path:
    side = sidecar_path(audio_path)
    body = {"sidecar_version": SIDECAR_VERSION, "file": audio_path.name, **info}
    atomic_write_bytes(
        side, (json.dumps(body, indent=2, sort_keys=True, default=_json_default) + "\n").encode()
    )
    return side


def _publish(tmp: Path, dest: Path) -> None:
    # os.link fails if dest exists, so a file that appeared meanwhile is never replaced.
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise FileExistsError(f"{dest}: already exists; diffhost never overwrites files") from None
    except OSError:  # filesystems without hard links: best effort, still no overwrite
        if dest.exists():
            raise FileExistsError(f"{dest}: already exists; diffhost never overwrites files") from None
        os.replace(tmp, dest)
    _fsync_dir(dest.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
