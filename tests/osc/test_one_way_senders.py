"""Answers and errors reach a client that cannot listen on its sending port
(liblo's oscsend, Max [udpsend], REAPER) at the listener it subscribed on its host; a client
subscribed at its own sending address still hears each thing once. Real UDP throughout."""

from __future__ import annotations

import socket
import struct

import pytest
from osc_helpers import osc_string

from diffhost import __version__
from diffhost.osc.client import DiffhostClient, OscTimeout, build


class OneWaySender:
    """Sends from a socket it never reads, as oscsend and [udpsend] do."""

    def __init__(self, port: int):
        self.server = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def send(self, address: str, *args) -> None:
        self.sock.sendto(build(address, *args), self.server)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def one_way(server):
    s = OneWaySender(server.address[1])
    yield s
    s.close()


@pytest.fixture
def listener(server, one_way):
    """The one-way sender's listener: a separate socket on the same host, subscribed by the sender."""
    with DiffhostClient("127.0.0.1", server.address[1]) as ear:
        one_way.send("/diffhost/subscribe", ear.local_address[1])
        assert ear.wait_for(lambda m: m[0] == "/diffhost/subscribed")[1] == [
            "127.0.0.1",
            ear.local_address[1],
        ]
        yield ear


def test_one_way_sender_hears_its_error_at_its_listener(one_way, listener, session):
    before = session.params
    one_way.send("/diffhost/param/set", "temperature", 9.5)
    addr, args = listener.wait_for(lambda m: m[0] == "/diffhost/error")
    assert args == ["/diffhost/param/set", "temperature: 9.5 is out of range; valid is 0.0..4.0"]
    assert session.params == before
    one_way.send_raw(b"garbage")  # not even OSC: the error still finds the listener
    addr, args = listener.wait_for(lambda m: m[0] == "/diffhost/error")
    assert args[0] == "" and "not an OSC packet" in args[1]


def test_one_way_sender_hears_direct_answers(one_way, listener, session):
    one_way.send("/diffhost/ping", "tok-1")
    assert listener.wait_for(lambda m: m[0] == "/diffhost/pong") == ("/diffhost/pong", [__version__, "tok-1"])
    one_way.send("/diffhost/param/get", "temperature")
    assert listener.wait_for(lambda m: m[0] == "/diffhost/param") == (
        "/diffhost/param",
        ["temperature", pytest.approx(session.params.temperature)],
    )
    one_way.send("/diffhost/status")
    assert listener.wait_for(lambda m: m[0] == "/diffhost/status")[1][:2] == [__version__, 1]
    one_way.send("/diffhost/cancel", -1)  # nothing queued: still answered
    assert listener.wait_for(lambda m: m[0] == "/diffhost/cancelled")[1] == [-1, 0]


def test_one_way_render_with_token_is_followed_at_the_listener(one_way, listener):
    one_way.send("/diffhost/render", "rim", 0.5, 3, "", 4242)
    accepted = listener.wait_for(lambda m: m[0] == "/diffhost/job/accepted")[1]
    assert accepted[1:] == [4242]
    job = accepted[0]
    done = listener.wait_for(lambda m: m[0] == "/diffhost/job/done" and m[1][0] == job, timeout=60)[1]
    assert done[-1] == 4242 and done[1].endswith(".wav") and done[3] == 44100
    progress = [m for m in listener.backlog if m[0] == "/diffhost/job/progress" and m[1][0] == job]
    assert progress and all(m[1][2] == 4242 for m in progress)
    one_way.send("/diffhost/render", "rim", 700.0, -1, "", 4243)  # refused: the token says whose
    refused = listener.wait_for(lambda m: m[0] == "/diffhost/error")[1]
    assert refused[0] == "/diffhost/render" and refused[1].startswith("length_s: 700") and refused[2] == 4243


def test_subscribed_at_its_own_address_hears_each_thing_once(client, session):
    client.request("/diffhost/subscribe", client.local_address[1], expect="/diffhost/subscribed")
    client.send("/diffhost/ping", "once")
    client.send("/diffhost/param/set", "temperature", 9.5)
    client.send("/diffhost/param/set", "temperature", 0.5)
    client.send("/diffhost/cancel", -1)
    got = []
    with pytest.raises(OscTimeout):
        while True:
            got.append(client.receive(timeout=0.5))
    names = [m[0] for m in got]
    assert names.count("/diffhost/pong") == 1
    assert names.count("/diffhost/error") == 1
    assert got.count(("/diffhost/param", ["temperature", 0.5])) == 1
    assert names.count("/diffhost/cancelled") == 1


def test_answers_go_to_the_senders_host_only(server):
    # no listener on the sender's host: it also hears its answers at --reply-port there (AbletonOSC)
    assert server.subscribers.answer_to(("127.0.0.1", 5)) == (("127.0.0.1", 5), ("127.0.0.1", 12001))
    assert server.subscribers.answer_to(("127.0.0.1", 12001)) == (("127.0.0.1", 12001),)
    server.subscribers.add(("127.0.0.1", 7))
    server.subscribers.add(("10.0.0.9", 7))
    assert server.subscribers.answer_to(("127.0.0.1", 5)) == (("127.0.0.1", 5), ("127.0.0.1", 7))
    assert server.subscribers.answer_to(("127.0.0.1", 7)) == (("127.0.0.1", 7),)


def test_literal_datagram_from_oscsend(one_way, listener):
    # What `oscsend localhost PORT /diffhost/param/set sf temperature 9.5` puts on the wire.
    one_way.send_raw(
        osc_string("/diffhost/param/set")
        + osc_string(",sf")
        + osc_string("temperature")
        + struct.pack(">f", 9.5)
    )
    assert "out of range" in listener.wait_for(lambda m: m[0] == "/diffhost/error")[1][1]
