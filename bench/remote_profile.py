"""Remote engine: where a remote render's time goes, hop by hop, against the same render on a
local engine in the same run.

Starts a local Ray instance (no dashboard) and a Serve deployment that wraps the same ReplicaCore
`diffhost engine-serve` runs, plus one extra route (GET /trace) that hands back timestamps the
replica took. Timestamps are `time.perf_counter()` (CLOCK_MONOTONIC on Linux), so the client's and
the replica's can be subtracted: both run on this machine. Timing hooks wrap functions from the
outside (in this process and in the replica's); the product code has none.

Hops, for each render (medians over the repeats):
  client: submit -> request frames sent (connection taken, request encoded and written)
  in:     request sent -> the replica has the request (Serve's proxy, Ray, the replica's loop)
  queue:  request parsed -> the engine's worker starts ("accepted" published)
  engine: accepted -> done published by the worker (the render itself, progress included)
  pump:   done published -> the replica's socket task starts sending it
  encode: the replica encodes and hands the frames to Serve
  out:    frames handed to Serve -> first frame of "done" here (Ray, the proxy, the socket)
  rest:   first frame -> all frames here, decoded, the "done" event published to subscribers

    python bench/remote_profile.py [--repeats 7] [--threads 1] [--port 28471]
"""

# No `from __future__ import annotations`: FastAPI reads the route annotations (WebSocket) at run
# time, and WebSocket is imported inside build_profiled_app.

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench/engine_overhead.py
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _tree_cpu() -> dict[str, float]:
    """CPU seconds (user + system) of this process and every process under it, by name: Ray's
    GCS and raylet, Serve's controller, proxy and replica run as this process's descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    procs = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        procs[int(entry)] = (int(fields[1]), cmd, (int(fields[11]) + int(fields[12])) / tick)
    mine, todo = {}, [os.getpid()]
    while todo:
        pid = todo.pop()
        ppid, cmd, cpu = procs.get(pid, (0, "", 0.0))
        # A Ray worker's title names the task it runs ("ray::ProxyActor.receive_asgi_messages"):
        # keep the actor's name only.
        name = os.path.basename(cmd.split()[0] if cmd else "?").split(".")[0]
        name = "this process (client)" if pid == os.getpid() else name
        mine[name] = mine.get(name, 0.0) + cpu
        todo.extend(p for p, (pp, _, _) in procs.items() if pp == pid)
    return mine


def _replica_hooks(core, drop_progress: bool = False) -> list:
    """Installed in the replica's process: record (what, job tag or "", perf_counter) tuples."""
    import diffhost.engine.remote.replica as rep

    marks: list = []
    send, send_event, parse = rep._send, rep._send_event, rep.ReplicaCore._parse
    publish = core.engine._publish

    async def timed_send(ws, header, arrays=None):
        kind = header.get("type", "")
        marks.append((f"encode:{kind}", "", time.perf_counter()))
        await send(ws, header, arrays)
        marks.append((f"sent:{kind}", "", time.perf_counter()))

    async def timed_send_event(ws, ev, c):
        marks.append((f"pumped:{ev.kind}", ev.job.tag or "", time.perf_counter()))
        if drop_progress and ev.kind == "progress":
            return  # to measure what sending progress costs the render
        await send_event(ws, ev, c)

    def timed_parse(self, msg):
        marks.append(("request", "", time.perf_counter()))
        return parse(self, msg)

    def timed_publish(ev):
        marks.append((f"published:{ev.kind}", ev.job.tag or "", time.perf_counter()))
        marks.append((f"cpu:{ev.kind}", ev.job.tag or "", time.thread_time()))
        publish(ev)

    rep._send, rep._send_event = timed_send, timed_send_event
    rep.ReplicaCore._parse = timed_parse
    core.engine._publish = timed_publish
    return marks


