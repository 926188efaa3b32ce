"""Render history from the render library: search, favorite (click the ☆), sort by any column,
re-render, export / save as / reveal in the folder, delete to trash, drag out.

Library calls (SQLite, file moves, encoding) run on gui.tasks threads. Without a library
the panel lists this session's renders, so drag-out, export and pads still work.
"""

from __future__ import annotations

import datetime as _dt
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QMimeData, QProcess, Qt, QTimer, QUrl, pyqtSignal
from PyQt6.QtGui import QAction, QDesktopServices
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from diffhost.engine.request import key_name, parse_key_name
from diffhost.gui.display import music_label, read_music, read_music_and_parts
from diffhost.gui.dragout import file_mime
from diffhost.gui.errors import describe
from diffhost.gui.tasks import Tasks
from diffhost.host.render.export import MENU_CHOICES

COLUMNS = ("★", "Prompt", "Take", "Seed", "Length", "Music", "Parts", "Rate", "Model", "Created")
FAV, PROMPT = 0, 1
PROMPT_MIN_PX = 200
ROW = Qt.ItemDataRole.UserRole  # index into HistoryPanel.rows (rows move when sorted)
KEY = Qt.ItemDataRole.UserRole + 1  # what a column sorts by (numbers as numbers)

KEYS = tuple(key_name(pc, minor) for minor in (False, True) for pc in range(12))  # as the library spells them
BARS = (1, 2, 4, 8, 16)
EXPORTS = MENU_CHOICES  # label -> host.export settings
SAVE_FILTERS = "WAV (*.wav);;FLAC (*.flac);;MP3 (*.mp3);;OGG Vorbis (*.ogg)"


@dataclass(frozen=True)
class SessionRow:
    """A render of this session, shaped like host.library.RenderRow."""

    id: int
    created: str
    prompt: str | None
    path: Path
    length_s: float
    sample_rate: int
    model: str = "this session"
    favorite: bool = False
    tags: tuple[str, ...] = ()
    params: dict = field(default_factory=dict)
    variation: int = 0
    seed: int | None = None
    has_seed_clip: bool = False
    music: dict | None = None  # GenerationResult.extra["music"] of this variation


