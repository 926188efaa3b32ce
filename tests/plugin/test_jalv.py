"""The LV2 in jalv on a JACK dummy server (real time), with the test's JACK peer around it.

The peer (tests/audio/jack_peer.py, its own process) sends MIDI into the plugin and records its
outputs, both stamped with the peer's cycle clock; in one JACK cycle the peer's MIDI, the plugin
and the capture run in graph order, so a note sent at peer frame F sounds at peer frame F.
Clips arrive while it plays (the test's diffhost stand-in sends /bridge/pad/load), and a project's
state.ttl (what an LV2 host saves: host-readable keys under the plugin's URI) is restored by `jalv -l`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.jackd import Peer, reclaim, start_jackd_apart
from tests.plugin.bridge_host import LV2_URI, put_clip, start_jalv, stop_jalv

RATE, BLOCK = 48000, 128


@pytest.fixture
def jack(tmp_path):
    jackd = shutil.which("jackd")
    if jackd is None:
        if os.environ.get("DIFFHOST_REQUIRE_DEVICES") == "1":
            pytest.fail("jackd (jackd2, installed by scripts/setup.sh) is missing")
        pytest.skip("jackd is not installed")
    name = f"dh-bridge-{os.getpid()}-{time.monotonic_ns() % 10**8}"
    # The server is probed and patched from subprocesses (jackd2's jack_connect and friends): libjack
    # keeps one set of globals per process, and a JACK client of this server beside an earlier
    # fixture's PortAudio stream (the window tests' server) crashes the test process.
    proc = start_jackd_apart(jackd, name, ["-t", "10000"], tmp_path / "jackd.log", RATE, BLOCK)
    assert proc is not None, f"jackd did not start: {(tmp_path / 'jackd.log').read_text()[-2000:]}"
    yield name, JackPatchbay(name)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # a killed jalv's half-closed client can keep it waiting
        proc.kill()
        proc.wait()
        reclaim(jackd, name, tmp_path / "jackd.log")  # a killed server keeps its registry slot otherwise


class JackPatchbay:
    """connect / disconnect / list ports of one JACK server through jackd2's command-line clients."""

    def __init__(self, server: str):
        self.env = {**os.environ, "JACK_DEFAULT_SERVER": server, "JACK_NO_START_SERVER": "1"}

    def _run(self, *args: str) -> str:
        done = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, f"{' '.join(args)}: {done.stderr or done.stdout}"
        return done.stdout

    def connect(self, source: str, target: str) -> None:
        self._run("jack_connect", source, target)

    def disconnect(self, source: str, target: str) -> None:
        self._run("jack_disconnect", source, target)

    def port_names(self, prefix: str) -> list[str]:
        return [line.strip() for line in self._run("jack_lsp").splitlines() if line.strip().startswith(prefix)]


def _jalv(server: str, client: str, state_dir: Path | None = None) -> subprocess.Popen:
    if shutil.which("jalv") is None:
        pytest.fail("jalv (Debian jalv, installed by scripts/setup.sh) is missing")
    return start_jalv(server, client, state_dir=state_dir)




def _wire(probe, client: str, outs: tuple[str, str]) -> None:
    probe.connect("dh-source:midi_out", f"{client}:lv2_events_in")
    for port, target in zip(outs, ("dh-capture:in_0", "dh-capture:in_1"), strict=True):
        probe.connect(f"{client}:lv2_{port}", target)


def _play(peer: Peer, notes: list[tuple[int, int, int]], tail: int) -> tuple[np.ndarray, int, int]:
    """Sends (delay, note, velocity) note-ons; returns (recording, its first peer frame, the notes' base)."""
    peer.start()
    rows = np.array([[d, 0x90, n, v] for d, n, v in notes], dtype=np.int64)
    base = peer.send_midi(rows)
    time.sleep((max(d for d, _, _ in notes) + tail) / RATE + 0.5)
    audio, first = peer.stop()
    return audio, first, base


