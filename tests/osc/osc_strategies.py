"""Hypothesis strategies over diffhost's OSC address space, type tags and values, and a checker
that runs datagrams through a real Session's dispatcher and records what went wrong.

Shared by tests/osc/test_fuzz_structured.py (a few thousand messages) and
bench/osc_fuzz_soak.py (200,000 and more). Structure-aware: addresses come from the real address
space (and near misses), arguments are typed the way OSC clients type them, values sit on and
around every documented limit, and some datagrams are built by hand with type tags python-osc
would never write (unsupported tags, tags that lie about the payload, nested bundles with lying
sizes).
"""

from __future__ import annotations

import queue
import struct
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from diffhost.osc.dispatcher import DatagramError, parse_datagram

PLAIN = [
    "/diffhost/ping",
    "/diffhost/status",
    "/diffhost/subscribe",
    "/diffhost/unsubscribe",
    "/diffhost/render",
    "/diffhost/cancel",
    "/diffhost/param/set",
    "/diffhost/param/get",
    "/diffhost/preset/load",
    "/diffhost/preset/list",
    "/diffhost/seed/load",
    "/diffhost/seed/clear",
    "/diffhost/seed/record",
    "/diffhost/tempo",
    "/diffhost/quantize",
    "/diffhost/tempo/source",
    "/diffhost/kit/save",
    "/diffhost/kit/load",
    "/diffhost/midi/learn",
]
VERBS = ["assign", "load", "play", "stop", "gate", "state"]
NAMES = [
    "prompt",
    "negative_prompt",
    "length",
    "sample_rate",
    "temperature",
    "steps",
    "guidance",
    "seed",
    "strength",
    "variations",
    "model",
    "tempo",
    "quantize",
    "bogus",
    "",
]
EDGE_INTS = [
    -(2**31),
    -(2**31) + 1,
    -2,
    -1,
    0,
    1,
    2,
    3,
    16,
    17,
    64,
    65,
    999,
    1000,
    1001,
    8000,
    12001,
    44100,
    65535,
    65536,
    192000,
    192001,
    2**31 - 1,
]
EDGE_FLOATS = [
    0.0,
    -0.0,
    0.01,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    1.5,
    4.0,
    4.01,
    9.5,
    20.0,
    50.0,
    600.0,
    601.0,
    999.0,
    1e30,
]
TAGS = "ifsbhdTFN"
BAD_TAGS = "mrtcS[]"


def text_values(paths: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(
            NAMES
            + paths
            + ["", " ", "default", "diffhost-default", ".", "..", "../..", "/etc/passwd", "::1", "localhost"]
            + ["127.0.0.1", "8.8.8.8", "org/name", "kick", "808 bass"]
        ),
        st.sampled_from([999, 1000, 1001, 4000]).map(lambda n: "a" * n),  # around the text limit
        st.text(max_size=40),
        st.text(alphabet="/.~*?[]{}%:\\x", max_size=20),
    )


def values(paths: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(EDGE_INTS),
        st.integers(-(2**31), 2**31 - 1),
        st.integers(-(2**63), 2**63 - 1),  # sent as h when past 32 bits
        st.sampled_from(EDGE_FLOATS),
        st.floats(width=32, allow_nan=True, allow_infinity=True),
        text_values(paths),
        st.binary(max_size=24),
        st.booleans(),
    )


def addresses() -> st.SearchStrategy[str]:
    slot_number = st.one_of(
        st.integers(-2, 1001).map(str), st.sampled_from(["", "x", "*", "01", "1.0", "٣", "9999"])
    )
    verb = st.one_of(st.sampled_from(VERBS), st.sampled_from(["", "explode", "*", "play/more"]))
    return st.one_of(
        st.sampled_from(PLAIN),
        st.sampled_from(PLAIN),  # twice: most traffic is the real address space
        st.builds(lambda n, v: f"/diffhost/slot/{n}/{v}", slot_number, verb),
        st.sampled_from(
            ["/diffhost", "/", "/diffhost/", "/diffhost/param", "/diffhost/*", "/diffhost/{ping,status}"]
        ),
        st.text(alphabet="/abcdefhiopst*?[]", min_size=1, max_size=30).map(lambda s: "/" + s),
    )


def messages(paths: list[str]) -> st.SearchStrategy[bytes]:
    """A well-formed OSC message with typed arguments; param/set usually names a parameter."""
    args = st.lists(values(paths), max_size=6)
    named = st.builds(lambda n, rest: [n, *rest], st.sampled_from(NAMES), st.lists(values(paths), max_size=2))
    return st.one_of(
        st.builds(lambda a, xs: build(a, *xs), addresses(), args),
        st.builds(lambda xs: build("/diffhost/param/set", *xs), named),
    )