class _Item(QTableWidgetItem):
    """A cell that sorts by its KEY (numbers numerically), not by its text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.data(KEY), other.data(KEY)
        if a is None or b is None or type(a) is not type(b):
            return super().__lt__(other)
        return a < b


class _Table(QTableWidget):
    def __init__(self, panel: HistoryPanel):
        super().__init__(0, len(COLUMNS))
        self._panel = panel

    def mimeData(self, items: Iterable[QTableWidgetItem]) -> QMimeData:  # noqa: N802 - Qt override
        rows = sorted({i.row() for i in items})
        return file_mime([r.path for r in (self._panel.row_at(i) for i in rows) if r is not None])

    def mimeTypes(self) -> list[str]:  # noqa: N802
        return ["text/uri-list", "text/plain"]

    def resizeEvent(self, ev) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(ev)
        self._panel.fit_prompt_column()


class HistoryPanel(QWidget):
    open_requested = pyqtSignal(Path)  # show in the waveform and play
    rerender_requested = pyqtSignal(int)
    assign_requested = pyqtSignal(int, Path)  # pad 1..16, file
    deleted = pyqtSignal(int, str)  # render id, file name: moved to the trash, restorable
    message = pyqtSignal(str)
    exported = pyqtSignal(Path)  # a file written by Export / Save As
    revealed = pyqtSignal(Path)

    def __init__(self, library: Any, tasks: Tasks, reason: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.library = library
        self.tasks = tasks
        self.rows: list[Any] = []
        self._session_rows: list[SessionRow] = []
        # A render's music lives in its sidecar; read once per file, on the query thread.
        self._music: dict[str, dict | None] = {}
        self._parts: dict[str, str] = {}  # "stems · MIDI" beside a file, from the same sidecar read

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search prompts, tags…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Filter the history by prompt text")
        # The music filters: a key, a tempo range, a length in bars, loops or not (with the words).
        self.key_filter = QComboBox()
        self.key_filter.addItems(["Any key", *KEYS])
        self.key_filter.setToolTip("Only renders in this key")
        self.bpm_filter = QLineEdit()
        self.bpm_filter.setPlaceholderText("BPM")
        self.bpm_filter.setToolTip("Only renders at this tempo: 128, or a range 120-130")
        self.bpm_filter.setClearButtonEnabled(True)
        self.bpm_filter.setMaximumWidth(96)
        self.bars_filter = QComboBox()
        self.bars_filter.addItems(["Any bars", *(f"{b} bar{'s' * (b > 1)}" for b in BARS)])
        self.bars_filter.setToolTip("Only renders this many bars long")
        self.loop_filter = QComboBox()
        self.loop_filter.addItems(["Loops or not", "Loops", "Not loops"])
        self.loop_filter.setToolTip("Only loops (whole bars that repeat), or only one-shots and phrases")
        self.favorites = QPushButton("★ Favorites")
        self.favorites.setCheckable(True)
        self.favorites.setToolTip("Show favorites only")
        self.note = QLabel(
            reason and f"Render library unavailable ({reason}): showing this session's renders only"
        )
        self.note.setObjectName("dim")
        self.note.setVisible(library is None)
        self.note.setWordWrap(True)

        self.table = _Table(self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setDragEnabled(True)
        self.table.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.table.verticalHeader().setVisible(False)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.setToolTip(
            "Double-click to load and play · drag rows onto a DAW track · right-click for more"
        )
        hdr = self.table.horizontalHeader()
        # The prompt takes the room the other columns leave, but never less than PROMPT_MIN_PX (the
        # table scrolls sideways instead), so a narrow window still shows what each render is.
        hdr.setSectionResizeMode(PROMPT, QHeaderView.ResizeMode.Interactive)

        def refit(index: int, _old: int, _new: int) -> None:
            if index != PROMPT:
                self.fit_prompt_column()

        hdr.sectionResized.connect(refit)
        for c in range(len(COLUMNS)):
            if c != PROMPT:
                hdr.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        hdr.setSortIndicatorShown(True)
        hdr.setSectionsClickable(True)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(len(COLUMNS) - 1, Qt.SortOrder.DescendingOrder)  # newest first

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        for w in (self.key_filter, self.bpm_filter, self.bars_filter, self.loop_filter):
            top.addWidget(w)
        top.addWidget(self.favorites)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(200)
        self._debounce.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.favorites.toggled.connect(lambda _on: self.refresh())
        self.bpm_filter.textChanged.connect(lambda _t: self._debounce.start())
        for box in (self.key_filter, self.bars_filter, self.loop_filter):
            box.currentIndexChanged.connect(lambda _i: self.refresh())
        self.table.cellDoubleClicked.connect(self._double_clicked)
        self.table.cellClicked.connect(self._clicked)
        self.table.customContextMenuRequested.connect(self._menu)

    # -- data ---------------------------------------------------------------------------
    def add_session_render(
        self,
        job_id: int,
        path: Path,
        length_s: float,
        sample_rate: int,
        prompt: str | None,
        *,
        variation: int = 0,
        seed: int | None = None,
        has_seed_clip: bool = False,
        music: dict | None = None,
    ) -> None:
        """Without a library, remember renders of this session (newest first)."""
        stamp = _dt.datetime.now().isoformat(timespec="seconds")
        row = SessionRow(
            job_id, stamp, prompt, Path(path), length_s, sample_rate,
            variation=variation, seed=seed, has_seed_clip=has_seed_clip, music=music,
        )
        self._session_rows.insert(0, row)
        self.refresh()

    def music_filter(self) -> dict[str, Any]:
        """The filters as RenderLibrary.search takes them (key, bpm_min, bpm_max, bars, loop); a
        tempo box that does not read as a tempo or a range is left out (and shown in red)."""
        out: dict[str, Any] = {}
        if self.key_filter.currentIndex() > 0:
            out["key"] = self.key_filter.currentText()
        tempo = parse_tempo_range(self.bpm_filter.text())
        unread = tempo is None and bool(self.bpm_filter.text().strip())
        self.bpm_filter.setStyleSheet("color: #e05050" if unread else "")
        if tempo:
            out["bpm_min"], out["bpm_max"] = tempo
        if self.bars_filter.currentIndex() > 0:
            out["bars"] = float(BARS[self.bars_filter.currentIndex() - 1])
        if self.loop_filter.currentIndex() > 0:
            out["loop"] = self.loop_filter.currentIndex() == 1
        return out

    def refresh(self) -> None:
        text = self.search.text().strip()
        fav = self.favorites.isChecked()
        wanted = self.music_filter()
        if self.library is None:
            rows = [
                r
                for r in self._session_rows
                if (not text or text.lower() in (r.prompt or "").lower())
                and (not fav or r.favorite)
                and music_matches(r.music, **wanted)
            ]
            self._show(rows)
            return
        lib = self.library
        known, parts = self._music, self._parts

        def query() -> list:
            rows = lib.search(text, limit=500, **wanted) if text or wanted else lib.list(limit=500)
            rows = [r for r in rows if r.favorite] if fav else list(rows)
            for r in rows:
                if str(r.path) not in known:
                    known[str(r.path)], parts[str(r.path)] = read_music_and_parts(r.path, r.sidecar)
            return rows

        self.tasks.run(query, self._show, lambda e: self.message.emit(f"History: {e}"))

    def _show(self, rows: list) -> None:
        selected = self.selected_row()
        self.rows = list(rows)
        self.table.setSortingEnabled(False)  # fill first, then sort once (rows stay put meanwhile)
        self.table.setRowCount(len(self.rows))
        for i, r in enumerate(self.rows):
            created = str(r.created)[:19].replace("T", " ")
            n = int((getattr(r, "params", None) or {}).get("variations") or 1)
            seed = getattr(r, "seed", None)
            music = self.music_of(r)
            cells = (
                ("★" if r.favorite else "☆", int(r.favorite)),
                (prompt_label(r), (r.prompt or "").lower()),
                (f"{r.variation + 1} of {n}" if n > 1 else str(r.variation + 1), r.variation),
                ("" if seed is None else str(seed), -1 if seed is None else int(seed)),
                (f"{r.length_s:.2f} s", float(r.length_s)),
                (music_label(music), float((music or {}).get("bpm") or 0.0)),
                (self._parts.get(str(r.path), ""), self._parts.get(str(r.path), "")),
                (f"{r.sample_rate / 1000:g} k", int(r.sample_rate)),
                (_short_model(r.model), _short_model(r.model)),
                (created, created),
            )
            for c, (text, key) in enumerate(cells):
                item = _Item(text)
                item.setData(KEY, key)
                item.setData(ROW, i)
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
                )
                if c == FAV:
                    item.setToolTip("Click to mark or unmark as a favorite")
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                elif c == PROMPT:
                    item.setToolTip(str(r.path))
                self.table.setItem(i, c, item)
        self.table.setSortingEnabled(True)
        self.fit_prompt_column()
        if selected is not None:
            for v in range(self.table.rowCount()):
                row = self.row_at(v)
                if row is not None and row.id == selected.id:
                    self.table.setCurrentCell(v, PROMPT)
                    break

    def fit_prompt_column(self) -> None:
        hdr = self.table.horizontalHeader()
        others = sum(hdr.sectionSize(c) for c in range(len(COLUMNS)) if c != PROMPT)
        hdr.resizeSection(PROMPT, max(PROMPT_MIN_PX, self.table.viewport().width() - others))

    def music_of(self, row: Any) -> dict | None:
        """The music a row's render used: a session row carries it, a library row's is its sidecar's."""
        music = getattr(row, "music", None)
        return music if music is not None else self._music.get(str(row.path))

    # -- actions ------------------------------------------------------------------------
    def row_at(self, visual: int) -> Any | None:
        """The render shown on table row `visual` (sorting moves rows; each cell knows its render)."""
        item = self.table.item(visual, FAV)
        index = item.data(ROW) if item is not None else None
        return self.rows[index] if index is not None and 0 <= index < len(self.rows) else None

    def selected_row(self) -> Any | None:
        return self.row_at(self.table.currentRow())

    def _clicked(self, visual: int, column: int) -> None:
        if column == FAV:
            row = self.row_at(visual)
            if row is not None:
                self.toggle_favorite(row)

    def _double_clicked(self, visual: int, column: int) -> None:
        row = self.row_at(visual)
        if row is not None and column != FAV:
            self.open_requested.emit(row.path)

    def toggle_favorite(self, row: Any) -> None:
        if self.library is None:
            self.message.emit("Favorites need the render library")
            return
        lib = self.library
        self.tasks.run(
            lambda: lib.set_favorite(row.id, not row.favorite),
            lambda _v: self.refresh(),
            lambda e: self.message.emit(f"Favorite: {e}"),
        )

    def delete(self, row: Any) -> None:
        if self.library is None:
            self.message.emit("Deleting needs the render library (files are moved to its trash)")
            return
        lib = self.library

        def done(trashed: Any) -> None:
            self.message.emit(f"Moved to trash: {Path(trashed).name} (Ctrl+Z restores it)")
            self.deleted.emit(row.id, Path(row.path).name)
            self.refresh()

        self.tasks.run(lambda: lib.delete(row.id), done, lambda e: self.message.emit(f"Delete: {e}"))

    def restore(self, render_id: int, name: str = "") -> None:
        """Bring a deleted render back from the trash to where it was."""
        lib = self.library
        if lib is None:
            return

        def done(path: Any) -> None:
            self.message.emit(f"Restored {Path(path).name or name}")
            self.refresh()

        self.tasks.run(lambda: lib.restore(render_id), done, lambda e: self.message.emit(f"Restore: {e}"))

    def _menu(self, pos) -> None:
        row = self.selected_row()
        if row is None:
            return
        menu = QMenu(self)
        menu.addAction("Load and play", lambda: self.open_requested.emit(row.path))
        menu.addAction("Unfavorite" if row.favorite else "Favorite", lambda: self.toggle_favorite(row))
        rerender = QAction("Re-render", menu)
        rerender.setEnabled(self.library is not None)
        rerender.triggered.connect(lambda: self.rerender_requested.emit(row.id))
        menu.addAction(rerender)
        menu.addSeparator()
        self.add_file_actions(menu, lambda: row)
        menu.addSeparator()
        pads = menu.addMenu("Assign to pad")
        for number in range(1, 17):  # pads are 1..16, as everywhere
            pads.addAction(f"Pad {number}", lambda n=number: self.assign_requested.emit(n, row.path))
        menu.addSeparator()
        menu.addAction("Delete (to trash; Ctrl+Z restores)", lambda: self.delete(row))
        self.last_menu = menu  # tests reach its actions
        menu.popup(self.table.viewport().mapToGlobal(pos))


    # -- export, save as, reveal ----------------------------------------------------------------
    def add_file_actions(self, menu: QMenu, row_of: Any) -> None:
        """Export ▸, Save As… and Reveal in folder for the row `row_of()` gives (the context menu's
        row, or the window's current render from the File menu)."""
        export = menu.addMenu("Export")
        for label, spec in EXPORTS.items():
            export.addAction(label, lambda s=spec: self._with(row_of, lambda r: self.export(r, s)))
        menu.addAction("Save As…", lambda: self._with(row_of, self.ask_save_as))
        menu.addAction(reveal_label(), lambda: self._with(row_of, self.reveal))

    def _with(self, row_of: Any, action: Any) -> None:
        row = row_of()
        if row is None:
            self.message.emit("Select a render first (in the history, or render one)")
            return
        action(row)

    def export(self, row: Any, spec: Any, out: Path | None = None) -> None:
        """Write the render in another format beside it (or to `out`); a new library row. Never
        overwrites: a taken name gets a number."""
        lib = self.library

        def work() -> Path:
            if lib is not None and hasattr(row, "dry_path"):
                from diffhost.host.library import export_row

                written, _ = export_row(lib, row.id, spec, out=out)
                return written.path
            return _convert(row.path, spec, out)

        def done(path: Path) -> None:
            self.exported.emit(path)
            self.message.emit(f"Exported {path.name} to {path.parent}")
            self.refresh()

        self.tasks.run(work, done, lambda e: self.message.emit(f"Export: {describe(e)}"))

    def ask_save_as(self, row: Any) -> None:
        suggested = str(row.path.with_suffix(".wav").name)
        path, _ = QFileDialog.getSaveFileName(
            self, "Save render as", str(row.path.parent / suggested), SAVE_FILTERS
        )
        if path:
            self.save_as(row, Path(path))

    def save_as(self, row: Any, path: Path) -> None:
        """Save a copy where the user says, in the format its extension names (24-bit for WAV/FLAC)."""
        suffix = path.suffix.lower()
        spec = {
            ".wav": EXPORTS["WAV 24-bit"],
            ".flac": EXPORTS["FLAC 24-bit"],
            ".mp3": EXPORTS["MP3 V0"],
            ".ogg": EXPORTS["OGG 192 kbps"],
        }.get(suffix)
        if spec is None:
            self.message.emit(f"Save As: {path.name}: use .wav, .flac, .mp3 or .ogg")
            return
        self.export(row, spec, out=path)

    def reveal(self, row: Any) -> None:
        """Show the file in the system's file manager (selected where the platform can)."""
        path = Path(row.path)
        if not path.exists():
            self.message.emit(f"Reveal: {path} no longer exists")
            return
        command = reveal_command(path)
        ok = QProcess.startDetached(command[0], command[1:])[0] if command else False
        if not ok:
            ok = QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))
        self.revealed.emit(path)
        self.message.emit(f"{path.parent}" if ok else f"Could not open a file manager for {path.parent}")


