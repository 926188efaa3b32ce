"""A TCP relay for the lost-connection test (no Ray, no diffhost)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class Relay:
    """A TCP relay on 127.0.0.1 in front of the server that can go silent: it stops passing bytes
    but keeps every socket open, as a dropped Wi-Fi or a pulled cable does (no FIN, no RST)."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.frozen = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                while self.frozen.is_set():  # hold the bytes: nothing arrives, nothing closes
                    time.sleep(0.05)
                    if self._sock.fileno() == -1:
                        return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._sock.close()
        for s in self._conns:
            s.close()
