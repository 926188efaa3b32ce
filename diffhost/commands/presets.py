"""`diffhost presets list|show NAME|effects`: what presets exist and what they do."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presets", help="list and show presets (shipped and your own)")
    p.add_argument("--user-dir", type=Path, default=None, help="user preset folder (default: config dir)")
    ps = p.add_subparsers(dest="presets_command", metavar="ACTION")
    ls = ps.add_parser("list", help="list preset names")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=run_list)
    show = ps.add_parser("show", help="show a preset's JSON")
    show.add_argument("name", help="preset name, e.g. '808 kick'")
    show.set_defaults(func=run_show)
    sv = ps.add_parser("save", help="validate a preset JSON file and save it as your own preset")
    sv.add_argument("name", help="name for the preset")
    sv.add_argument("file", type=Path, help="preset JSON (any version; it is migrated and validated)")
    sv.add_argument(
        "--overwrite", action="store_true", help="replace your preset of that name (old one kept in trash)"
    )
    sv.set_defaults(func=run_save)
    fx = ps.add_parser("effects", help="list the effects a preset chain can use, with parameters and units")
    fx.set_defaults(func=run_effects)
    p.set_defaults(func=run_list, json=False)


def _store(args: argparse.Namespace):
    from diffhost.host.presets import PresetStore

    return PresetStore(user_dir=args.user_dir)


def run_list(args: argparse.Namespace) -> int:
    from diffhost.host.presets import PresetError

    store = _store(args)
    rows = []
    for name in store.names():
        try:
            p = store.load(name)
            rows.append({"name": p.name, "description": p.description, "shipped": p.shipped, "error": None})
        except PresetError as exc:  # a broken user preset is listed with its reason, not hidden
            rows.append({"name": name, "description": "", "shipped": False, "error": str(exc)})
    if getattr(args, "json", False):
        print(json.dumps(rows, indent=2))
        return 0
    width = max((len(r["name"]) for r in rows), default=0)
    for r in rows:
        where = "shipped" if r["shipped"] else "user"
        text = f"INVALID: {r['error']}" if r["error"] else r["description"]
        print(f"{r['name']:<{width}}  [{where}]  {text}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    p = _store(args).load(args.name)
    print(f"# {p.source}")
    print(json.dumps(p.to_dict(), indent=2))
    return 0


def run_save(args: argparse.Namespace) -> int:
    from diffhost.host.presets import load_file

    preset = load_file(args.file)
    path = _store(args).save(args.name, preset, overwrite=args.overwrite)
    print(f"saved {args.name!r} to {path}")
    return 0


def run_effects(args: argparse.Namespace) -> int:
    from diffhost.host.render.effects import describe_effects

    print(describe_effects())
    return 0
