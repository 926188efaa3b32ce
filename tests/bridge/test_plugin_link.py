"""The link with the diffhost Bridge plugin, over real UDP against a real runtime: a Python peer
speaks the plugin's side of the protocol (docs/plugin.md) exactly."""

from __future__ import annotations

import hashlib
import json
import shutil
import time

import numpy as np
import pytest
import soundfile as sf

from diffhost import __version__
from diffhost.host.live.bridge import ClipCache
from diffhost.host.live.bridge.restore import restore_clip
from diffhost.osc.client import DiffhostClient, OscTimeout
from tests.runtimes import link_runtime

from .plugin_peer import PluginPeer, message


def loop_frames(bars: float, bpm: float, rate: int, beats: int = 4) -> int:
    return int(round(bars * beats * 60.0 / bpm * rate))


def seam_ok(audio: np.ndarray) -> tuple[float, float]:
    """(the step across the loop's wrap, the clip's own 99.9th-percentile step)."""
    steps = np.abs(np.diff(audio, axis=-1)).max(axis=0)
    wrap = float(np.abs(audio[:, 0] - audio[:, -1]).max())
    return wrap, float(np.percentile(steps, 99.9))


def listed(client, ident: str) -> list | None:
    """The instance's /diffhost/plugin/instance arguments from a fresh list, or None."""
    client.backlog.clear()
    client.send("/diffhost/plugin/list")
    client.wait_for(lambda m: m[0] == "/diffhost/plugin/list/done")
    found = [m[1] for m in client.backlog if m[0] == "/diffhost/plugin/instance" and m[1][0] == ident]
    client.backlog.clear()
    return found[0] if found else None


def wait_listed(client, ident: str, want, timeout: float = 30.0) -> list | None:
    """Ask the list until `want(arguments or None)` holds (diffhost's clock decides, not ours)."""
    deadline = time.monotonic() + timeout
    while True:
        got = listed(client, ident)
        if want(got):
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"instance {ident} never reached the wanted state; last listed as {got}")
        time.sleep(0.2)


def test_hello_is_answered_and_listed_by_track_name(make_peer, client):
    peer = make_peer(track="Drums", sample_rate=44100.0)
    assert peer.hello()[1] == [__version__]
    inst = listed(client, peer.id)
    assert inst is not None and inst[1] == "Drums" and inst[2] == 44100.0 and inst[6] == "alive"
    peer.bye()  # the host deactivated it: asleep, still listed, not gone
    assert listed(client, peer.id)[6] == "asleep"


def test_an_instance_its_host_stopped_gets_what_was_sent_meanwhile(make_peer, client):
    """DawDreamer deactivates the plugin between renders (no bye, the hellos just stop) and
    activates it again from a new port: a render sent meanwhile waits and arrives then, once."""
    peer = make_peer(track="Sleepy", sample_rate=48000.0)
    peer.hello()
    peer.deactivate()
    wait_listed(client, peer.id, lambda a: a is not None and a[6] == "asleep")
    client.send("/diffhost/render", "soft pad", 0.5, 21)
    job = client.wait_for(lambda m: m[0] == "/diffhost/job/accepted")[1][0]
    sent = client.request("/diffhost/plugin/send", "Sleepy", 4, job, 0, expect="/diffhost/plugin/sent")
    assert sent[1] == [peer.id, 4, job]
    waiting = wait_listed(client, peer.id, lambda a: a[7] == 2)  # options and load wait for it
    assert waiting[6] == "asleep" and waiting[8] == 1  # the pad is listed as sent
    with pytest.raises(Exception, match="no OSC message"):
        peer.net.wait_for(lambda m: m[0].startswith("/bridge/pad/"), timeout=1.0)
    old_port = peer.net.local_address[1]
    peer.reactivate(new_port=True)
    assert peer.net.local_address[1] != old_port
    held = peer.receive_load()
    assert held["pad"] == 4 and held["hash_ok"] and held["mode"] == 0
    assert held["audio"].shape[-1] == int(round(0.5 * 48000))
    awake = wait_listed(client, peer.id, lambda a: a[6] == "alive")
    assert awake[7] == 0 and awake[5].endswith(f":{peer.net.local_address[1]}")
    with pytest.raises(Exception, match="no OSC message"):  # delivered once, not again
        peer.net.wait_for(lambda m: m[0].startswith("/bridge/pad/"), timeout=1.5)


