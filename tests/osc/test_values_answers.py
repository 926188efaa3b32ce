"""Values as documented and answers where DAW users expect them, over real UDP: liblo's oscsend
and oscdump (Debian liblo-tools) are the peer for the AbletonOSC-style reply port."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from diffhost.osc.client import DiffhostClient
from diffhost.osc.server import OscConfig, OscServer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "osc.md"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _error(client: DiffhostClient, address: str) -> str:
    return client.wait_for(lambda m: m[0] == "/diffhost/error" and m[1][:1] == [address])[1][1]


def test_numbers_come_back_typed_and_empty_clears_where_documented(client, session):
    m = client.request("/diffhost/param/set", "bpm", 120.0, expect="/diffhost/param")
    assert m[1] == ["bpm", 120.0]  # a float, not the string "120.0"
    assert session.params.bpm == 120.0
    m = client.request("/diffhost/param/get", "bpm", expect="/diffhost/param")
    assert m[1] == ["bpm", 120.0]
    m = client.request("/diffhost/param/set", "bpm", "", expect="/diffhost/param")
    assert m[1] == ["bpm", -1.0] and session.params.bpm is None  # "" clears; unset travels as -1
    client.request("/diffhost/param/set", "bpm", 90, expect="/diffhost/param")
    client.request("/diffhost/param/set", "bpm", -1, expect="/diffhost/param")
    assert session.params.bpm is None  # -1 unsets too, as for every unset number
    client.request("/diffhost/param/set", "steps", 12, expect="/diffhost/param")
    m = client.request("/diffhost/param/set", "steps", "", expect="/diffhost/param")
    assert m[1] == ["steps", -1] and session.params.steps is None
    with pytest.raises(ValueError, match=r'temperature: expected a number, got string'):
        client.request("/diffhost/param/set", "temperature", "", expect="/diffhost/param")


@pytest.mark.parametrize("seed", [9007199254740993, 2**63 - 1, 2**53 + 1, 0])
def test_int64_seeds_are_exact_end_to_end(client, session, seed):
    m = client.request("/diffhost/param/set", "seed", seed, expect="/diffhost/param")
    assert m[1] == ["seed", seed]  # sent as OSC h, answered as h, every digit kept
    assert session.params.seed == seed
    assert session.build_request().seed == seed
    m = client.request("/diffhost/param/get", "seed", expect="/diffhost/param")
    assert m[1] == ["seed", seed]
    with pytest.raises(ValueError, match=r"seed: 9223372036854775808 is out of range"):
        session.set_param("seed", 2**63)


def test_errors_name_the_parameter_sent_and_print_values_as_typed(client, session):
    before = session.params
    client.send("/diffhost/param/set", "tempo", 19.0)
    assert _error(client, "/diffhost/param/set") == "tempo: 19.0 is out of range; valid is 20..999 bpm"
    client.send("/diffhost/param/set", "quantize", 65.0)
    assert _error(client, "/diffhost/param/set").startswith("quantize: 65.0 is out of range")
    client.send("/diffhost/param/set", "sample_rate", 44100.5)
    assert _error(client, "/diffhost/param/set") == "sample_rate: expected a whole number, got 44100.5"
    client.send("/diffhost/param/set", "temperature", 4.1)  # float32 4.1 is 4.099999904632568
    assert _error(client, "/diffhost/param/set").startswith("temperature: 4.1 is out of range")
    client.send("/diffhost/tempo", 1000.7)
    assert _error(client, "/diffhost/tempo") == "bpm: 1000.7 is out of range; valid is 20..999 bpm"
    assert session.params == before
    m = client.request("/diffhost/param/set", "length", 0.3, expect="/diffhost/param")
    assert m[1][0] == "length" and session.params.length == 0.3  # stored as typed, not 0.30000001192...


def test_a_finished_jobs_cancel_is_answered_with_its_state(client, session):
    job = client.render("short click", 0.3, seed=5, timeout=300).job
    client.send("/diffhost/cancel", job)
    assert client.wait_for(lambda m: m[0] == "/diffhost/cancelled")[1] == [job, 0, "done"]
    client.send("/diffhost/cancel", 999_999)  # never a job here: still an error with the reason
    assert "is not a job of this session" in _error(client, "/diffhost/cancel")


def test_no_argument_addresses_take_a_buttons_value(client):
    for value in (1, 1.0, 0, 0.0, True, False):
        client.send("/diffhost/seed/clear", value)
        assert client.wait_for(lambda m: m[0] == "/diffhost/seed")[1] == [0.0]
        client.send("/diffhost/status", value)
        assert client.wait_for(lambda m: m[0] == "/diffhost/status")[1][4] == "none"
    client.send("/diffhost/seed/clear", "now")
    assert "value: expected a number or a boolean" in _error(client, "/diffhost/seed/clear")
    client.send("/diffhost/seed/clear", 1, 2)
    assert "a button's value (1 acts, 0 is ignored)" in _error(client, "/diffhost/seed/clear")


def test_midi_learn_is_refused_with_a_reason_without_a_midi_input(session, dirs):
    from diffhost.host.live.rig import LiveRig

    live = LiveRig(session)
    server = OscServer(session, OscConfig(port=0, folders=(dirs["audio"],)), live=live).start()
    try:
        with DiffhostClient("127.0.0.1", server.address[1]) as c:
            c.send("/diffhost/midi/learn", "pad", 3)
            assert "no MIDI input is open" in _error(c, "/diffhost/midi/learn")
            assert live.router.learning is None
            m = c.request("/diffhost/midi/learn", "cancel", expect="/diffhost/midi/learn")
            assert m[1] == ["cancel", 0]
    finally:
        server.stop()
        live.close()


@pytest.fixture
def reply_port_server(session, dirs):
    port = _free_udp_port()
    with OscServer(session, OscConfig(port=0, reply_port=port, folders=(dirs["audio"],))) as srv:
        yield srv, port


def _oscdump(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(["oscdump", "-L", str(port)], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)  # let it bind
    return proc


def _dumped(proc: subprocess.Popen, wait: float = 1.0) -> list[str]:
    time.sleep(wait)
    proc.terminate()
    out, _ = proc.communicate(timeout=5)
    # oscdump prints "<timetag> <address> <types> <values>" per message
    return [line.partition(" ")[2] for line in out.splitlines() if " /diffhost" in line]


@pytest.mark.skipif(shutil.which("oscsend") is None, reason="liblo-tools (oscsend, oscdump) is not installed")
def test_an_unsubscribed_oscsend_hears_its_answers_at_the_reply_port(reply_port_server):
    server, port = reply_port_server
    dump = _oscdump(port)
    try:
        target = ["oscsend", "127.0.0.1", str(server.address[1])]
        subprocess.run([*target, "/diffhost/tempo", "f", "19"], check=True, timeout=10)
        subprocess.run([*target, "/diffhost/ping", "s", "hello"], check=True, timeout=10)
        subprocess.run([*target, "/diffhost/param/set", "sf", "temperature", "0.7"], check=True, timeout=10)
    finally:
        lines = _dumped(dump)
    assert any(re.match(r'/diffhost/error ss "/diffhost/tempo" "bpm: 19.0 is out of range', x) for x in lines), lines
    assert any(x.startswith("/diffhost/pong s") and '"hello"' in x for x in lines), lines
    assert sum(x.startswith('/diffhost/param sf "temperature" 0.7') for x in lines) == 1, lines
    assert len(lines) == 3, lines  # each answered exactly once there


def test_tempo_without_audio_names_the_device_and_bad_values_name_the_argument(client):
    """Without audio the refusal names the missing device; a bad value names the argument first."""
    client.send("/diffhost/tempo", 120.0)
    assert _error(client, "/diffhost/tempo") == "audio: no audio device is open in this session"
    client.send("/diffhost/tempo", 10.0)
    assert _error(client, "/diffhost/tempo").startswith("bpm: 10.0 is out of range")


def test_docs_give_the_default_models_ranges_from_the_model(engine):
    """docs/osc.md's ranges for the default model are the model's own (checked, not prose)."""
    info = engine.load(None).info
    text = DOCS.read_text()
    span = r"(\d+(?:\.\d+)?\.\.\d+(?:\.\d+)?) s"
    found = re.findall(r"the default model: " + span, text)
    found += re.findall(span + r" for the default model", text)
    found += re.findall(r"model diffhost-default \([A-Za-z]+\); valid is " + span, text)
    assert len(found) >= 3, "docs/osc.md no longer states the default model's length range"
    wanted = f"{info.min_length_s:g}..{info.max_length_s:g}"
    assert set(found) == {wanted}, f"docs/osc.md says {sorted(set(found))}; the model says {wanted} s"
    longest = re.findall(r"longest length \((\d+(?:\.\d+)?) s for the default model\)", text)
    longest += re.findall(r"seed clip trimmed to its first (\d+(?:\.\d+)?) s of", text)
    assert longest and set(longest) == {f"{info.max_length_s:g}"}, longest
    example = re.search(r"`/diffhost/param/set length (\d+)` with the default model", text)
    assert example and float(example[1]) > info.max_length_s  # the refusal example is still refused
