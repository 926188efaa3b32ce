"""`diffhost render PROMPT ...`: one render through the engine, with a progress bar."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from diffhost.engine.audio import read_seed_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="render audio from a prompt and/or seed audio")
    p.add_argument("prompt", nargs="?", default=None, help="text prompt, e.g. 'punchy analog kick'")
    p.add_argument("--seed-audio", type=Path, help="seed clip in any common format and sample rate")
    p.add_argument("--strength", type=float, default=None, help="how far the seed clip is re-imagined, 0..1")
    p.add_argument("--length", type=float, default=None, help="length in seconds (default 1.0)")
    p.add_argument(
        "--bars",
        type=float,
        default=None,
        help="length in bars of 4/4 instead of seconds: exactly N bars at --bpm (or the tempo the model picks)",
    )
    p.add_argument(
        "--sample-rate", type=_whole_hz, default=None, help="output sample rate in Hz (default 44100)"
    )
    p.add_argument(
        "--temperature", type=float, default=None, help="initial-noise scale (<1 tamer, >1 wilder)"
    )
    p.add_argument("--seed", type=int, default=None, help="random seed (same seed = identical audio)")
    p.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale")
    p.add_argument("--negative-prompt", default=None, help="what to steer away from")
    p.add_argument("--variations", type=int, default=None, help="number of variations, 1..64")
    p.add_argument(
        "--bpm",
        type=float,
        default=None,
        help="tempo of loops and phrases, 40..300 (also read from the prompt)",
    )
    p.add_argument(
        "--key", default=None, help="key, e.g. 'A minor', 'F#', 'Eb major' (also read from the prompt)"
    )
    p.add_argument(
        "--stems", action="store_true", help="also write each part as its own WAV (the default model's loops)"
    )
    p.add_argument(
        "--midi", action="store_true", help="also write the score as a MIDI file (the default model's loops)"
    )
    p.add_argument("--model", default=None, help="model: default, a local folder or a Hugging Face id")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument(
        "--engine",
        default=None,
        metavar="URL",
        help="render on a remote engine (diffhost engine-serve), e.g. http://gpu-box:8450; default: this machine",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("renders"),
        help="output file (its extension .wav .flac .ogg .mp3 picks the format) or folder",
    )
    p.add_argument("--no-normalize", action="store_true", help="skip normalization (peak -1 dBFS by default)")
    p.add_argument(
        "--preset", default=None, help="preset name (see `diffhost presets list`); flags given here win"
    )
    p.add_argument(
        "--format",
        default=None,
        help="wav, flac, ogg or mp3 (default: -o's extension, else the preset's, else 24-bit wav)",
    )
    p.add_argument("--bit-depth", type=int, default=None, help="wav 16/24/32 (32 = float), flac 16/24")
    p.add_argument("--quality", default=None, help="mp3 'V0'..'V9' or '320 kbps'; ogg '64 kbps'..'500 kbps'")
    p.add_argument("--tag", action="append", default=[], help="library tag (repeatable)")
    p.add_argument(
        "--library", type=Path, default=None, help="render library folder (default: user data dir)"
    )
    p.add_argument("--no-library", action="store_true", help="do not record the render in the library")
    p.add_argument("--json", action="store_true", help="print a machine-readable result")
    p.set_defaults(func=run)


def _whole_hz(text: str) -> int:
    """--sample-rate: a whole number of Hz, named as such (argparse's own words are "invalid int")."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of Hz (e.g. 44100 or 48000)") from None
    if not value.is_integer():
        raise argparse.ArgumentTypeError(f"{text} must be a whole number of Hz (e.g. 44100 or 48000)")
    return int(value)


def check_output(output: Path) -> None:
    """Refuse an output the render could not be written to, before the (slow) render.

    A device or pipe (-o /dev/null), a file inside something that is not a folder, and a folder
    the user may not write to (read-only disk, permissions) are named here, with the reason.
    """
    out = output.expanduser()
    if out.exists() and not (out.is_dir() or out.is_file()):
        raise ValueError(
            f"output: {out} is not a folder or a regular file (a device or a pipe?); "
            "give a folder or a new file name"
        )
    folder = out if out.suffix == "" or out.is_dir() else out.parent
    probe = folder
    while not probe.exists() and probe != probe.parent:  # the folder is made when missing
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"output: {probe} is a file, so {folder} cannot be a folder")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise ValueError(f"output: cannot write to {probe} ({exc.strerror or exc})") from None


