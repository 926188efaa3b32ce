"""A render going to a pad of the real diffhost Bridge plugin while it plays: where every millisecond goes.

    python bench/plugin_swap.py [--swaps 10] [--seconds 30] [--rates 44100 48000] [--jack-name dh-swap]

For each rate: a JACK dummy server at that rate (128-frame blocks), the real LV2 plugin in jalv on it
(real time, its pad 2 looping a one-bar clip from a MIDI note, so the audio thread is busy), and a
real diffhost runtime in this process (engine with the embedded default model, OSC on an ephemeral
port the plugin is pointed at). Each swap is `/diffhost/plugin/render id 1 prompt bars 0 seed`: a
`--seconds` stereo render made at the plugin's rate for its pad 1 (where the previous swap's clip
is playing), which the plugin swaps in and reports with `/diffhost/plugin/loaded`.

"The render's end" is the moment the engine announces the job done (the model has returned its
audio). From there, stamped in this process (the stages are the code's own functions, wrapped):
  finish    the session's finishing thread takes the render (Finisher.finish called)
  post      post-processing (DC removal, peak normalization) done
  tap       the plugin link has the processed audio (Finisher's tap)
  clip      the link's worker has made the pad's clip (nothing to resample at the plugin's rate)
  hashed    the WAV bytes interleaved, written and hashed, piece by piece (the hash on a second thread)
  load out  `/bridge/pad/load` sent (the file is in the cache under its hash)
  loaded    `/diffhost/plugin/loaded` received: the plugin read the file, its worker handed it over,
            its audio thread swapped it, and its worker reported it
Medians and 95th percentiles over `--swaps`, and the longest audio callback (run()) the plugin
reported (/diffhost/plugin/stats, once a second) while the swaps ran, as a share of its block.
The bar (issue 25): swapped within 50 ms of the render's end; the longest callback under 10 %.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BLOCK = 128
STAGES = ("finish", "post", "tap", "clip", "hashed", "load out", "loaded")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def run_rate(rate: int, args: argparse.Namespace, scratch: Path) -> dict[str, list[float]] | None:
    from diffhost.host.live.bridge import cache as cache_mod
    from diffhost.host.live.bridge import link as link_mod
    from diffhost.host.render import finisher as finisher_mod
    from diffhost.osc.client import DiffhostClient
    from tests.jackd import Peer, start_jackd
    from tests.plugin.bridge_host import build, start_jalv, stop_jalv
    from tests.runtimes import link_runtime

    build()
    here = scratch / str(rate)
    here.mkdir()
    cache = scratch / "clips"
    name = f"{args.jack_name}-{os.getpid()}-{rate}"
    jackd = shutil.which("jackd")
    if jackd is None:
        print("  not run: no jackd")
        return None
    proc, probe = start_jackd(jackd, name, ["-t", "10000"], here / "jackd.log", rate, BLOCK)
    if probe is None:
        print(f"  not run: jackd did not start ({(here / 'jackd.log').read_text()[-300:]})")
        return None
    jalv = peer = None
    with link_runtime(here, max_queue=16) as rt:
        link = rt.live.plugins
        port = rt.osc.address[1]
        client = DiffhostClient("127.0.0.1", port)

        # -- stamps: the code's own functions, wrapped (one swap at a time, so one record) ----------
        now: dict[str, float] = {}
        lock = threading.Lock()

        def stamp(key: str) -> None:
            with lock:
                now.setdefault(key, time.perf_counter())

        def wrap(owner, attr, before=None, after=None):
            original = getattr(owner, attr)

            def wrapped(*a, **k):
                if before:
                    stamp(before)
                out = original(*a, **k)
                if after:
                    stamp(after)
                return out

            static = isinstance(getattr(owner, "__dict__", {}).get(attr), staticmethod)
            setattr(owner, attr, staticmethod(wrapped) if static else wrapped)

        publish = rt.engine._publish

        def published(event):
            if event.kind == "done":
                stamp("end")
            return publish(event)

        rt.engine._publish = published
        wrap(rt.session._finish, "finish", before="finish")
        wrap(finisher_mod, "postprocess", after="post")
        post_steps: list[list[str]] = []  # what post-processing did, as its log says (printed once)
        stamped_post = finisher_mod.postprocess

        def logged_post(*a, **k):
            out = stamped_post(*a, **k)
            post_steps.append([" ".join(f"{k}={v}" for k, v in s.items() if k not in ("samples", "channels")) for s in out.steps])
            return out

        finisher_mod.postprocess = logged_post
        wrap(link_mod, "make_clip", after="clip")
        wrap(cache_mod.ClipCache, "_place", before="hashed")
        send = link.send

        def sent(address, message):
            if b"/bridge/pad/load" in message[:20]:
                stamp("load out")
            return send(address, message)

        link.send = sent
        taps = rt.session._finish._taps
        for k, tap in enumerate(taps):
            if getattr(tap, "__func__", None) is type(link)._take_processed:

                def tapped(processed, tap=tap):
                    stamp("tap")
                    return tap(processed)

                taps[k] = tapped
        routes = rt.osc.dispatcher._routes
        stats: list[tuple[float, float, float]] = []  # (when, max_run_us, mean_run_us)
        loaded_route, stats_route = routes["/diffhost/plugin/loaded"], routes["/diffhost/plugin/stats"]

        def on_loaded(sender, a):
            if len(a) == 3 and a[1] == 1 and not str(a[2]).startswith("error"):
                stamp("loaded")
            elif len(a) == 3 and str(a[2]).startswith("error"):
                print(f"  the plugin: {a[2]}")
            return loaded_route(sender, a)

        def on_stats(sender, a):
            stats.append((time.perf_counter(), float(a[1]), float(a[2])))
            return stats_route(sender, a)

        routes["/diffhost/plugin/loaded"] = on_loaded
        routes["/diffhost/plugin/stats"] = on_stats

        try:
            jalv = start_jalv(name, env={"DIFFHOST_OSC_PORT": str(port), "DIFFHOST_CLIP_CACHE": str(cache)})
            deadline = time.monotonic() + 30
            while not [i for i in link.instances() if i.state == "alive"]:
                if time.monotonic() > deadline or jalv.poll() is not None:
                    print("  not run: the plugin in jalv did not say hello")
                    return None
                time.sleep(0.05)
            ident = [i for i in link.instances() if i.state == "alive"][0].id
            peer = Peer(name, here)
            probe.connect("dh-source:midi_out", "bridge:lv2_events_in")
            # pad 2 loops a one-bar clip (sent the way a test stands in for diffhost), pad 1 will hold
            # the renders; both play from a note, so the swaps replace audio that is sounding
            bar = 4 * 60 * rate // 120
            noise = np.random.default_rng(2).uniform(-0.1, 0.1, size=(2, bar)).astype(np.float32)
            digest = cache_mod.ClipCache(cache).put(noise, rate)
            from pythonosc.osc_message_builder import OscMessageBuilder

            def to_plugin(address, *values):
                b = OscMessageBuilder(address)
                for v in values:
                    b.add_arg(v)
                inst = link.find(ident)
                send(inst.address, b.build().dgram)

            to_plugin("/bridge/pad/options", 2, 1, 0, 0, -12.0, 0.0, "{}")
            to_plugin("/bridge/pad/load", 2, digest, "noise loop", 0)
            time.sleep(0.3)
            peer.send_midi(np.array([[0, 0x90, 37, 100]]))

            bars = args.seconds * 120.0 / 240.0
            rows: dict[str, list[float]] = {s: [] for s in STAGES}
            callback: list[float] = []
            means: list[float] = []
            for r in range(args.swaps + 1):  # the first one warms up (model load, first-call costs)
                with lock:
                    now.clear()
                client.backlog.clear()
                client.send("/diffhost/plugin/render", ident, 1, "wide ambient pad", float(bars), 0, 300 + r)
                deadline = time.monotonic() + 300
                while "loaded" not in now:
                    if time.monotonic() > deadline or jalv.poll() is not None:
                        # (a `make -C plugin` meanwhile strips the plugin's binary in place, which
                        # kills a host that has it loaded with SIGBUS)
                        why = "no loaded within 300 s" if jalv.poll() is None else f"jalv exited ({jalv.returncode})"
                        print(f"  swap {r}: {why}; stamps {sorted(now)}")
                        return None
                    time.sleep(0.002)
                if r == 0:
                    peer.send_midi(np.array([[0, 0x90, 36, 100]]))  # pad 1 plays from now on
                    time.sleep(1.2)
                    continue
                with lock:
                    got = dict(now)
                for s in STAGES:
                    rows[s].append((got.get(s, float("nan")) - got["end"]) * 1000)
                # the plugin's longest run() in the reports that cover this swap
                time.sleep(1.1)
                for when, most, mean in stats:
                    if when >= got["end"]:
                        callback.append(most)
                        means.append(mean)
                stats.clear()
            if post_steps:
                print(f"  post-processing steps: {'; '.join(post_steps[-1])}")
            rows["callback_max_us"] = callback
            rows["callback_mean_us"] = means
            return rows
        finally:
            if peer is not None:
                peer.close()
            if jalv is not None:
                stop_jalv(jalv)
            client.close()
            probe.close()
            proc.terminate()
            proc.wait(timeout=10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--swaps", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--rates", type=int, nargs="+", default=[44100, 48000])
    ap.add_argument("--jack-name", default="dh-swap", help="prefix of the JACK server's name")
    ap.add_argument("--json", type=Path, help="also write every swap's stamps here (to pool several runs)")
    args = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="diffhost-bench-swap-"))
    os.environ["DIFFHOST_CLIP_CACHE"] = str(scratch / "clips")
    os.environ.setdefault("DIFFHOST_HOME", str(scratch / "home"))
    os.environ.setdefault("DIFFHOST_CONFIG_DIR", str(scratch / "config"))
    print(f"a {args.seconds:g} s stereo render to pad 1 of the real plugin (LV2 in jalv, JACK dummy, {BLOCK}-frame blocks)")
    print(f"load average before: {load_average()}  ({os.cpu_count()} CPUs)")
    raw: dict[str, dict[str, list[float]]] = {}
    try:
        for rate in args.rates:
            print(f"\nat {rate} Hz (rendered at the plugin's rate), ms after the render's end, over {args.swaps} swaps:")
            rows = run_rate(rate, args, scratch)
            if rows is None:
                continue
            raw[str(rate)] = rows
            for k, s in enumerate(STAGES):
                v = rows[s]
                step = [b - a for a, b in zip(rows[STAGES[k - 1]], v, strict=True)] if k else v
                print(
                    f"  {s:>9}: median {statistics.median(v):7.1f}  p95 {p95(v):7.1f}   "
                    f"(this step: median {statistics.median(step):6.1f}, p95 {p95(step):6.1f})"
                )
            block_us = BLOCK / rate * 1e6
            most = rows["callback_max_us"]
            if most:
                print(
                    f"  longest audio callback while swapping: {max(most):.0f} us = {max(most) / block_us * 100:.1f} % "
                    f"of a {block_us:.0f} us block (median of the per-second maxima {statistics.median(most):.0f} us; "
                    f"mean run() {statistics.median(rows['callback_mean_us']):.1f} us)   (bar: under 10 %)"
                )
            v = rows["loaded"]
            print(
                f"  render's end -> loaded: median {statistics.median(v):.1f} ms, p95 {p95(v):.1f} ms, "
                f"min {min(v):.1f} ms, max {max(v):.1f} ms   (bar: within 50 ms)"
            )
            print(f"  load average now: {load_average()}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        import json

        args.json.write_text(json.dumps({"load_average": load_average(), "rates": raw}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
