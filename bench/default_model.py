"""Speed and quality of the embedded default model: `python bench/default_model.py [--eval N]`.

Speed bars (2-core CPU): model load <= 2 s; one-shots: prompt -> waveform for one 1 s clip
at 44.1 kHz <= 0.3 s, 8 variations in one batch <= 1.5 s; loops and phrases: a 10 s phrase
at 44.1 kHz stereo <= 0.5 s, 8 variations of a 4-bar loop <= 2 s. The machine is shared and
noisy, so each figure is also printed as a ratio to a fixed numpy/torch reference
workload timed in the same run (lower is better; compare ratios across runs).
--eval N also runs the quality evaluation (one-shots and loops) with N per category; --pictures DIR
writes a spectrogram PNG of one loop per style (the model card shows them). DIFFHOST_BANK=fluidr3
measures with the older recorded bank.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def reference_workload() -> None:
    """A fixed mix of FFTs and small matmuls, the shape of the work a render does."""
    x = np.random.default_rng(0).standard_normal(1 << 16)
    for _ in range(20):
        np.fft.rfft(x)
    import torch

    a = torch.randn(64, 256)
    w = torch.randn(256, 512)
    for _ in range(200):
        a @ w


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--eval", type=int, default=0, help="also run the quality evaluation with N per category")
    p.add_argument("--pictures", default=None, help="write one spectrogram PNG per style into this folder")
    p.add_argument("--skip-speed", action="store_true", help="only the evaluation and pictures")
    args = p.parse_args()
    if args.skip_speed:
        from diffhost.engine import load_model

        return _quality(load_model(device="cpu"), args)

    # Load time in a fresh process, after `import torch` (the host has torch loaded by then).
    code = (
        "import time, torch; t=time.perf_counter(); from diffhost.engine import load_model; m=load_model(device='cpu');"
        "print(time.perf_counter()-t)"
    )
    loads = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout.split()[-1]
        )
        for _ in range(3)
    ]

    from diffhost.engine import load_model

    model = load_model(device="cpu")
    model.generate("kick", length=1.0, seed=0)  # warm caches
    ref = _median_time(reference_workload, args.repeats)
    one = _median_time(
        lambda: model.generate("punchy analog kick", sample_rate=44100, length=1.0), args.repeats
    )
    eight = _median_time(
        lambda: model.generate("punchy analog kick", sample_rate=44100, length=1.0, variations=8),
        max(3, args.repeats // 2),
    )
    model.generate("house drum loop", length=4.0, bpm=120.0, seed=0)  # builds/maps the bank, warms caches
    phrase = _median_time(
        lambda: model.generate("lofi hip hop beat with bass and chords", sample_rate=44100, length=10.0),
        args.repeats,
    )
    loop_len = 4 * 240 / 124  # four bars at 124 bpm
    loops8 = _median_time(
        lambda: model.generate("deep house groove with bass", length=loop_len, bpm=124.0, variations=8),
        max(3, args.repeats // 2),
    )
    load = statistics.median(loads)
    figures = {
        "load_s": round(load, 3),
        "one_clip_1s_s": round(one, 4),
        "one_clip_realtime_factor": round(1.0 / one, 1),
        "eight_variations_1s_s": round(eight, 4),
        "eight_variations_realtime_factor": round(8.0 / eight, 1),
        "reference_workload_s": round(ref, 4),
        "one_clip_over_reference": round(one / ref, 2),
        "eight_over_reference": round(eight / ref, 2),
        "phrase_10s_s": round(phrase, 4),
        "phrase_10s_realtime_factor": round(10.0 / phrase, 1),
        "eight_loops_4bars_s": round(loops8, 4),
        "phrase_over_reference": round(phrase / ref, 2),
        "eight_loops_over_reference": round(loops8 / ref, 2),
        "targets": {
            "load_s": 2.0,
            "one_clip_1s_s": 0.3,
            "eight_variations_1s_s": 1.5,
            "phrase_10s_s": 0.5,
            "eight_loops_4bars_s": 2.0,
        },
    }
    print(json.dumps(figures, indent=2))
    return _quality(model, args)


def _quality(model, args) -> int:
    if args.eval:
        from diffhost.engine.default.training.evaluate import evaluate
        from diffhost.engine.default.training.evaluate_loops import evaluate_loops

        print(json.dumps({"one_shots": evaluate(model, n=args.eval)}, indent=2))
        loops = evaluate_loops(model, n=args.eval)
        for key in ("class_features", "ground_truth_features"):  # per-clip features: for re-scoring, not reading
            loops.pop(key, None)
        print(json.dumps({"loops": loops}, indent=2, default=str))
    if args.pictures:
        from diffhost.engine.default.training.evaluate_loops import style_pictures

        print(json.dumps({"pictures": style_pictures(model, args.pictures)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
