"""OSC throughput on loopback: control messages parsed and dispatched per second.

    python bench/osc_throughput.py [--messages 20000] [--queue 16]

Measures, in one run:
  baseline  a bare UDP echo loop in Python (socket recv + send, no OSC) — the ceiling
            this machine and interpreter allow, so the figures compare across machines;
  dispatch  Dispatcher.handle on literal datagrams, no sockets (parse + validate + Session call);
  loopback  client processes -> OscServer over UDP (param/set, param/get, ping; each answered),
            pipelined 64 deep, with loss counted;
  renders   a burst of /diffhost/render at a stopped engine: exactly `--queue` accepted, the rest
            refused with an answer, none lost.
  render    (--renders) packet -> accepted and packet -> done for a 0.5 s default-model render,
            against the same render submitted to the engine directly.
Targets: >= 10,000 control messages/s over loopback, none lost below the queue's capacity.

Structured as one function per measurement so the lead can add "OSC packet to first output
sample of a triggered slot" (needs host audio) as another `measure_*` next to these.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diffhost.engine.engine import Engine  # noqa: E402
from diffhost.host.session import Session  # noqa: E402
from diffhost.osc.client import DiffhostClient, build  # noqa: E402
from diffhost.osc.server import OscConfig, OscServer  # noqa: E402

CONTROL = [
    build("/diffhost/param/set", "temperature", 0.7),
    build("/diffhost/param/set", "length", 0.5),
    build("/diffhost/param/get", "prompt"),
    build("/diffhost/ping"),
]


def measure_baseline(n: int) -> float:
    """Python UDP echo: recv + send per datagram, the transport floor."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def echo() -> None:
        for _ in range(n):
            data, addr = srv.recvfrom(65536)
            srv.sendto(data, addr)

    t = threading.Thread(target=echo, daemon=True)
    t.start()
    cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    cli.settimeout(5)
    msg = CONTROL[0]
    t0 = time.perf_counter()
    _pipelined(cli, ("127.0.0.1", port), [msg] * n)
    dt = time.perf_counter() - t0
    t.join(5)
    srv.close()
    cli.close()
    return n / dt


def _pipelined(sock: socket.socket, dest: tuple[str, int], datagrams: list[bytes], window: int = 64) -> int:
    """Send with at most `window` unanswered (stays below socket buffers); returns answers seen."""
    sent = got = 0
    while got < len(datagrams):
        while sent < len(datagrams) and sent - got < window:
            sock.sendto(datagrams[sent], dest)
            sent += 1
        try:
            sock.recvfrom(65536)
        except TimeoutError:
            break
        got += 1
    return got


def measure_dispatch(server: OscServer, n: int) -> float:
    handle = server.dispatcher.handle
    sender = ("127.0.0.1", 50000)
    msgs = [CONTROL[i % len(CONTROL)] for i in range(n)]
    t0 = time.perf_counter()
    for m in msgs:
        handle(m, sender)
    return n / (time.perf_counter() - t0)


