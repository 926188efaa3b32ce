"""Remote engine: per-render overhead of the remote path against the local engine, and throughput
with 1 and 2 replicas.

Starts a local Ray instance (no dashboard) in this process and deploys the same Serve application
`diffhost engine-serve` deploys, on 127.0.0.1. Baseline, measured in the same run and interleaved
with the remote renders: the local Engine in this process, with the same torch thread count as a
replica (so the audio is bit-identical and checked so). A render is timed from submit to its
"done" event (the audio in this process), so the remote figure includes the WebSocket, Serve's
proxy and routing, the wire format both ways and the replica's event pump.

The default model renders at most 4 s; the "long" render uses that maximum (the issue's 10 s
is not possible with it yet).

The overhead is paired: each remote render minus the local render just before it (min / median /
max over the repeats), since the load on a shared machine moves both. The load average is printed
before and after.

    python bench/remote_engine.py [--repeats 7] [--jobs 8] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench/engine_overhead.py
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=8, help="renders submitted at once for throughput")
    ap.add_argument("--threads", type=int, default=1, help="torch threads, local engine and each replica")
    ap.add_argument("--port", type=int, default=18450)
    args = ap.parse_args()
    # Ray starts a replica with OMP_NUM_THREADS set to its CPUs (1 here), which numpy's OpenBLAS
    # follows too; the local engine in this process gets the same, so both do the same work.
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import numpy as np
    import ray
    import torch
    from ray import serve

    from diffhost.engine import Engine, GenerationRequest
    from diffhost.engine.remote.client import RemoteEngine
    from diffhost.engine.remote.serve_app import APP_NAME, REPLICA_ENV, ServeConfig, build_app

    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)", flush=True)
    t0 = time.perf_counter()
    os.environ.setdefault("RAY_worker_niceness", REPLICA_ENV["RAY_worker_niceness"])  # as engine-serve does
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": args.port})

    def deploy(replicas: int) -> None:
        cfg = ServeConfig(replicas=replicas, cpus_per_replica=1.0, torch_threads=args.threads, max_queue=32)
        serve.run(build_app(cfg), name=APP_NAME, route_prefix="/")

    deploy(1)
    print(f"Ray + Serve + 1 replica up in {time.perf_counter() - t0:.1f} s", flush=True)

    local = Engine(device="cpu").start()
    local.run_sync(lambda: torch.set_num_threads(args.threads))
    remote = RemoteEngine(f"http://127.0.0.1:{args.port}", max_queue=64).start()
    # the same client opening a new connection for every job (no spare kept): what a handshake and
    # Serve routing each job cost
    cold = RemoteEngine(f"http://127.0.0.1:{args.port}", max_queue=64, keep_spare=False).start()

    progress_seen: list[int] = []  # progress events per remote render

    def timed(engine, request) -> tuple[float, object]:
        events = engine.subscribe(maxsize=100000)
        try:
            t = time.perf_counter()
            job = engine.submit(request)
            n = 0
            while True:
                ev = events.get(timeout=600)
                n += ev.job_id == job.id and ev.kind == "progress"
                if ev.job_id == job.id and ev.terminal:
                    if ev.kind != "done":
                        raise RuntimeError(ev.message)
                    if engine is remote:
                        progress_seen.append(n)
                    return time.perf_counter() - t, ev.result
        finally:
            engine.unsubscribe(events)

    longest = 4.0

    def spread(values: list[float]) -> str:
        ms = [1000 * v for v in values]
        return f"{min(ms):6.1f} {statistics.median(ms):6.1f} {max(ms):6.1f}"

    print(f"\nper render, {args.repeats} repeats (local and remote interleaved, {args.threads} torch thread(s))")
    print("ms, min / median / max; overhead = each remote render minus the local one just before it")
    print(
        f"{'clip':>10} {'local':>20} {'remote':>20} {'overhead':>20} {'ratio':>6} "
        f"{'no spare: overhead':>20}  audio"
    )
    for length in (1.0, longest):
        req = GenerationRequest(prompt="punchy analog kick", length=length, seed=7)
        timed(local, req), timed(remote, req), timed(cold, req)  # warm: first-use costs on all sides
        lt, rt, ct, same = [], [], [], True
        for _ in range(args.repeats):
            a, la = timed(local, req)
            time.sleep(0.05)  # as between a musician's renders: the spare connection is open again
            b, ra = timed(remote, req)
            c, ca = timed(cold, req)
            lt.append(a)
            rt.append(b)
            ct.append(c)
            same &= bool(np.array_equal(la.audio, ra.audio)) and bool(np.array_equal(la.audio, ca.audio))
        lm, rm = statistics.median(lt), statistics.median(rt)
        label = f"{length:g} s" + (" (max)" if length == longest else "")
        over = [b - a for a, b in zip(lt, rt, strict=True)]
        cold_over = [c - a for a, c in zip(lt, ct, strict=True)]
        print(
            f"{label:>10} {spread(lt):>20} {spread(rt):>20} {spread(over):>20} {rm / lm:6.2f} "
            f"{spread(cold_over):>20}  {'bit-identical' if same else 'DIFFERS'}; "
            f"progress events per remote render: {statistics.median(progress_seen[-args.repeats:]):g}",
            flush=True,
        )

    def throughput() -> float:
        req = GenerationRequest(prompt="punchy analog kick", length=1.0, seed=11)
        events = remote.subscribe(maxsize=100000)
        t = time.perf_counter()
        ids = {remote.submit(req.with_(seed=11 + i)).id for i in range(args.jobs)}
        done = 0
        while done < len(ids):
            ev = events.get(timeout=600)
            if ev.job_id in ids and ev.terminal:
                if ev.kind != "done":
                    raise RuntimeError(ev.message)
                done += 1
        remote.unsubscribe(events)
        return len(ids) / (time.perf_counter() - t)

    # Cancel latency: from cancel() to the "cancelled" event, on a job mid-render.
    lat = []
    for _ in range(3):
        events = remote.subscribe(maxsize=100000)
        job = remote.submit(GenerationRequest(prompt="pad", length=4.0, seed=1, steps=1000))
        while (ev := events.get(timeout=120)).kind != "progress" or ev.job_id != job.id:
            pass
        t = time.perf_counter()
        remote.cancel(job.id)
        while not ((ev := events.get(timeout=60)).terminal and ev.job_id == job.id):
            pass
        lat.append(time.perf_counter() - t)
        remote.unsubscribe(events)

    print(f"\nthroughput, {args.jobs} renders of 1 s submitted at once")
    one = throughput()
    print(f"  1 replica : {one:6.2f} renders/s", flush=True)
    deploy(2)
    time.sleep(1.0)
    throughput()  # warm the new replica
    two = throughput()
    print(f"  2 replicas: {two:6.2f} renders/s  ({two / one:.2f}x; this machine has {os.cpu_count()} cores)")
    print(f"\ncancel -> cancelled on the replica: median {1000 * statistics.median(lat):.0f} ms (3 runs)")
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    remote.stop()
    cold.stop()
    local.stop()
    serve.shutdown()
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
