"""The diffhost Bridge plugin in real hosts: note timing, loop phase, clip swaps and callback cost.

    python bench/plugin_timing.py            (builds the plugin with make if needed)

Prints, each against its bar:
  DawDreamer (VST3, offline):
    note -> first sample over 200 notes at random frames: error in samples, notes that sounded
    a looping pad through a tempo automation (120 -> 100 bpm): phase error in samples against the
      host's position (bar 2 exact; from bar 3 the loop still one bar long, read slower, interpolated)
    callback CPU share, 16 looping pads at 128-frame blocks: render time / audio time, and the same
      for the plugin with no pad playing (the ratio of the two isolates the pads' own cost)
  jalv (LV2, real time on a JACK dummy server, with a timebase master in this process):
    note -> first sample over 200 notes: error in samples
    a 30 s stereo clip sent while playing: /bridge/pad/load -> /diffhost/plugin/loaded (ms), and the
      longest run() meanwhile (from /diffhost/plugin/stats)
    16 looping pads: run()'s mean and longest time as a share of the 128-frame block
    a tempo change (120 -> 100 bpm) with the re-fitted loop sent at once: time to the swap (it waits
      for the next bar line), and the largest step in the audio against the clips' own 99.9th percentile
    a looping pad through play, stop, jumps and a loop region: phase error in samples (the
      output is a ramp, so each sample tells its phase; every landing after a relocate is checked)
A JACK server needs a free slot (JACK allows 8 per machine); without one the jalv part says so.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.jackd import Peer, start_jackd  # noqa: E402
from tests.plugin.bridge_host import VST3, FakeDiffhost, build, put_clip, start_jalv, stop_jalv  # noqa: E402

RATE, BLOCK = 48000, 128
BAR = 4 * 60 * RATE // 120


def gain(v: int) -> np.float32:
    return (np.float32(v) * np.float32(1 / 127)) ** 2


def short_clips(link, pads=range(1, 17)):
    clips = {}
    for pad in pads:
        ramp = (np.arange(1, 33, dtype=np.float32) / 32) * np.float32(pad / 16)
        clips[pad] = np.stack([ramp, -ramp], axis=1)
        link.send("/bridge/pad/load", pad, put_clip(link.cache, clips[pad], RATE), f"pad {pad}", 0)
    link.sync()
    return clips


def onset_errors(audio, starts, window=8):
    errs = []
    for at in starts:
        heard = np.flatnonzero(audio[0, at - window : at + 32])
        errs.append(int(heard[0]) - window if heard.size else None)
    return errs


def report_onsets(name, errs):
    sounded = [e for e in errs if e is not None]
    worst = max((abs(e) for e in sounded), default=None)
    print(
        f"{name}: note -> first sample, {len(errs)} notes: max |error| {worst} samples, "
        f"{len(sounded)}/{len(errs)} sounded   (bar: 0 samples, every note)"
    )


def dawdreamer_part(link):
    import dawdreamer as daw

    def engine():
        eng = daw.RenderEngine(RATE, BLOCK)
        eng.set_bpm(120.0)
        proc = eng.make_plugin_processor("bridge", str(VST3))
        eng.load_graph([(proc, [])])
        eng.render(BLOCK / RATE)
        # earlier engines' instances may still say hello: follow the new one
        link.follow = None
        link.follow = link.wait("/diffhost/plugin/hello", where=lambda a: a[0] not in seen)[0]
        seen.add(link.follow)
        return eng, proc

    seen: set[str] = link.seen

    eng, proc = engine()
    short_clips(link)
    rng = np.random.default_rng(1)
    frames = np.cumsum(rng.integers(40, 900, size=200)) + 1000
    pads = rng.integers(1, 17, size=200)
    for f, pad in zip(frames, pads, strict=True):
        proc.add_midi_note(
            35 + int(pad), 100, (float(f) + 0.25) / RATE, 0.01
        )  # DawDreamer truncates s x rate
    eng.render((int(frames[-1]) + 2000) / RATE)
    report_onsets("DawDreamer VST3", onset_errors(eng.get_audio(), frames))

    # a loop through a tempo automation
    eng, proc = engine()
    ramp = np.repeat((np.arange(BAR, dtype=np.float32) / BAR)[:, None], 2, axis=1)
    link.send("/bridge/pad/options", 1, 1, 0, 2, 0.0, 0.0, "{}")
    link.send("/bridge/pad/load", 1, put_clip(link.cache, ramp, RATE), "ramp", 0)
    link.sync()
    eng.set_bpm(np.array([120.0] * 8 + [100.0] * 12, dtype=np.float32), ppqn=1)
    proc.add_midi_note(36, 127, 0.3, 20.0)
    at100 = 60 * RATE // 100
    eng.render((2 * BAR + 9 * at100) / RATE)
    out = eng.get_audio()[0]
    err120 = int(
        np.abs(np.rint(out[BAR : 2 * BAR] * BAR) - np.arange(BAR)).max()
    )  # the ramp's value is its phase
    f = np.arange(2 * BAR, 2 * BAR + 9 * at100)
    x = ((8 + (f - 2 * BAR) / at100) % 4) * (BAR / 4)  # the one-bar loop still spans one bar
    k = np.floor(x).astype(int)
    want = (k + (x - k) * (((k + 1) % BAR) - k)) / BAR  # the interpolated ramp
    err100 = np.abs(out[f] - want).max() * BAR
    print(
        f"DawDreamer VST3: loop phase error at 120 bpm {err120:.3g} samples; after the change to 100 bpm "
        f"{err100:.3g} samples (interpolated, until a re-fitted loop arrives)   (bar: 0 samples)"
    )

    # callback CPU share: 16 looping pads vs none, 128-frame blocks
    shares = {}
    for label, playing in (("no pad playing", False), ("16 pads looping", True)):
        eng, proc = engine()
        if playing:
            noise = np.random.default_rng(2).uniform(-0.1, 0.1, size=(BAR, 2)).astype(np.float32)
            for pad in range(1, 17):
                link.send("/bridge/pad/options", pad, 1, 0, 0, -12.0, 0.0, "{}")
                link.send(
                    "/bridge/pad/load", pad, put_clip(link.cache, noise * np.float32(pad / 16), RATE), "n", 0
                )
            link.sync()
            for pad in range(1, 17):
                proc.add_midi_note(35 + pad, 100, 0.001, 60.0)
        seconds = 20.0
        t0 = time.process_time()
        eng.render(seconds)
        shares[label] = (time.process_time() - t0) / seconds
    print(
        f"DawDreamer VST3: CPU per 128-frame block as a share of the block: 16 pads looping "
        f"{shares['16 pads looping'] * 100:.2f} %, plugin idle {shares['no pad playing'] * 100:.2f} % "
        f"(ratio {shares['16 pads looping'] / shares['no pad playing']:.2f}; includes DawDreamer's own graph)"
    )


class Timebase:
    """A JACK timebase master, 4/4: bar/beat/tick from the transport frame, at 120 bpm, or from
    `change` = (frame, bpm) on at that tempo (a tempo change at that frame)."""

    def __init__(self, server):
        import jack

        self.client = jack.Client("dh-timebase", servername=server, no_start_server=True)
        self.change: tuple[int, float] | None = None

        def callback(state, blocksize, pos, new_pos):
            bpm, beats = 120.0, pos.frame / (60 * RATE / 120)
            if self.change is not None and pos.frame >= self.change[0]:
                at, bpm = self.change
                beats = at / (60 * RATE / 120) + (pos.frame - at) / (60 * RATE / bpm)
            # JACK's ticks are whole numbers: one tick per frame keeps the position sample-exact
            per_beat = round(60 * RATE / bpm)
            pos.valid = pos.valid | jack.POSITION_BBT
            pos.bar = int(beats // 4) + 1
            pos.beat = int(beats % 4) + 1
            pos.tick = min(int(round((beats % 1) * per_beat)), per_beat - 1)
            pos.bar_start_tick = (pos.bar - 1) * 4 * per_beat
            pos.beats_per_bar, pos.beat_type, pos.ticks_per_beat, pos.beats_per_minute = 4, 4, per_beat, bpm

        self.client.set_timebase_callback(callback, False)
        self.client.activate()


def refit(link, peer, tb) -> None:
    """A tempo change (120 -> 100 bpm, mid-bar) while a one-bar loop plays, and the re-fitted loop sent
    at once with swap_at_bar=1 (as diffhost sends it when its render is done): how long until it
    swapped, and the largest sample-to-sample step around it against the clips' own 99.9th percentile."""
    cycles = 440  # whole cycles per loop: both loops are seamless and start at a zero crossing
    old = (0.5 * np.sin(2 * np.pi * cycles * np.arange(BAR) / BAR)).astype(np.float32)
    bar100 = 4 * 60 * RATE // 100
    new = (0.4 * np.sin(2 * np.pi * cycles * np.arange(bar100) / bar100)).astype(np.float32)
    peer.send_midi(np.array([[0, 0xB0, 123, 0]]))  # all notes off: the earlier loops stop
    link.send("/bridge/pad/clear", 4)
    time.sleep(0.1)
    link.send("/bridge/pad/options", 5, 1, 0, 0, 0.0, 0.0, "{}")
    link.send("/bridge/pad/load", 5, put_clip(link.cache, np.stack([old, old], 1), RATE), "loop", 0)
    link.wait("/diffhost/plugin/loaded", where=lambda a: a[1] == 5)
    tb.change = None
    tb.client.transport_locate(0)
    tb.client.transport_start()
    time.sleep(0.3)
    peer.start()
    peer.send_midi(np.array([[0, 0x90, 40, 127]]))
    time.sleep(1.0)
    # 0.1 s ahead, somewhere in a bar, on a cycle boundary (JACK gives one tempo per cycle)
    tb.change = ((tb.client.transport_frame + 4800) // BLOCK * BLOCK, 100.0)
    t0 = time.perf_counter() + 0.1
    time.sleep(0.15)  # diffhost hears the new tempo, then sends the re-fitted loop (rendered at once here)
    link.send("/bridge/pad/load", 5, put_clip(link.cache, np.stack([new, new], 1), RATE), "loop re-fit", 1)
    link.wait("/diffhost/plugin/loaded", where=lambda a: a[1] == 5, timeout=10)
    waited = time.perf_counter() - t0
    time.sleep(0.5)
    audio, _first = peer.stop()
    tb.client.transport_stop()
    peer.send_midi(np.array([[0, 0xB0, 123, 0]]))
    link.send("/bridge/pad/clear", 5)
    link.sync()
    x = audio[0][np.flatnonzero(audio[0])[0] + 1 :]  # from the loop's first sample on (it starts mid-cycle)
    x = x[: np.flatnonzero(x)[-1] - 1000]  # leave out the loop's stop (its 5 ms fade)
    steps = np.abs(np.diff(x))
    own = max(np.percentile(np.abs(np.diff(old)), 99.9), np.percentile(np.abs(np.diff(new)), 99.9))
    swap = int(np.flatnonzero(np.abs(x) > 0.41)[-1])  # the last peak of the louder old loop
    worst = int(np.argmax(steps))
    print(
        f"jalv LV2: tempo 120 -> 100 bpm mid-bar, re-fitted loop sent at once: swapped and reported "
        f"{waited:.2f} s after the change (one bar at 100 bpm: 2.40 s); largest step over the whole "
        f"recording {steps.max():.5f} ({worst - swap:+d} samples from the swap), around the swap {steps[max(swap - 500, 0) : swap + 1000].max():.5f}, "
        f"the clips' own 99.9th percentile {own:.5f}   (bar: within one bar, no step above the clip's own)"
    )


def jalv_part(link, tmp):
    jackd = shutil.which("jackd")
    name = f"dh-bridge-bench-{os.getpid()}"
    proc, probe = (
        start_jackd(jackd, name, ["-t", "10000"], tmp / "jackd.log", RATE, BLOCK) if jackd else (None, None)
    )
    if probe is None:
        print(
            f"jalv LV2: not run: jackd did not start ({(tmp / 'jackd.log').read_text().splitlines()[0] if jackd else 'no jackd'})"
        )
        return
    jalv = start_jalv(name)
    peer = None
    try:
        link.follow = None
        link.follow = link.wait("/diffhost/plugin/hello", timeout=20, where=lambda a: a[0] not in link.seen)[
            0
        ]
        peer = Peer(name, tmp)
        probe.connect("dh-source:midi_out", "bridge:lv2_events_in")
        probe.connect("bridge:lv2_out_l", "dh-capture:in_0")
        probe.connect("bridge:lv2_out_r", "dh-capture:in_1")
        clips = short_clips(link, pads=(1, 2))
        time.sleep(0.2)
        rng = np.random.default_rng(5)
        delays = np.cumsum(rng.integers(40, 600, size=200)) + 2 * BLOCK
        pads = rng.integers(1, 3, size=200)
        peer.start()
        base = peer.send_midi(np.array([[d, 0x90, 35 + p, 127] for d, p in zip(delays, pads, strict=True)]))
        time.sleep(int(delays[-1]) / RATE + 1.0)
        audio, first = peer.stop()
        report_onsets("jalv LV2 (real time)", onset_errors(audio, [base + int(d) - first for d in delays]))
        del clips

        # a 30 s stereo clip to a playing plugin
        long = np.random.default_rng(6).uniform(-0.3, 0.3, size=(30 * RATE, 2)).astype(np.float32)
        digest = put_clip(link.cache, long, RATE)
        times = []
        mark = len(link.heard)
        for _ in range(5):
            link.send("/bridge/pad/clear", 3)
            link.sync()
            t0 = time.perf_counter()
            link.send("/bridge/pad/load", 3, digest, "long", 0)
            link.wait("/diffhost/plugin/loaded", where=lambda a: a[1] == 3)
            times.append((time.perf_counter() - t0) * 1000)
        stats = [a for addr, a in link.heard[mark:] if addr == "/diffhost/plugin/stats"]
        longest = max((a[1] for a in stats), default=float("nan"))
        block_us = BLOCK / RATE * 1e6
        print(
            f"jalv LV2: during those loads the longest run() took {longest:.0f} us = {longest / block_us * 100:.1f} % "
            f"of a {block_us:.0f} us block   (bar: under 10 %)"
        )
        print(
            f"jalv LV2: 30 s stereo clip, load message -> swapped and reported: median {np.median(times):.1f} ms, "
            f"max {max(times):.1f} ms over 5   (bar: within 50 ms of the render's end)"
        )

        # 16 looping pads in real time: run()'s mean and longest time per 128-frame block
        noise = np.random.default_rng(2).uniform(-0.1, 0.1, size=(BAR, 2)).astype(np.float32)
        for pad in range(1, 17):
            link.send("/bridge/pad/options", pad, 1, 0, 0, -12.0, 0.0, "{}")
            link.send(
                "/bridge/pad/load", pad, put_clip(link.cache, noise * np.float32(pad / 16), RATE), "n", 0
            )
        link.sync()
        peer.send_midi(np.array([[k, 0x90, 35 + p, 100] for k, p in enumerate(range(1, 17))]))
        time.sleep(1.5)
        mark = len(link.heard)
        time.sleep(3.2)
        stats = [a for addr, a in link.heard[mark:] if addr == "/diffhost/plugin/stats"]
        link.drain()
        stats += [a for addr, a in link.heard[mark:] if addr == "/diffhost/plugin/stats" and a not in stats]
        if stats:
            mean = np.mean([a[2] for a in stats])
            print(
                f"jalv LV2: 16 pads looping, 128-frame blocks: run() mean {mean:.1f} us = {mean / block_us * 100:.2f} % "
                f"of the block, longest {max(a[1] for a in stats):.0f} us ({len(stats)} one-second reports)"
            )
        peer.send_midi(np.array([[0, 0xB0, 123, 0]]))
        for pad in range(1, 17):
            link.send("/bridge/pad/clear", pad)
        link.sync()

        # a looping pad (a ramp: each sample tells its phase) through play, stop, jumps, a loop region
        tb = Timebase(name)
        ramp = np.repeat((np.arange(BAR, dtype=np.float32) / BAR)[:, None], 2, axis=1)
        link.send("/bridge/pad/options", 4, 1, 0, 0, 0.0, 0.0, "{}")
        link.send("/bridge/pad/load", 4, put_clip(link.cache, ramp, RATE), "ramp", 0)
        link.sync()
        tb.client.transport_locate(0)
        tb.client.transport_start()
        time.sleep(0.3)
        peer.start()
        peer.send_midi(np.array([[0, 0x90, 39, 127]]))
        targets = []
        for target in (3 * BAR + 12345, 77777, 5 * BAR + 1):  # jumps
            time.sleep(0.7)
            tb.client.transport_locate(target)
            targets.append(target)
        time.sleep(0.7)
        for _ in range(3):  # a loop region: back to its start when the position passes its end
            start, end = 2 * BAR, 2 * BAR + 30000
            tb.client.transport_locate(start)
            targets.append(start)
            time.sleep(0.05)  # the relocation takes effect at a later cycle
            while tb.client.transport_frame < end:
                time.sleep(0.005)
        tb.client.transport_stop()
        time.sleep(0.3)
        tb.client.transport_locate(BAR // 2)
        tb.client.transport_start()  # a loop pad stops with the transport: play it again
        targets.append(BAR // 2)
        time.sleep(0.1)
        peer.send_midi(np.array([[0, 0x90, 39, 127]]))
        time.sleep(0.7)
        audio, _first = peer.stop()
        tb.client.transport_stop()
        refit(link, peer, tb)
        # Segments: sounding stretches without a jump (a step of 1 +- 2 samples from one sample to the
        # next, modulo the loop); within each, the phase must advance exactly one sample per frame.
        ph = audio[0].astype(np.float64) * BAR
        sounding = audio[0] != 0
        step = (np.diff(ph) + BAR / 2) % BAR - BAR / 2
        cont = sounding[1:] & sounding[:-1] & (np.abs(step - 1) < 2)
        starts, worst, k = [], 0.0, 0
        while k < len(cont):
            if not cont[k]:
                k += 1
                continue
            e = k
            while e < len(cont) and cont[e]:
                e += 1
            if e - k >= 480:  # a fade-out (5 ms) is not a segment
                seg = ph[k : e - 240]  # leave out a fade that may end it
                expect = (ph[k] + np.arange(len(seg))) % BAR
                err = np.abs((seg - expect + BAR / 2) % BAR - BAR / 2)
                worst = max(worst, float(err.max()))
                starts.append(round(float(ph[k]), 2))
            k = e
        want = [t % BAR for t in targets[:-1]]  # the restart's phase depends on when its note came
        missed = [w for w in want if not any(abs(x - w) < 0.5 for x in starts)]
        print(
            f"jalv LV2: loop through play, 3 jumps, a loop region (3 passes), stop, restart: segments start at "
            f"phases {starts}; relocate targets' phases {want}: {len(missed)} missed; within segments the phase "
            f"drifts at most {worst:.3f} samples from one sample per frame   (bar: 0 samples of phase error)"
        )
    finally:
        if peer is not None:
            peer.close()
        stop_jalv(jalv, timeout=3)
        probe.close()
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    build()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cache = tmp / "clips"
        cache.mkdir()
        os.environ["DIFFHOST_CLIP_CACHE"] = str(cache)
        link = FakeDiffhost()
        link.cache = cache
        link.seen = set()
        os.environ["DIFFHOST_OSC_PORT"] = str(link.port)
        dawdreamer_part(link)
        jalv_part(link, tmp)
        link.close()


if __name__ == "__main__":
    main()
