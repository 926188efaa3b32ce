"""Render history from the render library: search, favorite, re-render, delete to trash, drag out.

Library calls (SQLite, file moves) run on gui.tasks threads. Without a library
the panel lists this session's renders, so drag-out and pads still work.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QMimeData, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import (
    QAbstractItemView,
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

from diffhost.gui.dragout import file_mime
from diffhost.gui.tasks import Tasks

COLUMNS = ("★", "Prompt", "Length", "Rate", "Model", "Created")


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


class _Table(QTableWidget):
    def __init__(self, panel: HistoryPanel):
        super().__init__(0, len(COLUMNS))
        self._panel = panel

    def mimeData(self, items: list[QTableWidgetItem]) -> QMimeData:  # noqa: N802 - Qt override
        rows = sorted({i.row() for i in items})
        return file_mime([self._panel.rows[r].path for r in rows if r < len(self._panel.rows)])

    def mimeTypes(self) -> list[str]:  # noqa: N802
        return ["text/uri-list", "text/plain"]


class HistoryPanel(QWidget):
    open_requested = pyqtSignal(Path)  # show in the waveform and play
    rerender_requested = pyqtSignal(int)
    assign_requested = pyqtSignal(int, Path)  # slot, file
    message = pyqtSignal(str)

    def __init__(self, library: Any, tasks: Tasks, reason: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.library = library
        self.tasks = tasks
        self.rows: list[Any] = []
        self._session_rows: list[SessionRow] = []

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search prompts, tags…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Filter the history by prompt text")
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
        hdr.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for c in (0, 2, 3, 4, 5):
            hdr.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
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
        self.table.cellDoubleClicked.connect(lambda r, _c: self.open_requested.emit(self.rows[r].path))
        self.table.customContextMenuRequested.connect(self._menu)

    # -- data ---------------------------------------------------------------------------
    def add_session_render(
        self, job_id: int, path: Path, length_s: float, sample_rate: int, prompt: str | None
    ) -> None:
        """Without a library, remember renders of this session (newest first)."""
        stamp = _dt.datetime.now().isoformat(timespec="seconds")
        self._session_rows.insert(0, SessionRow(job_id, stamp, prompt, Path(path), length_s, sample_rate))
        self.refresh()

    def refresh(self) -> None:
        text = self.search.text().strip()
        fav = self.favorites.isChecked()
        if self.library is None:
            rows = [
                r
                for r in self._session_rows
                if (not text or text.lower() in (r.prompt or "").lower()) and (not fav or r.favorite)
            ]
            self._show(rows)
            return
        lib = self.library

        def query() -> list:
            rows = lib.search(text) if text else lib.list(limit=500)
            return [r for r in rows if r.favorite] if fav else list(rows)

        self.tasks.run(query, self._show, lambda e: self.message.emit(f"History: {e}"))

    def _show(self, rows: list) -> None:
        self.rows = list(rows)
        self.table.setRowCount(len(self.rows))
        for i, r in enumerate(self.rows):
            created = str(r.created)[:19].replace("T", " ")
            cells = (
                "★" if r.favorite else "☆",
                r.prompt or "(seed audio)",
                f"{r.length_s:.2f} s",
                f"{r.sample_rate / 1000:g} k",
                _short_model(r.model),
                created,
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
                )
                if c == 1:
                    item.setToolTip(str(r.path))
                self.table.setItem(i, c, item)

    # -- actions ------------------------------------------------------------------------
    def selected_row(self) -> Any | None:
        r = self.table.currentRow()
        return self.rows[r] if 0 <= r < len(self.rows) else None

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
            self.message.emit(f"Moved to trash: {trashed}")
            self.refresh()

        self.tasks.run(lambda: lib.delete(row.id), done, lambda e: self.message.emit(f"Delete: {e}"))

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
        pads = menu.addMenu("Assign to pad")
        for slot in range(16):
            pads.addAction(f"Pad {slot + 1}", lambda s=slot: self.assign_requested.emit(s, row.path))
        menu.addSeparator()
        menu.addAction("Delete (to trash)", lambda: self.delete(row))
        menu.exec(self.table.viewport().mapToGlobal(pos))


def _short_model(model: Any) -> str:
    text = str(model or "default")
    return Path(text).name if "/" in text and Path(text).is_absolute() else text
