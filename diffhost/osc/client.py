"""A small diffhost OSC client: for tests, scripts and DAW helpers (the REAPER script runs it).

    from diffhost.osc.client import DiffhostClient
    with DiffhostClient() as c:
        done = c.render("punchy analog kick", length_s=1.0)
        print(done.path, done.length_s, done.sample_rate)

Command line (prints results; exit status 0 on success):
    python -m diffhost.osc.client ping
    python -m diffhost.osc.client render "tight snare" --length 0.5 [--result-file out.txt]
    python -m diffhost.osc.client send /diffhost/slot/1/play 0.8
    python -m diffhost.osc.client listen --port 12001
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder

from diffhost.osc.dispatcher import DatagramError, parse_datagram

Message = tuple[str, list[Any]]


class OscTimeout(TimeoutError):
    pass


@dataclass(frozen=True)
class RenderOutcome:
    """How a render ended: status is done, error, cancelled or rejected."""

    status: str
    job: int = -1
    path: Path | None = None
    length_s: float = 0.0
    sample_rate: int = 0
    message: str = ""
    extra_paths: tuple[Path, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "done"


def build(address: str, *args: Any) -> bytes:
    """An OSC message; ints go as i (h if large), floats as f, text as s, bytes as b."""
    b = OscMessageBuilder(address=address)
    for a in args:
        if isinstance(a, bool):
            b.add_arg(a)
        elif isinstance(a, int):
            b.add_arg(a, "i" if -(2**31) <= a < 2**31 else "h")
        elif isinstance(a, float):
            b.add_arg(a, "f")
        elif isinstance(a, bytes):
            b.add_arg(a, "b")
        else:
            b.add_arg(str(a), "s")
    return b.build().dgram


class DiffhostClient:
    """Sends from one UDP socket and reads replies on it (the server answers the sender)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 12000, *, listen_port: int = 0):
        self.server = (host, port)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        local = host in ("127.0.0.1", "::1", "localhost")
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        loopback = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        self.sock.bind((loopback if local else "", listen_port))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.backlog: list[Message] = []  # messages read while waiting for something else
        self._pings = 0

    @property
    def local_address(self) -> tuple[str, int]:
        return self.sock.getsockname()[:2]

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> DiffhostClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- raw ------------------------------------------------------------------------
    def send(self, address: str, *args: Any) -> None:
        self.sock.sendto(build(address, *args), self.server)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    def receive(self, timeout: float = 2.0) -> Message:
        """The next message (backlog first)."""
        if self.backlog:
            return self.backlog.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise OscTimeout(
                    f"no OSC message from {self.server[0]}:{self.server[1]} within {timeout:g} s"
                )
            self.sock.settimeout(left)
            try:
                data, _ = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            try:
                found = parse_datagram(data)
            except DatagramError:
                continue
            self.backlog.extend(found[1:])
            return found[0]

    def wait_for(self, match: Callable[[Message], bool], timeout: float = 5.0) -> Message:
        """The first message that matches; others stay in the backlog, in order."""
        for i, m in enumerate(self.backlog):
            if match(m):
                return self.backlog.pop(i)
        kept: list[Message] = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                m = self.receive(max(0.0, deadline - time.monotonic()))
                if match(m):
                    return m
                kept.append(m)
        finally:
            self.backlog = kept + self.backlog

    def request(self, address: str, *args: Any, expect: str, timeout: float = 5.0) -> Message:
        """Send and wait for `expect` or an error about `address`; errors raise ValueError."""
        self.send(address, *args)
        m = self.wait_for(
            lambda m: m[0] == expect or (m[0] == "/diffhost/error" and m[1][:1] == [address]), timeout
        )
        if m[0] == "/diffhost/error":
            raise ValueError(m[1][1] if len(m[1]) > 1 else "error")
        return m

    # -- conveniences -------------------------------------------------------------------------
    def cancel(self, job: int, timeout: float = 5.0) -> int:
        """Cancel a job (-1 = all); how many jobs it reached (ValueError for an unknown job)."""
        m = self.request("/diffhost/cancel", int(job), expect="/diffhost/cancelled", timeout=timeout)
        return int(m[1][1])

    def ping(self, timeout: float = 2.0) -> str:
        """The server's version; a fresh token makes sure this is the answer to this ping."""
        self._pings += 1
        token = f"ping-{os.getpid()}-{self._pings}"
        self.send("/diffhost/ping", token)
        m = self.wait_for(lambda m: m[0] == "/diffhost/pong" and m[1][1:2] == [token], timeout)
        return str(m[1][0])

    def render(
        self,
        prompt: str = "",
        length_s: float = 0.0,
        seed: int = -1,
        preset: str = "",
        *,
        token: int = 0,
        timeout: float = 600.0,
        on_progress: Callable[[int, float], None] | None = None,
    ) -> RenderOutcome:
        """Ask for a render and wait for its end (accepted -> progress -> done).

        token (1..2^31-1) comes back at the end of the job's events: a client that hears other
        clients' jobs too (a subscriber) picks out its own by it.
        """
        args: list[Any] = [prompt, float(length_s), int(seed)]
        if preset or token:
            args.append(preset)
        if token:
            args.append(int(token))
        self.send("/diffhost/render", *args)
        first = self.wait_for(
            lambda m: (
                m[0] == "/diffhost/job/accepted"
                or (m[0] == "/diffhost/error" and m[1][:1] == ["/diffhost/render"])
            ),
            timeout=min(10.0, timeout),  # "accepted" comes at once when diffhost runs
        )
        if first[0] == "/diffhost/error":
            return RenderOutcome("rejected", message=str(first[1][1]))
        job = int(first[1][0])
        ends = {"/diffhost/job/done", "/diffhost/job/error", "/diffhost/job/cancelled"}
        deadline = time.monotonic() + timeout
        while True:
            m = self.wait_for(
                lambda m: m[0] in ends | {"/diffhost/job/progress"} and m[1][:1] == [job],
                timeout=max(0.0, deadline - time.monotonic()),
            )
            if m[0] == "/diffhost/job/progress":
                if on_progress is not None:
                    on_progress(job, float(m[1][1]))
                continue
            if m[0] == "/diffhost/job/done":
                a = m[1]
                return RenderOutcome(
                    "done",
                    job,
                    Path(a[1]),
                    float(a[2]),
                    int(a[3]),
                    extra_paths=tuple(Path(p) for p in a[4:] if isinstance(p, str)),  # not the token
                )
            if m[0] == "/diffhost/job/error":
                return RenderOutcome("error", job, message=str(m[1][1]))
            return RenderOutcome("cancelled", job, message="cancelled")


