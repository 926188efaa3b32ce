"""Fresh pads under fire: 16 hits a second for 30 s on a pad that plays a new variation per hit,
on a JACK dummy server at 128 frames / 48 kHz with the embedded default model refilling the pool
at live priority.

    python bench/fresh_pads.py [--seconds 30] [--rate 16] [--pool 16] [--batch 16] [--length 0.25]
                               [--load N] [--code CHECKOUT]

Prints: hits, hits that sounded (their voice started: the mixer's start record carries the hit's
tag), the share that were new variations (target >= 90 %), replays when the pool ran dry, and
trigger latency (trigger() call to the callback rendering the first sample; target p99 <= one
block + 1 ms) next to the same hits on a plain pad in the same run (the baseline).

Where the time goes: the refill rate (variations/s) next to what the same Engine renders when it
does nothing else (8-variation batches, measured just before and just after the firing), and the
CPU seconds per variation of each thread on the path (the engine worker, the session's finisher,
the fresh-pad thread), read from /proc.

--load N starts N busy processes for the whole run (the shared machine's other work, made
repeatable). --code runs another checkout's diffhost (e.g. the code before a change) with this
same bench, for a before/after under the same conditions.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def fire(
    audio, slot: int, seconds: float, rate: float, block_rate: int, pair: int | None = None
) -> tuple[int, int, list[float], list[float]]:
    """Hits at `rate`/s; returns (hits, sounded, latencies in frames, the paired pad's latencies).

    pair: a plain pad triggered right after each hit and timed the same way, so every hit has a
    baseline measured in the same moment (a stalled machine delays both)."""
    hits = sounded = 0
    lat: list[float] = []
    lat_pair: list[float] = []
    period = 1.0 / rate
    t_next = time.monotonic()
    end = t_next + seconds
    while time.monotonic() < end:
        t_next += period
        t_call = audio.stream_time()
        tag = audio.trigger(slot)
        hits += 1
        if pair is not None:
            t_pair = audio.stream_time()
            tag_pair = audio.trigger(pair)
        deadline = time.monotonic() + 0.5
        while audio.slot_start(slot).tag != tag and time.monotonic() < deadline:
            time.sleep(0.0005)
        s = audio.slot_start(slot)
        if s.tag == tag:
            sounded += 1
            lat.append((s.time - t_call) * block_rate)
        if pair is not None:
            while audio.slot_start(pair).tag != tag_pair and time.monotonic() < deadline:
                time.sleep(0.0005)
            sp = audio.slot_start(pair)
            if sp.tag == tag_pair:
                lat_pair.append((sp.time - t_pair) * block_rate)
        time.sleep(max(0.0, t_next - time.monotonic()))
    return hits, sounded, lat, lat_pair


def pct(lat: list[float]) -> str:
    a = np.array(lat)
    return f"p50 {np.percentile(a, 50):.0f}  p99 {np.percentile(a, 99):.0f}  max {a.max():.0f} frames"


def thread_cpu(native_id: int | None) -> float:
    """CPU seconds (user + system) of one thread of this process, from /proc."""
    if native_id is None:
        return 0.0
    try:
        fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy() -> None:
    while True:
        pass


def capacity(engine, length: float, rate: int) -> float:
    """Variations/s the engine renders with nothing else to do: 3 batches of 8, timed."""
    from diffhost.engine.request import GenerationRequest

    request = GenerationRequest(prompt="tight snare", length=length, sample_rate=rate, variations=8)
    events = engine.subscribe()
    try:
        t0 = time.perf_counter()
        for _ in range(3):
            job = engine.submit(request, priority="live")
            while not ((ev := events.get(timeout=60)).job_id == job.id and ev.terminal):
                pass
        return 24 / (time.perf_counter() - t0)
    finally:
        engine.unsubscribe(events)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=16.0, help="hits per second")
    ap.add_argument("--pool", type=int, default=16)
    ap.add_argument("--batch", type=int, default=16, help="variations per refill job (where supported)")
    ap.add_argument("--length", type=float, default=0.25, help="variation length in seconds")
    ap.add_argument("--load", type=int, default=0, help="busy processes running alongside")
    ap.add_argument("--code", type=Path, default=ROOT, help="the diffhost checkout to run")
    ap.add_argument("--server-name", default=f"diffhost-fresh-bench-{os.getpid()}", help="the JACK server to start")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    from audio_latency import BLOCK, RATE, start_jack

    sys.path.insert(0, str(args.code))  # after audio_latency, which puts this checkout first

    loaders = [multiprocessing.Process(target=busy, daemon=True) for _ in range(args.load)]
    for p in loaders:
        p.start()
    name = args.server_name
    server = start_jack(name)
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    import diffhost
    from diffhost.engine.engine import Engine
    from diffhost.host.audio import open_host_audio, rescan_devices
    from diffhost.host.live.fresh import FreshPads
    from diffhost.host.session import Session

    print(f"code: {Path(diffhost.__file__).parents[1]}; busy processes: {args.load}; load average {os.getloadavg()}")
    rescan_devices()
    audio = open_host_audio(sample_rate=RATE, block_size=BLOCK, input=False)
    engine = Engine(device="cpu").start()
    engine.load(None)
    cap0 = capacity(engine, args.length, RATE)  # before the session exists: nothing is saved
    renders = Path(os.environ.get("TMPDIR", "/tmp")) / f"diffhost-fresh-renders-{os.getpid()}"
    session = Session(engine, renders_dir=renders, audio=audio)
    fresh = FreshPads(session)
    try:
        audio.assign(1, np.full((1, 2400), 0.3, np.float32), RATE)
        hits, sounded, lat, _ = fire(audio, 1, min(10.0, args.seconds), args.rate, RATE)
        print(f"baseline (plain pad): {hits} hits, {sounded} sounded; latency {pct(lat)}")

        kw = {"batch": args.batch} if "batch" in FreshPads.enable.__code__.co_varnames else {}
        fresh.enable(2, prompt="tight snare", length=args.length, pool=args.pool, **kw)
        t0 = time.monotonic()
        while fresh.pool_size(2) < args.pool and time.monotonic() - t0 < 120:
            time.sleep(0.05)
        print(f"pool of {args.pool} filled in {time.monotonic() - t0:.1f} s; firing {args.rate:g}/s for {args.seconds:g} s")
        threads = {
            "engine worker": engine._thread.native_id,
            "finisher": session._thread.native_id,
            "fresh thread": fresh._thread.native_id,
        }
        cpu0 = {k: thread_cpu(t) for k, t in threads.items()}
        u0, r0, w0 = audio.underflows, fresh.stats(2).rendered, time.monotonic()
        audio.set_slot_options(1, gain=0.0)  # the paired plain pad: timed, not heard
        hits, sounded, lat, lat_pair = fire(audio, 2, args.seconds, args.rate, RATE, pair=1)
        wall = time.monotonic() - w0
        s = fresh.stats(2)
        rendered = s.rendered - r0
        cpu = {k: thread_cpu(t) - cpu0[k] for k, t in threads.items()}  # before the threads end
        fresh.close()  # no refills and no finisher from here: the engine alone
        session.close()
        cap1 = capacity(engine, args.length, RATE)
        print(
            f"fresh pad: {hits} hits, {sounded} sounded ({sounded / hits:.1%}); new variations "
            f"{s.fresh_hits}/{s.hits} = {s.fresh_hits / max(1, s.hits):.1%} (target >= 90 %), replays {s.replays}"
        )
        print(
            f"refill: {rendered} variations in {wall:.1f} s = {rendered / wall:.1f}/s; the idle engine's capacity "
            f"{cap0:.1f}/s before, {cap1:.1f}/s after (refill / capacity = {rendered / wall / ((cap0 + cap1) / 2):.2f})"
        )
        per = ", ".join(f"{k} {1000 * c / max(1, rendered):.1f} ms" for k, c in cpu.items())
        print(f"CPU per variation: {per}")
        print(f"fresh pad latency {pct(lat)} (bar {BLOCK + RATE // 1000} frames); xruns flagged {audio.underflows - u0}")
        print(f"plain pad hit right after each fresh hit: latency {pct(lat_pair)}")
        files = sum(1 for p in renders.rglob("*") if p.is_file()) if renders.exists() else 0
        print(f"files written to the renders folder: {files}; load average {os.getloadavg()}")
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
        for p in loaders:
            p.terminate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
