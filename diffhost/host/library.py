"""The render library: one SQLite row per rendered file, next to the files and their sidecars.

SQLite (standard library) in WAL mode; every change is one transaction. A row is
added only after its audio file and sidecar are fully written and renamed into
place, so a crash (even kill -9) mid-render can leave an unlisted stray file at
worst, never a listed half-written one. Deleting moves the file and sidecar to the
trash folder in three journaled steps (mark, move, mark done) that `open` finishes
if a crash interrupted them: nothing is lost silently.
"""

from __future__ import annotations

import builtins  # the class below has a method named list, which shadows the type in its annotations
import datetime as _dt
import json
import re
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from diffhost import paths
from diffhost.engine.audio import read_audio
from diffhost.engine.request import GenerationRequest, SeedClip, key_name, parse_key_name
from diffhost.host.render.effects import file_sha256
from diffhost.host.render.export import parse_export, sidecar_path, unique_path, write_audio, write_sidecar
from diffhost.host.render.post import file_music

SCHEMA_VERSION = 3  # 2: dry_path (the unprocessed audio a render is re-processed from); 3: its music
DB_NAME = "library.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS renders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,            -- ISO 8601, UTC, microseconds: sorts as text
    prompt TEXT,
    params TEXT NOT NULL,             -- JSON: GenerationRequest fields with the resolved seed
    model TEXT,
    path TEXT NOT NULL,
    sidecar TEXT,
    length_s REAL,
    sample_rate INTEGER,
    channels INTEGER,
    loudness_lufs REAL,
    peak_dbfs REAL,
    format TEXT,
    variation INTEGER NOT NULL DEFAULT 0,
    preset TEXT,
    parent_id INTEGER,
    favorite INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'ok',  -- ok | trashing | trashed
    trash_path TEXT,
    dry_path TEXT,                    -- float WAV of the engine's output before any post-processing
    bpm REAL,                         -- the render's music, where the model reported it (History filters)
    music_key TEXT,                   -- spelled as charts spell it: "F minor", "Bb major"
    bars REAL,
    loop INTEGER
);
CREATE TABLE IF NOT EXISTS tags (
    render_id INTEGER NOT NULL REFERENCES renders(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (render_id, tag)
);
CREATE INDEX IF NOT EXISTS renders_created ON renders(created);
CREATE INDEX IF NOT EXISTS renders_model ON renders(model);
CREATE INDEX IF NOT EXISTS tags_tag ON tags(tag);
"""


class LibraryError(ValueError):
    """A library request that cannot be met (unknown id, bad filter): says which and why."""


def request_from_params(
    params: dict[str, Any], *, where: str, music: dict[str, Any] | None = None
) -> GenerationRequest:
    """The exact request a sidecar's params describe (resolved seed, steps, guidance), with its seed
    clip read back from where it was kept. A missing seed clip raises LibraryError naming `where`.
    `music` is the sidecar's music info: a score model's clip renders again with the mix it names,
    and one that names none was made by the first mix (before sidecars recorded it)."""
    params = dict(params)
    if music and params.get("mix") is None:
        params["mix"] = music.get("mix", 1)
    clip_info = params.pop("seed_clip", None)
    clip = None
    if clip_info:
        path = clip_info.get("path")
        if not path or not Path(path).is_file():
            raise LibraryError(f"{where}: its seed clip {path} is missing; cannot reproduce it")
        audio, sr = read_audio(path)
        clip = SeedClip(audio, sr)
    fields = {k: v for k, v in params.items() if k in GenerationRequest.__dataclass_fields__}
    return GenerationRequest(seed_clip=clip, **fields)


def default_library_dir() -> Path:
    """$DIFFHOST_HOME/library, else the platform's user data folder (e.g. ~/.local/share/diffhost)."""
    return paths.library_dir()


@dataclass(frozen=True)
class RenderRow:
    id: int
    created: _dt.datetime
    prompt: str | None
    params: dict[str, Any]
    model: str | None
    path: Path
    length_s: float
    sample_rate: int
    loudness_lufs: float | None
    tags: tuple[str, ...]
    favorite: bool
    sidecar: Path | None = None
    channels: int = 0
    peak_dbfs: float | None = None
    format: str = "wav"
    variation: int = 0
    preset: str | None = None
    parent_id: int | None = None
    state: str = "ok"
    trash_path: Path | None = None
    dry_path: Path | None = None  # the render before effects/finishing/export (None: older rows)
    bpm: float | None = None  # the render's music (None: the model reported none)
    key: str | None = None
    bars: float | None = None
    loop: bool | None = None

    @property
    def seed(self) -> int | None:
        """The seed this variation was rendered with (variation v of a job uses seed + v)."""
        seed = self.params.get("seed")
        return None if seed is None else int(seed) + self.variation

    @property
    def has_seed_clip(self) -> bool:
        return bool(self.params.get("seed_clip"))

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["created"] = self.created.isoformat()
        for k in ("path", "sidecar", "trash_path", "dry_path"):
            d[k] = None if d[k] is None else str(d[k])
        d["tags"] = list(self.tags)
        return d


class RenderLibrary:
    """Thread-safe (one connection behind a lock); several processes may share the file (WAL)."""

    def __init__(self, db_path: Path, trash_dir: Path | None = None):
        self.db_path = Path(db_path).expanduser()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.trash_dir = Path(trash_dir).expanduser() if trash_dir else self.db_path.parent / "trash"
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                self.db_path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
            self._db.execute("PRAGMA foreign_keys=ON")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise LibraryError(
                    f"{self.db_path}: library schema {version} is newer than this diffhost ({SCHEMA_VERSION}); "
                    "update diffhost"
                )
            if version < SCHEMA_VERSION:  # idempotent DDL (plus the v1 -> v2 column) in one transaction
                upgrade = "ALTER TABLE renders ADD COLUMN dry_path TEXT;" if version == 1 else ""
                if version in (1, 2):
                    upgrade += "".join(
                        f"ALTER TABLE renders ADD COLUMN {c};"
                        for c in ("bpm REAL", "music_key TEXT", "bars REAL", "loop INTEGER")
                    )
                with self._lock:
                    self._db.executescript(
                        f"BEGIN IMMEDIATE; {_SCHEMA} {upgrade} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
                    )
        except sqlite3.DatabaseError as exc:
            raise LibraryError(f"{self.db_path}: not a readable render library ({exc})") from None
        self._recover()

    @classmethod
    def open_default(cls, folder: Path | None = None) -> RenderLibrary:
        folder = Path(folder).expanduser() if folder else default_library_dir()
        return cls(folder / DB_NAME, folder / "trash")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> RenderLibrary:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------------
    def add(
        self,
        *,
        prompt: str | None,
        params: dict[str, Any],
        model: str | None,
        path: Path,
        length_s: float,
        sample_rate: int,
        loudness_lufs: float | None = None,
        tags: Iterable[str] = (),
        favorite: bool = False,
        sidecar: Path | None = None,
        channels: int = 0,
        peak_dbfs: float | None = None,
        file_format: str | None = None,
        variation: int = 0,
        preset: str | None = None,
        parent_id: int | None = None,
        created: _dt.datetime | None = None,
        dry_path: Path | None = None,
        music: dict[str, Any] | None = None,
    ) -> int:
        """Record a finished file (it must exist: rows only ever point at complete files).

        music: the render's tempo, key, bars and loop (the sidecar's "music"), for History's filters."""
        path = Path(path).resolve()
        if not path.is_file():
            raise LibraryError(f"{path}: no such file; the library only lists finished renders")
        stamp = (created or _dt.datetime.now(_dt.UTC)).astimezone(_dt.UTC).isoformat(timespec="microseconds")
        clean_tags = _clean_tags(tags)
        with self._tx():
            cur = self._db.execute(
                "INSERT INTO renders (created, prompt, params, model, path, sidecar, length_s, sample_rate,"
                " channels, loudness_lufs, peak_dbfs, format, variation, preset, parent_id, favorite, dry_path,"
                " bpm, music_key, bars, loop)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    stamp,
                    prompt,
                    json.dumps(params, sort_keys=True, default=str),
                    model,
                    str(path),
                    None if sidecar is None else str(Path(sidecar).resolve()),
                    float(length_s),
                    int(sample_rate),
                    int(channels),
                    _finite(loudness_lufs),
                    _finite(peak_dbfs),
                    file_format or path.suffix.lstrip(".").lower(),
                    int(variation),
                    preset,
                    parent_id,
                    int(bool(favorite)),
                    None if dry_path is None else str(Path(dry_path).resolve()),
                    *_music_columns(music),
                ),
            )
            assert cur.lastrowid is not None  # an INSERT always sets it
            rid = cur.lastrowid
            self._db.executemany(
                "INSERT INTO tags (render_id, tag) VALUES (?, ?)", [(rid, t) for t in clean_tags]
            )
        return rid

    def set_favorite(self, render_id: int, favorite: bool = True) -> None:
        self.get(render_id)
        with self._tx():
            self._db.execute("UPDATE renders SET favorite=? WHERE id=?", (int(bool(favorite)), render_id))

    def set_tags(self, render_id: int, tags: Iterable[str]) -> tuple[str, ...]:
        self.get(render_id)
        clean = _clean_tags(tags)
        with self._tx():
            self._db.execute("DELETE FROM tags WHERE render_id=?", (render_id,))
            self._db.executemany(
                "INSERT INTO tags (render_id, tag) VALUES (?, ?)", [(render_id, t) for t in clean]
            )
        return clean

    def add_tags(self, render_id: int, tags: Iterable[str]) -> tuple[str, ...]:
        return self.set_tags(render_id, self.get(render_id).tags + tuple(tags))

    def delete(self, render_id: int) -> Path:
        """Move the file (and sidecar) to the trash folder and hide the row. Returns the trash path."""
        row = self.get(render_id)
        self.trash_dir.mkdir(parents=True, exist_ok=True)
        trash = unique_path(self.trash_dir / f"{row.id}-{row.path.name}")
        with self._tx():  # 1: journal the intent, so a crash between the steps is finished on open
            self._db.execute(
                "UPDATE renders SET state='trashing', trash_path=? WHERE id=? AND state='ok'",
                (str(trash), row.id),
            )
        self._finish_trash(row.id, row.path, trash)
        return trash

    def restore(self, render_id: int) -> Path:
        """Bring a trashed render back to where it was (or a free name beside it)."""
        r = self._row(render_id, include_trashed=True)
        if r.state != "trashed" or r.trash_path is None:
            raise LibraryError(f"render {render_id}: is not in the trash")
        dest = unique_path(r.path)
        _move(r.trash_path, dest)
        old_side = sidecar_path(r.trash_path)
        if old_side.exists():
            _move(old_side, sidecar_path(dest))
        with self._tx():
            self._db.execute(
                "UPDATE renders SET state='ok', trash_path=NULL, path=?, sidecar=? WHERE id=?",
                (str(dest), str(sidecar_path(dest)), render_id),
            )
        return dest

    # -- reading ------------------------------------------------------------------------------
    def get(self, render_id: int) -> RenderRow:
        return self._row(render_id, include_trashed=False)

    def find(self, path: Path) -> RenderRow | None:
        """The listed row of a file, by its path (None when the library does not list it)."""
        rows = self._select("path=? AND state='ok'", (str(Path(path).resolve()),), 1, 0)
        return rows[0] if rows else None

    def list(self, limit: int = 100, offset: int = 0, favorites_only: bool = False) -> builtins.list[RenderRow]:
        where = "state='ok'" + (" AND favorite=1" if favorites_only else "")
        return self._select(where, (), limit, offset)

    def search(
        self,
        text: str = "",
        tags: Sequence[str] = (),
        model: str | None = None,
        since: _dt.datetime | _dt.date | str | None = None,
        until: _dt.datetime | _dt.date | str | None = None,
        favorites_only: bool = False,
        limit: int = 100,
        *,
        key: str | None = None,
        bpm_min: float | None = None,
        bpm_max: float | None = None,
        bars: float | None = None,
        loop: bool | None = None,
    ) -> builtins.list[RenderRow]:
        """Renders whose prompt contains every word of text (or carries it as a tag the user gave the
        render), carrying all tags, from model, in a date range. The preset a render was finished with
        is not searched: a kick rendered while "tight snare" was loaded is still a kick.

        Music: key ("F minor"; "F" = either mode), a tempo range bpm_min..bpm_max, bars, loop. In
        text, a key ("F minor", "Fm") or a tempo ("128 bpm") matches the render's music as well as
        its prompt, and a bare number its tempo or bars too ("128", "4")."""
        clauses: list[str] = ["state='ok'"]
        args: list[Any] = []
        words, keys, tempos = _music_terms(text or "")
        for pc, minor in keys:
            names = [key_name(pc, minor)] if minor is not None else [key_name(pc, False), key_name(pc, True)]
            marks = ",".join("?" * len(names))
            spelled = [f"%{_like(n)}%" for n in names]
            said = " OR ".join(["prompt LIKE ? ESCAPE '\\'"] * len(names))
            clauses.append(f"(music_key IN ({marks}) OR {said})")
            args += [*names, *spelled]
        for bpm in tempos:
            clauses.append("(ABS(bpm - ?) < 0.5 OR prompt LIKE ? ESCAPE '\\')")
            args += [bpm, f"%{bpm:g}%bpm%"]
        for word in words.split():
            number = _number(word)
            music = " OR ABS(bpm - ?) < 0.5 OR bars = ?" if number is not None else ""
            clauses.append(
                f"(prompt LIKE ? ESCAPE '\\' OR id IN (SELECT render_id FROM tags WHERE tag=?){music})"
            )
            args += [f"%{_like(word)}%", word.lower()] + ([number, number] if number is not None else [])
        if key:
            pc, minor = _check_key_filter(key)
            names = [key_name(pc, minor)] if minor is not None else [key_name(pc, False), key_name(pc, True)]
            clauses.append(f"music_key IN ({','.join('?' * len(names))})")
            args += names
        if bpm_min is not None or bpm_max is not None:
            lo = _music_number("bpm_min", bpm_min, 0.0) if bpm_min is not None else 0.0
            hi = _music_number("bpm_max", bpm_max, lo) if bpm_max is not None else 1e9
            clauses.append("bpm BETWEEN ? AND ?")
            args += [lo, hi]
        if bars is not None:
            clauses.append("bars = ?")
            args.append(_music_number("bars", bars, 0.0))
        if loop:
            clauses.append("loop = 1")
        elif loop is not None:  # not a loop: phrases, and one-shots (which have no music at all)
            clauses.append("(loop IS NULL OR loop = 0)")
        for tag in _clean_tags(tags):
            clauses.append("id IN (SELECT render_id FROM tags WHERE tag=?)")
            args.append(tag)
        if model:
            clauses.append("model LIKE ? ESCAPE '\\'")
            args.append(f"%{_like(model)}%")
        if since is not None:
            clauses.append("created >= ?")
            args.append(_stamp(since, "since"))
        if until is not None:
            clauses.append("created < ?")
            args.append(_stamp(until, "until", end=True))
        if favorites_only:
            clauses.append("favorite=1")
        return self._select(" AND ".join(clauses), tuple(args), limit, 0)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM renders WHERE state='ok'").fetchone()[0])

    def integrity_check(self) -> str:
        with self._lock:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    # -- re-render and export ---------------------------------------------------------------------
    def sidecar_of(self, row: RenderRow) -> dict[str, Any]:
        side = row.sidecar or sidecar_path(row.path)
        try:
            return json.loads(Path(side).read_text())
        except FileNotFoundError:
            raise LibraryError(
                f"render {row.id}: its sidecar {side} is missing; cannot reproduce it"
            ) from None
        except ValueError as exc:
            raise LibraryError(f"render {row.id}: sidecar {side} is not valid JSON ({exc})") from None

    def recipe_of(self, row: RenderRow) -> Any:
        """The Recipe (effects, finishing, export) the row was made with, checked against file hashes."""
        from diffhost.host.render.effects import recipe_effects
        from diffhost.host.render.post import Recipe

        side = self.sidecar_of(row)
        return Recipe.from_dict(
            {
                "effects": recipe_effects(side.get("effects") or [], where=f"render {row.id}: effects"),
                "finishing": side.get("finishing"),
                "export": side.get("export"),
                "preset": side.get("preset"),
                # the preset's own tags (older sidecars kept them under "tags")
                "tags": side.get("preset_tags", side.get("tags")),
            }
        )

    @staticmethod
    def model_spec(row: RenderRow) -> str | None:
        """What to pass to load_model/Engine.submit for a row's model (None = the embedded default)."""
        return None if row.model in (None, "", "default", "diffhost-default") else row.model

    def request_of(self, row: RenderRow) -> GenerationRequest:
        """The exact request (resolved seed, steps, guidance; the kept seed clip) behind a row."""
        side = self.sidecar_of(row)
        return request_from_params(
            side.get("params") or row.params, where=f"render {row.id}", music=side.get("music")
        )

    # -- internals ------------------------------------------------------------------------------
    def _tx(self) -> Any:
        lib = self

        class _Tx:
            def __enter__(self) -> None:
                lib._lock.acquire()
                try:
                    lib._db.execute("BEGIN IMMEDIATE")
                except BaseException:
                    lib._lock.release()
                    raise

            def __exit__(self, exc_type: Any, *rest: Any) -> None:
                try:
                    lib._db.execute("ROLLBACK" if exc_type else "COMMIT")
                finally:
                    lib._lock.release()

        return _Tx()

    def _row(self, render_id: Any, include_trashed: bool) -> RenderRow:
        try:
            rid = int(render_id)
        except (TypeError, ValueError):
            raise LibraryError(f"render id: expected a whole number, got {render_id!r}") from None
        where = "id=?" if include_trashed else "id=? AND state='ok'"
        rows = self._select(where, (rid,), 1, 0)
        if not rows:
            raise LibraryError(f"render {rid}: no such render in the library ({self.db_path})")
        return rows[0]

    def _select(self, where: str, args: tuple, limit: int, offset: int) -> builtins.list[RenderRow]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM renders WHERE {where} ORDER BY created DESC, id DESC LIMIT ? OFFSET ?",
                (*args, int(limit), int(offset)),
            ).fetchall()
            tags: dict[int, list[str]] = {}
            if rows:
                ids = [r["id"] for r in rows]
                marks = ",".join("?" * len(ids))
                for t in self._db.execute(
                    f"SELECT render_id, tag FROM tags WHERE render_id IN ({marks}) ORDER BY tag", ids
                ):
                    tags.setdefault(t[0], []).append(t[1])
        return [_to_row(r, tuple(tags.get(r["id"], ()))) for r in rows]

    def _finish_trash(self, render_id: int, path: Path, trash: Path) -> None:
        if path.exists():
            _move(path, trash)
        side = sidecar_path(path)
        if side.exists():
            _move(side, sidecar_path(trash))
        with self._tx():
            self._db.execute("UPDATE renders SET state='trashed' WHERE id=?", (render_id,))

    def _recover(self) -> None:
        """Finish deletes a crash interrupted (the file goes to the trash; nothing vanishes)."""
        with self._lock:
            pending = self._db.execute(
                "SELECT id, path, trash_path FROM renders WHERE state='trashing'"
            ).fetchall()
        for r in pending:
            self._finish_trash(r["id"], Path(r["path"]), Path(r["trash_path"]))


