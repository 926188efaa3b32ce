"""The real diffhost Bridge plugin (VST3) in DawDreamer, a host nobody here wrote, against a real
diffhost runtime: the plugin connects, a render sent from OSC reaches its pad and plays sample-exact
on a note, and a tempo change in the host re-fits a loop that lands in the cache as whole bars.

Not collected by the suite (its name has no test_ prefix): run it by hand with
`pytest tests/bridge/realhost_check.py`. It is not green yet: the plugin talks to diffhost only while
the host has it active, and DawDreamer deactivates it between renders, so diffhost sees the instance
leave and refuses to send to it. Keeping the link for the instance's whole life made this pass alone,
but two of tests/plugin's DawDreamer tests then missed their pongs inside the whole suite; the two
need reconciling (and this check's waits should follow the engine's queue, not the clock). The plugin
itself is tested in real hosts with a stand-in for diffhost in tests/plugin/."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from diffhost.host.live.bridge.install import find_bundles

ROOT = Path(__file__).resolve().parents[2]
RATE = 48000
BLOCK = 256


def vst3_bundle() -> Path:
    """The built VST3: DIFFHOST_BRIDGE_BUNDLES, the package's or plugin/bin (built here when the
    sources and DPF are there, as scripts/setup.sh does)."""
    env = os.environ.get("DIFFHOST_BRIDGE_BUNDLES")
    try:
        return find_bundles(Path(env) if env else None)["vst3"]
    except (ValueError, KeyError):
        pass
    if (ROOT / "plugin" / "Makefile").is_file() and Path("/usr/share/dpf").is_dir() and shutil.which("make"):
        subprocess.run(
            ["make", "-C", str(ROOT / "plugin"), "-j2"], check=True, capture_output=True, timeout=600
        )
        return find_bundles()["vst3"]
    pytest.skip("the diffhost Bridge plugin is not built and cannot be here (no plugin/ sources or DPF)")


@pytest.fixture
def bridge_in_dawdreamer(runtime, port, clip_cache, monkeypatch):
    dawdreamer = pytest.importorskip("dawdreamer")
    bundle = vst3_bundle()
    monkeypatch.setenv("DIFFHOST_OSC_PORT", str(port))  # read by the plugin when it is made
    monkeypatch.setenv("DIFFHOST_CLIP_CACHE", str(clip_cache))
    engine = dawdreamer.RenderEngine(RATE, BLOCK)
    before = {i.id for i in runtime.live.plugins.instances()}
    plugin = engine.make_plugin_processor("bridge", str(bundle))
    engine.load_graph([(plugin, [])])
    engine.set_bpm(120.0)
    link = runtime.live.plugins
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        new = [i for i in link.instances() if i.id not in before]
        if new:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the plugin never said hello to diffhost")
    yield engine, plugin, new[0].id
    del plugin, engine


def wait_loaded(engine, link, ident: str, pad: int, want: str, timeout: float = 60.0) -> None:
    """Short renders let the plugin's audio thread take the clip; it then reports it loaded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inst = link._instances.get(ident)
        if inst is not None and inst.loaded.get(pad) == want:
            return
        engine.render(BLOCK / RATE * 4)
        time.sleep(0.05)
    raise AssertionError(f"the plugin did not report pad {pad} loaded with {want}")


def wait_pad(link, ident: str, pad: int, not_hash: str = "", timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inst = link._instances.get(ident) or link._departed.get(ident)
        clip = inst.pads.get(pad) if inst is not None else None
        if clip is not None and clip.hash and clip.hash != not_hash:
            return clip
        time.sleep(0.05)
    raise AssertionError(f"diffhost sent nothing to pad {pad}")


def test_a_render_from_osc_plays_on_a_note_in_dawdreamer(bridge_in_dawdreamer, runtime, client, clip_cache):
    engine, plugin, ident = bridge_in_dawdreamer
    link = runtime.live.plugins
    client.send("/diffhost/render", "bright pluck", 0.25, 31)
    job = client.wait_for(lambda m: m[0] == "/diffhost/job/accepted")[1][0]
    client.request("/diffhost/plugin/send", ident, 1, job, 0, expect="/diffhost/plugin/sent")  # one-shot
    clip = wait_pad(link, ident, 1)
    path = clip_cache / clip.hash[:2] / f"{clip.hash}.wav"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == clip.hash
    audio, sr = sf.read(path, dtype="float32", always_2d=True)
    assert sr == RATE and audio.shape[0] == int(round(0.25 * RATE))
    wait_loaded(engine, link, ident, 1, clip.hash)

    at = 0.1 + 37 / RATE  # a note at an odd frame inside a block
    plugin.clear_midi()
    plugin.add_midi_note(36, 127, at, 0.2)
    engine.render(0.5)
    out = engine.get_audio()  # (channels, samples)
    start = int(round(at * RATE))
    assert np.all(out[:, :start] == 0.0), "sound before the note"
    heard = out[0, start : start + audio.shape[0]]
    ref = audio[:, 0]
    gain = float(np.dot(heard, ref) / np.dot(ref, ref))
    assert gain > 0.5
    assert np.max(np.abs(heard - gain * ref)) < 1e-4, (
        "the pad does not play the clip diffhost sent, sample-exact"
    )


def test_the_host_tempo_drives_diffhost_and_refits_a_loop(bridge_in_dawdreamer, runtime, client, clip_cache):
    engine, plugin, ident = bridge_in_dawdreamer
    link = runtime.live.plugins
    client.request("/diffhost/tempo/source", "plugin", expect="/diffhost/tempo/source")
    try:
        engine.set_bpm(100.0)
        engine.render(0.2)  # the plugin hears the host's tempo and tells diffhost
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and runtime.live.sync.bpm != pytest.approx(100.0):
            time.sleep(0.05)
        assert runtime.live.sync.bpm == pytest.approx(100.0)
        client.send("/diffhost/plugin/render", ident, 2, "drum loop", 1.0, 1, 5)
        first = wait_pad(link, ident, 2)
        assert first.spec.bpm == 100.0 and first.spec.samples == int(round(4 * 60 / 100 * RATE))
        engine.set_bpm(125.0)
        engine.render(0.2)
        refit = wait_pad(link, ident, 2, not_hash=first.hash)
        audio, sr = sf.read(
            clip_cache / refit.hash[:2] / f"{refit.hash}.wav", dtype="float32", always_2d=True
        )
        assert sr == RATE and audio.shape[0] == int(round(4 * 60 / 125 * RATE))  # one whole bar at 125
        wait_loaded(engine, link, ident, 2, refit.hash)
    finally:
        client.request("/diffhost/tempo/source", "session", expect="/diffhost/tempo/source")