def _pad(b: bytes) -> bytes:
    return b + b"\x00" * (4 - len(b) % 4)


def build(address: str, *args: Any) -> bytes:
    """An OSC message typed as clients type it: i (h past 32 bits), f (NaN and inf kept), s, b, T/F."""
    tags, body = [","], []
    for a in args:
        if isinstance(a, bool):
            tags.append("T" if a else "F")
        elif isinstance(a, int):
            small = -(2**31) <= a < 2**31
            tags.append("i" if small else "h")
            body.append(struct.pack(">i" if small else ">q", a))
        elif isinstance(a, float):
            tags.append("f")
            body.append(
                struct.pack(">f", a) if abs(a) < 3.4e38 or a != a else struct.pack(">f", float("inf"))
            )
        elif isinstance(a, bytes):
            tags.append("b")
            body.append(struct.pack(">i", len(a)) + a + b"\x00" * (-len(a) % 4))
        else:
            tags.append("s")
            body.append(_pad(str(a).encode("utf-8", "surrogatepass")))
    return _pad(address.encode("utf-8", "surrogatepass")) + _pad("".join(tags).encode()) + b"".join(body)


def raw_messages() -> st.SearchStrategy[bytes]:
    """Hand-built messages: any type tags (unsupported ones too) over a payload that may not match."""
    return st.builds(
        lambda a, tags, payload: _pad(a.encode("utf-8", "replace")) + _pad(b"," + tags.encode()) + payload,
        addresses(),
        st.text(alphabet=TAGS + BAD_TAGS, max_size=6),
        st.binary(max_size=32).map(lambda b: b + b"\x00" * (-len(b) % 4)),
    )


