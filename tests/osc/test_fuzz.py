"""Fuzz: 100,000 random and mutated datagrams straight into the dispatcher, and a batch over
real UDP. Nothing may raise, every reply must be well-formed OSC, no handler may hit an
internal error, and the server must still answer afterwards.

Seeded (reproducible): a failure prints the datagram that caused it.
"""

from __future__ import annotations

import random
import struct
import time

from osc_helpers import write_wav
from osc_strategies import PLAIN

from diffhost import __version__
from diffhost.engine.engine import Engine
from diffhost.host.session import Session
from diffhost.osc.client import DiffhostClient, build
from diffhost.osc.dispatcher import parse_datagram
from diffhost.osc.server import OscConfig, OscServer

ADDRESSES = [
    *PLAIN,  # the session-wide addresses, shared with the structured fuzz (osc_strategies.py)
    "/diffhost/slot/1/assign",
    "/diffhost/slot/2/load",
    "/diffhost/slot/3/play",
    "/diffhost/slot/4/stop",
    "/diffhost/slot/5/gate",
    "/diffhost/slot/6/state",
    "/diffhost/slot/999/play",
    "/diffhost/slot/-1/play",
    "/diffhost",
    "/",
    "/diffhost/param",
]
NAMES = [
    "prompt",
    "length",
    "temperature",
    "steps",
    "guidance",
    "seed",
    "strength",
    "variations",
    "model",
    "sample_rate",
    "negative_prompt",
    "tempo",
    "quantize",
    "bogus",
]


def corpus(audio_file: str) -> list[bytes]:
    c = [
        build("/diffhost/ping"),
        build("/diffhost/status"),
        build("/diffhost/subscribe", 12001),
        build("/diffhost/subscribe", 12001, "127.0.0.1"),
        build("/diffhost/unsubscribe", 12001),
        build("/diffhost/render", "punchy analog kick", 1.0, 7, "drums"),
        build("/diffhost/render"),
        build("/diffhost/cancel", 1),
        build("/diffhost/cancel", -1),
        build("/diffhost/param/set", "temperature", 0.7),
        build("/diffhost/param/set", "prompt", "dark tom"),
        build("/diffhost/param/set", "steps", 20),
        build("/diffhost/param/get", "length"),
        build("/diffhost/param/get"),
        build("/diffhost/preset/load", "drums"),
        build("/diffhost/preset/list"),
        build("/diffhost/seed/load", audio_file),
        build("/diffhost/seed/load", "../../etc/passwd"),
        build("/diffhost/seed/clear"),
        build("/diffhost/seed/record", 1.0),
        build("/diffhost/slot/1/assign", 1),
        build("/diffhost/slot/2/load", audio_file),
        build("/diffhost/slot/3/play", 0.8),
        build("/diffhost/slot/4/stop"),
        build("/diffhost/slot/5/gate", 1.0),
        build("/diffhost/tempo", 120.0),
        build("/diffhost/quantize", 0.25),
    ]
    bundle = b"#bundle\x00" + struct.pack(">Q", 1)
    for m in c[:3]:
        bundle += struct.pack(">i", len(m)) + m
    return c + [bundle]


def random_arg(rng: random.Random):
    pick = rng.randrange(10)
    if pick == 0:
        return rng.randint(-(2**31), 2**31 - 1)
    if pick == 1:
        return rng.randint(-(2**63), 2**63 - 1)
    if pick == 2:
        return rng.choice([float("nan"), float("inf"), -float("inf"), 0.0, -1.0, 1e30, -1e-30])
    if pick == 3:
        return rng.uniform(-1000, 1000)
    if pick == 4:
        return rng.choice(NAMES)
    if pick == 5:
        return "".join(chr(rng.randrange(1, 0x2FF)) for _ in range(rng.randrange(0, 40)))
    if pick == 6:
        return rng.choice([True, False])
    if pick == 7:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 32)))
    if pick == 8:
        return "x" * rng.choice([0, 999, 1001, 5000])
    return rng.choice([-1, 0, 1, 2, 12001, 65535, 65536])


