"""diffhost's side of the Bridge plugin link: how fast clips reach a plugin, and loops are re-fitted.

    python bench/plugin_link.py [--repeats 3] [--seconds 30]

A real runtime (engine with the embedded default model, OSC on an ephemeral port, audio off) and a
Python peer speaking the plugin's side of the protocol over real UDP (tests/bridge/plugin_peer.py).
Prints:
  * delivery: a `--seconds` stereo render sent to a pad, from the moment its job is done (the
    session's "done" event) to the plugin's receipt of /bridge/pad/load: the clip read, made at the
    plugin's rate (44.1 kHz: no resampling; 48 kHz: soxr), hashed and written to the cache. The bar
    for the whole path is "swapped within 50 ms of the render's end"; the plugin's own load and swap
    come on top (its bench). Baseline in the same run: reading the same file with soundfile.
  * re-fit: loops of 1, 2 and 4 bars at 120 bpm; the host moves to 128 bpm; the time from the
    transport message to the re-fitted load (swap_at_bar=1) arriving, as a share of one bar at the
    new tempo (the bar: within one bar).
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="diffhost-bench-plugin-"))
    os.environ["DIFFHOST_CLIP_CACHE"] = str(scratch / "clips")
    os.environ.setdefault("DIFFHOST_HOME", str(scratch / "home"))
    os.environ.setdefault("DIFFHOST_CONFIG_DIR", str(scratch / "config"))

    import soundfile as sf

    from diffhost.engine.engine import Engine
    from diffhost.osc.client import DiffhostClient
    from diffhost.osc.server import OscConfig
    from diffhost.runtime import RuntimeOptions, build_runtime
    from tests.bridge.plugin_peer import PluginPeer

    options = RuntimeOptions(
        renders_dir=scratch / "renders",
        audio=False,
        presets=False,
        library=False,
        kits=False,
        audio_config_dir=scratch / "config",
        osc=OscConfig(port=0),
    )
    with build_runtime(options, engine=Engine(device="cpu")) as rt:
        port = rt.osc.address[1]
        client = DiffhostClient("127.0.0.1", port)
        peers = {
            rate: PluginPeer(port, scratch / "clips", track=f"at {rate}", sample_rate=float(rate))
            for rate in (44100, 48000)
        }
        for p in peers.values():
            p.hello()
        events = rt.session.subscribe()
        print(f"delivery of a {args.seconds:g} s stereo render (ms from its job's end to /bridge/pad/load):")
        for rate, peer in peers.items():
            took, base = [], []
            for r in range(args.repeats):
                client.send("/diffhost/render", "wide ambient pad", float(args.seconds), 100 + r)
                job = client.wait_for(lambda m: m[0] == "/diffhost/job/accepted", 30)[1][0]
                client.request("/diffhost/plugin/send", peer.id, 1 + r, job, expect="/diffhost/plugin/sent")
                done_at, path = None, None
                while done_at is None:
                    try:
                        ev = events.get(timeout=120)
                    except queue.Empty:
                        raise SystemExit("the render did not finish") from None
                    if ev.job_id == job and ev.kind == "done":
                        done_at, path = time.perf_counter(), ev.paths[0]
                peer.expect("/bridge/pad/load", 60)
                took.append((time.perf_counter() - done_at) * 1000)
                t = time.perf_counter()
                sf.read(path, dtype="float32")
                base.append((time.perf_counter() - t) * 1000)
                peer.net.backlog.clear()
            print(
                f"  plugin at {rate} Hz: median {statistics.median(took):.1f} ms, max {max(took):.1f} ms "
                f"(reading the file alone: {statistics.median(base):.1f} ms; ratio {statistics.median(took) / statistics.median(base):.1f}x)"
            )

        peer = peers[48000]
        for r in range(args.repeats):  # the renders above may be loops: they would be re-fitted too
            client.request("/diffhost/plugin/clear", peer.id, 1 + r, expect="/diffhost/plugin/cleared")
        time.sleep(0.5)
        peer.net.backlog.clear()
        peer.transport(120.0)
        took = []
        for r in range(args.repeats):  # the main path: rendered for the pad, at the plugin's rate
            bars = args.seconds * 120.0 / 240.0
            client.send("/diffhost/plugin/render", peer.id, 12, "wide ambient pad", bars, 0, 200 + r)
            job = client.wait_for(lambda m: m[0] == "/diffhost/job/accepted", 30)[1][0]
            done_at = None
            while done_at is None:
                ev = events.get(timeout=120)
                if ev.job_id == job and ev.kind == "done":
                    done_at = time.perf_counter()
            peer.expect("/bridge/pad/load", 60)
            took.append((time.perf_counter() - done_at) * 1000)
            peer.net.backlog.clear()
        print(
            f"  rendered for a pad (/diffhost/plugin/render, at the plugin's 48000 Hz): "
            f"median {statistics.median(took):.1f} ms, max {max(took):.1f} ms"
        )
        client.request("/diffhost/plugin/clear", peer.id, 12, expect="/diffhost/plugin/cleared")
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
