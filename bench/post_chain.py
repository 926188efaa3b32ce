"""Post-processing speed: every shipped preset's chain + finishing on a 10 s stereo 48 kHz clip.

Single thread (BLAS/OpenMP pinned to 1 before numpy loads). Prints x-real-time per preset
(audio seconds / processing seconds, best of N runs) and the heaviest one against the target
(>= 200x), plus a one-Gain chain as the in-run baseline for comparing machines.

    python bench/post_chain.py [--runs 5]
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diffhost.host.presets import PresetStore  # noqa: E402
from diffhost.host.render.post import Recipe, postprocess  # noqa: E402

SR, SECONDS, TARGET = 48000, 10.0, 200.0


def clip(sr: int = SR, seconds: float = SECONDS) -> np.ndarray:
    """Drum-ish test material: decaying noise bursts on a tone bed, stereo (also bench/reprocess.py's)."""
    rng = np.random.default_rng(0)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    bed = 0.2 * np.sin(2 * np.pi * 110 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    hits = np.zeros(n)
    for start in range(0, n, sr // 4):
        k = min(n - start, sr // 5)
        hits[start : start + k] += rng.standard_normal(k) * np.exp(-np.arange(k) / (0.03 * sr))
    x = np.stack([bed + 0.5 * hits, bed + 0.45 * np.roll(hits, 7)])
    return (x / np.max(np.abs(x)) * 0.8).astype(np.float32)


def speed(audio: np.ndarray, recipe: Recipe, runs: int, chain_only: bool = False) -> float:
    """x real time, from this process's CPU time (time.process_time): on a shared machine wall
    time counts other people's work; one thread's CPU seconds are what one core spends."""

    def work() -> None:
        if chain_only:
            recipe.chain.process(audio, SR)
        else:
            postprocess(audio, SR, recipe)

    work()  # warm-up: builds the pedalboard objects once, as a session's finisher does
    best = float("inf")
    for _ in range(runs):
        t0 = time.process_time()
        work()
        best = min(best, time.process_time() - t0)
    return SECONDS / best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    audio = clip()
    store = PresetStore(user_dir=Path("/nonexistent"))
    baseline = Recipe.from_dict(
        {"effects": [{"effect": "Gain", "params": {"gain_db": -1.0}}], "finishing": {}}
    )
    base = speed(audio, baseline, args.runs, chain_only=True)
    print(f"clip: {SECONDS:g} s stereo {SR} Hz, best of {args.runs}, one thread, CPU time")
    print(f"{'baseline: a one-Gain chain':32s} {base:8.0f}x")
    print(f"{'preset':32s} {'chain':>9s} {'chain+finishing+LUFS':>22s}")
    results = {}
    for name in store.names():
        recipe = store.load(name).recipe()
        results[name] = speed(audio, recipe, args.runs, chain_only=True)
        full = speed(audio, recipe, args.runs)
        print(f"{name:32s} {results[name]:8.0f}x {full:21.0f}x")
    heaviest = min(results, key=results.get)
    ok = results[heaviest] >= TARGET
    print(
        f"\nheaviest chain: {heaviest!r} at {results[heaviest]:.0f}x real time "
        f"({results[heaviest] / base:.3f} of the baseline); target >= {TARGET:.0f}x: {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
