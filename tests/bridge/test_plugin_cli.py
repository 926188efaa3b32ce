"""`diffhost plugin install / status / restore`, run as users run them (a real subprocess)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from diffhost.host.live.bridge.install import plugin_folders

ROOT = Path(__file__).resolve().parents[2]


def diffhost(*args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 300):
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "diffhost", *args],
        capture_output=True,
        text=True,
        env=full,
        input=stdin,
        timeout=timeout,
        cwd=ROOT,
    )


def fake_build(folder: Path, version: bytes) -> Path:
    """Bundles laid out as the plugin's Makefile lays them out (contents are what install copies)."""
    vst3 = folder / "diffhost-bridge.vst3" / "Contents" / "x86_64-linux"
    vst3.mkdir(parents=True)
    (vst3 / "diffhost-bridge.so").write_bytes(b"\x7fELF vst3 " + version)
    lv2 = folder / "diffhost-bridge.lv2"
    lv2.mkdir()
    (lv2 / "diffhost-bridge_dsp.so").write_bytes(b"\x7fELF lv2 " + version)
    (lv2 / "manifest.ttl").write_text("@prefix lv2: <http://lv2plug.in/ns/lv2core#> .\n")
    (folder / "diffhost-bridge.clap").write_bytes(b"\x7fELF clap " + version)
    return folder


def test_install_puts_bundles_where_hosts_look_and_never_deletes(tmp_path):
    home = tmp_path / "home"
    env = {"HOME": str(home), "DIFFHOST_HOME": str(tmp_path / "dh")}
    build = fake_build(tmp_path / "v1", b"1")
    r = diffhost("plugin", "install", "--from", str(build), env=env)
    assert r.returncode == 0, r.stderr
    assert (
        (home / ".vst3/diffhost-bridge.vst3/Contents/x86_64-linux/diffhost-bridge.so")
        .read_bytes()
        .endswith(b"1")
    )
    assert (home / ".lv2/diffhost-bridge.lv2/manifest.ttl").is_file()
    assert (home / ".clap/diffhost-bridge.clap").read_bytes().endswith(b"1")
    assert "experimental" in r.stdout
    again = diffhost("plugin", "install", "--from", str(build), env=env)
    assert again.stdout.count("already up to date") == 3
    newer = fake_build(tmp_path / "v2", b"2")
    up = diffhost("plugin", "install", "--from", str(newer), "--format", "lv2", env=env)
    assert "lv2: updated" in up.stdout
    assert (home / ".lv2/diffhost-bridge.lv2/diffhost-bridge_dsp.so").read_bytes().endswith(b"2")
    kept = list((tmp_path / "dh" / "trash" / "plugins").rglob("diffhost-bridge_dsp.so"))
    assert len(kept) == 1 and kept[0].read_bytes().endswith(b"1")  # the old one is in the trash
    assert not list((home / ".lv2").glob(".*part*"))


def test_install_without_a_build_says_where_it_looked(tmp_path):
    r = diffhost("plugin", "install", "--from", str(tmp_path), env={"HOME": str(tmp_path / "home")})
    assert r.returncode == 2
    assert "no built diffhost Bridge bundles" in r.stderr and str(tmp_path) in r.stderr
    assert "Traceback" not in r.stderr


def test_platform_folders():
    mac = plugin_folders("darwin", {"HOME": "/Users/a"})
    assert mac["vst3"] == Path("/Users/a/Library/Audio/Plug-Ins/VST3")
    win = plugin_folders("win32", {"HOME": "C:/Users/a", "LOCALAPPDATA": "C:/L", "APPDATA": "C:/R"})
    assert win["vst3"] == Path("C:/L/Programs/Common/VST3") and win["lv2"] == Path("C:/R/LV2")
    linux = plugin_folders("linux", {"HOME": "/home/a"})
    assert linux == {
        "vst3": Path("/home/a/.vst3"),
        "lv2": Path("/home/a/.lv2"),
        "clap": Path("/home/a/.clap"),
    }


def test_status_lists_instances_with_track_names_state_and_pads(make_peer, client, port, tmp_path):
    peer = make_peer(track="Drum Bus", sample_rate=44100.0)
    peer.hello()
    peer.transport(124.0)
    client.send("/diffhost/render", "rim click", 0.3, 8)
    job = client.wait_for(lambda m: m[0] == "/diffhost/job/accepted")[1][0]
    client.request("/diffhost/plugin/send", peer.id, 7, job, 0, expect="/diffhost/plugin/sent")
    held = peer.receive_load()
    stopped = make_peer(track="Strings", sample_rate=48000.0)
    stopped.hello()
    stopped.bye()  # its host deactivated it
    client.request("/diffhost/ping", expect="/diffhost/pong")  # the bye was handled before this
    r = diffhost("plugin", "status", "--osc-port", str(port), "--json", env={"HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["diffhost_running"] is True
    mine = [i for i in body["instances"] if i["id"] == peer.id]
    assert mine and mine[0]["track"] == "Drum Bus" and mine[0]["bpm"] == 124.0
    assert mine[0]["state"] == "alive"
    assert mine[0]["pads"] == [
        {"pad": 7, "label": "rim click", "kind": "one-shot", "loaded": True, "hash": held["hash"]}
    ]
    asleep = [i for i in body["instances"] if i["id"] == stopped.id]
    assert asleep and asleep[0]["state"] == "asleep" and asleep[0]["pads"] == []
    text = diffhost("plugin", "status", "--osc-port", str(port), env={"HOME": str(tmp_path)}).stdout
    assert f"Drum Bus [{peer.id}]: alive, 44100 Hz, 124 bpm" in text
    assert "  pad  7: rim click: one-shot\n" in text
    assert f"Strings [{stopped.id}]: asleep (its host stopped it)" in text
    assert "not installed" in text


def test_restore_from_a_recipe_on_the_command_line(make_peer, client, clip_cache):
    peer = make_peer(track="CLI", sample_rate=48000.0)
    peer.hello()
    client.send("/diffhost/render", "glass bell", 0.4, 21)
    job = client.wait_for(lambda m: m[0] == "/diffhost/job/accepted")[1][0]
    client.request("/diffhost/plugin/send", peer.id, 4, job, expect="/diffhost/plugin/sent")
    held = peer.receive_load()
    original = held["path"].read_bytes()
    held["path"].rename(held["path"].with_suffix(".lost"))  # the cache lost it
    r = diffhost(
        "plugin",
        "restore",
        "-",
        "--hash",
        held["hash"],
        stdin=held["recipe"],
        env={"DIFFHOST_CLIP_CACHE": str(clip_cache)},
    )
    assert r.returncode == 0, r.stderr
    assert held["hash"] in r.stdout
    assert held["path"].read_bytes() == original
    assert hashlib.sha256(original).hexdigest() == held["hash"]
    bad = diffhost(
        "plugin",
        "restore",
        "-",
        "--hash",
        "0" * 64,
        stdin=held["recipe"],
        env={"DIFFHOST_CLIP_CACHE": str(clip_cache)},
    )
    assert bad.returncode == 2 and "not " + "0" * 64 in bad.stderr
