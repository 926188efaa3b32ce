"""Engine overhead: Engine.submit + wait vs calling the same diffusers pipeline directly.

Builds a tiny random-weight pipeline (tests/engine/tiny.py), loads it through
load_model, and times, interleaved, (a) the pipeline's own __call__ with the exact
arguments the adapter passes and (b) a full engine round trip (submit on the caller's
thread, worker thread render with hooks/progress/cancel checks, result event back).
The request asks for the model's native rate, so (b) does no resampling; the cost of
resampling to 44.1 kHz is printed separately. CPU, float32. Also timed: the same direct call run on the engine's worker thread
(run_sync), which isolates what the engine itself adds from running on another thread.

    python bench/engine_overhead.py [--family AudioLDMPipeline] [--steps 20] [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

# Both the caller's thread (direct calls) and the engine's worker run torch here, each with its own
# OpenMP team; with the default spin-waiting, the idle team burns the cores the busy one needs (on a
# 2-core machine that alone costs 10-40 %). In the app only the worker runs torch, so measure the
# engine, not that artefact; pass OMP_WAIT_POLICY=active to see it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "engine"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="AudioLDMPipeline")  # native 16 kHz: a valid request rate
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--length", type=float, default=0.5)
    args = ap.parse_args()

    warnings.filterwarnings("ignore")
    import numpy as np
    import tiny
    import torch

    from diffhost.engine import Engine, GenerationRequest, load_model

    torch.set_num_threads(1)  # the tiny model's ops are too small to split; the worker thread inherits this

    folder = Path(tempfile.mkdtemp(prefix="diffhost-bench-")) / args.family
    tiny.build(args.family, folder)
    model = load_model(str(folder), device="cpu")
    info = model.info
    prompt = None if args.family == "DanceDiffusionPipeline" else "punchy analog kick"
    req = GenerationRequest(
        prompt=prompt, length=args.length, steps=args.steps, seed=7, sample_rate=info.native_sample_rate
    )

    def direct() -> np.ndarray:
        # The same arguments the adapter passes (see engine/adapters/<family>.py), same seeded generator.
        g = torch.Generator().manual_seed(7)
        pipe = model.pipe
        if args.family == "DanceDiffusionPipeline":
            return pipe(
                batch_size=1, num_inference_steps=args.steps, generator=g, audio_length_in_s=args.length
            ).audios[0]
        if args.family.startswith("StableAudio3"):
            return pipe(
                prompt=prompt,
                duration=args.length,
                num_inference_steps=args.steps,
                guidance_scale=1.0,
                negative_prompt=None,
                num_waveforms_per_prompt=1,
                generator=g,
                output_type="np",
            ).audios[0]
        if args.family == "StableAudioPipeline":
            return pipe(
                prompt=prompt,
                negative_prompt=None,
                audio_start_in_s=0.0,
                audio_end_in_s=args.length,
                num_inference_steps=args.steps,
                guidance_scale=info.default_guidance,
                num_waveforms_per_prompt=1,
                generator=g,
                output_type="np",
            ).audios[0]
        return pipe(
            prompt=prompt,
            negative_prompt=None,
            audio_length_in_s=args.length,
            num_inference_steps=args.steps,
            guidance_scale=info.default_guidance,
            num_waveforms_per_prompt=1,
            generator=g,
            output_type="np",
        ).audios[0]

    with Engine(loader=lambda spec: model) as engine:
        events = engine.subscribe()

        def via_engine() -> np.ndarray:
            job = engine.submit(req)
            while True:
                ev = events.get()
                if ev.job_id == job.id and ev.terminal:
                    assert ev.kind == "done", ev.message
                    return ev.result.audio[0]

        a, b = direct(), via_engine()  # warm-up, and the two paths must agree
        n = min(a.shape[-1], b.shape[-1])
        assert np.allclose(np.atleast_2d(a)[:, :n], b[:, :n], atol=1e-5), "engine and direct outputs differ"

        def direct_on_worker() -> np.ndarray:  # the same direct call, run on the engine's own thread
            return engine.run_sync(direct)

        times: dict[str, list[float]] = {"direct": [], "worker": [], "engine": []}
        cpu: dict[str, list[float]] = {"direct": [], "worker": [], "engine": []}
        paths = [("direct", direct), ("worker", direct_on_worker), ("engine", via_engine)]
        for i in range(args.repeats):
            for key, fn in paths if i % 2 == 0 else paths[::-1]:
                c0, t0 = time.process_time(), time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t0)
                cpu[key].append(time.process_time() - c0)  # this process's CPU, all threads

        t0 = time.perf_counter()
        model.render(req.with_(sample_rate=44100))
        t_resampled = time.perf_counter() - t0

    md, mw, me = (statistics.median(times[k]) for k in ("direct", "worker", "engine"))
    n = args.repeats
    print(
        f"family               {args.family} (tiny, random weights), {args.steps} steps, {args.length} s, CPU"
    )
    print(f"direct pipeline call median {md * 1000:8.1f} ms  (caller's thread, n={n})")
    print(f"same call, run_sync  median {mw * 1000:8.1f} ms  (on the engine worker thread, n={n})")
    print(f"engine submit+wait   median {me * 1000:8.1f} ms  (n={n})")
    print(f"overhead vs direct   {100 * (me / md - 1):+.2f} %  (target <= 3 %)")
    print(
        f"overhead vs the same call on the worker thread {100 * (me / mw - 1):+.2f} %  (what the engine adds)"
    )
    # CPU time is what a shared machine cannot distort: other processes' load stretches wall time only.
    paired = statistics.median(e / d for e, d in zip(times["engine"], times["direct"], strict=True))
    cd, ce = statistics.median(cpu["direct"]), statistics.median(cpu["engine"])
    print(f"paired wall ratio    engine/direct median {paired:.4f}  ({100 * (paired - 1):+.2f} %)")
    print(
        f"process CPU time     direct {cd * 1000:.1f} ms, engine {ce * 1000:.1f} ms: {100 * (ce / cd - 1):+.2f} %"
    )
    print(f"with resampling to 44.1 kHz (one render, Model.render): {t_resampled * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
