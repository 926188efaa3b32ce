"""Which files an OSC message may name: only files inside the allowed folders.

Paths arrive from the network, so they are resolved the way the OS would
(symlinks followed, `..` collapsed) and the *result* must lie inside one of the
allowed folders (also resolved). `..` tricks and symlinks pointing out are
refused with the reason. Relative paths are taken relative to the renders folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from diffhost.osc.args import MAX_PATH, OscArgError


class PathRefused(OscArgError):
    """A path outside the allowed folders, or one that is not a readable file."""


class PathPolicy:
    """Allowed folders for files named in messages (seed clips, slot loads)."""

    def __init__(self, renders_dir: Path, extra: Iterable[Path] = ()):
        roots = [Path(renders_dir)] + [Path(p) for p in extra]
        resolved: list[Path] = []
        for root in roots:
            r = Path(os.path.realpath(root.expanduser()))
            if r not in resolved:
                resolved.append(r)
        self.base = resolved[0]
        self.roots: tuple[Path, ...] = tuple(resolved)

    def describe(self) -> str:
        return ", ".join(str(r) for r in self.roots)

    def check_file(self, name: str, raw: str) -> Path:
        """The resolved path of an existing regular file inside an allowed folder."""
        return self._check(name, raw, want_dir=False)

    def check_dir(self, name: str, raw: str) -> Path:
        """The resolved path of an existing folder inside an allowed folder."""
        return self._check(name, raw, want_dir=True)

    def check_new_file(self, name: str, raw: str, suffix: str) -> Path:
        """Where a file may be written: an existing allowed folder, a plain name ending in `suffix`
        (the file itself may exist; whether to replace it is the caller's question)."""
        if not raw:
            raise PathRefused(f"{name}: empty path")
        candidate = Path(raw).expanduser()
        if not candidate.is_absolute():
            candidate = self.base / candidate
        if candidate.suffix.lower() != suffix or candidate.name in ("", suffix):
            raise PathRefused(f"{name}: {raw[:200]!r} is not a {suffix} file name")
        folder = self._check(name, str(candidate.parent), want_dir=True)
        target = folder / candidate.name
        try:
            if target.is_symlink() or (target.exists() and not target.is_file()):
                raise PathRefused(f"{name}: {target} exists and is not a regular file")
        except OSError as exc:  # a name longer than the file system takes
            raise PathRefused(f"{name}: cannot write {candidate.name[:80]!r} ({exc.strerror or exc})") from None
        return target

    def _check(self, name: str, raw: str, *, want_dir: bool) -> Path:
        if not raw:
            raise PathRefused(f"{name}: empty path")
        if len(raw) > MAX_PATH:
            raise PathRefused(f"{name}: path is {len(raw)} characters; the limit is {MAX_PATH}")
        if "\x00" in raw:
            raise PathRefused(f"{name}: path contains a NUL character")
        candidate = Path(raw).expanduser()
        if not candidate.is_absolute():
            candidate = self.base / candidate
        try:
            real = Path(os.path.realpath(candidate))  # follows every symlink, collapses ..
        except (OSError, ValueError) as exc:
            raise PathRefused(f"{name}: cannot resolve {raw!r} ({exc})") from None
        if not any(real == root or real.is_relative_to(root) for root in self.roots):
            via = " (through a symlink)" if _has_symlink(candidate) else ""
            raise PathRefused(
                f"{name}: {raw!r} resolves to {real}{via}, outside the allowed folders ({self.describe()})"
            )
        try:
            exists, regular = real.exists(), (real.is_dir() if want_dir else real.is_file())
        except OSError as exc:  # name too long, permission denied on a parent
            raise PathRefused(f"{name}: cannot read {raw[:200]!r} ({exc.strerror or exc})") from None
        if not exists:
            raise PathRefused(f"{name}: no such file {real}")
        if not regular:
            raise PathRefused(f"{name}: {real} is not a {'folder' if want_dir else 'regular file'}")
        return real


def _has_symlink(path: Path) -> bool:
    p = Path(os.path.abspath(path))
    for part in [p, *p.parents]:
        try:
            if part.is_symlink():
                return True
        except OSError:
            return False
    return False
