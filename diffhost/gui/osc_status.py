"""OSC status: where the server listens, the last message it received, who is subscribed.

Reads the OSC server's public attributes on a timer (it lives on its own thread);
any that a server lacks simply show as unknown.
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtWidgets import QFormLayout, QLabel, QWidget


def _fmt_last(last: Any) -> str:
    if not last:
        return "none yet"
    if isinstance(last, (tuple, list)) and last:
        address, *rest = last
        args = rest[0] if rest else ()
        return f"{address} {' '.join(map(str, args)) if isinstance(args, (list, tuple)) else args}".strip()
    return str(last)


def _fmt_subs(subs: Any) -> str:
    if subs is None:
        return "unknown"
    subs = list(subs.snapshot() if hasattr(subs, "snapshot") else subs)
    if not subs:
        return "none"
    return ", ".join(
        f"{s[0]}:{s[1]}" if isinstance(s, (tuple, list)) and len(s) == 2 else str(s) for s in subs
    )


class OscStatus(QWidget):
    def __init__(self, server: Any, reason: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.server = server
        self.listen = QLabel()
        self.listen.setObjectName("value")
        self.last = QLabel()
        self.last.setWordWrap(True)
        self.subs = QLabel()
        self.subs.setWordWrap(True)
        self.setToolTip("DAWs and controllers reach diffhost over OSC (see docs/osc.md)")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Listening", self.listen)
        form.addRow("Last message", self.last)
        form.addRow("Subscribers", self.subs)
        self._reason = reason
        self.poll()

    def poll(self) -> None:
        s = self.server
        if s is None:
            self.listen.setText("off")
            self.last.setText(self._reason or "OSC server not running")
            self.subs.setText("—")
            self.setEnabled(False)
            return
        address = getattr(s, "address", None)  # (host, port) once bound
        host, port = (
            address if isinstance(address, tuple) else (getattr(s, "host", "?"), getattr(s, "port", None))
        )
        self.listen.setText(f"udp://{host}:{port}" if port else "unknown port")
        last = getattr(s, "last_message", None)
        stats = getattr(s, "stats", None)
        if last is None and stats is not None:
            self.last.setText(f"{stats.messages} received · {stats.errors} errors")
        else:
            self.last.setText(_fmt_last(last))
        self.subs.setText(_fmt_subs(getattr(s, "subscribers", None)))
