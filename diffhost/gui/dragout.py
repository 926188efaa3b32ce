"""File-URL drags, as sample browsers do: drop a render straight onto a DAW track."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

from PyQt6.QtCore import QEvent, QMimeData, QObject, QPoint, Qt, QUrl
from PyQt6.QtGui import QDrag, QMouseEvent
from PyQt6.QtWidgets import QApplication, QWidget


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


class DragSource(QObject):
    """Makes any widget (the "drag to your DAW ⇲" label) a drag source for the file(s) `paths()`
    returns: press, move past the platform's drag distance, and the file goes out as a URL."""

    def __init__(self, widget: QWidget, paths: Callable[[], list[Path]]):
        super().__init__(widget)
        self.widget = widget
        self.paths = paths
        self.start = start_file_drag  # the drag loop itself (Qt's)
        self._press: QPoint | None = None
        widget.installEventFilter(self)
        widget.setCursor(Qt.CursorShape.OpenHandCursor)

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:  # noqa: N802 - Qt override
        kind = ev.type()
        ev = cast(QMouseEvent, ev)  # only its mouse press and move events are read below
        if kind == QEvent.Type.MouseButtonPress and ev.button() == Qt.MouseButton.LeftButton:
            self._press = ev.position().toPoint()
            return True
        if kind == QEvent.Type.MouseMove and self._press is not None:
            if (ev.position().toPoint() - self._press).manhattanLength() >= QApplication.startDragDistance():
                self._press = None
                files = [p for p in self.paths() if p is not None]
                if files:
                    self.start(self.widget, files)
            return True
        if kind == QEvent.Type.MouseButtonRelease:
            self._press = None
        return False