def _to_row(r: sqlite3.Row, tags: tuple[str, ...]) -> RenderRow:
    return RenderRow(
        id=int(r["id"]),
        created=_dt.datetime.fromisoformat(r["created"]),
        prompt=r["prompt"],
        params=json.loads(r["params"]),
        model=r["model"],
        path=Path(r["path"]),
        length_s=float(r["length_s"] or 0.0),
        sample_rate=int(r["sample_rate"] or 0),
        loudness_lufs=r["loudness_lufs"],
        tags=tags,
        favorite=bool(r["favorite"]),
        sidecar=Path(r["sidecar"]) if r["sidecar"] else None,
        channels=int(r["channels"] or 0),
        peak_dbfs=r["peak_dbfs"],
        format=r["format"] or "wav",
        variation=int(r["variation"]),
        preset=r["preset"],
        parent_id=r["parent_id"],
        state=r["state"],
        trash_path=Path(r["trash_path"]) if r["trash_path"] else None,
        dry_path=Path(r["dry_path"]) if r["dry_path"] else None,
        bpm=r["bpm"],
        key=r["music_key"],
        bars=r["bars"],
        loop=None if r["loop"] is None else bool(r["loop"]),
    )


def _music_columns(music: dict[str, Any] | None) -> tuple[Any, ...]:
    """(bpm, key, bars, loop) for a row from a sidecar's music; Nones where there is none."""
    if not isinstance(music, dict):
        return (None, None, None, None)
    key = music.get("key")
    if key:
        try:
            key = key_name(*_key_with_mode(str(key)))
        except ValueError:
            key = str(key)
    bpm, bars, loop = music.get("bpm"), music.get("bars"), music.get("loop")
    return (
        None if bpm is None else float(bpm),
        key or None,
        None if bars is None else float(bars),
        None if loop is None else int(bool(loop)),
    )


