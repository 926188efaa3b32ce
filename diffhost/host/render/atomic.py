"""Atomic file writes: the one way diffhost puts a file in place.

A temporary file in the destination's folder is written, fsynced and then published: linked into
place (never replacing a file that exists) or, for files that are replaced on purpose (settings),
renamed over the old one. A crash at any moment leaves either the old state or the new file, and
at worst a hidden `.NAME.*.part` temp that `host.export.sweep_partials` removes later.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _read_umask() -> int:
    # Read once at import: os.umask can only be read by setting it, which races other threads.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextmanager
def atomic_target(path: Path, *, overwrite: bool = False, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block succeeds, fsync it and publish it.

    overwrite=False (renders, sidecars, presets): an existing file is never replaced, and
    FileExistsError names it. overwrite=True: rename over it (settings the user changed).
    The temp file is gone afterwards whatever happens. `suffix` lets format-sniffing writers
    (libsndfile, pedalboard) see the right extension.
    """
    path = Path(path)
    made = [d for d in (path.parent, *path.parent.parents) if not d.exists()]  # deepest first
    path.parent.mkdir(parents=True, exist_ok=True)
    published = False
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + suffix, dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            yield tmp
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; renders are ordinary files for the DAW
            if overwrite:
                os.replace(tmp, path)
            else:
                _link_new(tmp, path)
            published = True
            fsync_dir(path.parent)
        finally:
            if tmp.exists():
                tmp.unlink()
    finally:
        if not published:  # a refused write leaves nothing, not even the folders it made
            for folder in made:
                try:
                    folder.rmdir()
                except OSError:  # not empty (someone else wrote there meanwhile): keep it
                    break


def atomic_write_bytes(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Write `data` to `path` atomically (see atomic_target)."""
    with atomic_target(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)


def _link_new(tmp: Path, dest: Path) -> None:
    # os.link fails if dest exists, so a file that appeared meanwhile is never replaced.
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise FileExistsError(f"{dest}: already exists; diffhost never overwrites files") from None
    except OSError:  # filesystems without hard links: best effort, still no overwrite
        if dest.exists():
            raise FileExistsError(f"{dest}: already exists; diffhost never overwrites files") from None
        os.replace(tmp, dest)


def fsync_dir(folder: Path) -> None:
    """Make a rename inside `folder` durable (its directory entry written to disk)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open a folder; its rename is durable enough
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