def overrides(args: argparse.Namespace) -> dict:
    """The generation flags given on the command line (None = not given: the preset's or default)."""
    return {
        "prompt": args.prompt,
        "sample_rate": args.sample_rate,
        "length": args.length,
        "temperature": args.temperature,
        "steps": args.steps,
        "guidance": args.guidance,
        "negative_prompt": args.negative_prompt,
        "seed": args.seed,
        "strength": args.strength,
        "variations": args.variations,
        "bpm": args.bpm,
        "key": args.key,
        "bars": args.bars,
        "stems": args.stems or None,
        "midi": args.midi or None,
    }


def build_recipe(args: argparse.Namespace, preset=None):
    """Preset recipe (or the default: DC removal, peak -1 dBFS, 24-bit WAV) with -o's extension or
    --format (they must agree), --bit-depth and --quality on top."""
    from dataclasses import replace

    from diffhost.host.render.export import parse_export
    from diffhost.host.render.post import Recipe

    recipe = preset.recipe() if preset else Recipe()
    from_name = output_format(args.output)
    if args.format and from_name and args.format.lower().lstrip(".") != from_name:
        raise ValueError(
            f"--format {args.format} conflicts with -o {args.output.name} (.{from_name}); "
            "give one of them, or make them agree"
        )
    if args.format or from_name or args.bit_depth is not None or args.quality is not None:
        fmt = (args.format or from_name or recipe.export.format).lower()
        # the same format keeps the preset's other export settings; another starts from that format's defaults
        export = recipe.export.to_dict() if fmt == recipe.export.format else {"format": fmt}
        if args.bit_depth is not None:
            export["bit_depth"] = args.bit_depth
        if args.quality is not None:
            export["quality"] = args.quality
        recipe = replace(recipe, export=parse_export(export, where="--format/--bit-depth/--quality"))
    if args.no_normalize:
        recipe = replace(recipe, finishing=replace(recipe.finishing, normalize=None))
    return recipe


OUTPUT_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


def output_format(output: Path) -> str | None:
    """The format -o's extension names ("kick.mp3" -> "mp3"); None for a folder (no extension).
    An extension diffhost cannot write is an error naming the ones it can."""
    suffix = output.suffix.lower()
    if not suffix or output.is_dir():
        return None
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(
            f"-o {output.name}: {suffix} is not a format diffhost writes; use {', '.join(OUTPUT_SUFFIXES)} "
            "(or a folder name without an extension)"
        )
    return suffix.lstrip(".")


def options(args: argparse.Namespace):
    """A one-shot render's runtime: no audio device and none of the live parts (kits, MIDI,
    tempo sync, fresh pads), so no thread starts that the render does not need."""
    from diffhost.runtime import RuntimeOptions

    return RuntimeOptions(
        renders_dir=args.output if args.output.suffix == "" else args.output.parent,
        model=args.model,
        device=args.device,
        engine_url=args.engine,
        audio=False,
        live=False,
        library=not args.no_library,
        library_dir=args.library,
    )