def _key_with_mode(text: str) -> tuple[int, bool]:
    pc, minor = parse_key_name(text)
    return pc, bool(minor)


_KEY_WORDS = re.compile(r"(?<![\w#])([A-Ga-g](?:#|b|♯|♭)?)\s*(major|minor|maj|min|m)?(?![\w#])")
_BPM_WORDS = re.compile(r"(?<![\w.])(\d{2,3}(?:\.\d+)?)\s*bpm\b", re.IGNORECASE)


def _music_terms(text: str) -> tuple[str, list[tuple[int, bool | None]], list[float]]:
    """Pull keys ("F minor", "Fm", "Bb") and tempos ("128 bpm") out of a History search; the rest are
    words. A key letter counts with a quality or an accidental ("A" alone is a word)."""
    keys: list[tuple[int, bool | None]] = []
    tempos: list[float] = []

    def take_bpm(m: re.Match) -> str:
        tempos.append(float(m.group(1)))
        return " "

    def take_key(m: re.Match) -> str:
        letter, quality = m.group(1), m.group(2)
        if not quality and len(letter) == 1:
            return m.group(0)  # "a", "A beat", "b": words, not keys
        try:
            keys.append(parse_key_name(f"{letter} {quality or ''}".strip()))
        except ValueError:
            return m.group(0)
        return " "

    text = _BPM_WORDS.sub(take_bpm, text or "")
    text = _KEY_WORDS.sub(take_key, text)
    return text, keys, tempos


