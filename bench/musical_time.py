"""Musical time at large N: `python bench/musical_time.py [--n 200] [--speed-repeats 7]`.

Prints the issue's Bars table figures for the embedded default model:
- loop length: renders of N bars (1, 2, 4, 8) at random tempos 70..175 (90, 97, 140, 173.5
  always among them) at 44.1 and 48 kHz, through finishing and a 24-bit WAV export (read back):
  the share that are exactly round(N x bar x rate) samples;
- seam: the share whose loop played twice has no step at the seam above the clip's 99.9th-percentile
  step, and no attack in its last 10 ms;
- whole bars: of renders whose prompt asks for a loop (any length in seconds, tempo free or set),
  the share that are whole bars at a whole-number tempo;
- speed: a 10 s phrase's real-time factor; the load time and the first render in fresh processes
  (with --baseline, another checkout's in the same run, alternating); renders with stems and MIDI
  as a ratio to the same renders without, alternating plain and extras, both as the render alone
  and as render + save (the finisher writing the file, its dry copy, the stems and the .mid),
  medians of wall-clock and of this process's CPU time (the machine is shared: CPU time is
  steadier there). With --ratio-runs K the stems + MIDI comparison is made K times in the run and
  the render's CPU ratio is printed as min / median / max of the K.

`--speed-only` prints only the phrase's speed and the stems + MIDI ratios (no loops, no load time).
`--compare-mix K` also measures the 48 kHz cases with mix version K (an older mix, rendered at
44.1 kHz and resampled): its stems + MIDI ratios, and today's plain render's CPU time against mix K's,
in the same run.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

LOOP_PROMPTS = (
    "boom bap drum loop", "techno loop", "house groove with bass", "lofi hip hop drum loop", "trap beat",
    "funk beat with bass and chords", "dnb drum loop", "piano chords loop", "synth bassline loop",
    "afrobeat groove", "rock drum loop with bass", "ambient pad loop",
)  # fmt: skip


def onsets_in_last(x: np.ndarray, sr: int, window_s: float = 0.010) -> int:
    block = max(1, sr // 1000)
    mono = np.abs(x).max(axis=0)
    n = mono.size // block
    peaks = mono[: n * block].reshape(n, block).max(axis=1)
    return sum(
        1
        for i in range(max(5, n - int(round(window_s * 1000))), n)
        if peaks[i] > 0.05 and peaks[i] > 3 * peaks[i - 5 : i].max()
    )


def seam_ok(x: np.ndarray) -> bool:
    steps = np.abs(np.diff(x, axis=1)).max(axis=0)
    return float(np.abs(x[:, 0] - x[:, -1]).max()) <= float(np.percentile(steps, 99.9))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=200, help="loops rendered for the length and seam figures")
    p.add_argument("--whole", type=int, default=120, help="loop prompts rendered for the whole-bars figure")
    p.add_argument("--speed-repeats", type=int, default=7)
    p.add_argument(
        "--ratio-runs", type=int, default=1, help="times the stems + MIDI ratio is measured (min/median/max)"
    )
    p.add_argument("--speed-only", action="store_true", help="only the phrase speed and the stems + MIDI ratios")
    p.add_argument(
        "--compare-mix", type=int, default=None, help="also measure the 48 kHz cases with this older mix version"
    )
    p.add_argument("--load-repeats", type=int, default=3, help="fresh processes per checkout for the load time")
    p.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="another diffhost checkout (e.g. before this change): its load time is measured in the same run",
    )
    args = p.parse_args()

    from diffhost.engine import load_model
    from diffhost.engine.request import GenerationRequest, loop_samples
    from diffhost.host.render.finisher import Finisher
    from diffhost.host.render.post import Recipe

    model = load_model(None, device="cpu")
    if args.speed_only:
        speed_figures(model, args)
        return 0
    rng = np.random.default_rng(23)
    recipe = Recipe.from_dict(
        {"effects": [{"effect": "Reverb", "params": {"room_size": 0.3, "wet_level": 0.15}}]}
    )
    exact = seams = quiet_end = 0
    worst = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.n):
            bpm = (90.0, 97.0, 140.0, 173.5)[i] if i < 4 else float(np.round(rng.uniform(70, 175), 1))
            bars = (1, 2, 4, 8)[i % 4]
            sr = (44100, 48000)[(i // 4) % 2]
            prompt = LOOP_PROMPTS[i % len(LOOP_PROMPTS)]
            r = model.render(GenerationRequest(prompt=prompt, bars=bars, bpm=bpm, sample_rate=sr, seed=i))
            saved = Finisher(recipe).finish(r, Path(tmp))[0]
            audio, file_sr = sf.read(saved.path, dtype="float32", always_2d=True)
            want = loop_samples(bars, bpm, sr)
            ok_len = file_sr == sr and audio.shape[0] == want and r.audio.shape[-1] == want
            exact += ok_len
            x = audio.T
            seams += seam_ok(x)
            quiet_end += onsets_in_last(x, sr) == 0
            if not (ok_len and seam_ok(x)):
                worst.append((prompt, bars, bpm, sr, audio.shape[0], want))
            saved.path.unlink()
    print(
        f"loop length: {exact}/{args.n} exactly round(N x bar x rate) samples (N 1-8, 70-175 bpm, 44.1/48 kHz,"
    )
    print("             through effects, finishing and a 24-bit WAV read back)")
    print(
        f"seam:        {seams}/{args.n} no step above the 99.9th-percentile step; "
        f"{quiet_end}/{args.n} no attack in the last 10 ms"
    )
    if worst:
        print("             misses:", worst[:5])

    whole = 0
    for i in range(args.whole):
        prompt = LOOP_PROMPTS[i % len(LOOP_PROMPTS)]
        length = float(np.round(rng.uniform(2.0, 20.0), 2))
        bpm = None if i % 2 else float(np.round(rng.uniform(70, 175)))
        r = model.render(GenerationRequest(prompt=prompt, length=length, bpm=bpm, seed=1000 + i))
        m = r.extra["music"][0]
        ok = m["loop"] and float(m["bars"]).is_integer() and float(m["bpm"]).is_integer()
        ok = ok and r.audio.shape[-1] == loop_samples(m["bars"], m["bpm"], 44100)
        whole += bool(ok)
    print(
        f"whole bars:  {whole}/{args.whole} loop prompts (random 2-20 s lengths, tempo free or whole) "
        "are whole bars at a whole-number tempo"
    )

    speed_figures(model, args)
    return 0



def _alternate(a, b, repeats: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """Medians (wall s, CPU s) of a() and b(), called alternately so the machine's load hits both alike."""
    runs: dict[str, list[tuple[float, float]]] = {"a": [], "b": []}
    a(), b()  # warm caches
    for _ in range(repeats):
        for name, fn in (("a", a), ("b", b)):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            runs[name].append((time.perf_counter() - t0, time.process_time() - c0))
    med = lambda r: (statistics.median(x[0] for x in r), statistics.median(x[1] for x in r))  # noqa: E731
    return med(runs["a"]), med(runs["b"])


