"""`diffhost render PROMPT ...`: one render through the engine, with a progress bar."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.audio import load_seed_clip
from engine.request import GenerationRequest


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="render audio from a prompt and/or seed audio")
    p.add_argument("prompt", nargs="?", default=None, help="text prompt, e.g. 'punchy analog kick'")
    p.add_argument("--seed-audio", type=Path, help="seed clip in any common format and sample rate")
    p.add_argument("--strength", type=float, default=0.6, help="how far the seed clip is re-imagined, 0..1")
    p.add_argument("--length", type=float, default=None, help="length in seconds (default 1.0)")
    p.add_argument("--sample-rate", type=int, default=44100, help="output sample rate in Hz")
    p.add_argument("--temperature", type=float, default=1.0, help="initial-noise scale (<1 tamer, >1 wilder)")
    p.add_argument("--seed", type=int, default=None, help="random seed (same seed = identical audio)")
    p.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale")
    p.add_argument("--negative-prompt", default=None, help="what to steer away from")
    p.add_argument("--variations", type=int, default=1, help="number of variations, 1..64")
    p.add_argument("--model", default=None, help="model: default, a local folder or a Hugging Face id")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("-o", "--output", type=Path, default=Path("renders"), help="output .wav file or folder")
    p.add_argument("--no-normalize", action="store_true", help="skip peak normalization to -1 dBFS")
    p.add_argument("--json", action="store_true", help="print a machine-readable result")
    p.set_defaults(func=run)


def build_request(args: argparse.Namespace) -> GenerationRequest:
    clip = load_seed_clip(args.seed_audio) if args.seed_audio else None
    return GenerationRequest(
        prompt=args.prompt,
        seed_clip=clip,
        sample_rate=args.sample_rate,
        length=args.length if args.length is not None else 1.0,
        temperature=args.temperature,
        steps=args.steps,
        guidance=args.guidance,
        negative_prompt=args.negative_prompt,
        seed=args.seed,
        strength=args.strength,
        variations=args.variations,
    )


def run(args: argparse.Namespace) -> int:
    from engine.engine import Engine
    from host.save import save_result

    request = build_request(args)
    with Engine(device=args.device) as engine:
        events = engine.subscribe()
        job = engine.submit(request, model=args.model)
        while True:
            ev = events.get()
            if ev.job_id != job.id:
                continue
            if ev.kind == "progress" and not args.json:
                _bar(ev.progress)
            elif ev.terminal:
                break
    if not args.json:
        print(file=sys.stderr)
    if ev.kind != "done" or ev.result is None:
        print(f"diffhost: render {ev.kind}: {ev.message}", file=sys.stderr)
        return 1
    saved = save_result(ev.result, args.output, peak_db=None if args.no_normalize else -1.0)
    if args.json:
        print(
            json.dumps(
                {
                    "files": [str(s.path) for s in saved],
                    "sidecars": [str(s.sidecar) for s in saved],
                    "seed": ev.result.seed,
                    "sample_rate": ev.result.sample_rate,
                    "length_s": ev.result.length_s,
                    "render_s": round(ev.result.render_s, 4),
                    "model": ev.result.model.name,
                }
            )
        )
    else:
        for s in saved:
            print(
                f"{s.path}  ({s.length_s:.2f} s, {s.sample_rate} Hz, {s.channels} ch, seed {ev.result.seed})"
            )
    return 0


def _bar(fraction: float, width: int = 30) -> None:
    filled = int(round(fraction * width))
    sys.stderr.write(f"\rrendering [{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}%")
    sys.stderr.flush()
