"""From a datagram to handler calls: parse (python-osc), route, and turn every failure into a reply.

Transport-free, so tests and the fuzz run feed it bytes directly. Nothing a
datagram contains can raise out of `handle`: malformed packets, unknown
addresses, bad arguments and refusals from the session all become
`/diffhost/error s:address s:message` for the sender.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pythonosc.osc_message import OscMessage

from diffhost.engine.errors import QueueFullError
from diffhost.osc import messages as out

log = logging.getLogger(__name__)

Address = tuple[str, int]
Reply = tuple[Address, bytes]
Handler = Callable[[Address, list[Any]], list[Reply]]
SlotHandler = Callable[[Address, int, list[Any]], list[Reply]]

MAX_DATAGRAM = 8192  # bytes; longer prompts and paths do not exist in practice
MAX_MESSAGES = 64  # per bundle, nested bundles included
MAX_BUNDLE_DEPTH = 4
SUPPORTED_TAGS = frozenset("ifsbhdTFN")  # no arrays, timetags, MIDI or RGBA: nothing here takes them
_BUNDLE = b"#bundle\x00"
_SLOT = re.compile(r"^/diffhost/slot/([^/]*)/([^/]*)$")
_PATTERN_CHARS = set("*?[]{}")


class DatagramError(ValueError):
    """A datagram that is not a well-formed OSC message or bundle."""


@dataclass
class Stats:
    """Counters (each written by one thread; read freely)."""

    datagrams: int = 0
    messages: int = 0
    errors: int = 0
    malformed: int = 0
    ignored: int = 0  # datagrams from addresses not on the allow-list
    send_failures: int = 0


def parse_datagram(data: bytes) -> list[tuple[str, list[Any]]]:
    """(address, args) for each message in a message or bundle; DatagramError names the fault."""
    if len(data) > MAX_DATAGRAM:
        raise DatagramError(f"datagram is {len(data)} bytes; the limit is {MAX_DATAGRAM}")
    if data.startswith(_BUNDLE):
        found: list[tuple[str, list[Any]]] = []
        _walk_bundle(data, 1, found)
        return found
    if data.startswith(b"/"):
        return [_parse_message(data)]
    if not data:
        raise DatagramError("empty datagram")
    raise DatagramError("not an OSC packet: a message starts with '/', a bundle with '#bundle'")


def _walk_bundle(data: bytes, depth: int, found: list[tuple[str, list[Any]]]) -> None:
    # Timetags are ignored: every message runs on arrival (a far-future tag must not stall the server).
    if depth > MAX_BUNDLE_DEPTH:
        raise DatagramError(f"bundles nested deeper than {MAX_BUNDLE_DEPTH}")
    if len(data) < 16:
        raise DatagramError("bundle is shorter than its header (16 bytes)")
    i = 16
    while i < len(data):
        if i + 4 > len(data):
            raise DatagramError("bundle ends inside an element size")
        size = int.from_bytes(data[i : i + 4], "big", signed=True)
        i += 4
        if size <= 0 or size % 4 or i + size > len(data):
            raise DatagramError(f"bundle element size {size} does not fit the bundle")
        element = data[i : i + size]
        i += size
        if element.startswith(_BUNDLE):
            _walk_bundle(element, depth + 1, found)
        elif element.startswith(b"/"):
            found.append(_parse_message(element))
        else:
            raise DatagramError("bundle element is neither a message nor a bundle")
        if len(found) > MAX_MESSAGES:
            raise DatagramError(f"more than {MAX_MESSAGES} messages in one bundle")


def _parse_message(data: bytes) -> tuple[str, list[Any]]:
    if len(data) % 4:
        raise DatagramError(f"OSC messages are a multiple of 4 bytes long; got {len(data)}")
    try:
        # Check the type tags before python-osc sees them (it logs a warning per unknown tag,
        # which a flood would turn into a log flood). bytes.find keeps this cheap.
        end = data.find(b"\x00")
        i = (end + 4) & ~3
        if end > 0 and i < len(data):
            tag_end = data.find(b"\x00", i)
            tags = data[i:tag_end] if tag_end > 0 else b""
            if not tags.startswith(b","):
                raise DatagramError("type tag string must start with ','")
            bad = set(tags[1:].decode("ascii", "replace")) - SUPPORTED_TAGS
            if bad:
                raise DatagramError(
                    f"unsupported OSC type tag(s) {''.join(sorted(bad))!r}; supported are i f s b h d T F N"
                )
        msg = OscMessage(data)
        return msg.address, msg.params
    except DatagramError:
        raise
    except Exception as exc:  # python-osc ParseError, UnicodeDecodeError, struct errors
        raise DatagramError(f"malformed OSC message ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


class Dispatcher:
    """Maps addresses to handlers; slot addresses (/diffhost/slot/<n>/<verb>) by pattern."""

    def __init__(
        self,
        routes: dict[str, Handler],
        slot_routes: dict[str, SlotHandler],
        stats: Stats,
        answer_to: Callable[[Address], tuple[Address, ...]] | None = None,
    ):
        self._routes = dict(routes)
        self._slot_routes = dict(slot_routes)
        self.stats = stats
        # Where an error for a sender goes (the sender, and its host's listeners: see Subscribers).
        self._answer_to = answer_to or (lambda sender: (sender,))

    @property
    def addresses(self) -> list[str]:
        return sorted(self._routes) + [f"/diffhost/slot/<n>/{v}" for v in sorted(self._slot_routes)]

    def handle(self, data: bytes, sender: Address) -> list[Reply]:
        """Every reply this datagram earns; never raises."""
        try:
            found = parse_datagram(data)
        except DatagramError as exc:
            self.stats.malformed += 1
            self.stats.errors += 1
            message = out.error("", str(exc))
            return [(dest, message) for dest in self._answer_to(sender)]
        replies: list[Reply] = []
        for address, args in found:
            replies.extend(self.dispatch(address, args, sender))
        return replies

    def dispatch(self, address: str, args: list[Any], sender: Address) -> list[Reply]:
        self.stats.messages += 1
        try:
            return self._call(address, args, sender)
        except (ValueError, QueueFullError) as exc:  # bad input or a refusal: the reason goes back
            text = str(exc) or type(exc).__name__
            echo = tuple(getattr(exc, "echo", ()))  # e.g. the client token of a refused render
        except Exception as exc:  # a bug must not take the server down; the sender still gets an answer
            log.exception("OSC handler for %s failed", address)
            text = f"internal error: {type(exc).__name__}: {_first_line(exc)}"
            echo = ()
        self.stats.errors += 1
        message = out.encode(out.ERROR, address, text, *echo)
        return [(dest, message) for dest in self._answer_to(sender)]

    def _call(self, address: str, args: list[Any], sender: Address) -> list[Reply]:
        handler = self._routes.get(address)
        if handler is not None:
            return handler(sender, args)
        m = _SLOT.match(address)
        if m is not None:
            number, verb = m.groups()
            slot_handler = self._slot_routes.get(verb)
            if slot_handler is None:
                raise ValueError(
                    f"slot: unknown action {verb!r}; valid are {', '.join(sorted(self._slot_routes))}"
                )
            if not (number.isdigit() and number.isascii() and len(number) <= 3):
                raise ValueError(f"slot: {number!r} is not a slot number (0..999)")
            return slot_handler(sender, int(number), args)
        if _PATTERN_CHARS & set(address):
            raise ValueError("address patterns (wildcards) are not supported; send the full address")
        raise ValueError("unknown address; valid are " + ", ".join(self.addresses))