def speed_figures(model, args) -> None:
    from diffhost.engine.request import GenerationRequest
    from diffhost.host.render.finisher import Finisher
    from diffhost.host.render.post import Recipe

    finisher = Finisher(Recipe())
    phrase = GenerationRequest(prompt="solo piano melody", length=10.0, bpm=100.0, seed=3)
    (plain, _), _ = _alternate(lambda: model.render(phrase), lambda: None, args.speed_repeats)
    print(f"speed:       10 s phrase {plain:.3f} s = {10.0 / plain:.1f}x real time")
    cases = (
        ("4 variations x 4 bars, 44.1 kHz", GenerationRequest(
            prompt="funk beat with bass and chords", bars=4, bpm=100.0, seed=3, variations=4)),
        ("4 variations x 4 bars, 48 kHz  ", GenerationRequest(
            prompt="funk beat with bass and chords", bars=4, bpm=100.0, seed=3, variations=4, sample_rate=48000)),
        ("8 bars, 48 kHz                 ", GenerationRequest(
            prompt="house groove with bass and chords", bars=8, bpm=124.0, seed=5, sample_rate=48000)),
        ("10 s phrase, 44.1 kHz          ", phrase),
    )  # fmt: skip
    if args.compare_mix is not None:
        older = tuple(
            (f"{label.strip()}, mix {args.compare_mix}".ljust(len(label)), req.with_(mix=args.compare_mix))
            for label, req in cases
            if req.sample_rate != 44100
        )
        print(f"             plain render, today's mix against mix {args.compare_mix} (CPU s, medians):")
        for (label, req), (_, old) in zip((c for c in cases if c[1].sample_rate != 44100), older, strict=True):
            ratios = []
            for _ in range(max(1, args.ratio_runs)):
                (_, oc), (_, nc) = _alternate(
                    functools.partial(model.render, old), functools.partial(model.render, req), args.speed_repeats
                )
                ratios.append(nc / oc)
            print(
                f"             {label}  mix {args.compare_mix} {oc:.3f} s -> today {nc:.3f} s = {nc / oc:.2f}x CPU"
                f" (min / median / max over {len(ratios)}: {min(ratios):.2f} / {statistics.median(ratios):.2f}"
                f" / {max(ratios):.2f})"
            )
        cases = cases + older
    print("             stems + MIDI against the same render without (medians; wall s | CPU s):")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)

        def saved(req: GenerationRequest):
            def run() -> None:
                for f in finisher.finish(model.render(req), out):
                    f.path.unlink()

            return run

        for label, req in cases:
            extras = req.with_(stems=True, midi=True)
            cpu_ratios, wall_ratios = [], []
            for _ in range(max(1, args.ratio_runs)):
                (pw, pc), (ew, ec) = _alternate(
                    functools.partial(model.render, req), functools.partial(model.render, extras), args.speed_repeats
                )
                cpu_ratios.append(ec / pc)
                wall_ratios.append(ew / pw)
            (sw, sc), (xw, xc) = _alternate(saved(req), saved(extras), args.speed_repeats)
            print(
                f"             {label}  render {pw:.3f} -> {ew:.3f} s = {ew / pw:.2f}x wall, "
                f"{pc:.3f} -> {ec:.3f} s = {ec / pc:.2f}x CPU;  render + save {sw:.3f} -> {xw:.3f} s = "
                f"{xw / sw:.2f}x wall, {xc / sc:.2f}x CPU"
            )
            if len(cpu_ratios) > 1:
                spread = lambda r: f"{min(r):.2f} / {statistics.median(r):.2f} / {max(r):.2f}"  # noqa: E731
                print(
                    f"             {' ' * len(label)}  render ratio over {len(cpu_ratios)} measurements "
                    f"(min / median / max): {spread(cpu_ratios)} CPU, {spread(wall_ratios)} wall"
                )
    if not args.speed_only:
        load_figures(args)


