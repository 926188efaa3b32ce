"""The OSC server: one UDP socket, one receive thread, one reply thread.

`OscServer(session, OscConfig(...)).start()` is all a front end needs; `diffhost
serve` runs it headless and the GUI runs the same object in-process. The
receive thread parses, validates, calls the session and answers; it never
blocks on a render (the engine queues) or a recording (own thread).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from diffhost.osc.access import AccessList, resolve_bind_host
from diffhost.osc.dispatcher import MAX_DATAGRAM, Address, Dispatcher, Stats
from diffhost.osc.handlers import Handlers
from diffhost.osc.paths import PathPolicy
from diffhost.osc.replies import EventForwarder
from diffhost.osc.subscribers import Subscribers

if TYPE_CHECKING:
    from diffhost.host.live.rig import LiveRig
    from diffhost.host.session import Session

log = logging.getLogger(__name__)
DEFAULT_PORT = 12000
DEFAULT_REPLY_PORT = 12001


@dataclass(frozen=True)
class OscConfig:
    """Where to listen and whom to trust.

    host: 127.0.0.1 (default) reaches this machine only; any other address needs `allow`.
    allow: client addresses or networks ("192.168.1.20", "192.168.1.0/24") besides this machine.
    reply_port: where /diffhost/subscribe without a port sends events (AbletonOSC style).
    folders: folders besides the renders folder that messages may name files in.
    listeners: (host, port) pairs subscribed from the start.
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    reply_port: int = DEFAULT_REPLY_PORT
    allow: tuple[str, ...] = ()
    folders: tuple[Path, ...] = ()
    listeners: tuple[Address, ...] = ()
    max_subscribers: int = 32

    def __post_init__(self) -> None:
        object.__setattr__(self, "host", resolve_bind_host(self.host))
        for name, value, lo in (("port", self.port, 0), ("reply_port", self.reply_port, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= 65535:
                raise ValueError(f"{name}: {value!r} is not a UDP port; valid is {lo}..65535")


class OscServer:
    def __init__(self, session: Session, config: OscConfig | None = None, *, live: LiveRig | None = None):
        """live: the host.live.LiveRig behind /diffhost/kit/..., /diffhost/tempo/source and
        /diffhost/midi/learn (they answer /diffhost/error without one)."""
        self.config = config or OscConfig()
        self.session = session
        self.stats = Stats()
        self.access = AccessList(self.config.host, self.config.allow)  # refuses an open bind
        self.subscribers = Subscribers(self.config.max_subscribers, reply_port=self.config.reply_port)
        for host, port in self.config.listeners:  # in the form a sender's address arrives in
            self.subscribers.add((self.access.listener_host(host), int(port)))
        self.paths = PathPolicy(session.renders_dir, self.config.folders)
        self._order = threading.Lock()  # keeps a job's "accepted" ahead of its other events
        self.handlers = Handlers(
            session,
            paths=self.paths,
            subscribers=self.subscribers,
            access=self.access,
            reply_port=self.config.reply_port,
            send=self.send,
            stats=self.stats,
            order=self._order,
            live=live,
        )
        self.dispatcher = Dispatcher(
            self.handlers.routes(), self.handlers.slot_routes(), self.stats, self.subscribers.answer_to
        )
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._forwarder: EventForwarder | None = None
        self.address: Address = (self.config.host, self.config.port)

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> OscServer:
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        with contextlib.suppress(OSError):  # a deep buffer absorbs bursts while a handler runs
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        if sys.platform == "win32":  # a gone listener must not break recv (SIO_UDP_CONNRESET)
            with contextlib.suppress(OSError, ValueError):
                sock.ioctl(socket.SIO_UDP_CONNRESET, False)
        try:
            sock.bind((self.config.host, self.config.port))
        except OSError as exc:
            sock.close()
            raise OSError(
                f"OSC: cannot listen on {self.config.host}:{self.config.port} ({exc.strerror or exc}); "
                "is another diffhost (or another OSC app) using that port? Choose one with --osc-port"
            ) from None
        # Blocking recv (no per-call poll); stop() wakes it with an empty datagram to itself.
        self._sock = sock
        self.address = sock.getsockname()[:2]
        self._stop.clear()
        plugins = getattr(self.handlers.live, "plugins", None)
        if plugins is not None:  # the plugin link talks to each plugin instance from this socket
            plugins.attach(self.send)
        self._forwarder = EventForwarder(self.session, self.subscribers, self.send, self._order)
        self._forwarder.start()
        self._thread = threading.Thread(target=self._serve, name="diffhost-osc", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:  # wake the blocked recv now rather than at its timeout
            with contextlib.suppress(OSError):
                wake = socket.socket(self._sock.family, socket.SOCK_DGRAM)
                host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.address[0], self.address[0])
                wake.sendto(b"", (host, self.address[1]))
                wake.close()
            with contextlib.suppress(OSError):  # Linux also wakes a blocked recv on shutdown
                self._sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.handlers.close()
        if self._forwarder is not None:
            self._forwarder.stop()
            self._forwarder = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> OscServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- transport ----------------------------------------------------------------
    def send(self, dest: Address, message: bytes) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            sock.sendto(message, dest)
        except OSError:  # listener gone, unreachable host: a reply is never worth a crash
            self.stats.send_failures += 1

    def _serve(self) -> None:
        sock = self._sock
        assert sock is not None
        stats = self.stats
        allows = self.access.allows
        handle = self.dispatcher.handle
        while not self._stop.is_set():
            try:
                data, addr = sock.recvfrom(65536)
                if self._stop.is_set():
                    break
            except ConnectionResetError:  # Windows: an earlier reply's ICMP "port unreachable"
                continue
            except OSError as exc:
                if self._stop.is_set():
                    break
                log.warning("OSC receive failed (%s); retrying", exc)
                self._stop.wait(0.05)  # never a hot loop on a persistent socket error
                continue
            stats.datagrams += 1
            sender = (addr[0], addr[1])
            if not allows(sender[0]):
                stats.ignored += 1  # not on the allow-list: no answer at all
                continue
            try:
                replies = handle(data, sender)
            except Exception:  # handle() answers everything itself; this is the last fence
                log.exception("OSC datagram from %s broke the dispatcher", sender)
                continue
            for dest, message in replies:
                self.send(dest, message)


__all__ = ["DEFAULT_PORT", "DEFAULT_REPLY_PORT", "MAX_DATAGRAM", "OscConfig", "OscServer"]
