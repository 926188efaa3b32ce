"""The real diffhost Bridge plugin (VST3) in DawDreamer, a host nobody here wrote, against a real
diffhost runtime (engine with the embedded default model, session, live rig with its plugin link, OSC
server on an ephemeral loopback port): nothing here stands in for either side.

DawDreamer deactivates the plugin after every render and keeps it deactivated in between, which is
when these tests (like a DAW's user between playbacks) send it renders: the plugin's link with
diffhost lives from its first activation until it is destroyed, so diffhost reaches it meanwhile.
JUCE also makes (and destroys, never activated) a whole instance of the plugin while loading it,
only to read its buses: that one must never say hello, or diffhost and the tests would take it for
the track's instance and send clips to a socket that is gone.

What diffhost sent is read from the plugin's own saved state (its pads' hashes), and what it plays
from the host's output, so the tests wait on real events, never on diffhost's internals.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from diffhost.osc.client import DiffhostClient
from tests.plugin.bridge_host import MAIN, VST3, dpf_state
from tests.runtimes import link_runtime

daw = pytest.importorskip("dawdreamer", reason="dawdreamer is a dev dependency (pip install -e .[dev])")

RATE, BLOCK = 48000, 256
WAIT_S = 180.0  # generous: a render queued behind others on a loaded machine still arrives


@pytest.fixture(scope="module")
def diffhost_env(tmp_path_factory):
    """A private clip cache, shared by the runtime and the plugin (both read DIFFHOST_CLIP_CACHE)."""
    cache = tmp_path_factory.mktemp("clips")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIFFHOST_CLIP_CACHE", str(cache))
        yield cache


@pytest.fixture(scope="module")
def runtime(diffhost_env, tmp_path_factory, plugin_bin):
    root = tmp_path_factory.mktemp("realhost")
    rt = link_runtime(root)
    yield rt
    rt.close()


@pytest.fixture
def client(runtime):
    with DiffhostClient("127.0.0.1", runtime.osc.address[1]) as c:
        yield c


class Track:
    """A DawDreamer engine with the Bridge on it, made while DIFFHOST_OSC_PORT names the runtime."""

    def __init__(self, runtime, monkeypatch, tmp_path: Path, name: str):
        monkeypatch.setenv("DIFFHOST_OSC_PORT", str(runtime.osc.address[1]))  # read when an instance is made
        self.engine = daw.RenderEngine(RATE, BLOCK)
        self.engine.set_bpm(120.0)
        self.plugin = self.engine.make_plugin_processor(name, str(VST3))
        self.engine.load_graph([(self.plugin, [])])
        self.engine.render(BLOCK / RATE)  # the first activation starts the plugin's link
        self.state_file = tmp_path / f"{name}.state"
        self.id = self.state()["instance_id"]

    def state(self) -> dict[str, str]:
        self.plugin.save_state(str(self.state_file))
        return dpf_state(self.state_file.read_bytes())

    def wait_pad(self, pad: int, not_hash: str = "") -> str:
        """The hash diffhost sent to `pad` (the plugin keeps it in its state once its worker has
        read the clip), other than `not_hash`."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            h = self.state()[f"pad{pad}_hash"]
            if h and h != not_hash:
                return h
            time.sleep(0.05)
        raise AssertionError(f"diffhost sent nothing to pad {pad} of {self.id} within {WAIT_S:g} s")