def _number(word: str) -> float | None:
    try:
        value = float(word)
    except ValueError:
        return None
    return value if value == value and abs(value) < 1e6 else None


def _music_number(name: str, value: Any, low: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= float(value) <= 1e6:
        raise LibraryError(f"{name}: expected a number from {low:g} up, got {value!r}")
    return float(value)


def _check_key_filter(key: str) -> tuple[int, bool | None]:
    try:
        return parse_key_name(key)
    except ValueError as exc:
        raise LibraryError(str(exc)) from None


def _clean_tags(tags: Iterable[str]) -> tuple[str, ...]:
    if isinstance(tags, str):
        tags = tags.split(",")
    out = []
    for t in tags:
        if not isinstance(t, str):
            raise LibraryError(f"tags: expected text, got {t!r}")
        t = t.strip().lower()
        if t and t not in out:
            out.append(t)
    return tuple(out)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _stamp(value: Any, name: str, end: bool = False) -> str:
    """A date or datetime (or ISO text) as the stored UTC text; a bare date's `until` is inclusive."""
    if isinstance(value, str):
        try:
            value = (
                _dt.datetime.fromisoformat(value)
                if "T" in value or " " in value
                else _dt.date.fromisoformat(value)
            )
        except ValueError:
            raise LibraryError(
                f"{name}: {value!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM"
            ) from None
    if isinstance(value, _dt.datetime):
        dt = value if value.tzinfo else value.astimezone()  # naive = local time
    elif isinstance(value, _dt.date):
        dt = _dt.datetime.combine(value + _dt.timedelta(days=1 if end else 0), _dt.time()).astimezone()
    else:
        raise LibraryError(f"{name}: expected a date, got {value!r}")
    return dt.astimezone(_dt.UTC).isoformat(timespec="microseconds")


def _move(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        raise LibraryError(f"{dest}: already exists; diffhost never overwrites files")
    shutil.move(str(src), str(dest))  # rename on one filesystem, copy + delete across


# -- re-render and export -------------------------------------------------------------------------
@dataclass(frozen=True)
class Rerendered:
    saved: Any  # SavedRender
    identical: bool | None  # decoded audio equal to the original's (None: original gone)
    message: str


def compare_rerender(library: RenderLibrary, render_id: int, saved: Any, revision: str | None) -> Rerendered:
    """How a re-render of row `render_id` (saved as `saved`, made by a model at `revision`) compares
    with the original: the same decoded audio, and the same model revision."""
    row = library.get(render_id)
    side = library.sidecar_of(row)
    notes = []
    want_rev = (side.get("model") or {}).get("revision")
    if want_rev and revision and want_rev != revision:
        notes.append(f"model revision differs: was {want_rev}, now {revision}")
    identical = None
    if row.path.is_file():
        a, sr_a = read_audio(row.path)
        b, sr_b = read_audio(saved.path)
        identical = sr_a == sr_b and a.shape == b.shape and bool(np.array_equal(a, b))
        notes.append("identical to the original" if identical else "DIFFERS from the original")
    else:
        notes.append("original file is gone; nothing to compare with")
    return Rerendered(saved, identical, "; ".join(notes))


def export_row(
    library: RenderLibrary, render_id: int, export: Any, *, out: Path | None = None
) -> tuple[Any, int]:
    """Write a row's audio in another format (new file + sidecar + row). Returns (Written, new id)."""
    row = library.get(render_id)
    spec = parse_export(export)
    audio, sr = read_audio(row.path)
    folder = Path(out).expanduser() if out else row.path.parent
    target = folder if folder.suffix.lower() == spec.suffix else folder / (row.path.stem + spec.suffix)
    target = unique_path(target)
    try:
        side = library.sidecar_of(row)
    except LibraryError:
        side = {}
    written = write_audio(
        target,
        audio,
        sr,
        spec,
        dither_seed=int(row.params.get("seed") or 0) + row.variation,
        music=file_music(side),
    )
    notes = list(written.notes)
    if row.format in ("mp3", "ogg") and spec.format in ("wav", "flac"):
        notes.append(f"converted from lossy {row.format}: not better than the {row.format}")
    if written.encoding:
        side["encoding"] = written.encoding
    else:
        side.pop("encoding", None)
    if side.get("dry") and row.dry_path is not None and target.parent.resolve() != row.path.parent.resolve():
        side["dry"] = {**side["dry"], "path": str(row.dry_path)}  # elsewhere: point at it absolutely
    side.update(
        export=spec.to_dict(),
        derived_from={"render_id": row.id, "path": str(row.path)},
        audio_sha256=file_sha256(target),
        post={**(side.get("post") or {}), "sample_rate": written.sample_rate, "notes": notes},
    )
    side.pop("sidecar_version", None)
    side.pop("file", None)
    sidecar = write_sidecar(target, side)
    new_id = library.add(
        prompt=row.prompt,
        params=row.params,
        model=row.model,
        path=target,
        sidecar=sidecar,
        length_s=row.length_s,
        sample_rate=written.sample_rate,
        channels=row.channels,
        loudness_lufs=row.loudness_lufs,
        peak_dbfs=row.peak_dbfs,
        file_format=spec.format,
        variation=row.variation,
        preset=row.preset,
        parent_id=row.id,
        tags=row.tags,
        dry_path=row.dry_path,
        music=file_music(side),
    )
    return written, new_id