def prompt_label(row: Any) -> str:
    """The prompt; an empty one says what the render came from (seed audio only when there was one)."""
    if row.prompt:
        return row.prompt
    seeded = getattr(row, "has_seed_clip", False) or bool((getattr(row, "params", None) or {}).get("seed_clip"))
    return "(seed audio)" if seeded else "(no prompt)"


def reveal_label() -> str:
    return {"darwin": "Reveal in Finder", "win32": "Show in Explorer"}.get(sys.platform, "Reveal in folder")


def reveal_command(path: Path, platform: str = sys.platform) -> list[str] | None:
    """The file manager call that opens the folder with the file selected; None where there is no
    standard one (Linux desktops: the folder is opened instead)."""
    if platform == "darwin":
        return ["open", "-R", str(path)]
    if platform == "win32":
        return ["explorer", f"/select,{path}"]
    return None


def _convert(path: Path, spec: dict, out: Path | None) -> Path:
    """Without a library: decode and write in another format (atomic, never overwriting)."""
    from diffhost.engine.audio import read_audio
    from diffhost.host.render.export import parse_export, unique_path, write_audio

    parsed = parse_export(spec)
    audio, sr = read_audio(path)
    target = out if out is not None else path.with_suffix(parsed.suffix)
    # The tempo and loop travel into the new file's acid/smpl chunks.
    return write_audio(unique_path(target), audio, sr, parsed, music=read_music(path)).path


