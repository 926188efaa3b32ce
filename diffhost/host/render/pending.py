"""A render's files appear together or not at all, even when the process is killed mid-write.

A render is four things: the dry audio, the processed file, its sidecar and (with a library) its
row. They are written one after another, so a kill can land between any two. Before the first is
written, a small marker in the folder's `.pending/` names them (and the process writing them);
after the row is in, the marker goes. A marker still there after its process is gone means that
render was interrupted. The next start looks at each such marker:

- everything is there and whole (the sidecar's audio hash matches the file, the dry audio is
  there too): the render is adopted, its row built from the sidecar, which holds everything a
  row needs;
- anything is missing or partial: what was written goes to `trash/` beside it (nothing is
  deleted), and the line returned says so. The temporary halves of writes cut short (hidden
  `.NAME.*.part` files, never published) are removed.

A write that fails in this process (a full disk) is rolled back at once: the files of that
render written so far are removed (they were never listed anywhere), and so is a folder the
write created (no empty `dry/` is left behind).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffhost.host.render.effects import file_sha256
from diffhost.host.render.export import sidecar_path

PENDING_DIR = ".pending"
TRASH_DIR = "trash"
DRY_DIR = "dry"  # as host.render.finisher keeps it


@dataclass(frozen=True)
class Pending:
    """One render being written: its marker, and the files it names."""

    marker: Path
    target: Path
    dry: Path

    def done(self) -> None:
        """Everything is written and recorded: forget the marker."""
        with contextlib.suppress(FileNotFoundError):
            self.marker.unlink()
        with contextlib.suppress(OSError):
            self.marker.parent.rmdir()  # only when empty (another render may be in flight)

    def roll_back(self) -> None:
        """The write failed here: remove what this render wrote (nothing lists it yet)."""
        for path in (sidecar_path(self.target), self.target, self.dry):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        with contextlib.suppress(OSError):
            self.dry.parent.rmdir()  # the dry/ folder, when this render made it and it is empty
        self.done()


def begin(target: Path, dry: Path) -> Pending:
    """Record that `target` (and its sidecar) and `dry` are about to be written."""
    folder = target.parent
    marker = folder / PENDING_DIR / f"{target.name}.json"
    body = {"file": target.name, "dry": os.path.relpath(dry, folder), "pid": os.getpid()}
    # Written in place with one small write (no temp file to leave behind): a kill before it is
    # done leaves an empty marker at worst, and then nothing of this render was written yet.
    made = not marker.parent.exists()
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        with open(marker, "w") as f:
            f.write(json.dumps(body) + "\n")
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            marker.unlink()
        if made:
            with contextlib.suppress(OSError):
                marker.parent.rmdir()
        raise
    return Pending(marker, target, dry)


def recover(folder: Path, library: Any = None) -> list[str]:
    """Settle the renders a killed process left half-written in `folder`; one line per render."""
    folder = Path(folder)
    lines: list[str] = []
    pending_dir = folder / PENDING_DIR
    if not pending_dir.is_dir():
        return lines
    for marker in sorted(pending_dir.glob("*.json")):
        try:
            body = json.loads(marker.read_bytes())
            target = folder / str(body["file"])
            dry = folder / str(body["dry"])
            pid = int(body.get("pid", 0))
        except (OSError, ValueError, KeyError, TypeError):  # cut short: nothing was written after it
            with contextlib.suppress(FileNotFoundError):
                marker.unlink()
            continue
        if pid and pid != os.getpid() and _alive(pid):
            continue  # another diffhost is writing this one right now
        for part in _partials(target, dry):  # temp halves of the interrupted writes: never published
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
        why = _incomplete(target, dry)
        if why is None:
            if library is not None and library.find(target) is None:
                library.add(**_row_from_sidecar(target, dry))
                lines.append(f"adopted {target.name}: its audio, dry audio and sidecar were complete; now in the library")
        else:
            written = [p for p in (target, sidecar_path(target), dry) if p.exists()]
            if written:
                lines.append(_to_trash(folder, written, f"{target.name} was interrupted ({why})"))
        with contextlib.suppress(FileNotFoundError):
            marker.unlink()
    with contextlib.suppress(OSError):
        pending_dir.rmdir()
    return lines


def _partials(target: Path, dry: Path) -> list[Path]:
    """The temporary files (host.render.atomic) of this render's own writes."""
    found: list[Path] = []
    for path in (target, sidecar_path(target), dry):
        found += [p for p in path.parent.glob(f".{glob_escape(path.name)}.*.part*") if p.is_file()]
    return found


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _incomplete(target: Path, dry: Path) -> str | None:
    """None when the render is whole; else what is missing, in words."""
    side = sidecar_path(target)
    if not target.is_file():
        return "its audio file was never finished"
    if not side.is_file():
        return "its sidecar was never written"
    if not dry.is_file():
        return "its dry audio is missing"
    try:
        body = json.loads(side.read_bytes())
    except (OSError, ValueError):
        return "its sidecar is unreadable"
    if body.get("audio_sha256") != file_sha256(target):
        return "its audio does not match its sidecar"
    dry_info = body.get("dry") or {}
    if dry_info.get("sha256") and dry_info["sha256"] != file_sha256(dry):
        return "its dry audio does not match its sidecar"
    return None


def _row_from_sidecar(target: Path, dry: Path) -> dict[str, Any]:
    """Everything library.add needs, from the sidecar write_render wrote."""
    body = json.loads(sidecar_path(target).read_bytes())
    params = dict(body.get("params") or {})
    post = body.get("post") or {}
    created = body.get("created")
    return {
        "prompt": params.get("prompt"),
        "params": params,
        "model": (body.get("model") or {}).get("name"),
        "path": target.resolve(),
        "sidecar": sidecar_path(target).resolve(),
        "length_s": float(post.get("length_s", 0.0)),
        "sample_rate": int(post.get("sample_rate", 0)),
        "channels": int(post.get("channels", 0)),
        "loudness_lufs": post.get("loudness_lufs"),
        "peak_dbfs": post.get("peak_dbfs"),
        "file_format": (body.get("export") or {}).get("format"),
        "variation": int(body.get("variation", 0)),
        "preset": body.get("preset"),
        "parent_id": body.get("parent_id"),
        "tags": tuple(body.get("tags") or ()),
        "dry_path": dry.resolve(),
        "created": _dt.datetime.fromisoformat(created) if created else None,
    }


def _to_trash(folder: Path, paths: list[Path], why: str) -> str:
    """Move one render's files into a folder of their own in trash/ (named after the render), the
    dry audio into its dry/ as beside the file: nothing is deleted, nothing collides."""
    trash = folder / TRASH_DIR
    first = paths[0]
    name = first.name[: -len(".json")] if first.name.endswith(".json") else first.name
    home = trash / Path(name).stem
    for i in range(2, 100000):
        if not home.exists():
            break
        home = trash / f"{Path(name).stem}-{i}"
    for p in paths:
        dest = home / (DRY_DIR if p.parent.name == DRY_DIR and p.parent != folder else "") / p.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(p, dest)  # one folder, one filesystem: a rename
    names = ", ".join(p.name if p.parent.name != DRY_DIR else f"{DRY_DIR}/{p.name}" for p in paths)
    return f"{why}: moved {names} to {home}"
