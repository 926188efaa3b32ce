"""What a listener could hear of a loop's two DC modes: the 5 Hz high-pass run as a circle
(`"dc_remove": true`, what every recipe before modes keeps) against the loop's mean taken off
(`"loop_mean"`, new recipes' default), on real loops of the embedded default model.

    python bench/dc_modes.py [--seconds 30] [--rate 48000] [--prompts "wide ambient pad" ...]

For each prompt: a loop render (the plugin's way: whole bars at 120 bpm, at --rate), finished both
ways (then peak-normalized to -1 dBFS, as by default). Printed per loop:
  dc        the render's own offset per channel (its mean), dBFS
  diff      the two outputs' difference: RMS against the loop's RMS (dB) and its peak (dBFS)
  bands     the level of each output in octave bands below 160 Hz and above, and their difference
            (dB): where the two differ audibly, if anywhere
  sub       the share of each output's energy below 20 Hz (what the mean keeps and the filter cut)
  loudness  BS.1770 integrated loudness of each (LUFS)
  time      post-processing of the loop, median of 5 (ms), both modes
"""

from __future__ import annotations

import argparse
import math
import queue
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BANDS = [(0.0, 5.0), (5.0, 10.0), (10.0, 20.0), (20.0, 40.0), (40.0, 80.0), (80.0, 160.0), (160.0, 1e9)]


def db(x: float) -> float:
    return 10 * math.log10(x) if x > 0 else float("-inf")


def band_energy(a: np.ndarray, sr: int) -> list[float]:
    spec = np.abs(np.fft.rfft(a.astype(np.float64), axis=-1)) ** 2
    f = np.fft.rfftfreq(a.shape[-1], 1.0 / sr)
    total = spec.sum(axis=0)  # both channels
    return [float(total[(f >= lo) & (f < hi)].sum()) for lo, hi in BANDS]


def render(engine, request):
    events = engine.subscribe()
    try:
        job = engine.submit(request)
        while True:
            try:
                ev = events.get(timeout=1.0)
            except queue.Empty:
                continue
            if ev.job_id == job.id and ev.terminal:
                break
    finally:
        engine.unsubscribe(events)
    if ev.kind != "done":
        raise RuntimeError(f"render {ev.kind}: {ev.message}")
    return ev.result


def main() -> int:
    from diffhost.engine import GenerationRequest
    from diffhost.engine.engine import Engine
    from diffhost.host.render import finishing as fin
    from diffhost.host.render.finisher import music_info
    from diffhost.host.render.post import Recipe, loop_length, postprocess

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument(
        "--prompts",
        nargs="+",
        default=["wide ambient pad", "deep house loop", "dusty drum loop", "sub bass groove", "techno loop"],
    )
    ap.add_argument("--seed", type=int, default=300)
    args = ap.parse_args()
    old, new = Recipe.from_dict({"finishing": {"dc_remove": True}}), Recipe()
    assert new.finishing.dc_remove == fin.DC_LOOP_MEAN
    print(f"{args.seconds:g} s loops at {args.rate} Hz, 120 bpm; 'filter' = 5 Hz high-pass as a circle, 'mean' = loop_mean")
    with Engine(device="cpu") as engine:
        for k, prompt in enumerate(args.prompts):
            req = GenerationRequest(prompt=prompt, sample_rate=args.rate, bpm=120.0, length=args.seconds, seed=args.seed + k)
            res = render(engine, req)
            dry, sr = res.audio[0], res.sample_rate
            music = music_info(res, 0).get("music")
            if loop_length(music, sr) != dry.shape[-1]:
                print(f"\n{prompt!r}: not a loop ({music}); skipped")
                continue
            times = {}
            outs = {}
            for name, recipe in (("filter", old), ("mean", new)):
                ts = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    outs[name] = postprocess(dry, sr, recipe, music=music, measure_loudness=False).audio
                    ts.append((time.perf_counter() - t0) * 1000)
                times[name] = statistics.median(ts)
            a, b = outs["filter"], outs["mean"]
            d = b.astype(np.float64) - a.astype(np.float64)
            rms = float(np.sqrt(np.mean(b.astype(np.float64) ** 2)))
            print(f"\n{prompt!r} ({dry.shape[-1] / sr:.2f} s, {music.get('bars')} bars, seed {args.seed + k}):")
            dc = dry.astype(np.float64).mean(axis=-1)
            print(f"  dc       render's mean per channel: {', '.join(f'{20 * math.log10(abs(x)) if x else -math.inf:.1f}' for x in dc)} dBFS")
            print(
                f"  diff     RMS {db(float(np.mean(d**2)) / rms**2):.1f} dB against the loop's RMS; "
                f"peak {20 * math.log10(float(np.abs(d).max())):.1f} dBFS"
            )
            ea, eb, ed = band_energy(a, sr), band_energy(b, sr), band_energy(d, sr)
            names = [f"{lo:g}-{hi:g}" if hi < 1e9 else f">{lo:g}" for lo, hi in BANDS]
            print("  bands Hz " + " ".join(f"{n:>9}" for n in names))
            tot = sum(eb)
            print("  filter   " + " ".join(f"{db(x / tot):9.1f}" for x in ea) + "   dB of the loop's energy")
            print("  mean     " + " ".join(f"{db(x / tot):9.1f}" for x in eb))
            print("  mean-flt " + " ".join(f"{db(y) - db(x):9.2f}" for x, y in zip(ea, eb, strict=True)) + "   dB")
            print("  diff     " + " ".join(f"{db(x / tot):9.1f}" for x in ed) + "   dB of the loop's energy")
            print(f"  sub      below 20 Hz: filter {db(sum(ea[:3]) / sum(ea)):.1f} dB, mean {db(sum(eb[:3]) / sum(eb)):.1f} dB of each one's energy")
            la, lb = fin.loudness_lufs(a, sr), fin.loudness_lufs(b, sr)
            print(f"  loudness filter {la:.3f} LUFS, mean {lb:.3f} LUFS")
            print(f"  time     post-processing: filter {times['filter']:.1f} ms, mean {times['mean']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
