"""diffhost's side of the Bridge plugin link: how fast clips reach a plugin, and loops are re-fitted.

    python bench/plugin_link.py [--repeats 5] [--seconds 30]

A real runtime (engine with the embedded default model, OSC on an ephemeral port, audio off) and a
Python peer speaking the plugin's side of the protocol over real UDP (tests/bridge/plugin_peer.py).
Prints, for a `--seconds` stereo render going to a pad (medians and 95th percentiles, ms):
  * render's end -> /bridge/pad/load received by the peer. "The render's end" is the engine's
    "done" (the audio exists). The finisher processes it (effects, finishing) and hands it to the
    link BEFORE writing the files (host.render.finisher.Processed); the clip is made from that
    audio in memory, resampled with soxr when the plugin's rate differs, hashed and written to the
    cache, and the load goes out before the fsync. The session's "done" (files, sidecar and library
    row written) comes later; how much later is printed too.
  * -> /diffhost/plugin/loaded received back (the peer reads the file and checks its sha256 first,
    in Python: the real plugin's read is its own bench, bench/plugin_timing.py).
  * baseline, same run and file: the previous path (read the processed file back, make the clip,
    hash, write with fsync) timed directly, and reading the file alone.
The bar (issue 25): a 30 s clip swapped within 50 ms of the render's end.
Then re-fit: loops of 1, 2 and 4 bars at 120 bpm; the host moves to 128 bpm; the time from the
transport message to the re-fitted load (swap_at_bar=1), as a share of one bar at the new tempo.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def figures(name: str, values: list[float]) -> str:
    return f"{name} median {statistics.median(values):.1f}, p95 {p95(values):.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="diffhost-bench-plugin-"))
    os.environ["DIFFHOST_CLIP_CACHE"] = str(scratch / "clips")
    os.environ.setdefault("DIFFHOST_HOME", str(scratch / "home"))
    os.environ.setdefault("DIFFHOST_CONFIG_DIR", str(scratch / "config"))


    from diffhost.osc.client import DiffhostClient
    from tests.bridge.plugin_peer import PluginPeer
    from tests.runtimes import link_runtime

    with link_runtime(scratch, max_queue=16) as rt:
        port = rt.osc.address[1]
        client = DiffhostClient("127.0.0.1", port)
        peers = {
            rate: PluginPeer(port, scratch / "clips", track=f"at {rate}", sample_rate=float(rate))
            for rate in (44100, 48000)
        }
        for p in peers.values():
            p.hello()
        events = rt.session.subscribe()
        from diffhost.host.live.bridge import ClipCache, ClipSpec, make_clip
        from diffhost.host.live.bridge.clips import read_render

        old_cache = ClipCache(scratch / "old-path-clips")

        def deliver(peer, send, label: str) -> None:
            engine_to_load, processed_to_load, to_loaded, done_after, old, read = [], [], [], [], [], []
            for r in range(args.repeats):
                peer.net.backlog.clear()
                job = send(r)
                # The load goes out from the finisher's tap, before the files are written, so it is
                # waited for first and stamped as it arrives; the session's "done" comes after it.
                try:
                    load = peer.expect("/bridge/pad/load", 300)
                except Exception:
                    said = [e.message for e in list(events.queue) if e.kind == "message" and e.name == "plugin"]
                    raise SystemExit(f"no load for job {job}; the link said: {said}") from None
                load_at = time.perf_counter()
                pad = load[1][0]
                peer.net.backlog.append(load)  # now act on it as the plugin does: read, check, answer
                peer.receive_load(60)
                loaded_at = None
                done_at = path = None
                while done_at is None or loaded_at is None:
                    try:
                        ev = events.get(timeout=300)
                    except queue.Empty:
                        raise SystemExit("the render did not finish") from None
                    if ev.job_id == job and ev.kind == "done":
                        done_at, path = time.perf_counter(), ev.paths[0]
                    elif ev.job_id == job and ev.kind in ("error", "cancelled"):
                        raise SystemExit(f"the render failed: {ev.message}")
                    elif ev.kind == "message" and ev.name == "plugin" and ev.message.endswith(f"pad {pad}: loaded"):
                        loaded_at = time.perf_counter()
                engine_done = eev_stamp.get(job)  # stamped by its own thread as the engine said it
                if engine_done is None:
                    raise SystemExit(f"the engine's done for job {job} was not seen")
                engine_to_load.append((load_at - engine_done) * 1000)
                processed_to_load.append((load_at - processed_stamp[job]) * 1000)
                to_loaded.append((loaded_at - engine_done) * 1000)
                done_after.append((done_at - load_at) * 1000)
                t = time.perf_counter()
                audio, sr, _ = read_render(path)
                read.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                audio, sr, _ = read_render(path)
                old_cache.put(make_clip(audio, sr, ClipSpec(int(peer.sample_rate))), int(peer.sample_rate))
                old.append((time.perf_counter() - t) * 1000)
                peer.net.backlog.clear()
            print(f"  {label}:")
            print("    " + figures("render's end (engine done) -> load received:", engine_to_load) + " ms")
            print("    " + figures("  of which processed (effects, finishing done) -> load received:", processed_to_load) + " ms")
            print("    " + figures("render's end -> loaded back:", to_loaded) + " ms")
            print("    " + figures("session done (files written) came after the load by:", done_after) + " ms")
            print(
                "    baseline, same files: "
                + figures("reading back (read, clip, hash, write+fsync)", old)
                + " ms; "
                + figures("reading the file alone", read)
                + " ms"
            )

        # The engine's "done" events, stamped as they come (a thread: the bench waits elsewhere).
        import threading

        eev_stamp: dict[int, float] = {}
        stamp_q = rt.engine.subscribe()
        stop = threading.Event()

        def stamper() -> None:
            while not stop.is_set():
                try:
                    e = stamp_q.get(timeout=0.2)
                except queue.Empty:
                    continue
                if e.kind == "done":
                    eev_stamp[e.job_id] = time.perf_counter()

        threading.Thread(target=stamper, daemon=True).start()
        # When the finisher has the processed audio (effects and finishing done), stamped by a tap
        # told right after the plugin link's own.
        processed_stamp: dict[int, float] = {}
        rt.session.tap_processed(
            lambda p: processed_stamp.setdefault(p.job_id, time.perf_counter()) if p.job_id is not None else None
        )

        print(f"delivery of a {args.seconds:g} s stereo render to a pad (ms):")
        p48 = peers[48000]
        p48.transport(120.0)
        bars = args.seconds * 120.0 / 240.0

        def render_for_pad(r: int) -> int:
            client.backlog.clear()
            client.send("/diffhost/plugin/render", p48.id, 12, "wide ambient pad", bars, 0, 200 + r)
            return client.wait_for(lambda m: m[0] == "/diffhost/job/accepted", 30)[1][0]

        deliver(p48, render_for_pad, "/diffhost/plugin/render, rendered at the plugin's 48 kHz")
        for rate, peer in peers.items():

            def send_job(r: int, peer=peer) -> int:
                client.backlog.clear()
                client.send("/diffhost/render", "wide ambient pad", float(args.seconds), 100 + r)
                job = client.wait_for(lambda m: m[0] == "/diffhost/job/accepted", 30)[1][0]
                client.request("/diffhost/plugin/send", peer.id, 1 + r, job, 0, expect="/diffhost/plugin/sent")
                return job

            what = "no resampling" if rate == 44100 else "soxr 44.1 -> 48 kHz"
            deliver(peer, send_job, f"a 44.1 kHz render sent to a plugin at {rate} Hz ({what})")
        stop.set()

        peer = peers[48000]
        for p in peers.values():  # the pads above go: a loop among them would be re-fitted too
            for pad in [*range(1, args.repeats + 1), 12]:
                client.request("/diffhost/plugin/clear", p.id, pad, expect="/diffhost/plugin/cleared")
        peer.net.backlog.clear()
        print(
            "re-fit after a tempo change 120 -> 128 bpm (time to the re-fitted load, share of one bar at 128):"
        )
        bar_s = 4 * 60 / 128
        for bars in (1, 2, 4):
            shares = []
            for r in range(args.repeats):
                peer.transport(120.0)
                time.sleep(0.3)
                client.send("/diffhost/plugin/render", peer.id, 9, "drum loop", float(bars), 1, 40 + r)
                peer.receive_load(120)
                t = time.perf_counter()
                peer.transport(128.0, bar=3.0, beat=1.0)
                held = peer.receive_load(120)
                shares.append((time.perf_counter() - t) / bar_s)
                assert held["swap_at_bar"] == 1 and held["audio"].shape[-1] == int(
                    round(bars * bar_s * 48000)
                )
                client.request("/diffhost/plugin/clear", peer.id, 9, expect="/diffhost/plugin/cleared")
            print(
                f"  {bars} bar(s): median {statistics.median(shares) * bar_s * 1000:.0f} ms = "
                f"{statistics.median(shares):.2f} bar, worst {max(shares):.2f} bar"
            )
        for p in peers.values():
            p.bye()
            p.close()
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