def test_after_the_grace_what_waited_is_reported_not_delivered(make_peer, client, runtime):
    link = runtime.live.plugins
    peer = make_peer(track="Gone", sample_rate=48000.0)
    peer.hello()
    client.request("/diffhost/subscribe", client.local_address[1], expect="/diffhost/subscribed")
    saved = link.grace_s
    link.grace_s = 1.0
    try:
        peer.bye()
        wait_listed(client, peer.id, lambda a: a is not None and a[6] == "asleep")
        client.request("/diffhost/plugin/clear", "Gone", 2, expect="/diffhost/plugin/cleared")
        said = client.wait_for(
            lambda m: m[0] == "/diffhost/plugin/event" and m[1][0] == peer.id and "gone" in m[1][1], 30
        )
        assert "not delivered: pad 2 clear" in said[1][1]
        assert listed(client, peer.id) is None
        with pytest.raises(ValueError, match="'Gone' is no connected plugin instance"):
            client.request("/diffhost/plugin/clear", "Gone", 2, expect="/diffhost/plugin/cleared")
    finally:
        link.grace_s = saved
        client.request("/diffhost/unsubscribe", client.local_address[1], expect="/diffhost/unsubscribed")
    peer.reactivate(new_port=False)  # it comes back after all: known again, by its id
    assert listed(client, peer.id)[6] == "alive"
    with pytest.raises(Exception, match="no OSC message"):  # what was given up on stays undelivered
        peer.net.wait_for(lambda m: m[0] == "/bridge/pad/clear", timeout=1.0)


def test_tempo_follows_the_host_only_with_a_valid_position(make_peer, client, runtime):
    peer = make_peer(track="Keys")
    peer.hello()
    client.request("/diffhost/tempo/source", "plugin", expect="/diffhost/tempo/source")
    try:
        peer.transport(128.0, bar=3.0, beat=1.5)
        client.request("/diffhost/ping", expect="/diffhost/pong")  # the transport was handled before this
        assert runtime.live.sync.bpm == pytest.approx(128.0)
        peer.transport(120.0, valid=False)  # DPF's "120" when the host says nothing: not a tempo
        client.request("/diffhost/ping", expect="/diffhost/pong")
        assert runtime.live.sync.bpm == pytest.approx(128.0)
        peer.transport(96.5, playing=False)
        client.request("/diffhost/ping", expect="/diffhost/pong")
        assert runtime.live.sync.bpm == pytest.approx(96.5)
    finally:
        client.request("/diffhost/tempo/source", "session", expect="/diffhost/tempo/source")


def test_render_lands_on_a_pad_as_whole_bars_and_refits_at_the_next_bar(make_peer, client, clip_cache):
    peer = make_peer(track="Loops", sample_rate=48000.0)
    peer.hello()
    peer.transport(100.0)
    client.send("/diffhost/plugin/render", peer.id, 3, "drum loop", 2.0, 1, 7)
    client.wait_for(lambda m: m[0] == "/diffhost/job/accepted")
    first = peer.receive_load()
    assert first["pad"] == 3 and first["hash_ok"] and first["swap_at_bar"] == 0
    assert first["sample_rate"] == 48000
    assert first["audio"].shape[-1] == loop_frames(2, 100.0, 48000)  # 230400: exactly two bars
    assert first["mode"] == 1 and first["quantize"] == 2
    recipe = json.loads(first["recipe"])
    assert recipe["clip"]["bpm"] == 100.0 and recipe["sidecar"]["params"]["bpm"] == 100.0

    peer.transport(120.0, bar=5.0, beat=2.0)  # the host's tempo changes
    refit = peer.receive_load()
    assert refit["pad"] == 3 and refit["hash_ok"] and refit["swap_at_bar"] == 1
    assert refit["audio"].shape[-1] == loop_frames(2, 120.0, 48000)  # 192000: two bars at 120
    assert refit["hash"] != first["hash"]
    assert json.loads(refit["recipe"])["clip"]["bpm"] == 120.0
    for held in (first, refit):
        wrap, p999 = seam_ok(held["audio"])
        assert wrap <= p999, f"the loop's wrap steps {wrap:.4f}, above its own 99.9th percentile {p999:.4f}"
    assert sf.info(refit["path"]).subtype == "FLOAT"

    # A 6/8 bar is six beats: the re-fit follows the signature too.
    peer.transport(120.0, sig=(6, 8))
    six = peer.receive_load()
    assert six["audio"].shape[-1] == loop_frames(2, 120.0, 48000, beats=6)