def mutate(rng: random.Random, seeds: list[bytes]) -> bytes:
    op = rng.randrange(11)
    base = bytearray(rng.choice(seeds))
    if op == 0:  # bit flips
        for _ in range(rng.randrange(1, 9)):
            i = rng.randrange(len(base))
            base[i] ^= 1 << rng.randrange(8)
        return bytes(base)
    if op == 1:  # truncate
        return bytes(base[: rng.randrange(len(base) + 1)])
    if op == 2:  # insert random bytes
        i = rng.randrange(len(base) + 1)
        return bytes(base[:i] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16))) + base[i:])
    if op == 3:  # delete a range
        i = rng.randrange(len(base))
        return bytes(base[:i] + base[i + rng.randrange(1, 16) :])
    if op == 4:  # splice two seeds
        other = rng.choice(seeds)
        return bytes(base[: rng.randrange(len(base) + 1)] + other[rng.randrange(len(other) + 1) :])
    if op == 5:  # random type tags over real address + payload
        addr = rng.choice(ADDRESSES).encode() + b"\x00"
        addr += b"\x00" * (-len(addr) % 4)
        tags = b"," + bytes(rng.choice(b"ifsbhdTFNmrtc[]") for _ in range(rng.randrange(0, 6))) + b"\x00"
        tags += b"\x00" * (-len(tags) % 4)
        return addr + tags + bytes(rng.randrange(256) for _ in range(4 * rng.randrange(0, 8)))
    if op == 6:  # pure noise, sometimes with a plausible start
        noise = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        return rng.choice([b"", b"/", b"#bundle\x00", b"/diffhost/"]) + noise
    if op == 7 or op == 8:  # well-formed message, hostile values
        args = [random_arg(rng) for _ in range(rng.randrange(0, 6))]
        return build(rng.choice(ADDRESSES), *args)
    if op == 9:  # nested bundles, sometimes with lying sizes
        inner = bytes(base)
        for _ in range(rng.randrange(1, 7)):
            size = len(inner) if rng.random() < 0.8 else rng.randrange(-8, 64)
            inner = b"#bundle\x00" + struct.pack(">Q", rng.randrange(2**64)) + struct.pack(">i", size) + inner
        return inner
    return bytes(base) * rng.choice([200, 400, 1000])  # oversized


def make_session(dirs):
    engine = Engine(max_queue=4)  # not started: render requests fill the queue and are then refused
    return engine, Session(engine, renders_dir=dirs["renders"])


def test_fuzz_dispatcher_100k(dirs):
    audio_file = str(write_wav(dirs["audio"] / "seed.wav", seconds=0.1))
    engine, session = make_session(dirs)
    try:
        server = OscServer(session, OscConfig(port=0, folders=(dirs["audio"],)))  # dispatcher only
        seeds = corpus(audio_file)
        rng = random.Random(20261124)
        sender = ("127.0.0.1", 45000)
        internal = []
        kinds = set()
        t0 = time.perf_counter()
        changed_on_error = []
        for _ in range(100_000):
            data = mutate(rng, seeds)
            server.handlers.wait_idle()  # a seed clip loads on its own thread: let it land first
            state = (session.params, session.model, id(session.seed_clip), server.subscribers.snapshot())
            try:
                replies = server.dispatcher.handle(data, sender)
            except BaseException as exc:  # pragma: no cover - the assertion below shows the datagram
                raise AssertionError(f"dispatcher raised {exc!r} on {data!r}") from exc
            decoded = [m for _dest, message in replies for m in parse_datagram(message)]  # well-formed OSC
            for address, args in decoded:
                kinds.add(address)
                if address == "/diffhost/error" and args[1].startswith("internal error"):
                    internal.append((data, args))
            if len(decoded) == 1 and decoded[0][0] == "/diffhost/error" and not data.startswith(b"#bundle"):
                after = (session.params, session.model, id(session.seed_clip), server.subscribers.snapshot())
                if after != state:  # a refused message must change nothing
                    changed_on_error.append((data, decoded[0][1]))
        elapsed = time.perf_counter() - t0
        assert not internal, internal[:3]
        assert not changed_on_error, changed_on_error[:3]
        assert server.stats.messages > 30_000 and server.stats.malformed > 30_000
        assert {"/diffhost/error", "/diffhost/pong", "/diffhost/param", "/diffhost/subscribed"} <= kinds
        assert engine.pending() <= 4  # the flood stayed bounded by the queue
        assert not [p for p in dirs["renders"].iterdir()]  # nothing was written
        # Its speed is a figure, not a pass mark (the machines are shared): bench/osc_throughput.py.
        print(f"fuzz: 100k datagrams in {elapsed:.1f} s")
    finally:
        session.close()


def test_fuzz_over_udp_keeps_serving(dirs):
    audio_file = str(write_wav(dirs["audio"] / "seed.wav", seconds=0.1))
    engine, session = make_session(dirs)
    try:
        with (
            OscServer(session, OscConfig(port=0, folders=(dirs["audio"],))) as server,
            DiffhostClient("127.0.0.1", server.address[1]) as c,
        ):
            seeds = corpus(audio_file)
            rng = random.Random(7)
            sent = 0
            for _ in range(100):
                for _ in range(50):
                    c.send_raw(mutate(rng, seeds)[:9000])  # still past the 8192-byte limit
                    sent += 1
                assert c.ping(timeout=5) == __version__  # paced: the server keeps answering
                c.backlog.clear()
                sent += 1
            # Loopback UDP may still drop a datagram when the kernel buffer is full; nearly all arrive.
            assert server.stats.datagrams >= 0.95 * sent
    finally:
        session.close()
