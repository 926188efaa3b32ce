"""`diffhost serve` as a user runs it: a real process, real UDP, Ctrl-C to stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from diffhost import __version__
from diffhost.osc.client import DiffhostClient, OscTimeout

ROOT = Path(__file__).resolve().parents[2]


def serve(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "diffhost.cli", "serve", *args],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_open_bind_without_allow_list_is_refused_before_anything_starts(tmp_path):
    proc = serve("--bind", "0.0.0.0", "--no-audio", "--renders-dir", str(tmp_path / "r"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "diffhost: error: bind: listening on 0.0.0.0 lets other machines reach diffhost" in err
    assert "--allow" in err and "Traceback" not in err


def test_port_in_use_names_the_port(tmp_path):
    """Given with the earlier spellings (--port, --renders), still accepted: the port is the one used."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        proc = serve("--port", str(port), "--no-audio", "--renders", str(tmp_path / "r"))
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--osc-port" in err and "Traceback" not in err


def test_serve_renders_over_osc_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    renders = tmp_path / "renders"
    proc = serve("--osc-port", str(port), "--no-audio", "--renders-dir", str(renders))
    try:
        with DiffhostClient("127.0.0.1", port) as c:
            deadline = time.monotonic() + 120  # model load
            while True:
                try:
                    assert c.ping(timeout=1) == __version__
                    break
                except OscTimeout:
                    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                    assert time.monotonic() < deadline, "serve did not answer within 120 s"
            done = c.render("open hat", 0.5, 11)
            assert done.ok, done.message
            assert done.path.parent == renders.resolve() and done.path.is_file()
            assert done.path.with_name(done.path.name + ".json").is_file()
            c.send("/diffhost/slot/1/play")
            assert c.wait_for(lambda m: m[0] == "/diffhost/error")[1] == [
                "/diffhost/slot/1/play",
                "audio: no audio device is open in this session",
            ]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"diffhost OSC listening on 127.0.0.1:{port}" in err
    assert "audio: off (--no-audio)" in err
    assert "served " in err and "Traceback" not in err


def test_sigterm_while_the_model_loads_ends_through_the_cleanup(tmp_path):
    """A service manager's (or a script's) SIGTERM that arrives while the model is still loading
    ends `serve` as Ctrl-C does: the cleanup runs (the OSC summary is printed, pads would be saved
    as the last kit) and the exit is 0, not a kill by signal with nothing saved."""
    port = free_port()
    proc = serve("--osc-port", str(port), "--no-audio", "--renders-dir", str(tmp_path / "renders"))
    said = []
    while not any("loading model" in line for line in said):
        line = proc.stderr.readline()
        assert line, f"serve ended before loading: {''.join(said)}"
        said.append(line)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, "".join(said) + err
    assert "served 0 messages" in err and "Traceback" not in err, err
