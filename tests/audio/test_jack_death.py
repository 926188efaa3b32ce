"""The audio server can go away: kill the JACK dummy server under a running `diffhost serve` (a
real process, on its own JACK server), then quit it. It says so in plain words (stderr, OSC), keeps
rendering and answering OSC, saves the pads as the last kit, and quits on SIGTERM instead of
hanging in sounddevice's stop."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from diffhost.osc.client import DiffhostClient
from tests.jackd import (
    doomed_jackd,
    free_udp_port,
    kill_jackd_under,
    quit_by_sigterm,
    start_jackd_apart,
    wait_for_osc,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def doomed_jack(tmp_path):
    """A JACK dummy server of this test's own, which the test kills."""
    with doomed_jackd(tmp_path, "serve") as server:
        yield server


def _serve(name: str, tmp_path: Path, music: Path, port: int, reply: int) -> subprocess.Popen:
    """`diffhost serve` as a real process on the JACK server `name`, its pads reading from `music`."""
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        JACK_DEFAULT_SERVER=name,
        JACK_NO_START_SERVER="1",
        DIFFHOST_CONFIG_DIR=str(tmp_path / "config"),
    )
    cmd = [sys.executable, "-m", "diffhost.cli", "serve", "--port", str(port), "--reply-port", str(reply)]
    cmd += ["--renders", str(tmp_path / "renders"), "--audio-dir", str(music), "--sample-rate", "48000"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_serve_survives_the_jack_server_dying_and_still_quits(doomed_jack, tmp_path):
    name, jackd = doomed_jack
    port, reply = free_udp_port(), free_udp_port()
    music = tmp_path / "music"
    music.mkdir()
    sf.write(music / "hit.wav", np.full((4800, 1), 0.25, np.float32), 48000, subtype="FLOAT")
    proc = _serve(name, tmp_path, music, port, reply)
    try:
        with DiffhostClient("127.0.0.1", port) as c:
            said = kill_jackd_under(c, proc, jackd, music / "hit.wav", "serve")
            assert "went away" in said and "Renders and OSC keep working" in said, said
            assert c.request("/diffhost/status", expect="/diffhost/status")[1][4] == "lost"
            c.send("/diffhost/slot/1/play")
            err = c.wait_for(lambda m: m[0] == "/diffhost/error", timeout=10)[1]
            assert err[0] == "/diffhost/slot/1/play" and "went away" in err[1]
            c.ping(timeout=5)  # OSC keeps answering
            done = c.render("closed hat", 0.3, 7, timeout=300)  # and renders keep working
            assert done.ok and done.path.is_file(), done.message
    finally:
        out, err, took = quit_by_sigterm(proc, "serve")
    print(f"serve quit {took:.2f} s after SIGTERM with the JACK server gone")
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert "went away" in err  # said in plain words on the console too
    kit = json.loads((tmp_path / "config" / "kits" / "last.json").read_text())
    pad1 = next(p for p in kit["pads"] if p["pad"] == 1)
    assert pad1["clip"] == str((music / "hit.wav").resolve())  # the pads were saved


def _tone(freq: float = 1000.0, seconds: float = 0.2, amp: float = 0.5, rate: int = 48000) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _assert_tone(out: np.ndarray, what: str, freq: float = 1000.0, amp: float = 0.5, rate: int = 48000) -> None:
    """The capture holds the pad's tone: its level (centre pan plays unity on both sides) and pitch."""
    left = out[0]
    sounding = np.flatnonzero(np.abs(left) > 0.01)
    assert sounding.size > 0.15 * rate, f"{what}: no tone arrived at the JACK capture client"
    part = left[sounding[0] : sounding[-1] + 1]
    assert abs(float(np.max(np.abs(part))) - amp) < 0.05, (what, float(np.max(np.abs(part))))
    spectrum = np.abs(np.fft.rfft(part * np.hanning(part.size)))
    peak_hz = float(np.argmax(spectrum)) * rate / part.size
    assert abs(peak_hz - freq) < 10, (what, peak_hz)


def _hit(c: DiffhostClient, slot: int, trigger: Callable[[], object]) -> None:
    """Trigger the pad and wait for it to start and end (its pushed states), so the capture holds
    the whole hit. Earlier states are dropped first: only this hit's count."""
    c.backlog.clear()
    trigger()
    address = f"/diffhost/slot/{slot}/state"
    c.wait_for(lambda m: m[0] == address and m[1][:1] == ["playing"], timeout=30)
    c.wait_for(lambda m: m[0] == address and m[1][:1] == ["ready"], timeout=30)


def test_pads_and_jack_midi_come_back_when_the_jack_server_returns(doomed_jack, tmp_path):
    """Kill the JACK server under a running `serve`, start it again with the same name: in the same
    run the pads play again (a pad triggered over OSC arrives at a JACK capture client, real
    samples) and the JACK MIDI port is back (a real JACK MIDI note plays the pad)."""
    from tests.jackd import Peer

    name, jackd = doomed_jack
    port, reply = free_udp_port(), free_udp_port()
    music = tmp_path / "music"
    music.mkdir()
    sf.write(music / "tone.wav", _tone(), 48000, subtype="FLOAT")
    proc = _serve(name, tmp_path, music, port, reply)
    again = None
    peer = None
    try:
        with DiffhostClient("127.0.0.1", port) as c:
            wait_for_osc(c, proc, "serve")
            c.request("/diffhost/subscribe", c.local_address[1], expect="/diffhost/subscribed")
            c.send("/diffhost/slot/1/load", str(music / "tone.wav"))
            assert c.wait_for(lambda m: m[0] == "/diffhost/slot/1/state", timeout=30)[1] == ["ready"]

            jackd.send_signal(signal.SIGKILL)  # the audio server dies under the running show
            jackd.wait()
            said = c.wait_for(lambda m: m[0] == "/diffhost/audio", timeout=30)[1][0]
            assert "went away" in said, said
            assert c.request("/diffhost/status", expect="/diffhost/status")[1][4] == "lost"

            jackd_bin = shutil.which("jackd")
            again = start_jackd_apart(jackd_bin, name, ["-t", "5000", "--no-realtime"], tmp_path / "jackd2.log")
            assert again is not None, (tmp_path / "jackd2.log").read_text(errors="replace")[-800:]
            back = c.wait_for(lambda m: m[0] == "/diffhost/audio" and "is back" in m[1][0], timeout=60)[1][0]
            assert "the pads play again" in back, back
            assert c.request("/diffhost/status", expect="/diffhost/status")[1][4] == "open"
            midi = c.wait_for(lambda m: m[0] == "/diffhost/audio" and "MIDI" in m[1][0], timeout=30)[1][0]
            assert "diffhost-midi:in" in midi, midi

            peer = Peer(name, tmp_path)
            peer.connect("PortAudio")  # serve's stream: PortAudio's JACK client
            peer.start()
            _hit(c, 1, lambda: c.send("/diffhost/slot/1/play"))  # in the same run, on the returned server
            out, _first = peer.stop()
            _assert_tone(out, "OSC pad after the server returned")

            peer.connect_midi("diffhost-midi:in")
            peer.start()
            _hit(c, 1, lambda: peer.send_midi(np.array([[0, 0x90, 36, 127], [2000, 0x80, 36, 0]])))  # note 36: pad 1
            out, _first = peer.stop()
            _assert_tone(out, "JACK MIDI note after the server returned")
            assert c.render("closed hat", 0.3, 7, timeout=300).ok  # renders too (and the model is in)
    finally:
        if peer is not None:
            peer.close()
        proc.send_signal(signal.SIGTERM)
        try:
            out_text, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out_text, err = proc.communicate()
            pytest.fail(f"serve did not quit after the JACK server came back: {err[-2000:]}")
        if again is not None and again.poll() is None:
            again.terminate()  # the orderly way: it leaves JACK's server registry clean
            try:
                again.wait(timeout=30)
            except subprocess.TimeoutExpired:
                again.kill()  # the fixture's reclaim then frees its registry slot
                again.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert "is back" in err  # said in plain words on the console too
