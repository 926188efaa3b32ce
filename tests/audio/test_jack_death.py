"""The audio server can go away: kill the JACK dummy server under a running `diffhost serve` (a
real process, on its own JACK server), then quit it. It says so in plain words (stderr, OSC), keeps
rendering and answering OSC, saves the pads as the last kit, and quits on SIGTERM instead of
hanging in sounddevice's stop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from diffhost.osc.client import DiffhostClient
from tests.jackd import doomed_jackd, free_udp_port, kill_jackd_under, quit_by_sigterm

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def doomed_jack(tmp_path):
    """A JACK dummy server of this test's own, which the test kills."""
    with doomed_jackd(tmp_path, "serve") as server:
        yield server


def test_serve_survives_the_jack_server_dying_and_still_quits(doomed_jack, tmp_path):
    name, jackd = doomed_jack
    port, reply = free_udp_port(), free_udp_port()
    music = tmp_path / "music"
    music.mkdir()
    sf.write(music / "hit.wav", np.full((4800, 1), 0.25, np.float32), 48000, subtype="FLOAT")
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        JACK_DEFAULT_SERVER=name,
        JACK_NO_START_SERVER="1",
        DIFFHOST_CONFIG_DIR=str(tmp_path / "config"),
    )
    cmd = [sys.executable, "-m", "diffhost.cli", "serve", "--port", str(port), "--reply-port", str(reply)]
    cmd += ["--renders", str(tmp_path / "renders"), "--audio-dir", str(music), "--sample-rate", "48000"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
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
