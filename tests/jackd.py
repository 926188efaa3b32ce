"""The JACK pieces both device-test folders start for themselves (tests/audio and tests/gui).

    start_jackd(...)   a jackd with the dummy driver (paced like hardware), or None when it will not start
    Peer(server, dir)  the test's side of JACK: tests/audio/jack_peer.py in its own process
    doomed_jackd(...)  a server the test kills under a running diffhost (kill_jackd_under, quit_by_sigterm)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

PEER_SCRIPT = Path(__file__).parent / "audio" / "jack_peer.py"


def start_jackd(jackd: str, name: str, flags: list[str], log: Path, rate: int = 48000, block: int = 128):
    """(jackd process, a connected probe client) once it answers, else (process, None) after 15 s.

    -S (synchronous): the server waits for every client each cycle, so on a loaded machine a late
    test client delays a cycle instead of being skipped, and captures stay sample-contiguous."""
    import jack

    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [jackd, "-n", name, "-S", *flags, "-d", "dummy", "-r", str(rate), "-p", str(block)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 15
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            return proc, jack.Client("diffhost-probe", servername=name, no_start_server=True)
        except jack.JackError:
            time.sleep(0.1)
    proc.kill()
    proc.wait()
    return proc, None


def start_jackd_apart(jackd: str, name: str, flags: list[str], log: Path, rate: int = 48000, block: int = 128):
    """Like start_jackd, but the readiness probe runs in a subprocess, so this test process never
    opens a JACK client of its own: libjack keeps one set of globals per process, and a client of
    a second server beside PortAudio's (an earlier fixture's) crashes the process. Returns the
    jackd process once it answers, else None (after 15 s, the process killed)."""
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [jackd, "-n", name, "-S", *flags, "-d", "dummy", "-r", str(rate), "-p", str(block)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    probe = (
        "import jack, sys; "
        f"jack.Client('diffhost-probe', servername={name!r}, no_start_server=True).close()"
    )
    deadline = time.monotonic() + 15
    while proc.poll() is None and time.monotonic() < deadline:
        if subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=30).returncode == 0:
            return proc
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    return None


def reclaim(jackd: str, name: str, log: Path) -> None:
    """Free the registry slot of a JACK server that was killed (SIGKILL, a crash): JACK keeps at most
    8 servers in its shared registry and reclaims a dead one's slot only when a server of the same
    name starts. Left behind, every killed test server would use one up, and after eight no jackd
    on the machine would start ("Too many servers already active"). Starts one under that name and
    stops it the orderly way, which unregisters it."""
    proc = start_jackd_apart(jackd, name, ["--no-realtime"], log)
    if proc is not None and proc.poll() is None:
        stop_jackd(proc)


def stop_jackd(proc: subprocess.Popen) -> None:
    """Stop a JACK server the orderly way, which frees its registry slot; kill it after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Peer:
    """The test's side of JACK: a jack-client process (tests/audio/jack_peer.py) that plays into
    diffhost's inputs and records diffhost's outputs."""

    def __init__(self, server: str, workdir: Path):
        self.dir = workdir
        self.proc = subprocess.Popen(
            [sys.executable, str(PEER_SCRIPT), server],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self._read() == "ready"
        self._n = 0

    def _read(self) -> str:
        line = self.proc.stdout.readline().strip()
        assert line and not line.startswith("error"), f"JACK peer: {line or 'exited'}"
        return line

    def _ask(self, line: str) -> str:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._read()

    def _path(self) -> Path:
        self._n += 1
        return self.dir / f"peer-{self._n}.npy"

    def connect(self, client_name: str = "diffhost") -> None:
        self._ask(f"connect {client_name}")

    def play(self, signal: np.ndarray) -> int:
        """Play (channels, samples) into diffhost's inputs from the next cycle; its start, in peer frames."""
        path = self._path()
        np.save(path, np.atleast_2d(signal).astype(np.float32))
        return int(self._ask(f"play {path}").split()[1])

    def connect_midi(self, port: str = "diffhost-midi:in") -> None:
        self._ask(f"connectmidi {port}")

    def send_midi(self, events: np.ndarray) -> int:
        """Send rows [delay, b0, b1, b2] (-1 = no byte) at peer frame base + delay; returns base."""
        path = self._path()
        np.save(path, np.asarray(events, dtype=np.int64))
        return int(self._ask(f"midi {path}").split()[1])

    def start(self) -> None:
        """Start recording diffhost's outputs."""
        self._ask("start")

    def stop(self) -> tuple[np.ndarray, int]:
        """(channels, samples) recorded since start() and the peer frame of its first sample."""
        path = self._path()
        first = int(self._ask(f"stop {path}"))
        return np.load(path), first

    def stop_raw(self) -> tuple[np.ndarray, np.ndarray]:
        """(2, blocks, block) captured and each block's peer frame, gaps and all (for benches)."""
        path = self._path()
        self._ask(f"stopraw {path}")
        return np.load(path), np.load(str(path) + ".stamps.npy")

    def close(self) -> None:
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


# -- a JACK server that dies under a running diffhost (tests/audio: serve; tests/gui: the window) ----
@contextlib.contextmanager
def doomed_jackd(tmp_path: Path, tag: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """(name, process) of a JACK dummy server of the test's own, which the test kills; afterwards
    it is gone and its registry slot reclaimed (a killed server keeps it otherwise)."""
    import pytest

    jackd = shutil.which("jackd")
    if jackd is None:
        pytest.skip("jackd is not installed (Debian package jackd2)")
    name = f"dh-doomed-{tag}-{os.getpid()}"
    log = tmp_path / "jackd.log"
    proc = start_jackd_apart(jackd, name, ["-t", "5000", "--no-realtime"], log)
    if proc is None:
        pytest.fail(f"jackd did not start: {log.read_text(errors='replace')[-800:]}")
    try:
        yield name, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reclaim(jackd, name, log)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_osc(client, app: subprocess.Popen, what: str) -> None:
    """Until `app` (a diffhost process starting up, its model loading) answers a ping: 180 s at most,
    and a process that ended fails at once with its stderr."""
    from diffhost.osc.client import OscTimeout

    deadline = time.monotonic() + 180
    while True:
        try:
            client.ping(timeout=1)
            return
        except OscTimeout:
            assert app.poll() is None, app.stderr.read() if app.stderr else ""
            assert time.monotonic() < deadline, f"{what} did not answer OSC within 180 s"


def kill_jackd_under(client, app: subprocess.Popen, jackd: subprocess.Popen, clip: Path, what: str) -> str:
    """Once `app` (a diffhost process on the doomed server) answers OSC with its audio open, load
    `clip` into pad 1, then SIGKILL the JACK server under it. Returns what diffhost says on
    /diffhost/audio (within 30 s)."""
    wait_for_osc(client, app, what)
    assert client.request("/diffhost/status", expect="/diffhost/status")[1][4] == "open"
    client.request("/diffhost/subscribe", client.local_address[1], expect="/diffhost/subscribed")
    client.send("/diffhost/slot/1/load", str(clip))
    assert client.wait_for(lambda m: m[0] == "/diffhost/slot/1/state", timeout=30)[1] == ["ready"]
    jackd.send_signal(signal.SIGKILL)  # the audio server dies under the running show
    jackd.wait()
    return client.wait_for(lambda m: m[0] == "/diffhost/audio", timeout=30)[1][0]


def quit_by_sigterm(app: subprocess.Popen, what: str) -> tuple[str, str, float]:
    """SIGTERM `app` and wait for it (60 s at most: a hang fails the test). (stdout, stderr, seconds
    it took to quit)."""
    import pytest

    quit_at = time.monotonic()
    app.send_signal(signal.SIGTERM)
    try:
        out, err = app.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        app.kill()
        out, err = app.communicate()
        pytest.fail(f"{what} did not quit after the JACK server died (SIGTERM ignored): {err[-2000:]}")
    return out, err, time.monotonic() - quit_at