def test_a_render_goes_to_the_chosen_instance_only(make_peer, client):
    drums = make_peer(track="Drums", sample_rate=44100.0)
    bass = make_peer(track="Bass", sample_rate=48000.0)
    drums.hello()
    bass.hello()
    client.send("/diffhost/render", "soft pad", 0.5, 11)
    job = client.wait_for(lambda m: m[0] == "/diffhost/job/accepted")[1][0]
    sent = client.request("/diffhost/plugin/send", "Bass", 5, job, expect="/diffhost/plugin/sent")
    assert sent[1] == [bass.id, 5, job]
    held = bass.receive_load()
    assert held["pad"] == 5 and held["hash_ok"] and held["sample_rate"] == 48000
    assert held["mode"] == 0  # not a loop: a one-shot
    assert held["audio"].shape[-1] == int(round(0.5 * 48000))
    with pytest.raises(Exception, match="no OSC message"):
        drums.net.wait_for(lambda m: m[0].startswith("/bridge/pad/"), timeout=1.0)


def test_target_sends_every_later_render(make_peer, client):
    peer = make_peer(track="Target")
    peer.hello()
    said = client.request("/diffhost/plugin/target", "Target", 9, expect="/diffhost/plugin/target")
    assert said[1] == ["renders go to Target, pad 9"]
    try:
        client.send("/diffhost/render", "bell", 0.3, 5)
        assert peer.receive_load()["pad"] == 9
    finally:
        client.request("/diffhost/plugin/target", "", expect="/diffhost/plugin/target")


def test_capture_seeds_a_render_that_lands_on_the_pad(make_peer, client):
    peer = make_peer(track="Vox", sample_rate=48000.0)
    peer.hello()
    peer.transport(120.0)
    client.request("/diffhost/plugin/capture", peer.id, 2, 1, "choir", expect="/diffhost/plugin/capturing")
    pad, bars, path = peer.answer_capture(seconds_per_bar=2.0)
    assert (pad, bars) == (2, 1)
    held = peer.receive_load()
    assert held["pad"] == 2 and held["hash_ok"]
    assert held["audio"].shape[-1] == loop_frames(1, 120.0, 48000)
    params = json.loads(held["recipe"])["sidecar"]["params"]
    assert params["seed_clip"]["sample_rate"] == 48000 and params["prompt"] == "choir"


def test_bad_messages_get_errors_naming_the_argument(make_peer, client):
    peer = make_peer()
    client.send("/diffhost/plugin/render", "nobody", 1)
    err = client.wait_for(lambda m: m[0] == "/diffhost/error")
    assert "instance" in err[1][1] and "nobody" in err[1][1]
    peer.hello()
    client.send("/diffhost/plugin/render", peer.id, 17)
    err = client.wait_for(lambda m: m[0] == "/diffhost/error")
    assert "pad: 17 is out of range; valid is 1..16" in err[1][1]
    peer.net.send_raw(b"")  # keep the peer's socket warm; then an unknown id's transport
    client.send("/diffhost/plugin/transport", "0123456789abcdef", 120.0, 4, 4, 1, 1, 1.0, 0.0)
    err = client.wait_for(lambda m: m[0] == "/diffhost/error")
    assert "not a connected instance" in err[1][1]


