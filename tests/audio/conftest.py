"""A real JACK server (dummy driver, paced like hardware) and test clients around diffhost's ports.

    jackd -d dummy -r 48000 -p 128   # started once per test session, under a unique server name

`jack_server` skips the device tests only when jackd cannot start here, with the reason;
with DIFFHOST_REQUIRE_DEVICES=1 (CI) it fails instead. `peer` (a jack-client process) plays
known signals into diffhost's inputs and records its outputs, stamped with the peer's own cycle
clock (cycles x block: jack_peer.py says why not JACK's frame time); `jack_offset` maps diffhost's
own frame counter onto that clock. Both count the same JACK cycles, so the offset is constant.

No test is re-run. When the machine stalls, jackd (-S: synchronous) waits for every client up to
its client timeout, so a late peer or a late diffhost delays a cycle and no sample is lost; what
jackd says about each xrun is in its log (JackServer.log).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

RATE, BLOCK = 48000, 128


def _unavailable(reason: str) -> None:
    if os.environ.get("DIFFHOST_REQUIRE_DEVICES") == "1":
        pytest.fail(f"DIFFHOST_REQUIRE_DEVICES=1 but {reason}")
    pytest.skip(reason)


def _start_jackd(jackd: str, name: str, flags: list[str], log) -> tuple[subprocess.Popen, object]:
    import jack

    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [jackd, "-n", name, "-S", *flags, "-d", "dummy", "-r", str(RATE), "-p", str(BLOCK)],
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


@dataclass(frozen=True)
class JackServer:
    name: str
    process: subprocess.Popen
    log: Path  # jackd's own output: its account of every xrun


# Package scope: the server (synchronous, with a 5 s client timeout) ends with tests/audio. Shared
# with later folders, one slow client of theirs can hold each cycle of the server for up to 5 s; in a
# full CI run a window test sharing it saw its player stay at 0 s for 10 s. tests/gui starts its own.
@pytest.fixture(scope="package")
def jack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JackServer]:
    jackd = shutil.which("jackd")
    if jackd is None:
        _unavailable("jackd is not installed (Debian package jackd2)")
    try:
        import jack  # noqa: F401
    except (ImportError, OSError) as exc:
        _unavailable(f"the JACK client library cannot load: {exc}")
    name = f"dh-live-{os.getpid()}"
    log = tmp_path_factory.mktemp("jack") / "jackd.log"
    # Real-time scheduling where the system allows it (as on stage), else without. -S (synchronous):
    # the server waits for every client each cycle, so on a loaded machine a late Python test
    # client delays a cycle instead of being skipped, and captures stay sample-contiguous.
    # -t: the synchronous server waits up to 5 s for a late client before it gives up on it (and
    # drops its cycle); the default 0.5 s is within reach of a stalled, shared 2-core machine.
    for flags in (["-t", "5000"], ["-t", "5000", "--no-realtime"]):
        proc, client = _start_jackd(jackd, name, flags, log)
        if client is not None:
            break
    else:
        _unavailable(f"jackd did not start: {log.read_text(errors='replace')[-800:]}")
    assert client.samplerate == RATE and client.blocksize == BLOCK
    client.close()
    # PortAudio finds JACK servers when it initializes: point it at ours, then re-scan.
    saved_env = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    from diffhost.host.audio import rescan_devices

    devices = rescan_devices()
    assert any("JACK" in d.hostapi for d in devices), devices
    yield JackServer(name, proc, log)
    import sounddevice as sd

    sd._terminate()  # PortAudio's JACK client must go before its server does
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    for k, v in saved_env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    sd._initialize()  # leave PortAudio usable (without this server) for whatever runs next


class Peer:
    """The test's side of JACK: a jack-client process (jack_peer.py) that plays into diffhost's
    inputs and records diffhost's outputs."""

    def __init__(self, server: str, workdir: Path):
        self.dir = workdir
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("jack_peer.py")), server],
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


@pytest.fixture
def peer(jack_server: JackServer, tmp_path: Path) -> Iterator[Peer]:
    p = Peer(jack_server.name, tmp_path)
    yield p
    p.close()


@pytest.fixture
def audio(jack_server: JackServer, peer: Peer):
    """diffhost's HostAudio on the JACK server (stereo in and out), wired to the test peer."""
    from diffhost.host.audio import open_host_audio

    a = open_host_audio(sample_rate=RATE, block_size=BLOCK, input_channels=2)
    peer.connect()
    yield a
    a.close()


def wait_frames(audio, frames: int, stall: float = 5.0) -> None:
    """Sleep until diffhost's callback has produced `frames` more frames.

    Fails only when the callback makes no progress for `stall` seconds. A deadline for the whole
    wait raced the machine: 3.9 s of audio can take more than 5 s of wall time when a loaded
    machine stretches the synchronous server's cycles, and nothing is wrong with that."""
    target = audio.frames + frames
    seen, last_progress = audio.frames, time.monotonic()
    while (now_frames := audio.frames) < target:
        now = time.monotonic()
        if now_frames != seen:
            seen, last_progress = now_frames, now
        assert now - last_progress < stall, (
            f"the audio callback stopped running: no block for {stall:g} s, {target - now_frames} frames short"
        )
        time.sleep(0.002)


def jack_offset(audio, peer: Peer) -> int:
    """Peer frame minus diffhost frame (both count JACK cycles), measured by playing an impulse into diffhost's input."""
    imp = np.zeros((2, 256), dtype=np.float32)
    imp[:, 0] = 1.0
    start_in = audio._mixer.input_written()
    jack_frame = peer.play(imp)
    wait_frames(audio, 4 * BLOCK)
    n = audio._mixer.input_written() - start_in
    got = audio._mixer.read_input(start_in, n)
    hits = np.flatnonzero(got[:, 0] == 1.0)
    assert hits.size == 1, f"the impulse reached diffhost's input {hits.size} times"
    return jack_frame - (start_in + int(hits[0]))
