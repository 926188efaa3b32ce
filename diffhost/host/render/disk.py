"""Turning a failed write into words a musician can act on ("disk full: 12 MB free in /path").

libsndfile reports a full disk as "System error.", pedalboard and Python as an OSError with an
errno; none of them says which folder or how much room is left. Every front end shows the same
sentence because the session builds it here.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

_FULL = {errno.ENOSPC, errno.EDQUOT}


def free_bytes(folder: Path) -> int | None:
    """Free space where `folder` (or its nearest existing parent) lives; None when unknown."""
    p = Path(folder)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def _file_size_limit() -> int | None:
    """This process's file-size limit (ulimit -f) in bytes; None when there is none."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _size(n: int) -> str:
    mb = n / 1e6
    return f"{mb:.0f} MB" if mb >= 10 else f"{mb:.1f} MB" if mb >= 0.1 else f"{n} bytes"


def describe_write_error(exc: BaseException, folder: Path, *, needed: int = 0) -> str:
    """One line naming the cause of a failed write into `folder`.

    A full disk (ENOSPC, a quota, or libsndfile's bare "System error." while
    the disk is nearly full) reads "disk full: 12 MB free in /path"; a read-only or forbidden
    folder says so; anything else keeps the library's own words with the folder added.
    """
    folder = Path(folder)
    code = getattr(exc, "errno", None)
    free = free_bytes(folder)
    text = str(exc).strip() or type(exc).__name__
    bare = text.rstrip(".").lower() in ("system error", "unspecified internal error")
    nearly_full = free is not None and free < max(needed, 1) * 2 + (8 << 20)
    if code in _FULL or (bare and nearly_full):
        room = _size(free) if free is not None else "no room"
        return f"disk full: {room} free in {folder}"
    if code == errno.EFBIG or (bare and _file_size_limit() is not None):
        limit = _file_size_limit()
        size = f" ({_size(limit)})" if limit is not None else ""
        return f"file too large: a file-size limit{size} stopped the write into {folder}"
    if code in (errno.EROFS,):
        return f"cannot write to {folder}: the disk is read-only"
    if code in (errno.EACCES, errno.EPERM):
        return f"cannot write to {folder}: permission denied"
    if bare:  # libsndfile keeps the OS's reason to itself; say what we know
        room = f"; {_size(free)} free there" if free is not None else ""
        return f"could not write to {folder}: the audio library reported a system error{room}"
    return f"could not write to {folder}: {text.splitlines()[0][:200]}"