def test_a_lost_clip_is_rendered_again_bit_identically_from_its_recipe(
    make_peer, client, runtime, clip_cache
):
    peer = make_peer(track="Restore", sample_rate=44100.0)
    peer.hello()
    peer.transport(90.0)
    # Made from the finisher's audio in memory as the render finishes (no file read back) ...
    client.send("/diffhost/plugin/render", peer.id, 1, "techno loop", 1.0, 1, 3)
    first = peer.receive_load()
    assert json.loads(first["recipe"])["again"] == {}
    # ... re-fitted to a new tempo (rendered again in memory) ...
    peer.transport(110.0)
    refit = peer.receive_load()
    assert json.loads(refit["recipe"])["again"]["bpm"] == 110.0
    # ... and sent from a render finished earlier: made from its processed file.
    while True:  # the render above was answered with its job too: read it all away
        try:
            client.receive(0.5)
        except OscTimeout:
            break
    client.request("/diffhost/subscribe", client.local_address[1], expect="/diffhost/subscribed")
    try:
        client.send("/diffhost/render", "glass bell", 0.4, 9)
        job = client.wait_for(lambda m: m[0] == "/diffhost/job/accepted")[1][0]
        client.wait_for(lambda m: m[0] == "/diffhost/job/done" and m[1][0] == job, 60)
    finally:
        client.request("/diffhost/unsubscribe", client.local_address[1], expect="/diffhost/unsubscribed")
    client.request("/diffhost/plugin/send", peer.id, 2, job, expect="/diffhost/plugin/sent")
    from_file = peer.receive_load()
    assert "again" not in json.loads(from_file["recipe"])
    cache = ClipCache(clip_cache)
    trash = clip_cache.parent / f"{clip_cache.name}-lost"
    trash.mkdir(exist_ok=True)
    for held, file_matches in ((first, None), (refit, None), (from_file, True)):
        shutil.move(held["path"], trash / held["path"].name)  # the cache lost it
        assert not cache.has(held["hash"])
        restored = restore_clip(runtime.session, held["recipe"], cache, expect=held["hash"])
        assert restored.hash == held["hash"]
        assert restored.render_matches is file_matches  # the processed file's own hash matched too
        data = cache.path_of(held["hash"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == held["hash"]
        assert data == (trash / held["path"].name).read_bytes()


def test_pads_a_restarted_diffhost_hears_of_are_refitted_and_restored(
    make_peer, client, clip_cache, tmp_path_factory
):
    """The project holds pads diffhost sent before it restarted: the new diffhost asks the plugin
    for them, re-fits the loop to the host's new tempo and makes the clip the cache lost again,
    with the same bytes."""
    project = make_peer(track="Project", sample_rate=48000.0)
    project.hello()
    project.transport(100.0)
    client.send("/diffhost/plugin/render", project.id, 3, "drum loop", 2.0, 1, 5)
    loop = project.receive_load()
    client.send("/diffhost/plugin/render", project.id, 5, "glass bell", 0.5, 0, 6)
    bell = project.receive_load()
    assert loop["audio"].shape[-1] == loop_frames(2, 100.0, 48000)
    lost = bell["path"].with_name(bell["path"].name + ".lost")
    bell["path"].rename(lost)  # the cache lost the one-shot's clip
    project.bye()

    # A new diffhost (the old one quit): its own engine, session, link and OSC port.
    root = tmp_path_factory.mktemp("restarted")
    with link_runtime(root) as again:
        port = again.osc.address[1]
        plugin = PluginPeer(port, clip_cache, track="Project", sample_rate=48000.0, ident=project.id)
        try:
            plugin.hello()
            plugin.expect("/bridge/pads")  # the new diffhost does not know this instance: it asks
            plugin.transport(120.0)  # the project's tempo changed meanwhile
            plugin.report_pads({3: loop, 5: bell}, loaded={3})  # pad 5's clip was not in the cache
            first = plugin.receive_load(120)
            second = plugin.receive_load(120)
            by_pad = {first["pad"]: first, second["pad"]: second}
            refit, restored = by_pad[3], by_pad[5]
            assert refit["swap_at_bar"] == 1 and refit["hash_ok"]
            assert refit["audio"].shape[-1] == loop_frames(2, 120.0, 48000)  # the same 2 bars at 120
            assert json.loads(refit["recipe"])["again"]["bpm"] == 120.0
            assert restored["swap_at_bar"] == 0 and restored["hash"] == bell["hash"]
            assert restored["path"].read_bytes() == lost.read_bytes()  # the same bytes, made again
            assert restored["label"] == "glass bell" and restored["mode"] == 0
            with DiffhostClient("127.0.0.1", port) as c:
                inst = listed(c, plugin.id)
                assert inst[1] == "Project" and inst[8] == 2
                c.send("/diffhost/plugin/list")
                pads = [
                    c.wait_for(lambda m: m[0] == "/diffhost/plugin/instance/pad")[1] for _ in range(2)
                ]
                assert {p[1]: p[2] for p in pads} == {3: "drum loop", 5: "glass bell"}
        finally:
            plugin.bye()
            plugin.close()


def test_a_prompt_typed_in_the_daw_lands_on_its_pad_and_errors_go_back(make_peer, client):
    peer = make_peer(track="Typed", sample_rate=48000.0)
    peer.hello()
    peer.transport(100.0)
    peer.prompt(6, "dusty drum loop", 2.0)
    accepted = peer.expect("/bridge/prompt/accepted")
    assert accepted[1][0] == 6 and accepted[1][1] > 0
    held = peer.receive_load(120)
    assert held["pad"] == 6 and held["hash_ok"] and held["swap_at_bar"] == 0
    assert held["label"] == "dusty drum loop"
    assert held["audio"].shape[-1] == loop_frames(2, 100.0, 48000)  # two bars at the host's tempo
    params = json.loads(held["recipe"])["sidecar"]["params"]
    assert params["prompt"] == "dusty drum loop" and params["bpm"] == 100.0

    def error_for(*args) -> list:
        peer.net.send_raw(message("/diffhost/plugin/prompt", *args))
        return peer.expect("/bridge/prompt/error")[1]

    ident = ("s", peer.id)
    assert error_for(ident, ("i", 17), ("s", "x"), ("f", 1.0), ("i", -1)) == [
        0,
        "pad: 17 is out of range; valid is 1..16",
    ]
    pad, text = error_for(ident, ("i", 6), ("s", "x"), ("f", 100.0), ("i", -1))
    assert pad == 6 and "bars: 100" in text and "0.25..64" in text
    pad, text = error_for(ident, ("i", 6), ("s", "  "), ("f", 1.0), ("i", -1))
    assert pad == 6 and text.startswith("prompt: empty")
    pad, text = error_for(("s", "ffffffffffffffff"), ("i", 2), ("s", "x"), ("f", 1.0), ("i", -1))
    assert pad == 2 and "hello" in text

    # A render that does not finish is answered too: queued behind a long one, then cancelled.
    client.send("/diffhost/render", "long drone", 20.0, 1)
    blocker = client.wait_for(lambda m: m[0] == "/diffhost/job/accepted")[1][0]
    peer.prompt(7, "shaker loop", 1.0)
    job = peer.expect("/bridge/prompt/accepted")[1][1]
    client.request("/diffhost/cancel", job, expect="/diffhost/cancelled")
    pad, text = peer.expect("/bridge/prompt/error", 60)[1]
    assert pad == 7 and "cancelled" in text
    client.request("/diffhost/cancel", blocker, expect="/diffhost/cancelled")


def test_a_loop_too_long_for_the_new_tempo_keeps_playing_and_a_one_shot_is_not_cut(make_peer, client):
    peer = make_peer(track="Slow", sample_rate=48000.0)
    peer.hello()
    peer.transport(100.0)
    client.backlog.clear()
    client.send("/diffhost/plugin/render", peer.id, 1, "drum loop", 8.0, 1, 12)
    job = client.wait_for(lambda m: m[0] == "/diffhost/job/accepted")[1][0]
    loop = peer.receive_load(120)
    assert loop["audio"].shape[-1] == loop_frames(8, 100.0, 48000)
    client.request("/diffhost/subscribe", client.local_address[1], expect="/diffhost/subscribed")
    try:
        peer.transport(60.0)  # 8 bars at 60 bpm would be 32 s: longer than the model renders
        said = client.wait_for(
            lambda m: m[0] == "/diffhost/plugin/event" and "not re-fitted" in m[1][1], 60
        )
        assert "pad 1" in said[1][1] and "length" in said[1][1]
    finally:
        client.request("/diffhost/unsubscribe", client.local_address[1], expect="/diffhost/unsubscribed")
    with pytest.raises(Exception, match="no OSC message"):  # the loop it has keeps playing
        peer.net.wait_for(lambda m: m[0] == "/bridge/pad/load", timeout=1.0)
    # The same loop sent to play once (mode 0): neither cut to bars nor re-fitted, only resampled.
    client.request("/diffhost/plugin/send", peer.id, 2, job, 0, expect="/diffhost/plugin/sent")
    once = peer.receive_load()
    assert once["pad"] == 2 and once["mode"] == 0
    assert once["audio"].shape[-1] == loop["audio"].shape[-1]  # rendered at 48 kHz: the same length
    assert json.loads(once["recipe"])["clip"]["bars"] is None