def build_profiled_app(cfg):
    from fastapi import FastAPI, WebSocket
    from ray import serve

    api = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    from diffhost.engine.remote.serve_app import REPLICA_ENV

    @serve.deployment(
        name="engine",
        num_replicas=1,
        ray_actor_options={"num_cpus": 1.0, "runtime_env": {"env_vars": dict(REPLICA_ENV)}},
    )
    @serve.ingress(api)
    class Profiled:
        def __init__(self, threads: int, drop_progress: bool):
            from diffhost.engine.remote.replica import ReplicaCore

            self.core = ReplicaCore(None, torch_threads=threads, replica="profiled")
            self.marks = _replica_hooks(self.core, drop_progress)

        @api.get("/trace")
        def trace(self):
            out, self.marks[:] = list(self.marks), []
            return out

        @api.websocket("/render")
        async def render(self, websocket: WebSocket) -> None:
            await self.core.serve_job(websocket)

    return Profiled.bind(*cfg)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--port", type=int, default=28471)
    ap.add_argument("--drop-progress", action="store_true", help="the replica sends no progress")
    args = ap.parse_args()
    # Ray starts a replica with OMP_NUM_THREADS set to its CPUs (1 here), which numpy's OpenBLAS
    # follows too; the local engine in this process gets the same, so both do the same work.
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import json
    import urllib.request

    import numpy as np
    import ray
    import torch
    from ray import serve

    import diffhost.engine.remote.client as client_mod
    from diffhost.engine import Engine, GenerationRequest
    from diffhost.engine.remote import wire
    from diffhost.engine.remote.client import RemoteEngine

    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    load = os.getloadavg()
    from diffhost.engine.remote.serve_app import REPLICA_ENV

    os.environ.setdefault("RAY_worker_niceness", REPLICA_ENV["RAY_worker_niceness"])  # as engine-serve does
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": args.port})
    serve.run(build_profiled_app((args.threads, args.drop_progress)), name="diffhost-profile", route_prefix="/")
    url = f"http://127.0.0.1:{args.port}"

    # Client-side hooks (this process only).
    marks: list = []
    encode, feed = wire.encode, wire.Assembler.feed

    def timed_encode(header, arrays=None):
        frames = encode(header, arrays)
        if header.get("type") == "render":
            marks.append(("encoded", time.perf_counter()))
        return frames

    def timed_feed(self, frame):
        t = time.perf_counter()
        first = self._header is None
        msg = feed(self, frame)
        if first:
            kind = (self._header or (msg.header if msg else {})).get("type", "")
            marks.append((f"first:{kind}", t))
        if msg is not None:
            marks.append((f"whole:{msg.type}", time.perf_counter()))
        return msg

    client_mod.wire.encode = timed_encode  # the client module's view of wire
    wire.Assembler.feed = timed_feed

    local = Engine(device="cpu").start()
    local_cpu: list = []
    local_publish = local._publish

    def local_timed_publish(ev):
        local_cpu.append((ev.kind, time.thread_time()))
        local_publish(ev)

    local._publish = local_timed_publish
    local.run_sync(lambda: torch.set_num_threads(args.threads))
    remote = RemoteEngine(url, max_queue=64).start()

    def timed(engine, request):
        events = engine.subscribe(maxsize=100000)
        try:
            t = time.perf_counter()
            job = engine.submit(request)
            seen = []
            while True:
                ev = events.get(timeout=600)
                if ev.job_id == job.id:
                    seen.append((ev.kind, time.perf_counter()))
                    if ev.terminal:
                        if ev.kind != "done":
                            raise RuntimeError(ev.message)
                        return t, seen, ev.result
        finally:
            engine.unsubscribe(events)

    def fetch_trace():
        with urllib.request.urlopen(url + "/trace", timeout=30) as resp:
            return json.loads(resp.read())

    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} cores")
    for length in (1.0, 4.0):
        req = GenerationRequest(prompt="punchy analog kick", length=length, seed=7)
        timed(local, req), timed(remote, req)  # warm
        fetch_trace()
        rows: dict[str, list[float]] = {}
        cpu_rows: dict[str, list[float]] = {}
        n_progress = []
        for _ in range(args.repeats):
            local_cpu.clear()
            lt0, lseen, la = timed(local, req)
            lcpu = next(t for k, t in local_cpu if k == "done") - next(t for k, t in local_cpu if k == "progress")
            local_s = lseen[-1][1] - lt0
            time.sleep(0.05)  # the spare connection is open again
            marks.clear()
            before = _tree_cpu()
            cpu0 = time.process_time()  # this process's own, without the cost of the snapshots
            t0, seen, ra = timed(remote, req)
            cpu1 = time.process_time()
            after = _tree_cpu()
            after["this process (client)"] = before.get("this process (client)", 0.0) + cpu1 - cpu0
            for name, cpu in after.items():
                cpu_rows.setdefault(name, []).append(cpu - before.get(name, 0.0))
            assert np.array_equal(la.audio, ra.audio)
            rt = fetch_trace()
            c = {k: t for k, t in reversed(marks)}  # first occurrence of each
            r: dict[str, float] = {}
            for what, _tag, t in rt:
                r.setdefault(what, t)
            r_done_pub = next(t for w, _, t in rt if w == "published:done")
            done_here = next(t for k, t in seen if k == "done")
            n_progress.append(sum(1 for k, _ in seen if k == "progress"))
            hop = {
                "local render (same run)": local_s,
                "  its render_s (the engine's own clock)": la.render_s,
                "  the replica's render_s": ra.render_s,
                "local worker CPU, first step -> done": lcpu,
                "replica worker CPU, first step -> done": r["cpu:done"] - r["cpu:progress"],
                "remote total": done_here - t0,
                "overhead (total - local)": (done_here - t0) - local_s,
                "client: submit -> request sent": c["encoded"] - t0,
                "in: request sent -> replica has it": r["request"] - c["encoded"],
                "queue: parsed -> accepted published": r["published:accepted"] - r["request"],
                "engine: accepted -> done published": r_done_pub - r["published:accepted"],
                "pump: done published -> send task": r["pumped:done"] - r_done_pub,
                "encode: replica encodes done": r["sent:done"] - r["encode:done"],
                "out: handed to Serve -> first frame here": c["first:done"] - r["sent:done"],
                "rest: frames + decode + publish": done_here - c["first:done"],
                "accepted: published -> here": c["whole:accepted"] - r["published:accepted"],
            }
            for k, v in hop.items():
                rows.setdefault(k, []).append(1000 * v)
        print(f"\n{length:g} s clip, {args.repeats} repeats, ms (min / median / max); "
              f"progress events seen per job: {statistics.median(n_progress):.0f}")
        for k, v in rows.items():
            print(f"  {k:44s} {min(v):8.1f} {statistics.median(v):8.1f} {max(v):8.1f}")
        print("  CPU ms per remote render, by process (mean; 10 ms ticks):")
        for k, v in sorted(cpu_rows.items(), key=lambda kv: -sum(kv[1])):
            if sum(v) > 0:
                print(f"    {k:42s} {1000 * statistics.fmean(v):8.1f}")
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    remote.stop()
    local.stop()
    serve.shutdown()
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