# -- command line ------------------------------------------------------------------------------
def _typed(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _write_result(path: Path, fields: dict[str, Any]) -> None:
    """key=value lines (easy to read from Lua), written atomically so a poller never sees half."""
    body = "".join(f"{k}={str(v).replace(chr(10), ' ')}\n" for k, v in fields.items())
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m diffhost.osc.client", description="Talk to a diffhost OSC server."
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=12000)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("ping", help="check the server answers")
    r = sub.add_parser("render", help="render and wait; prints path, length and sample rate")
    r.add_argument("prompt", nargs="?", default="")
    r.add_argument("--prompt-file", type=Path, help="read the prompt from this UTF-8 file (no shell quoting)")
    r.add_argument("--length", type=float, default=0.0, help="seconds (0 = the session's)")
    r.add_argument("--seed", type=int, default=-1, help="-1 = the session's (random unless set)")
    r.add_argument("--preset", default="")
    r.add_argument("--timeout", type=float, default=600.0)
    r.add_argument("--result-file", type=Path, help="also write status/path/length_s/sample_rate lines here")
    s = sub.add_parser("send", help="send one message and print the answers for a moment")
    s.add_argument("address")
    s.add_argument("args", nargs="*")
    s.add_argument("--wait", type=float, default=0.5, help="seconds to print answers for")
    ls = sub.add_parser("listen", help="subscribe and print every event until Ctrl-C")
    ls.add_argument("--listen-port", type=int, default=0)
    a = p.parse_args(argv)

    try:
        with DiffhostClient(a.host, a.port, listen_port=getattr(a, "listen_port", 0)) as c:
            if a.cmd == "ping":
                print(f"diffhost {c.ping()} at {a.host}:{a.port}")
                return 0
            if a.cmd == "render":
                if a.prompt_file:
                    a.prompt = a.prompt_file.read_text(encoding="utf-8").strip()
                res = c.render(a.prompt, a.length, a.seed, a.preset, timeout=a.timeout)
                fields = {"status": res.status, "job": res.job}
                if res.ok:
                    fields.update(path=res.path, length_s=res.length_s, sample_rate=res.sample_rate)
                    print(f"{res.path}\t{res.length_s:g} s\t{res.sample_rate} Hz")
                else:
                    fields["message"] = res.message
                    print(f"render {res.status}: {res.message}", file=sys.stderr)
                if a.result_file:
                    _write_result(a.result_file, fields)
                return 0 if res.ok else 1
            if a.cmd == "send":
                c.send(a.address, *[_typed(x) for x in a.args])
                end = time.monotonic() + a.wait
                while (left := end - time.monotonic()) > 0:
                    try:
                        addr, args = c.receive(left)
                    except OscTimeout:
                        break
                    print(addr, *args)
                return 0
            c.send("/diffhost/subscribe", c.local_address[1])
            while True:
                try:
                    addr, args = c.receive(3600)
                except OscTimeout:
                    continue
                print(addr, *args, flush=True)
    except OscTimeout as exc:
        print(f"diffhost: {exc}; is `diffhost serve` running?", file=sys.stderr)
        if getattr(a, "result_file", None):
            _write_result(a.result_file, {"status": "error", "message": str(exc)})
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"diffhost: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