LOAD_CODE = (
    "import time, torch; t=time.perf_counter(); from diffhost.engine import load_model; "
    "from diffhost.engine.request import GenerationRequest as G; m=load_model(device='cpu'); "
    "t1=time.perf_counter(); m.render(G(prompt='techno loop', bars=1, bpm=128.0, seed=1)); "
    "print(t1-t, time.perf_counter()-t1)"
)


def load_figures(args) -> None:
    """Load time (import and load_model after `import torch`, as the host has it) and the first
    render, in fresh processes; with --baseline, that checkout's too, alternating."""
    roots = [("this checkout", Path(__file__).resolve().parents[1])]
    if args.baseline:
        roots.insert(0, ("baseline", args.baseline))
    got: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in roots}
    for _ in range(args.load_repeats):
        for label, root in roots:
            env = {**os.environ, "PYTHONPATH": str(root)}
            # cwd too: `python -c` puts the working folder first on sys.path, before PYTHONPATH.
            out = subprocess.run(
                [sys.executable, "-c", LOAD_CODE], capture_output=True, text=True, env=env, cwd=root
            )
            if out.returncode == 0:
                load, first = (float(v) for v in out.stdout.split()[-2:])
                got[label].append((load, first))
    for label, root in roots:
        runs = got[label]
        if not runs:
            print(f"             load ({label}, {root}): failed")
            continue
        load = statistics.median(r[0] for r in runs)
        first = statistics.median(r[1] for r in runs)
        both = statistics.median(r[0] + r[1] for r in runs)
        print(
            f"             load ({label}, {root}): {load:.2f} s, first render {first:.2f} s, "
            f"load + first render {both:.2f} s (medians of {len(runs)} fresh processes)"
        )


if __name__ == "__main__":
    raise SystemExit(main())