def wait_connected(runtime, ident: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if any(i.id == ident for i in runtime.live.plugins.instances()):
            return
        time.sleep(0.05)
    raise AssertionError(f"the plugin instance {ident} never said hello to diffhost")


def cached(cache: Path, digest: str) -> tuple[np.ndarray, int]:
    path = cache / digest[:2] / f"{digest}.wav"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    audio, sr = sf.read(path, dtype="float32", always_2d=True)
    return audio, sr


def test_a_render_sent_from_osc_plays_on_a_note_sample_exact(runtime, client, diffhost_env, monkeypatch, tmp_path):
    track = Track(runtime, monkeypatch, tmp_path, "bridge")
    wait_connected(runtime, track.id)
    # only the activated instance talks: JUCE's probe instance never said hello (an instance an
    # earlier test's host stopped may still be listed, asleep, for its grace period)
    assert [i.id for i in runtime.live.plugins.instances() if i.state == "alive"] == [track.id]

    client.send("/diffhost/render", "bright pluck", 0.25, 31)
    job = client.wait_for(lambda m: m[0] == "/diffhost/job/accepted", timeout=WAIT_S)[1][0]
    client.request("/diffhost/plugin/send", track.id, 1, job, 0, expect="/diffhost/plugin/sent")  # one-shot
    digest = track.wait_pad(1)  # arrives while DawDreamer has the plugin deactivated
    audio, sr = cached(diffhost_env, digest)
    assert sr == RATE and audio.shape[0] == int(round(0.25 * RATE))

    at = 0.1 + 37 / RATE  # a note at an odd frame inside a block
    track.plugin.add_midi_note(36, 127, at, 0.2)
    track.engine.render(0.5)  # its first block swaps the clip in
    out = track.engine.get_audio()[MAIN]
    start = int(round(at * RATE))
    assert not out[:, :start].any(), "sound before the note"
    heard = out[:, start : start + audio.shape[0]]
    ref = np.repeat(audio, 2, axis=1)[:, :2] if audio.shape[1] == 1 else audio
    np.testing.assert_allclose(heard, ref.T, atol=1e-6, err_msg="the pad does not play diffhost's clip")
    assert np.abs(ref).max() > 0.01


def test_the_host_tempo_drives_diffhost_and_refits_a_loop(runtime, client, diffhost_env, monkeypatch, tmp_path):
    track = Track(runtime, monkeypatch, tmp_path, "bridge")
    wait_connected(runtime, track.id)
    client.request("/diffhost/tempo/source", "plugin", expect="/diffhost/tempo/source")
    try:
        track.engine.set_bpm(100.0)
        track.engine.render(0.2)  # the plugin hears the host's tempo and tells diffhost
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and runtime.live.sync.bpm != pytest.approx(100.0):
            time.sleep(0.05)
        assert runtime.live.sync.bpm == pytest.approx(100.0)

        client.send("/diffhost/plugin/render", track.id, 2, "drum loop", 1.0, 1, 5)
        first = track.wait_pad(2)
        audio, sr = cached(diffhost_env, first)
        assert sr == RATE and audio.shape[0] == int(round(4 * 60 / 100 * RATE))  # one bar at 100
        assert track.state()["pad2_mode"] == "1"  # a loop

        track.engine.set_bpm(125.0)
        track.engine.render(0.2)
        refit = track.wait_pad(2, not_hash=first)  # diffhost re-fitted the loop to the new tempo
        audio, sr = cached(diffhost_env, refit)
        assert sr == RATE and audio.shape[0] == int(round(4 * 60 / 125 * RATE))  # one bar at 125
    finally:
        client.request("/diffhost/tempo/source", "session", expect="/diffhost/tempo/source")


def test_two_instances_in_one_process_each_get_their_own_pads(runtime, client, diffhost_env, monkeypatch, tmp_path):
    """Two tracks (two engines, each a plugin instance with its own socket) in one host process."""
    a = Track(runtime, monkeypatch, tmp_path, "a")
    b = Track(runtime, monkeypatch, tmp_path, "b")
    assert a.id != b.id
    wait_connected(runtime, a.id)
    wait_connected(runtime, b.id)
    sent = {}
    for track, seed in ((a, 3), (b, 4)):
        client.send("/diffhost/render", "soft kick", 0.25, seed)
        job = client.wait_for(lambda m: m[0] == "/diffhost/job/accepted", timeout=WAIT_S)[1][0]
        client.request("/diffhost/plugin/send", track.id, 5, job, 0, expect="/diffhost/plugin/sent")
        sent[track.id] = job
    ha, hb = a.wait_pad(5), b.wait_pad(5)
    assert ha != hb  # two renders (seeds 3 and 4), each on its own instance's pad 5
    for track, digest in ((a, ha), (b, hb)):
        saved = track.state()
        assert [k for k, v in saved.items() if k.endswith("_hash") and v] == ["pad5_hash"]
        assert saved["pad5_hash"] == digest
