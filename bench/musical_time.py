"""Musical time at large N: `python bench/musical_time.py [--n 200] [--speed-repeats 7]`.

Prints the issue's Bars table figures for the embedded default model:
- loop length: renders of N bars (1, 2, 4, 8) at random tempos 70..175 (90, 97, 140, 173.5
  always among them) at 44.1 and 48 kHz, through finishing and a 24-bit WAV export (read back):
  the share that are exactly round(N x bar x rate) samples;
- seam: the share whose loop played twice has no step at the seam above the clip's 99.9th-percentile
  step, and no attack in its last 10 ms;
- whole bars: of renders whose prompt asks for a loop (any length in seconds, tempo free or set),
  the share that are whole bars at a whole-number tempo;
- speed: a 10 s phrase's real-time factor, the load time (fresh process), and renders with stems
  and MIDI as a ratio to renders without (same requests, same run, medians).
The machine is shared, so speed is also given as a ratio to the same render without the extras.
"""

from __future__ import annotations

import argparse
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
        "--baseline",
        type=Path,
        default=None,
        help="another diffhost checkout (e.g. before this change): its 10 s phrase is timed in the same run",
    )
    args = p.parse_args()

    from diffhost.engine import load_model
    from diffhost.engine.request import GenerationRequest, loop_samples
    from diffhost.host.render.finisher import Finisher
    from diffhost.host.render.post import Recipe

    model = load_model(None, device="cpu")
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

    def timed(req: GenerationRequest) -> float:
        times = []
        for _ in range(args.speed_repeats):
            t0 = time.perf_counter()
            model.render(req)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    phrase = GenerationRequest(prompt="solo piano melody", length=10.0, bpm=100.0, seed=3)
    plain = timed(phrase)
    extras = timed(phrase.with_(stems=True, midi=True))
    loop = GenerationRequest(prompt="funk beat with bass and chords", bars=4, bpm=100.0, seed=3, variations=4)
    loop_plain = timed(loop)
    loop_extras = timed(loop.with_(stems=True, midi=True))
    code = (
        "import time, torch; t=time.perf_counter(); from diffhost.engine import load_model; "
        "load_model(device='cpu'); print(time.perf_counter()-t)"
    )
    loads = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout.split()[-1]
        )
        for _ in range(3)
    ]
    if args.baseline:
        phrase_code = (
            "import time, statistics; from diffhost.engine import load_model; "
            "from diffhost.engine.request import GenerationRequest as G; m=load_model(device='cpu'); "
            "r=G(prompt='solo piano melody', length=10.0, bpm=100.0, seed=3); m.render(r); ts=[]\n"
            f"for _ in range({args.speed_repeats}):\n"
            " t=time.perf_counter(); m.render(r); ts.append(time.perf_counter()-t)\n"
            "print(statistics.median(ts))"
        )
        for label, root in (
            ("baseline", args.baseline),
            ("this checkout", Path(__file__).resolve().parents[1]),
        ):
            env = {**os.environ, "PYTHONPATH": str(root)}
            out = subprocess.run([sys.executable, "-c", phrase_code], capture_output=True, text=True, env=env)
            secs = float(out.stdout.split()[-1]) if out.returncode == 0 else float("nan")
            print(f"             {label} ({root}): 10 s phrase {secs:.3f} s = {10.0 / secs:.1f}x real time")
    print(
        f"speed:       10 s phrase {plain:.3f} s = {10.0 / plain:.1f}x real time; "
        f"load {statistics.median(loads):.2f} s (median of 3 fresh processes)"
    )
    print(
        f"             stems + MIDI: 10 s phrase {extras / plain:.2f}x, 4 variations of 4 bars "
        f"{loop_extras / loop_plain:.2f}x the time without ({loop_plain:.3f} -> {loop_extras:.3f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
