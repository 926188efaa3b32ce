"""Who may talk to the server, and bounded floods."""

from __future__ import annotations

import socket

import pytest

from diffhost.engine.engine import Engine
from diffhost.host.session import Session
from diffhost.osc.client import DiffhostClient, build
from diffhost.osc.server import OscConfig, OscServer


def test_open_bind_needs_an_allow_list(session):
    with pytest.raises(ValueError, match=r"listening on 0\.0\.0\.0 lets other machines reach diffhost"):
        OscServer(session, OscConfig(host="0.0.0.0", port=0))
    with pytest.raises(ValueError, match="is not an IP address or network"):
        OscServer(session, OscConfig(host="0.0.0.0", port=0, allow=("studio-mac.local",)))
    with pytest.raises(ValueError, match="is not an IP address"):
        OscConfig(host="example.com")
    with pytest.raises(ValueError, match="port: 70000 is not a UDP port"):
        OscConfig(port=70000)


def _from(source_ip: str, port: int, data: bytes, timeout: float = 0.5) -> bytes | None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((source_ip, 0))
        s.settimeout(timeout)
        s.sendto(data, ("127.0.0.1", port))
        try:
            return s.recvfrom(65536)[0]
        except TimeoutError:
            return None
    finally:
        s.close()


def test_clients_not_on_the_allow_list_are_ignored_and_counted(session):
    config = OscConfig(host="0.0.0.0", port=0, allow=("127.0.0.3", "10.20.0.0/16"))
    with OscServer(session, config) as server:
        port = server.address[1]
        ping = build("/diffhost/ping")
        assert _from("127.0.0.1", port, ping) is not None  # this machine
        assert _from("127.0.0.3", port, ping) is not None  # allow-listed address
        before = server.stats.ignored
        assert _from("127.0.0.2", port, ping) is None  # not allowed: no answer at all
        assert _from("127.0.0.2", port, build("/diffhost/param/set", "temperature", 0.1)) is None
        assert server.stats.ignored == before + 2
        assert session.params.temperature == 1.0


def test_render_flood_is_bounded_by_the_queue_and_every_request_answered(dirs):
    engine = Engine(max_queue=4)  # worker not started: the queue fills and stays full
    session = Session(engine, renders_dir=dirs["renders"])
    try:
        with (
            OscServer(session, OscConfig(port=0)) as server,
            DiffhostClient("127.0.0.1", server.address[1]) as c,
        ):
            for i in range(40):
                c.send("/diffhost/render", f"kick {i}", 0.5)
            accepted, refused = [], []
            while len(accepted) + len(refused) < 40:
                addr, args = c.wait_for(lambda m: m[0] in ("/diffhost/job/accepted", "/diffhost/error"))
                (accepted if addr == "/diffhost/job/accepted" else refused).append(args)
            assert len(accepted) == 4 and [a[0] for a in accepted] == [1, 2, 3, 4]
            assert len(refused) == 36
            assert all(
                r[0] == "/diffhost/render" and "render queue is full (4 jobs waiting)" in r[1]
                for r in refused
            )
            assert engine.pending() == 4
            with pytest.raises(TimeoutError):  # nothing else arrives: no duplicates
                c.wait_for(lambda m: m[0] in ("/diffhost/job/accepted", "/diffhost/error"), timeout=0.3)
            c.send("/diffhost/cancel", -1)
            c.ping()  # answered in order: the cancel has been handled
            cancelled = set()
            engine.start()  # the worker drains the cancelled jobs
            while len(cancelled) < 4:
                cancelled.add(c.wait_for(lambda m: m[0] == "/diffhost/job/cancelled")[1][0])
            assert cancelled == {1, 2, 3, 4}
    finally:
        session.close()
        engine.stop()
