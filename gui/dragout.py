"""File-URL drags, as sample browsers do: drop a render straight onto a DAW track."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QMimeData, Qt, QUrl
from PyQt6.QtGui import QDrag
from PyQt6.QtWidgets import QWidget


def file_mime(paths: list[Path]) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(Path(p).resolve())) for p in paths])
    mime.setText("\n".join(str(Path(p).resolve()) for p in paths))
    return mime


def start_file_drag(source: QWidget, paths: list[Path]) -> Qt.DropAction:
    """Blocks in Qt's drag loop (events keep flowing) until the drop or cancel."""
    drag = QDrag(source)
    drag.setMimeData(file_mime(paths))
    return drag.exec(Qt.DropAction.CopyAction)


def dropped_files(mime: QMimeData) -> list[Path]:
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