def bundles(inner: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    def wrap(elements: list[bytes], lie: int | None, timetag: int) -> bytes:
        body = b"".join(struct.pack(">i", len(e) if lie is None else lie) + e for e in elements)
        return b"#bundle\x00" + struct.pack(">Q", timetag) + body

    return st.recursive(
        inner,
        lambda children: st.builds(
            wrap,
            st.lists(children, max_size=5),
            st.one_of(st.none(), st.none(), st.none(), st.integers(-8, 80)),
            st.sampled_from([0, 1, 2**64 - 1]),
        ),
        max_leaves=12,
    )


def datagrams(paths: list[str]) -> st.SearchStrategy[bytes]:
    well_formed = messages(paths)
    return st.one_of(
        well_formed,
        well_formed,
        well_formed,
        raw_messages(),
        bundles(st.one_of(well_formed, raw_messages())),
        st.binary(max_size=64),  # noise
        st.builds(lambda d, n: d[: max(0, len(d) - n)], well_formed, st.integers(1, 12)),  # truncated
    )


@dataclass
class FuzzChecker:
    """Runs datagrams through `server.dispatcher` (no sockets) and checks each one.

    - nothing raises out of the dispatcher, and every reply is well-formed OSC;
    - no handler fails internally ("internal error");
    - every datagram holding a message is answered to its sender (directly, through a send from
      another thread such as a seed load, or as a session event when it is subscribed);
    - a datagram answered only with errors changes nothing (params, model, seed clip, listeners,
      queued jobs).
    """

    server: Any
    session: Any
    sender: tuple[str, int] = ("127.0.0.1", 45000)
    messages: int = 0
    datagrams: int = 0
    errors_only: int = 0
    problems: list[tuple[str, bytes, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sent: list[tuple[tuple[str, int], bytes]] = []
        self.server.handlers.send = lambda dest, msg: self.sent.append((dest, msg))
        self.events = self.session.subscribe(maxsize=1_000_000)

    def state(self) -> tuple:
        s = self.session
        return (s.params, s.model, id(s.seed_clip), self.server.subscribers.snapshot(), s.engine.pending())

    def check(self, data: bytes) -> None:
        self.server.handlers.wait_idle()
        self._drain()
        self.sent.clear()
        before = self.state()
        try:
            found = parse_datagram(data)
        except DatagramError:
            found = None
        try:
            replies = self.server.dispatcher.handle(data, self.sender)
        except BaseException as exc:  # the one thing that must never happen
            self.problems.append(("raised", data, repr(exc)))
            return
        self.server.handlers.wait_idle()  # a seed clip answers from its own thread
        replies = list(replies) + self.sent
        self.datagrams += 1
        self.messages += len(found) if found is not None else 1
        decoded = []
        for _dest, message in replies:
            try:
                decoded.extend(parse_datagram(message))
            except DatagramError as exc:
                self.problems.append(("malformed reply", data, str(exc)))
        for address, args in decoded:
            if address == "/diffhost/error" and len(args) > 1 and str(args[1]).startswith("internal error"):
                self.problems.append(("internal error", data, args))
        to_sender = [m for (dest, m) in replies if dest == self.sender]
        events = self._drain()
        if found == []:  # an empty bundle holds no request
            return
        if not to_sender and not (self.sender in self.server.subscribers and events):
            self.problems.append(("unanswered", data, decoded))
        if decoded and all(a == "/diffhost/error" for a, _ in decoded):
            self.errors_only += 1
            if self.state() != before:
                self.problems.append(("changed by a refusal", data, decoded))

    def _drain(self) -> list[Any]:
        got = []
        while True:
            try:
                got.append(self.events.get_nowait())
            except queue.Empty:
                return got


class _Bytes:
    """Reads choices from a byte string (exhausted: zeros), like libFuzzer's FuzzedDataProvider."""

    def __init__(self, data: bytes):
        self.data = data
        self.i = 0

    def byte(self) -> int:
        b = self.data[self.i] if self.i < len(self.data) else 0
        self.i += 1
        return b

    def below(self, n: int) -> int:
        return (self.byte() << 8 | self.byte()) % n

    def pick(self, items: list[Any]) -> Any:
        return items[self.below(len(items))]

    def take(self, n: int) -> bytes:
        out = self.data[self.i : self.i + n]
        self.i += n
        return out


def _decode_value(r: _Bytes, paths: list[str]) -> Any:
    kind = r.below(8)
    if kind == 0:
        return r.pick(EDGE_INTS)
    if kind == 1:
        return int.from_bytes(r.take(8).ljust(8, b"\0"), "big", signed=True) >> r.below(64)
    if kind == 2:
        return r.pick(EDGE_FLOATS)
    if kind == 3:
        return struct.unpack(">f", r.take(4).ljust(4, b"\0"))[0]  # any float32: NaN and inf included
    if kind == 4:
        return r.pick(
            NAMES + paths + ["", ".", "..", "/etc/passwd", "::1", "localhost", "8.8.8.8", "org/name"]
        )
    if kind == 5:
        return r.take(r.below(40)).decode("utf-8", "replace")
    if kind == 6:
        return r.take(r.below(24)) or b"\0"
    return "a" * r.pick([999, 1000, 1001, 4000]) if r.below(4) == 0 else bool(r.below(2))


def _decode_address(r: _Bytes) -> str:
    kind = r.below(6)
    if kind <= 2:
        return r.pick(PLAIN)
    if kind == 3:
        n = r.pick([str(r.below(1004) - 2), "", "x", "*", "01", "1.0", "٣"])
        return f"/diffhost/slot/{n}/{r.pick([*VERBS, '', 'explode', '*'])}"
    if kind == 4:
        return r.pick(
            ["/diffhost", "/", "/diffhost/", "/diffhost/param", "/diffhost/*", "/diffhost/{ping,status}"]
        )
    return "/" + "".join(r.pick(list("/abcdefhiopst*?[]")) for _ in range(r.below(30)))


def _decode_datagram(r: _Bytes, paths: list[str], depth: int = 0) -> bytes:
    kind = r.below(20)
    if kind < 13:  # a typed message; param/set usually names a parameter
        address = _decode_address(r)
        args = [_decode_value(r, paths) for _ in range(r.below(7))]
        if address == "/diffhost/param/set" and args and r.below(3):
            args[0] = r.pick(NAMES)
        return build(address, *args)
    if kind < 15:  # any type tags over a payload that may not match them
        tags = "".join(r.pick(list(TAGS + BAD_TAGS)) for _ in range(r.below(7)))
        payload = r.take(4 * r.below(8)).ljust(0, b"\0")
        return (
            _pad(_decode_address(r).encode())
            + _pad(b"," + tags.encode())
            + payload
            + b"\0" * (-len(payload) % 4)
        )
    if kind < 18 and depth < 6:  # a bundle, maybe nested, maybe with lying sizes
        elements = [_decode_datagram(r, paths, depth + 1) for _ in range(r.below(5))]
        lie = None if r.below(4) else r.below(88) - 8
        body = b"".join(struct.pack(">i", len(e) if lie is None else lie) + e for e in elements)
        return b"#bundle\0" + struct.pack(">Q", r.pick([0, 1, 2**64 - 1])) + body
    if kind == 18:  # truncated
        d = _decode_datagram(r, paths, depth + 1)
        return d[: max(0, len(d) - 1 - r.below(12))]
    return r.take(r.below(64))  # noise


def fast_datagrams(paths: list[str]) -> st.SearchStrategy[bytes]:
    """The same structure as `datagrams` (addresses, tags, values, bundles), decoded from one byte
    string hypothesis draws and mutates: one draw per datagram, so hundreds of thousands are cheap."""
    return st.binary(min_size=8, max_size=512).map(lambda b: _decode_datagram(_Bytes(b), paths))