def _short_model(model: Any) -> str:
    text = str(model or "default")
    return Path(text).name if "/" in text and Path(text).is_absolute() else text


def parse_tempo_range(text: str) -> tuple[float, float] | None:
    """'128' -> (128, 128), '120-130' -> (120, 130), '' or not a tempo -> None."""
    parts = [p.strip() for p in text.replace("–", "-").split("-")] if text.strip() else []
    try:
        lo, hi = (float(parts[0]), float(parts[-1])) if 1 <= len(parts) <= 2 else (None, None)
    except ValueError:
        return None
    if lo is None or hi is None or not (0 < lo <= hi <= 1000):
        return None
    return lo, hi


def music_matches(
    music: dict | None,
    *,
    key: str | None = None,
    bpm_min: float | None = None,
    bpm_max: float | None = None,
    bars: float | None = None,
    loop: bool | None = None,
) -> bool:
    """The library's music filters for a render of this session (no library to ask)."""
    if not (key or bpm_min is not None or bars is not None or loop is not None):
        return True
    if not music:
        return loop is False and not (key or bpm_min is not None or bars is not None)  # a one-shot
    if key:
        try:
            if music.get("key") is None or parse_key_name(str(music["key"])) != parse_key_name(key):
                return False
        except ValueError:
            return False
    bpm = float(music.get("bpm") or 0.0)
    if bpm_min is not None and not (bpm_min - 0.01 <= bpm <= (bpm_max or bpm_min) + 0.01):
        return False
    if bars is not None and abs(float(music.get("bars") or 0.0) - bars) > 1e-6:
        return False
    return loop is None or bool(music.get("loop")) == loop
