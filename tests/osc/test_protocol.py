"""Literal datagrams over real UDP: answers, errors and nothing changed."""

from __future__ import annotations

import struct

import pytest
from osc_helpers import osc_string

from diffhost import __version__
from diffhost.osc.client import build

ERR = "/diffhost/error"


def error_for(client, address: str, timeout: float = 2.0) -> str:
    addr, args = client.wait_for(lambda m: m[0] == ERR and m[1][:1] == [address], timeout)
    return args[1]


def test_ping_literal_datagram(client):
    client.send_raw(osc_string("/diffhost/ping") + osc_string(","))
    assert client.receive() == ("/diffhost/pong", [__version__])
    client.send_raw(osc_string("/diffhost/ping"))  # no type tag string at all: still a valid message
    assert client.receive()[0] == "/diffhost/pong"


def test_status_reports_counters(client, server):
    client.send("/diffhost/nope")
    error_for(client, "/diffhost/nope")
    client.send("/diffhost/status")
    addr, args = client.wait_for(lambda m: m[0] == "/diffhost/status")
    assert args == [__version__, 0, 0, 1, "none"]


@pytest.mark.parametrize(
    "address,args,needle",
    [
        ("/diffhost/nope", [], "unknown address"),
        ("/diffhost/param/set", ["temperature"], "expected s:name value"),
        ("/diffhost/param/set", ["temperature", "hot"], "temperature: expected a number, got string"),
        ("/diffhost/param/set", ["temperature", 9.5], "temperature: 9.5 is out of range; valid is 0.0..4.0"),
        ("/diffhost/param/set", ["steps", 2.5], "steps: expected a whole number, got 2.5"),
        ("/diffhost/param/set", ["length", True], "length: expected a number, got bool"),
        ("/diffhost/param/set", ["volume", 1.0], "unknown parameter 'volume'"),
        ("/diffhost/param/set", [3, 1.0], "name: expected a string, got int"),
        ("/diffhost/param/get", ["nope"], "unknown parameter 'nope'"),
        ("/diffhost/render", ["kick", "long"], "length_s: expected a number in 0..600 s, got string"),
        ("/diffhost/render", ["kick", 601.0], "length_s: 601.0 is out of range"),
        ("/diffhost/render", ["kick", 0.01], "length_s: 0.01 is out of range; valid is 0.05..600 s"),
        ("/diffhost/render", ["kick", 1.0, 1.5], "seed: expected a whole number"),
        ("/diffhost/render", ["kick", 1.0, -7], "seed: -7 is out of range"),
        ("/diffhost/render", [5], "prompt: expected a string, got int"),
        ("/diffhost/render", ["kick", 1.0, 1, "p", 7, "extra"], "(0..5 arguments), got 6"),
        ("/diffhost/render", ["kick", 1.0, 1, "", "tok"], "token: expected a whole number in 0..2147483647"),
        ("/diffhost/render", ["kick", 1.0, 1, "nonexistent"], "presets: no preset store in this session"),
        ("/diffhost/cancel", [], "expected i:job"),
        ("/diffhost/cancel", [12345], "job: 12345 is not a job of this session"),
        ("/diffhost/cancel", [0], "ids start at 1"),
        ("/diffhost/subscribe", [70000], "port: 70000 is out of range; valid is 1..65535"),
        ("/diffhost/subscribe", [12001, "8.8.8.8"], "host: '8.8.8.8' is neither the sender"),
        ("/diffhost/unsubscribe", [], "is not subscribed"),
        ("/diffhost/preset/list", [], "presets: no preset store in this session"),
        ("/diffhost/preset/load", ["x"], "presets: no preset store in this session"),
        ("/diffhost/seed/record", [0.0], "seconds: 0.0 is out of range; valid is 0.1..60 s"),
        ("/diffhost/tempo", [0.0], "bpm: 0.0 is out of range; valid is 20..999 bpm"),
        ("/diffhost/quantize", ["1/4"], "beats: expected a number"),
        ("/diffhost/slot/x/play", [], "slot: 'x' is not a slot number"),
        ("/diffhost/slot/1/explode", [], "slot: unknown action 'explode'"),
        ("/diffhost/slot/*/play", [], "slot: '*' is not a slot number"),
        ("/diffhost/*", [], "wildcards"),
        ("/diffhost/slot/1/play", [5.0], "gain: 5.0 is out of range; valid is 0..4"),
    ],
)
def test_bad_messages_get_errors_and_change_nothing(client, session, address, args, needle):
    before = session.params
    client.send(address, *args)
    message = error_for(client, address)
    assert needle in message, message
    assert session.params == before
    assert client.ping() == __version__  # still serving


def test_type_tags_and_values_that_python_osc_cannot_express(client, session):
    before = session.params
    # Unsupported tag (MIDI) and a string claiming more bytes than there are.
    client.send_raw(
        osc_string("/diffhost/param/set") + osc_string(",sm") + osc_string("steps") + b"\x00\x90\x40\x7f"
    )
    assert "unsupported OSC type tag(s) 'm'" in error_for(client, "")
    client.send_raw(osc_string("/diffhost/render") + osc_string(",s") + b"kick")
    assert "malformed OSC message" in error_for(client, "")
    client.send_raw(osc_string("/diffhost/render") + osc_string(",s") + b"\xff\xfe\x00\x00")  # not UTF-8
    assert "malformed OSC message" in error_for(client, "")
    client.send_raw(osc_string("/diffhost/ping") + b"\x00")  # length not a multiple of 4
    assert "multiple of 4" in error_for(client, "")
    client.send_raw(b"\x00\x01garbage")
    assert "not an OSC packet" in error_for(client, "")
    client.send_raw(b"/" + b"a" * 9000)
    assert "datagram is 9001 bytes; the limit is 8192" in error_for(client, "")
    assert session.params == before
    assert session.renders_dir.exists() and not any(session.renders_dir.iterdir())


def test_bundles_run_each_message_and_reject_broken_ones_whole(client, session):
    m1 = build("/diffhost/param/set", "temperature", 0.5)
    m2 = build("/diffhost/param/set", "prompt", "dark tom")
    bundle = b"#bundle\x00" + struct.pack(">Q", 1)
    for m in (m1, m2):
        bundle += struct.pack(">i", len(m)) + m
    client.send_raw(bundle)
    got = {tuple(client.wait_for(lambda m: m[0] == "/diffhost/param")[1]) for _ in range(2)}
    assert got == {("temperature", 0.5), ("prompt", "dark tom")}
    assert session.params.temperature == 0.5 and session.params.prompt == "dark tom"

    broken = b"#bundle\x00" + struct.pack(">Q", 1) + struct.pack(">i", len(m1)) + m1 + struct.pack(">i", 400)
    client.send_raw(broken)
    assert "does not fit the bundle" in error_for(client, "")
    nested = m1
    for _ in range(6):
        nested = b"#bundle\x00" + struct.pack(">Q", 1) + struct.pack(">i", len(nested)) + nested
    client.send_raw(nested)
    assert "nested deeper than 4" in error_for(client, "")


def test_python_osc_udp_client_is_understood(server, client):
    from pythonosc.udp_client import SimpleUDPClient

    # A plain python-osc client sending floats for ints (as TouchOSC and Max do).
    client.send("/diffhost/subscribe", client.local_address[1])
    client.wait_for(lambda m: m[0] == "/diffhost/subscribed")
    SimpleUDPClient("127.0.0.1", server.address[1]).send_message("/diffhost/param/set", ["steps", 12.0])
    assert client.wait_for(lambda m: m[0] == "/diffhost/param")[1] == ["steps", 12]
