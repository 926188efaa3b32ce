"""The one JACK fixture: a real JACK server (dummy driver, paced like hardware) with diffhost's
audio on it and a test peer around its ports, for every folder whose tests need the device
(tests/audio, tests/osc, tests/gui). Each folder's conftest picks the fixture's scope:

    jack_server = jack_server_fixture("package")   # tests/audio: one server for the folder
    jack_server = jack_server_fixture("module")    # folders without an __init__.py

    jackd -d dummy -r 48000 -p 128   # under a unique server name

The readiness probe runs in a subprocess (tests.jackd.start_jackd_apart), so the test process
never opens a JACK client of its own beside PortAudio's, and each server ends with its scope:
PortAudio lets go of it first, and is re-initialized without it for whatever runs next. (libjack
keeps one set of globals per process; a client of a second server beside an earlier server's open
PortAudio stream crashed the whole run.)

`jack_server` skips the device tests only when jackd cannot start here, with the reason; with
DIFFHOST_REQUIRE_DEVICES=1 (CI) it fails instead. `peer` (a jack-client process) plays known
signals into diffhost's inputs and records its outputs, stamped with the peer's own cycle clock
(cycles x block: jack_peer.py says why not JACK's frame time); `jack_offset` maps diffhost's own
frame counter onto that clock. Both count the same JACK cycles, so the offset is constant.

No test is re-run. When the machine stalls, jackd (-S: synchronous) waits for every client up to
its client timeout, so a late peer or a late diffhost delays a cycle and no sample is lost; what
jackd says about each xrun is in its log (JackServer.log).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.jackd import Peer, start_jackd_apart, stop_jackd

RATE, BLOCK = 48000, 128
_servers = itertools.count(1)  # each server of this process gets its own name


def unavailable(reason: str) -> None:
    """Skip with the reason, or fail where devices are required (CI)."""
    if os.environ.get("DIFFHOST_REQUIRE_DEVICES") == "1":
        pytest.fail(f"DIFFHOST_REQUIRE_DEVICES=1 but {reason}")
    pytest.skip(reason)


@dataclass(frozen=True)
class JackServer:
    name: str
    process: subprocess.Popen
    log: Path  # jackd's own output: its account of every xrun


def _serve(tmp_path_factory: pytest.TempPathFactory, tag: str) -> Iterator[JackServer]:
    jackd = shutil.which("jackd")
    if jackd is None:
        unavailable("jackd is not installed (Debian package jackd2)")
    try:
        import jack  # noqa: F401
    except (ImportError, OSError) as exc:
        unavailable(f"the JACK client library cannot load: {exc}")
    name = f"dh-{tag}-{os.getpid()}-{next(_servers)}"
    log = tmp_path_factory.mktemp("jack") / "jackd.log"
    # Real-time scheduling where the system allows it (as on stage), else without. -S (synchronous):
    # the server waits for every client each cycle, so on a loaded machine a late Python test
    # client delays a cycle instead of being skipped, and captures stay sample-contiguous.
    # -t: the synchronous server waits up to 5 s for a late client before it gives up on it (and
    # drops its cycle); the default 0.5 s is within reach of a stalled, shared 2-core machine.
    for flags in (["-t", "5000"], ["-t", "5000", "--no-realtime"]):
        proc = start_jackd_apart(jackd, name, flags, log, RATE, BLOCK)
        if proc is not None:
            break
    else:
        unavailable(f"jackd did not start: {log.read_text(errors='replace')[-800:]}")
    # PortAudio finds JACK servers when it initializes: point it at ours, then re-scan.
    saved_env = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    from diffhost.host.audio import rescan_devices

    devices = rescan_devices()
    assert any("JACK" in d.hostapi for d in devices), devices
    try:
        yield JackServer(name, proc, log)
    finally:
        import sounddevice as sd

        sd._terminate()  # PortAudio's JACK client must go before its server does
        stop_jackd(proc)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        sd._initialize()  # leave PortAudio usable (without this server) for whatever runs next


def jack_server_fixture(scope: str, tag: str = "live"):
    """The JACK server fixture at `scope`: one per folder ("package", where the folder is a
    package) or per test module ("module"). A server shared longer than its folder lets one slow
    client of a later folder hold each cycle for up to 5 s."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload]
    def jack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JackServer]:
        yield from _serve(tmp_path_factory, tag)

    return jack_server


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
