"""`diffhost plugin`: install the diffhost Bridge plugin, see what is installed and connected, and
make a lost clip again from the recipe a DAW project kept (docs/plugin.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from diffhost.commands import old_spelling


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plugin",
        help="the diffhost Bridge plugin: install, status, restore",
        description="The diffhost Bridge plugin puts diffhost's pads inside a DAW (docs/plugin.md).",
    )
    ps = p.add_subparsers(dest="plugin_command", metavar="ACTION", required=True)

    a = ps.add_parser("install", help="copy the built plugin to where hosts look (~/.vst3, ~/.lv2, ~/.clap)")
    a.add_argument("--from", dest="source", type=Path, default=None, help="folder holding the built bundles")
    a.add_argument(
        "--format",
        action="append",
        default=[],
        choices=("vst3", "lv2", "clap"),
        help="only this format (repeatable)",
    )
    a.set_defaults(func=run_install)

    a = ps.add_parser("status", help="what is installed, and which plugin instances a running diffhost sees")
    a.add_argument(
        "--osc-port", type=int, default=12000, help="the running diffhost's OSC port (default 12000)"
    )
    old_spelling(a, "--port", "osc_port", type=int)
    a.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for its answer (default 1)")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.set_defaults(func=run_status)

    a = ps.add_parser(
        "restore",
        help="render a pad's clip again from its recipe into the clip cache",
        description="Render a clip again, bit-identically, from the recipe JSON the plugin keeps per pad "
        "(a file, or - for standard input), and put it in the clip cache.",
    )
    a.add_argument("recipe", help="recipe JSON file, or - to read it from standard input")
    a.add_argument("--hash", default=None, help="the clip hash the project asks for; must match")
    a.add_argument("--cache", type=Path, default=None, help="clip cache folder (default: the plugin's)")
    a.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda or mps")
    a.set_defaults(func=run_restore)


def run_install(args: argparse.Namespace) -> int:
    from diffhost.host.live.bridge.install import EXPERIMENTAL, FORMATS, install

    formats = tuple(dict.fromkeys(args.format)) or FORMATS
    for done in install(args.source, formats):
        note = " (experimental: no host here could test CLAP)" if done.format in EXPERIMENTAL else ""
        what = {"installed": "installed", "updated": "updated", "unchanged": "already up to date"}[
            done.action
        ]
        print(f"{done.format}: {what}: {done.path}{note}")
        if done.trashed is not None:
            print(f"  the previous bundle was moved to {done.trashed}")
    print("Rescan plugins in your DAW, then add 'diffhost Bridge' to an instrument track.")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from diffhost.host.live.bridge.cache import default_cache_dir
    from diffhost.host.live.bridge.install import installed

    found = installed()
    instances, target, reached = _ask_running(args.osc_port, args.timeout)
    if args.json:
        body = {
            "installed": {f: (str(p) if p else None) for f, p in found.items()},
            "clip_cache": str(default_cache_dir()),
            "diffhost_running": reached,
            "instances": instances,
            "target": target,
        }
        print(json.dumps(body, indent=2))
        return 0
    for fmt, path in found.items():
        print(f"{fmt:5} {path if path else 'not installed'}")
    print(f"clip cache: {default_cache_dir()}")
    if not reached:
        print(f"diffhost is not running on 127.0.0.1:{args.osc_port} (no answer within {args.timeout:g} s)")
        return 0
    if not instances:
        print("no plugin instance is connected")
    for i in instances:
        bpm = f"{i['bpm']:g} bpm" if i["bpm"] > 0 else "no tempo from the host"
        transport = "playing" if i["playing"] else "stopped"
        if i["state"] == "asleep":  # its host deactivated it (render gaps, transport stop, bypass)
            waiting = f", {i['waiting']} messages wait for it" if i["waiting"] else ""
            state = f"asleep (its host stopped it{waiting})"
        else:
            state = "alive"
        print(
            f"{i['track'] or '(no track name)'} [{i['id']}]: {state}, {i['sample_rate']:g} Hz, {bpm}, {transport}"
        )
        if not i["pads"]:
            print("  no pads sent from diffhost")
        for p in i["pads"]:
            playing = "" if p["loaded"] else " (not loaded yet)"
            print(f"  pad {p['pad']:2}: {p['label'] or '(no label)'}: {p['kind']}{playing}")
    print(target)
    return 0


def _ask_running(port: int, timeout: float) -> tuple[list[dict], str, bool]:
    from diffhost.osc.client import DiffhostClient, OscTimeout

    with DiffhostClient("127.0.0.1", port) as c:
        c.send("/diffhost/plugin/list")
        try:
            done = c.wait_for(lambda m: m[0] in ("/diffhost/plugin/list/done", "/diffhost/error"), timeout)
        except (OscTimeout, ConnectionRefusedError, OSError):
            return [], "", False
    if done[0] == "/diffhost/error":
        return [], str(done[1][1:]), True
    pads: dict[str, list[dict]] = {}
    for addr, a in c.backlog:
        if addr == "/diffhost/plugin/instance/pad":
            pads.setdefault(a[0], []).append(
                {"pad": a[1], "label": a[2], "kind": a[3], "loaded": bool(a[4]), "hash": a[5]}
            )
    instances = [
        {
            "id": a[0],
            "track": a[1],
            "sample_rate": a[2],
            "bpm": a[3],
            "playing": bool(a[4]),
            "address": a[5],
            "state": a[6],
            "waiting": a[7],
            "pads": pads.get(a[0], []),
        }
        for addr, a in c.backlog
        if addr == "/diffhost/plugin/instance"
    ]
    return instances, str(done[1][1]), True


def run_restore(args: argparse.Namespace) -> int:
    from diffhost.host.live.bridge.cache import ClipCache, check_hash
    from diffhost.host.live.bridge.restore import restore_clip
    from diffhost.runtime import RuntimeOptions, build_runtime

    text = sys.stdin.read() if args.recipe == "-" else _read(Path(args.recipe))
    if args.hash is not None:
        check_hash(args.hash)
    cache = ClipCache(args.cache)
    if args.hash is not None and cache.has(args.hash):
        print(f"{args.hash}: already in the cache: {cache.path_of(args.hash)}")
        return 0
    import tempfile

    with tempfile.TemporaryDirectory(prefix="diffhost-restore-") as scratch:
        options = RuntimeOptions(
            renders_dir=Path(scratch),
            device=args.device,
            audio=False,
            presets=False,
            library=False,
            kits=False,
        )
        with build_runtime(options) as runtime:
            restored = restore_clip(runtime.session, text, cache, expect=args.hash)
    print(f"{restored.hash}: {restored.path}")
    return 0


def _read(path: Path) -> str:
    try:
        return path.expanduser().read_text()
    except FileNotFoundError:
        raise ValueError(f"recipe: {path} does not exist") from None
