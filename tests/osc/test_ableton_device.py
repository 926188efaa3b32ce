"""The shipped Max for Live logic (daw/ableton/diffhost.js) run by Node against a real server over
real UDP: its [udpsend] only sends (like Max's), so every answer reaches it at its subscribed port.
Max/Live's API is the only stand-in (tests/osc/max_harness.js)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

# The device as shipped: daw/ in a checkout, diffhost/daw in an installed wheel (a data-only package).
DEVICE = (
    Path(next(iter(importlib.util.find_spec("diffhost.daw").submodule_search_locations)))
    / "ableton"
    / "diffhost.js"
)
HARNESS = Path(__file__).with_name("max_harness.js")
NODE = shutil.which("node") or shutil.which("nodejs")

pytestmark = pytest.mark.skipif(
    NODE is None and not os.environ.get("DIFFHOST_REQUIRE_DEVICES"),
    reason="needs Node.js (apt package nodejs, installed by scripts/setup.sh) to run the device's script",
)


def run_device(server_port: int, steps: list) -> list[dict]:
    proc = subprocess.run(
        [NODE or "node", str(HARNESS), str(DEVICE), str(server_port), "0", json.dumps(steps)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_device_takes_only_its_own_jobs_and_shows_refusals(server, session):
    info = session.engine.load(None).info  # limits known: a too-long render is refused at once
    too_long = int(info.max_length_s) + 6
    events = run_device(
        server.address[1],
        [
            ["call", "loadbang"],
            ["wait", "connected to diffhost", 5000],
            ["foreign", "/diffhost/render", "open hihat", 0.5],  # another client's job, no token
            ["sleep", 100],  # queued ahead of ours: its events pass the device first
            ["call", "text", "punchy", "kick"],
            ["call", "length", 0.5],
            ["call", "render"],
            ["wait", "CLIP", 60000],
            ["sleep", 300],
            ["call", "length", too_long],  # inside 0..600 s, past the model's: refused with our token
            ["call", "render"],
            ["wait", "refused", 5000],
            ["foreign", "/diffhost/nope"],  # another client's mistake reaches us too: not shown
            ["sleep", 300],
            ["call", "play"],  # no audio device in this session: an untokened refusal of ours
            ["wait", "refused /diffhost/slot", 5000],
        ],
    )
    assert not [e for e in events if "timeout" in e], events
    clips = [e["clip"] for e in events if "clip" in e]
    assert len(clips) == 1 and "punchy-kick" in clips[0] and Path(clips[0]).is_file(), clips
    statuses = [e["status"] for e in events if "status" in e]
    assert any(s.startswith("job ") and s.endswith(" queued") for s in statuses)
    assert not [s for s in statuses if "hihat" in s]
    assert any(
        s.startswith(
            f"diffhost refused /diffhost/render: length: {float(too_long)} s is out of range for model {info.name}"
        )
        for s in statuses
    ), statuses
    assert not [s for s in statuses if "/diffhost/nope" in s]
    assert any("refused /diffhost/slot/1/play: audio: no audio device" in s for s in statuses), statuses
    deadline = time.monotonic() + 30  # the other client's render was made (saved on the finisher)
    while time.monotonic() < deadline:
        hihat = [p for p in session.renders_dir.glob("*.wav") if "open-hihat" in p.name]
        if hihat:
            break
        time.sleep(0.05)
    assert len(hihat) == 1, list(
        session.renders_dir.iterdir()
    )  # the other client's render was made, just not taken by the device