def _client_process(port: int, n: int) -> tuple[int, float]:
    """Runs in its own process (as a DAW would): pipelined control messages, answers counted."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.settimeout(5)
    msgs = [CONTROL[i % len(CONTROL)] for i in range(n)]
    t0 = time.perf_counter()
    answered = _pipelined(sock, ("127.0.0.1", port), msgs)
    return answered, time.perf_counter() - t0


def measure_loopback(server: OscServer, n: int, clients: int = 1) -> tuple[float, int]:
    """Control messages per second from `clients` separate processes, and how many were lost."""
    before = server.stats.messages
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(clients) as pool:
        results = pool.starmap(_client_process, [(server.address[1], n)] * clients)
    handled = server.stats.messages - before
    answered = sum(r[0] for r in results)
    seconds = max(r[1] for r in results)
    return answered / seconds, clients * n - handled


def measure_render_burst(dirs: Path, queue: int, burst: int) -> tuple[int, int, int]:
    engine = Engine(max_queue=queue)  # not started: the queue fills and stays full
    session = Session(engine, renders_dir=dirs / "burst")
    try:
        with (
            OscServer(session, OscConfig(port=0)) as server,
            DiffhostClient("127.0.0.1", server.address[1]) as c,
        ):
            for i in range(burst):
                c.send("/diffhost/render", f"kick {i}", 0.5)
            accepted = refused = 0
            try:
                while accepted + refused < burst:
                    addr, _ = c.wait_for(lambda m: m[0] in ("/diffhost/job/accepted", "/diffhost/error"), 5)
                    accepted += addr == "/diffhost/job/accepted"
                    refused += addr == "/diffhost/error"
            except TimeoutError:
                pass
            return accepted, refused, burst - accepted - refused
    finally:
        session.close()


def measure_render_roundtrip(tmp: Path, n: int = 7) -> tuple[float, float, float]:
    """OSC render of 0.5 s with the default model: packet -> accepted (ms), packet -> done (s),
    and the same render submitted to the engine directly (s). Runs interleave so machine load
    hits both alike; medians are reported."""
    from diffhost.engine.request import GenerationRequest

    with Engine(device="cpu") as engine:
        engine.load(None)
        session = Session(engine, renders_dir=tmp / "roundtrip")
        events = engine.subscribe()
        accepted, done, direct = [], [], []
        try:
            with (
                OscServer(session, OscConfig(port=0)) as server,
                DiffhostClient("127.0.0.1", server.address[1]) as c,
            ):
                for i in range(n):
                    t0 = time.perf_counter()
                    c.send("/diffhost/render", "punchy analog kick", 0.5, i)
                    job = c.wait_for(lambda m: m[0] == "/diffhost/job/accepted", 10)[1][0]
                    accepted.append(time.perf_counter() - t0)
                    c.wait_for(lambda m, j=job: m[0] == "/diffhost/job/done" and m[1][0] == j, 120)
                    done.append(time.perf_counter() - t0)
                    c.backlog.clear()

                    t0 = time.perf_counter()
                    sub = engine.submit(GenerationRequest(prompt="punchy analog kick", length=0.5, seed=i))
                    while not ((ev := events.get()).job_id == sub.id and ev.terminal):
                        pass
                    direct.append(time.perf_counter() - t0)
        finally:
            engine.unsubscribe(events)
            session.close()
    return statistics.median(accepted) * 1000, statistics.median(done), statistics.median(direct)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=20000)
    p.add_argument("--queue", type=int, default=16)
    p.add_argument("--renders", action="store_true", help="also time OSC renders with the default model")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(max_queue=a.queue)
        session = Session(engine, renders_dir=Path(tmp) / "renders")
        try:
            with OscServer(session, OscConfig(port=0)) as server:
                base = measure_baseline(a.messages)
                disp = measure_dispatch(server, a.messages)
                loop, lost = measure_loopback(server, a.messages)
                loop2, lost2 = measure_loopback(server, a.messages // 2, clients=2)
        finally:
            session.close()
        acc, ref, missing = measure_render_burst(Path(tmp), a.queue, a.queue * 4)
        roundtrip = measure_render_roundtrip(Path(tmp)) if a.renders else None
    print(f"baseline  python UDP echo (no OSC):     {base:10,.0f} msg/s")
    print(f"dispatch  parse+validate+session call:  {disp:10,.0f} msg/s")
    print(
        f"loopback  client -> server -> answer:   {loop:10,.0f} msg/s  ({loop / base:.0%} of baseline), lost {lost}"
    )
    print(f"loopback  two client processes:         {loop2:10,.0f} msg/s  lost {lost2}")
    print(
        f"renders   burst of {a.queue * 4} at queue {a.queue}: {acc} accepted, {ref} refused, {missing} unanswered"
    )
    if roundtrip is not None:
        acc_ms, done_s, direct_s = roundtrip
        print(
            f"render    0.5 s kick over OSC (median of 7): accepted after {acc_ms:.2f} ms, done after "
            f"{done_s:.3f} s; engine alone {direct_s:.3f} s (OSC + finishing + saving: {done_s / direct_s:.2f}x)"
        )
    ok = loop >= 10_000 and lost == 0 and lost2 == 0 and acc == a.queue and missing == 0
    print(
        "target (>= 10,000 msg/s over loopback, none lost, burst all answered):", "met" if ok else "NOT met"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
