"""Fresh pads under fire: 16 hits a second for 30 s on a pad that plays a new variation per hit,
on a JACK dummy server at 128 frames / 48 kHz with the embedded default model refilling the pool
at live priority.

    python bench/fresh_pads.py [--seconds 30] [--rate 16] [--pool 8] [--length 0.25]

Prints: hits, hits that sounded (their voice started: the mixer's start record carries the hit's
tag), the share that were new variations (target >= 90 %), replays when the pool ran dry, and
trigger latency (trigger() call to the callback rendering the first sample; target p99 <= one
block + 1 ms) next to the same hits on a plain pad in the same run (the baseline).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from audio_latency import BLOCK, RATE, start_jack  # noqa: E402


def fire(audio, slot: int, seconds: float, rate: float) -> tuple[int, int, list[float]]:
    """Hits at `rate`/s; returns (hits, sounded, latencies in frames)."""
    hits = sounded = 0
    lat: list[float] = []
    period = 1.0 / rate
    t_next = time.monotonic()
    end = t_next + seconds
    while time.monotonic() < end:
        t_next += period
        t_call = audio.stream_time()
        tag = audio.trigger(slot)
        hits += 1
        deadline = time.monotonic() + 0.5
        while audio.slot_start(slot).tag != tag and time.monotonic() < deadline:
            time.sleep(0.0005)
        s = audio.slot_start(slot)
        if s.tag == tag:
            sounded += 1
            lat.append((s.time - t_call) * RATE)
        time.sleep(max(0.0, t_next - time.monotonic()))
    return hits, sounded, lat


def pct(lat: list[float]) -> str:
    a = np.array(lat)
    return f"p50 {np.percentile(a, 50):.0f}  p99 {np.percentile(a, 99):.0f}  max {a.max():.0f} frames"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=16.0, help="hits per second")
    ap.add_argument("--pool", type=int, default=8)
    ap.add_argument("--length", type=float, default=0.25, help="variation length in seconds")
    args = ap.parse_args()
    name = f"dh-live-bench-{os.getpid()}"
    server = start_jack(name)
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    from diffhost.engine.engine import Engine
    from diffhost.host.audio import open_host_audio, rescan_devices
    from diffhost.host.fresh import FreshPads
    from diffhost.host.session import Session

    rescan_devices()
    audio = open_host_audio(sample_rate=RATE, block_size=BLOCK, input=False)
    engine = Engine(device="cpu").start()
    engine.load(None)
    session = Session(engine, renders_dir=Path(os.environ.get("TMPDIR", "/tmp")) / "dh-live-bench", audio=audio)
    fresh = FreshPads(session)
    try:
        audio.assign(1, np.full((1, 2400), 0.3, np.float32), RATE)
        hits, sounded, lat = fire(audio, 1, min(10.0, args.seconds), args.rate)
        print(f"baseline (plain pad): {hits} hits, {sounded} sounded; latency {pct(lat)}")

        fresh.enable(2, prompt="tight snare", length=args.length, pool=args.pool)
        t0 = time.monotonic()
        while fresh.pool_size(2) < args.pool and time.monotonic() - t0 < 120:
            time.sleep(0.05)
        print(f"pool of {args.pool} filled in {time.monotonic() - t0:.1f} s; firing {args.rate:g}/s for {args.seconds:g} s")
        u0 = audio.underflows
        hits, sounded, lat = fire(audio, 2, args.seconds, args.rate)
        s = fresh.stats(2)
        print(
            f"fresh pad: {hits} hits, {sounded} sounded ({sounded / hits:.1%}); new variations "
            f"{s.fresh_hits}/{s.hits} = {s.fresh_hits / max(1, s.hits):.1%} (target >= 90 %), replays {s.replays}, "
            f"rendered {s.rendered} ({s.rendered / args.seconds:.1f}/s)"
        )
        print(f"fresh pad latency {pct(lat)} (bar {BLOCK + RATE // 1000} frames); xruns flagged {audio.underflows - u0}")
        if fresh.last_error:
            print(f"last engine error: {fresh.last_error}")
    finally:
        fresh.close()
        session.close()
        engine.stop()
        audio.close()
        import sounddevice as sd

        sd._terminate()
        server.terminate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