def test_notes_in_real_time_live_clip_delivery_and_state_restore(jack, link, tmp_path):
    server, probe = jack
    plugin = _jalv(server, "bridge")
    peer = None
    try:
        hello = link.wait("/diffhost/plugin/hello", timeout=20)
        assert hello[2] == RATE
        deadline = time.monotonic() + 20  # the plugin says hello as it is made, before jalv's ports exist
        while "bridge:lv2_out_l" not in probe.port_names("bridge"):
            assert time.monotonic() < deadline, "jalv did not register the plugin's ports"
            time.sleep(1)  # gently: JACK drops clients polled too fast
        peer = Peer(server, tmp_path)
        _wire(probe, "bridge", ("out_l", "out_r"))

        # clips delivered while the plugin plays
        clips = {}
        for pad in (1, 2):
            ramp = (np.arange(1, 33, dtype=np.float32) / 32) * np.float32(pad / 2)
            clips[pad] = np.stack([ramp, -ramp], axis=1)
            link.send("/bridge/pad/load", pad, put_clip(link.cache, clips[pad], RATE), f"ramp {pad}", 0)
            loaded = link.wait("/diffhost/plugin/loaded", where=lambda a, p=pad: a[1] == p)
            assert len(loaded[2]) == 64, loaded

        rng = np.random.default_rng(11)
        delays = np.cumsum(rng.integers(40, 600, size=200)) + 2 * BLOCK
        pads = rng.integers(1, 3, size=200)
        vels = rng.integers(1, 128, size=200)
        audio, first, base = _play(
            peer, list(zip(delays.tolist(), (35 + pads).tolist(), vels.tolist(), strict=True)), 4000
        )
        errors = []
        for d, pad, v in zip(delays, pads, vels, strict=True):
            at = base + int(d) - first
            heard = np.flatnonzero(audio[0, at - 8 : at + 32])
            errors.append(int(heard[0]) - 8 if heard.size else None)
            g = (np.float32(v) * np.float32(1 / 127)) ** 2
            np.testing.assert_array_equal(audio[:, at : at + 32], (clips[pad] * g).T)
        assert errors.count(None) == 0 and set(errors) == {0}, f"onset errors: {sorted(set(errors), key=str)}"

        # pad 2's own outputs carry pad 2 alone
        for port in ("out_l", "out_r"):
            probe.disconnect(f"bridge:lv2_{port}", f"dh-capture:in_{0 if port == 'out_l' else 1}")
        probe.connect("bridge:lv2_pad2_l", "dh-capture:in_0")
        probe.connect("bridge:lv2_pad2_r", "dh-capture:in_1")
        audio, first, base = _play(peer, [(256, 36, 127), (1024, 37, 127)], 2000)
        assert not audio[:, base + 256 - first - 8 : base + 1024 - first].any()
        np.testing.assert_array_equal(audio[:, base + 1024 - first : base + 1024 - first + 32], clips[2].T)
        instance_id = hello[0]
    finally:
        if peer is not None:
            peer.close()
        stop_jalv(plugin)

    # A project as an LV2 host saves it (keys under the plugin's URI), restored with diffhost gone.
    link.close()
    state_dir = tmp_path / "project"
    state_dir.mkdir()
    keys = {"instance_id": instance_id, "pad1_label": "ramp 1", "pad1_mode": "0", "pad1_gain_db": "-6"}
    keys["pad1_hash"] = next(
        p.stem
        for p in link.cache.glob("*/*.wav")
        if np.allclose(__import__("soundfile").read(p, dtype="float32")[0], clips[1])
    )
    body = " ;\n    ".join(f'<{LV2_URI}#{k}> "{v}"' for k, v in keys.items())
    (state_dir / "manifest.ttl").write_text(
        "@prefix lv2: <http://lv2plug.in/ns/lv2core#> .\n@prefix pset: <http://lv2plug.in/ns/ext/presets#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        f"<state.ttl> a pset:Preset ; lv2:appliesTo <{LV2_URI}> ; rdfs:seeAlso <state.ttl> .\n"
    )
    (state_dir / "state.ttl").write_text(
        "@prefix lv2: <http://lv2plug.in/ns/lv2core#> .\n@prefix pset: <http://lv2plug.in/ns/ext/presets#> .\n"
        "@prefix state: <http://lv2plug.in/ns/ext/state#> .\n"
        f"<> a pset:Preset ; lv2:appliesTo <{LV2_URI}> ;\n  state:state [\n    {body}\n  ] .\n"
    )
    plugin = _jalv(server, "bridge2", state_dir)
    peer = None
    try:
        deadline = time.monotonic() + 20
        while "bridge2:lv2_out_l" not in probe.port_names("bridge2"):
            assert time.monotonic() < deadline, "jalv did not start with the saved state"
            time.sleep(1)  # gently: JACK drops clients polled too fast
        peer = Peer(server, tmp_path)
        _wire(probe, "bridge2", ("out_l", "out_r"))
        audio, first, base = _play(peer, [(512, 36, 127)], 2000)
        g = np.float32(10 ** (-6 / 20))
        np.testing.assert_allclose(
            audio[:, base + 512 - first : base + 512 - first + 32], clips[1].T * g, rtol=1e-6
        )
    finally:
        if peer is not None:
            peer.close()
        stop_jalv(plugin)