def run(args: argparse.Namespace) -> int:
    from diffhost.runtime import build_runtime

    check_output(args.output)
    with build_runtime(options(args)) as runtime:
        session = runtime.session
        preset = runtime.presets.load(args.preset) if args.preset else None
        recipe = build_recipe(args, preset)  # validated before the (slow) render, not after
        # One plan, validated once (every value, the model resolved) and submitted as it is.
        plan = session.plan(
            preset=preset, model=args.model, recipe=recipe, out=args.output, tags=tuple(args.tag), **overrides(args)
        )
        if args.seed_audio:  # read once, and no more of it than this render uses
            loaded = read_seed_file(args.seed_audio, max_s=plan.request.length)
            if loaded.trimmed:
                print(f"diffhost: {args.seed_audio}: {loaded.note()}", file=sys.stderr)
            plan = plan.with_seed_clip(loaded.clip)
        progress = None if args.json else _bar
        # Loaded before submitting, so "accepted" already carries this machine's time estimate.
        session.engine.load(plan.model)
        job, ev = session.wait_for(lambda: session.submit(plan), on_progress=progress)
        if not args.json:
            print(file=sys.stderr)
        if ev.kind != "done":
            print(f"diffhost: render {ev.kind}: {ev.message}", file=sys.stderr)
            return 1
        saved = session.renders[job.id]
    result = ev.result
    if args.json:
        print(
            json.dumps(
                {
                    "files": [str(s.path) for s in saved],
                    "sidecars": [str(s.sidecar) for s in saved],
                    "render_ids": [s.render_id for s in saved],
                    "seed": result.seed,
                    "sample_rate": saved[0].sample_rate,
                    "length_s": saved[0].length_s,
                    "loudness_lufs": saved[0].loudness_lufs,
                    "peak_dbfs": saved[0].peak_dbfs,
                    "render_s": round(result.render_s, 4),
                    "model": result.model.name,
                    "preset": recipe.preset,
                    "music": [_music_of(result, s.variation) for s in saved],
                    "sidecar_parts": [
                        {
                            k: v
                            for k, v in json.loads(Path(s.sidecar).read_text()).items()
                            if k in ("stems", "midi")
                        }
                        for s in saved
                    ],
                }
            )
        )
    else:
        for s in saved:
            rid = f", library #{s.render_id}" if s.render_id is not None else ""
            print(
                f"{s.path}  ({s.length_s:.2f} s, {s.sample_rate} Hz, {s.channels} ch, "
                f"seed {result.seed}{rid})"
            )
            music = _music_of(result, s.variation)
            if music:
                print(f"  {music_line(music)}")
            _print_parts(s, args)
    return 0


def _print_parts(saved, args: argparse.Namespace) -> None:
    """The stems and MIDI written beside a file (from its sidecar), or why there are none."""
    if not (args.stems or args.midi):
        return
    side = json.loads(Path(saved.sidecar).read_text())
    why = side.get("no_parts") or "the model wrote none"
    if args.stems:
        files = (side.get("stems") or {}).get("files") or {}
        if files:
            print("  stems: " + ", ".join(str(saved.path.parent / f) for f in files.values()))
        else:
            print(f"  stems: none ({why})")
    if args.midi:
        print(f"  midi: {saved.path.parent / side['midi']}" if side.get("midi") else f"  midi: none ({why})")


def _music_of(result, variation: int) -> dict | None:
    music = (result.extra or {}).get("music")
    return music[min(variation, len(music) - 1)] if music else None


def music_line(music: dict) -> str:
    """'90 bpm · F minor · 4 bars · loop (tempo: prompt, key: model)', then any notes."""
    bars = float(music.get("bars") or 0)
    parts = [f"{float(music['bpm']):g} bpm"] if music.get("bpm") else []
    if music.get("key"):
        parts.append(str(music["key"]))
    if bars:
        parts.append(f"{bars:g} bar{'' if bars == 1 else 's'}")
    parts.append("loop" if music.get("loop") else "phrase")
    set_by = music.get("set_by") or {}
    line = " · ".join(parts)
    if set_by:
        line += f" (tempo: {set_by.get('bpm', 'model')}, key: {set_by.get('key', 'model')})"
    for note in music.get("notes") or ():
        line += f"; {note}"
    return line


def _bar(ev, width: int = 30) -> None:
    """The terminal's progress line; a render that will take a while says how long up front."""
    if ev.kind == "accepted":
        if ev.eta_s is not None and ev.eta_s >= 30:
            sys.stderr.write(f"this render will take about {_clock(ev.eta_s)} on this machine\n")
        return
    filled = int(round(ev.progress * width))
    left = f", {_clock(ev.eta_s)} left" if ev.eta_s is not None and ev.eta_s >= 2 and ev.progress < 1 else ""
    sys.stderr.write(
        f"\rrendering [{'#' * filled}{'.' * (width - filled)}] {ev.progress * 100:5.1f}%{left}   "
    )
    sys.stderr.flush()


def _clock(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"
