"""Listeners that get every session event (AbletonOSC style: a fixed host and port), and the
direct answers to every client on their host."""

from __future__ import annotations

import threading

Address = tuple[str, int]


class SubscriberLimitError(ValueError):
    pass


class Subscribers:
    """A bounded, thread-safe set of (host, port) listeners."""

    def __init__(self, limit: int = 32, reply_port: int | None = None):
        self.limit = limit
        self.reply_port = reply_port  # where an unsubscribed sender's host hears its answers
        self._lock = threading.Lock()
        self._items: tuple[Address, ...] = ()  # replaced, never mutated: readers need no lock

    def add(self, address: Address) -> bool:
        """Add a listener; False if it was already there."""
        with self._lock:
            if address in self._items:
                return False
            if len(self._items) >= self.limit:
                raise SubscriberLimitError(
                    f"subscribe: {self.limit} listeners already subscribed; unsubscribe one first"
                )
            self._items = (*self._items, address)
            return True

    def remove(self, host: str, port: int | None = None) -> list[Address]:
        """Remove listeners of host (one port, or all of them); returns what was removed."""
        with self._lock:
            gone = [a for a in self._items if a[0] == host and (port is None or a[1] == port)]
            self._items = tuple(a for a in self._items if a not in gone)
            return gone

    def snapshot(self) -> tuple[Address, ...]:
        return self._items

    def answer_to(self, sender: Address) -> tuple[Address, ...]:
        """Where a direct answer to `sender` goes: the sender, and every listener subscribed on the
        sender's host. REAPER, Max [udpsend] and liblo's oscsend send from a port they do not
        listen on; AbletonOSC answers the sender's host on a fixed port for the same reason: so a
        host with no listener of its own hears its answers at the reply port (--reply-port) too,
        with no setup. A listener that is the sender itself is not repeated."""
        items = self._items
        mine = tuple(a for a in items if a[0] == sender[0] and a != sender)
        if any(a[0] == sender[0] for a in items) or self.reply_port is None:
            return (sender, *mine)
        fixed = (sender[0], self.reply_port)
        return (sender,) if fixed == sender else (sender, fixed)

    def __contains__(self, address: object) -> bool:
        return address in self._items

    def __len__(self) -> int:
        return len(self._items)
