"""`diffhost library list|search|show|rerender|export|delete|tag|favorite`: the render library."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("library", help="find, re-render, export and delete past renders")
    p.add_argument("--library", type=Path, default=None, help="library folder (default: user data dir)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    ls = p.add_subparsers(dest="library_command", metavar="ACTION")

    a = ls.add_parser("list", help="latest renders")
    a.add_argument("--limit", type=int, default=50)
    a.add_argument("--favorites", action="store_true", help="favorites only")
    a.set_defaults(func=run_list)

    a = ls.add_parser("search", help="search prompts (all words), tags, model and dates")
    a.add_argument("text", nargs="?", default="", help="words that must all appear in the prompt")
    a.add_argument("--tag", action="append", default=[], help="required tag (repeatable)")
    a.add_argument("--model", default=None, help="model name contains this")
    a.add_argument("--since", default=None, help="from this date (YYYY-MM-DD or ISO time)")
    a.add_argument("--until", default=None, help="up to this date (inclusive for a bare date)")
    a.add_argument("--favorites", action="store_true", help="favorites only")
    a.add_argument("--key", default=None, help="key, e.g. 'F minor' ('F': either mode)")
    a.add_argument("--bpm", default=None, metavar="LO[-HI]", help="tempo or tempo range, e.g. 120-130")
    a.add_argument("--bars", type=float, default=None, help="length in bars")
    a.add_argument("--loop", action="store_true", help="seamless loops only")
    a.add_argument("--limit", type=int, default=100)
    a.set_defaults(func=run_search)

    a = ls.add_parser("show", help="one render with its sidecar")
    a.add_argument("id", type=int)
    a.set_defaults(func=run_show)

    a = ls.add_parser("rerender", help="render a row again from its sidecar and compare")
    a.add_argument("id", type=int)
    a.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    a.add_argument("-o", "--output", type=Path, default=None, help="folder (default: beside the original)")
    a.set_defaults(func=run_rerender)

    a = ls.add_parser("export", help="write a row's audio in another format (new file + row)")
    a.add_argument("id", type=int)
    a.add_argument("--format", required=True, help="wav, flac, ogg or mp3")
    a.add_argument("--bit-depth", type=int, default=None, help="wav 16/24/32, flac 16/24")
    a.add_argument("--quality", default=None, help="mp3 'V0'..'V9' / '320 kbps'; ogg '64 kbps'..'500 kbps'")
    a.add_argument("-o", "--output", type=Path, default=None, help="file or folder (default: beside it)")
    a.set_defaults(func=run_export)

    a = ls.add_parser("delete", help="move a render (file + sidecar) to the library's trash folder")
    a.add_argument("id", type=int)
    a.set_defaults(func=run_delete)

    a = ls.add_parser("restore", help="bring a deleted render back from the trash")
    a.add_argument("id", type=int)
    a.set_defaults(func=run_restore)

    a = ls.add_parser("tag", help="set a render's tags (replaces them)")
    a.add_argument("id", type=int)
    a.add_argument("tags", nargs="*", help="tags; none clears them")
    a.set_defaults(func=run_tag)

    a = ls.add_parser("favorite", help="mark (or --off: unmark) a favorite")
    a.add_argument("id", type=int)
    a.add_argument("--off", action="store_true")
    a.set_defaults(func=run_favorite)
    p.set_defaults(func=run_list, limit=50, favorites=False)


def _open(args: argparse.Namespace):
    from diffhost.host.library import RenderLibrary

    return RenderLibrary.open_default(args.library)


def _print_rows(args: argparse.Namespace, rows: list) -> None:
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    if not rows:
        print("no renders")
    for r in rows:
        star = "*" if r.favorite else " "
        lufs = f"{r.loudness_lufs:6.1f} LUFS" if r.loudness_lufs is not None else "    -- LUFS"
        tags = f"  [{', '.join(r.tags)}]" if r.tags else ""
        if r.bpm is not None:  # the music a loop or phrase was rendered with
            tags += (
                f"  {r.bpm:g} bpm" + (f" {r.key}" if r.key else "") + (f" {r.bars:g} bars" if r.bars else "")
            )
            tags += " loop" if r.loop else ""
        when = r.created.astimezone().strftime("%Y-%m-%d %H:%M")
        print(
            f"{r.id:5d}{star} {when}  {r.length_s:5.2f} s {r.sample_rate:6d} Hz {lufs}  "
            f"{r.prompt or '(no prompt)'}{tags}\n       {r.path}"
        )


def _bpm_range(text: str | None) -> dict:
    """'120' -> 119.5..120.5; '120-130' -> 120..130. ValueError names the flag and the form."""
    if not text:
        return {}
    lo, _, hi = text.partition("-")
    try:
        low, high = float(lo), float(hi or lo)
    except ValueError:
        raise ValueError(f"--bpm: {text!r} is not a tempo or a range like 120-130") from None
    if not hi:
        low, high = low - 0.5, high + 0.5
    return {"bpm_min": low, "bpm_max": high}


def run_list(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        _print_rows(args, lib.list(limit=args.limit, favorites_only=args.favorites))
    return 0


def run_search(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        rows = lib.search(
            args.text,
            tags=args.tag,
            model=args.model,
            since=args.since,
            until=args.until,
            favorites_only=args.favorites,
            limit=args.limit,
            key=args.key,
            **_bpm_range(args.bpm),
            bars=args.bars,
            loop=True if args.loop else None,
        )
        _print_rows(args, rows)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from diffhost.host.library import LibraryError

    with _open(args) as lib:
        row = lib.get(args.id)
        try:
            side = lib.sidecar_of(row)
        except LibraryError as exc:
            side = {"error": str(exc)}
    print(json.dumps({"render": row.to_dict(), "sidecar": side}, indent=2))
    return 0


def run_rerender(args: argparse.Namespace) -> int:
    from diffhost.host.library import LibraryError, compare_rerender
    from diffhost.runtime import RuntimeOptions, build_runtime

    options = RuntimeOptions(
        renders_dir=args.output or Path("renders"), device=args.device, audio=False, live=False, library_dir=args.library
    )
    with build_runtime(options) as runtime:
        session, library = runtime.session, runtime.library
        assert library is not None  # not optional: build_runtime opened it or raised
        library.get(args.id)  # a missing row says so before the engine starts work
        job, ev = session.wait_for(lambda: session.rerender(args.id, out=args.output))
        if ev.kind != "done":
            raise LibraryError(f"re-render {ev.kind}: {ev.message}")
        done = compare_rerender(library, args.id, session.renders[job.id][0], ev.result.model.revision)
    s = done.saved
    if args.json:
        print(
            json.dumps(
                {"id": s.render_id, "path": str(s.path), "identical": done.identical, "message": done.message}
            )
        )
    else:
        print(f"{s.path}  (library #{s.render_id}): {done.message}")
    return 0 if done.identical is not False else 1


def run_export(args: argparse.Namespace) -> int:
    from diffhost.host.library import export_row

    spec = {"format": args.format}
    if args.bit_depth is not None:
        spec["bit_depth"] = args.bit_depth
    if args.quality is not None:
        spec["quality"] = args.quality
    with _open(args) as lib:
        written, new_id = export_row(lib, args.id, spec, out=args.output)
    if args.json:
        print(json.dumps({"id": new_id, "path": str(written.path), "notes": list(written.notes)}))
    else:
        print(f"{written.path}  (library #{new_id}, {written.sample_rate} Hz)")
        for note in written.notes:
            print(f"  note: {note}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        trash = lib.delete(args.id)
    print(json.dumps({"id": args.id, "trash": str(trash)}) if args.json else f"moved to {trash}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        path = lib.restore(args.id)
    print(json.dumps({"id": args.id, "path": str(path)}) if args.json else f"restored to {path}")
    return 0


def run_tag(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        tags = lib.set_tags(args.id, args.tags)
    print(
        json.dumps({"id": args.id, "tags": list(tags)})
        if args.json
        else f"#{args.id}: {', '.join(tags) or '(none)'}"
    )
    return 0


def run_favorite(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        lib.set_favorite(args.id, not args.off)
    print(f"#{args.id}: {'not ' if args.off else ''}a favorite")
    return 0
