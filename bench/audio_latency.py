"""Trigger latency and dropouts of diffhost's live audio, on a JACK dummy server at 128 frames / 48 kHz.

    python bench/audio_latency.py [--seconds 60] [--triggers 200] [--load auto|model|none]
                                  [--compare-python] [--switch-interval 0.005]

Prints:
  * trigger latency in frames, from the trigger() call to the clip's first sample, measured on
    PortAudio's stream clock: (a) to the callback that renders it (what diffhost controls; target
    <= one block + 1 ms = 176 frames) and (b) to its DAC time (adds the server's fixed playback
    latency, as PortAudio reports it);
  * output underflows during an idle baseline and during `--seconds` of continuous rendering by
    a real workload in another thread of this process (target 0 under load): the Engine's worker
    thread rendering 1 s clips back to back with the embedded default model. Throughout, `--voices`
    pads (default 15) loop quiet tones, so the callback mixes a full stage's 16 voices.
  * with --compare-python, the same load against a plain sounddevice Python callback (the
    design diffhost does not use), so the two counts compare in one run;
  * after each phase, jackd's own account of each xrun: "client ... not finished, state =
    Running" means a callback was still running at its deadline; "state = Triggered" means the
    machine did not wake the audio thread in time; "JackTimedDriver ... XRun" means the server's
    own timer woke late.
  * for each "diffhost ... Running" report, what diffhost's callback measured about itself at
    that moment (HostAudio.profile_callback: wall and CPU time of every callback slower than
    1 ms, matched by time to jackd's line as it arrived): CPU time past the period is an overrun
    of diffhost's own making; a long wall time on little CPU is a callback that was off the CPU
    (preempted, or the VM's vCPU descheduled): the machine's.
  * the machine's own share, counted by jackd in the same minutes: two do-nothing reference clients
    on the same server, each in its own process, at the same real-time priority --
    "reference-portaudio" (PortAudio's JACK client with diffhost's C callback and no voices: the
    path diffhost's audio takes, without the app around it) and "reference-libjack"
    (jack_simple_client: libjack alone). jackd's reports naming them are what the machine causes;
    the reports naming diffhost beyond theirs would be diffhost's.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RATE, BLOCK = 48000, 128
LOG_PATH = Path(
    os.environ.get("BENCH_JACK_LOG") or tempfile.mkstemp(prefix="diffhost-jackd-", suffix=".log")[1]
)
LOG = open(LOG_PATH, "w")  # noqa: SIM115 - jackd's own account of each xrun, summarized at the end


def start_jack(name: str, synchronous: bool = False) -> subprocess.Popen:
    """jackd with the dummy driver. synchronous (-S): the server waits for every client each cycle,
    so no client misses a cycle: what a frame-stamped peer capture needs (tests/audio/jack_peer.py)."""
    jackd = shutil.which("jackd")
    if not jackd:
        sys.exit("bench: jackd is not installed (Debian package jackd2)")
    import jack

    for flags in ([], ["--no-realtime"]):  # real-time scheduling where allowed, as on stage
        line_buffered = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []  # its xrun lines, as they happen
        proc = subprocess.Popen(
            [*line_buffered, jackd, "-n", name, *(["-S"] if synchronous else []), *flags]
            + ["-d", "dummy", "-r", str(RATE), "-p", str(BLOCK)],
            stdout=LOG,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                jack.Client("bench-probe", servername=name, no_start_server=True).close()
                mode = "synchronous, " if synchronous else ""
                print(f"jackd -d dummy -r {RATE} -p {BLOCK} ({mode}{' '.join(flags) or 'real-time'})")
                return proc
            except jack.JackError:
                time.sleep(0.1)
        proc.kill()
        proc.wait()
    sys.exit("bench: jackd did not start")


REFERENCES = ("reference-portaudio", "reference-libjack")


def start_references(server: str) -> list[subprocess.Popen]:
    """The do-nothing reference clients (see the docstring), until stop_references()."""
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--as-reference", REFERENCES[0], "--server-name", server],
            stdin=subprocess.PIPE,
            stdout=LOG,
            stderr=subprocess.STDOUT,
        )
    ]
    simple = shutil.which("jack_simple_client")  # jackd2's own example client: a sine, nothing else
    if simple:
        procs.append(subprocess.Popen([simple, REFERENCES[1], server], stdout=LOG, stderr=subprocess.STDOUT))
    else:
        print("jack_simple_client is not installed: the libjack reference is left out")
    return procs


def stop_references(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.stdin:
            p.stdin.close()  # the PortAudio reference closes its stream and exits
        else:
            p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def run_reference(name: str, server: str) -> int:
    """--as-reference: diffhost's stream (C callback, PortAudio, libjack) with no voices, no engine
    and no Python work in the process, until stdin closes."""
    os.environ["JACK_DEFAULT_SERVER"] = server
    os.environ["JACK_NO_START_SERVER"] = "1"
    from diffhost.host.audio import open_host_audio, rescan_devices

    rescan_devices(jack_client_name=name)
    audio = open_host_audio(sample_rate=RATE, block_size=BLOCK, input=False)
    sys.stdin.read()
    audio.close()
    return 0


def print_references(reasons: dict[str, int], minutes: float) -> None:
    """Per client, jackd's "client = NAME was not finished, state = STATE" reports among `reasons`
    (xrun_reasons' lines and counts)."""
    per: dict[str, dict[str, int]] = {}
    for line, n in reasons.items():
        if m := re.search(r"client = (\S+) was not finished, state = (\w+)", line):
            states = per.setdefault(m.group(1), {})
            states[m.group(2)] = states.get(m.group(2), 0) + n
    print(f"  jackd's 'not finished' reports per client, same server, same {minutes:.1f} min:")
    for name in ("diffhost", *REFERENCES):
        shown = ", ".join(f"{n} {s}" for s, n in sorted(per.get(name, {}).items())) or "none"
        print(f"    {name:20s} {shown}")


class Load:
    """Continuous rendering in another thread of this process until stop()."""

    def __init__(self, kind: str):
        self.kind = kind
        self.renders = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.describe = ""
        if kind in ("auto", "model"):
            try:
                from diffhost.engine import load_model

                self.model = load_model()
                self.kind = "model"
                self.describe = (
                    f"engine worker thread rendering 1 s clips back to back with the default model "
                    f"({self.model.info.name})"
                )
            except Exception as exc:  # say why, rather than measure without the load
                sys.exit(f"bench: the default model does not load: {exc}")
        if self.kind == "none":
            self.describe = "no load"

    def start(self) -> None:
        if self.kind == "none":
            return
        self._thread = threading.Thread(target=self._run_model, name="bench-load", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(30)

    def _run_model(self) -> None:
        """Keeps the real Engine (its worker thread owns torch) busy with one render after another."""
        from diffhost.engine.engine import Engine
        from diffhost.engine.request import GenerationRequest

        prompts = ["punchy analog kick", "tight snare", "open hat", "808 bass", "pad swell"]
        with Engine(loader=lambda spec: self.model) as engine:
            events = engine.subscribe()
            while not self._stop.is_set():
                request = GenerationRequest(prompt=prompts[self.renders % len(prompts)], length=1.0)
                job = engine.submit(request)
                while not ((ev := events.get()).job_id == job.id and ev.terminal):
                    pass
                if ev.kind != "done":
                    raise RuntimeError(f"render {ev.kind}: {ev.message}")
                self.renders += 1


def measure_latency(audio, triggers: int, rng: np.random.Generator) -> tuple[list[float], list[float]]:
    to_callback, to_dac = [], []
    for _ in range(triggers):
        time.sleep(rng.uniform(0.004, 0.02))
        t_call = audio.stream_time()
        tag = audio.trigger(1)
        deadline = time.monotonic() + 1.0
        while (s := audio.slot_start(1)).tag != tag:
            if time.monotonic() > deadline:
                raise RuntimeError("trigger never started")
            time.sleep(0.0005)
        to_callback.append((s.time - t_call) * RATE)
        to_dac.append((s.dac_time - t_call) * RATE)
    return to_callback, to_dac


def summary(name: str, frames: list[float]) -> str:
    q = np.percentile(frames, [50, 99])
    return (
        f"  {name}: median {q[0]:.1f}  p99 {q[1]:.1f}  max {max(frames):.1f} frames "
        f"(max {max(frames) / RATE * 1000:.2f} ms; mean {statistics.fmean(frames):.1f})"
    )


def python_callback_underflows(seconds: float) -> int:
    """Underflows of a sounddevice Python callback doing a trivial copy, for comparison."""
    import sounddevice as sd

    clip = np.random.default_rng(0).uniform(-0.1, 0.1, (RATE, 2)).astype(np.float32)
    state = {"pos": 0, "under": 0}

    def callback(outdata, frames, t, status):
        if status.output_underflow:
            state["under"] += 1
        p = state["pos"]
        outdata[:] = clip[p : p + frames]
        state["pos"] = (p + frames) % (RATE - frames)

    with sd.OutputStream(samplerate=RATE, blocksize=0, channels=2, dtype="float32", callback=callback):
        time.sleep(seconds)
    return state["under"]


class LogTail:
    """jackd's log lines, each stamped (CLOCK_MONOTONIC_RAW, the callback's clock) as it arrives.

    jackd runs line-buffered (stdbuf -oL), so a line lands within a few ms of the xrun it reports;
    this thread looks every 5 ms."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-jackd-log", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with open(LOG_PATH, errors="replace") as f:
            pending = ""
            while not self._stop.wait(0.005):
                pending += f.read()
                *done, pending = pending.split("\n")
                now = time.clock_gettime_ns(time.CLOCK_MONOTONIC_RAW)
                self.lines += [(now, line) for line in done]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(1)


def steal_s() -> float:
    """Seconds the hypervisor ran something else on this VM's vCPUs (all of them), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


def attribute(tail: LogTail, slow: list, since_ns: int, period_ns: float) -> None:
    """Print, for each of jackd's "client = diffhost ... Running" reports, the callback behind it.

    Matched by time: the slow callbacks (over 1 ms, or starting 1 ms late) that began up to 60 ms
    before the report's line arrived. Own work = a callback whose CPU time passed the period. On a
    VM the thread's CPU clock also runs while the host has taken the vCPU away, so a long CPU time
    with a handful of voices (bench/callback_cost.py: ~7 us for 16) is still the machine's."""
    reports = [t for t, line in tail.lines if t >= since_ns and "client = diffhost" in line and "Running" in line]
    own = machine = unmatched = 0
    shown = 0
    for t in reports:
        near = [b for b in slow if t - 60_000_000 <= b.start_ns <= t + 5_000_000]
        if not near:
            unmatched += 1
            continue
        b = max(near, key=lambda b: (b.cpu_ns, b.wall_ns))
        mine = b.cpu_ns > period_ns
        own += mine
        machine += not mine
        if shown < 5 or mine:
            shown += 1
            print(
                f"    'Running' report: the nearest slow callback (frame {b.frame}) started {b.gap_ns / 1e6:.2f} ms after "
                f"the one before, ran {b.wall_ns / 1e3:.0f} us wall / {b.cpu_ns / 1e3:.0f} us CPU with {b.voices} voices "
                f"and {b.commands} commands: " + ("past the period by its CPU time" if mine else "not its own work")
            )
    if reports:
        print(
            f"  jackd's {len(reports)} 'diffhost ... Running' reports: {own} with diffhost's callback over the period by "
            f"CPU time, {machine} with it short (woken late, or preempted outside dh_callback), {unmatched} with no slow "
            f"callback near"
        )
    top = sorted(slow, key=lambda b: b.cpu_ns, reverse=True)[:5]
    for b in top:
        print(
            f"    most CPU: frame {b.frame}: {b.cpu_ns / 1e3:.0f} us CPU, {b.wall_ns / 1e3:.0f} us wall, "
            f"{b.voices} voices, {b.commands} commands, started {b.gap_ns / 1e6:.2f} ms after the one before"
        )


def xrun_reasons(offset: int) -> dict[str, int]:
    """jackd's log lines about xruns since byte `offset`, grouped by cause."""
    LOG.flush()
    text = LOG_PATH.read_text(errors="replace")[offset:]
    reasons: dict[str, int] = {}
    for line in text.splitlines():
        if "XRun" not in line and "xrun" not in line:
            continue
        key = re.sub(r"\d+ usec", "N usec", line.strip())
        reasons[key] = reasons.get(key, 0) + 1
    return reasons


def log_size() -> int:
    LOG.flush()
    return LOG_PATH.stat().st_size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the loaded run")
    ap.add_argument("--triggers", type=int, default=200, help="triggers per latency measurement")
    ap.add_argument(
        "--load", choices=("auto", "model", "none"), default="auto", help="auto = the default model"
    )
    ap.add_argument("--compare-python", action="store_true", help="also run a Python callback under the load")
    ap.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="GIL switch interval (s) for this run; default: what open_host_audio sets (0.0005)",
    )
    ap.add_argument("--server-name", default=f"diffhost-bench-{os.getpid()}", help="the JACK server to start")
    ap.add_argument("--no-references", action="store_true", help="leave out the do-nothing reference clients")
    ap.add_argument(
        "--voices",
        type=int,
        default=15,
        choices=range(16),
        metavar="0..15",
        help="pads 2.. looping quiet tones for the whole run, so the callback mixes a full stage's voices (default 15)",
    )
    ap.add_argument("--as-reference", metavar="NAME", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.as_reference:
        return run_reference(args.as_reference, args.server_name)

    name = args.server_name
    server = start_jack(name)
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    from diffhost.host.audio import open_host_audio, rescan_devices

    rescan_devices()
    load = Load(args.load)
    rng = np.random.default_rng(1)
    references: list[subprocess.Popen] = []
    try:
        if not args.no_references:
            references = start_references(name)
        kw = {} if args.switch_interval is None else {"switch_interval": None}
        if args.switch_interval is not None:
            sys.setswitchinterval(args.switch_interval)  # how long the load thread may hold the GIL
        audio = open_host_audio(sample_rate=RATE, block_size=BLOCK, input=False, **kw)
        print(f"GIL switch interval {sys.getswitchinterval() * 1000:g} ms")
        impulse = np.zeros((1, 64), np.float32)
        impulse[0, 0] = 1.0
        audio.assign(1, impulse, RATE)
        t = np.arange(2 * RATE) / RATE
        for k in range(args.voices):  # what the callback mixes on stage, on top of the triggered pad
            audio.assign(2 + k, (0.02 * np.sin(2 * np.pi * 110 * (k + 1) * t)).astype(np.float32)[None], RATE)
            audio.set_slot_options(2 + k, mode="loop")
            audio.trigger(2 + k)
        time.sleep(0.5)
        print(f"{audio.voices_active} voices looping through the run, plus the triggered pad")
        print(
            f"stream: {audio.block_size} frames / {audio.sample_rate} Hz, output latency {audio.latency[1] * 1000:.2f} ms"
        )

        base_s = min(10.0, args.seconds)
        mark = log_size()
        u0 = audio.underflows
        cb_idle, dac_idle = measure_latency(audio, args.triggers, rng)
        time.sleep(max(0.0, base_s - 2.5))
        idle_under = audio.underflows - u0
        print(f"\nidle baseline ({base_s:.0f} s, incl. {args.triggers} triggers): {idle_under} underflows")
        reasons = xrun_reasons(mark)
        for why, n in reasons.items():
            print(f"    jackd: {n} x {why}")
        if references:
            print_references(reasons, base_s / 60)
        print("trigger latency, idle (target: callback <= 176 frames = one block + 1 ms)")
        print(summary("to the rendering callback", cb_idle))
        print(summary("to the DAC (incl. server latency)", dac_idle))

        print(f"\nload: {load.describe}")
        load.start()
        time.sleep(1.0)  # past model warm-up
        audio.profile_callback(True, slow_ms=1.0)
        audio.slow_blocks()  # from here on
        tail = LogTail()
        since_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC_RAW)
        steal0 = steal_s()
        slow: list = []
        u0, c0, t0, mark = audio.underflows, audio.callbacks, time.monotonic(), log_size()
        cb_load, dac_load = [], []
        while time.monotonic() - t0 < args.seconds:
            a, b = measure_latency(audio, 20, rng)
            cb_load += a
            dac_load += b
            slow += audio.slow_blocks()  # drained often: the ring holds 1024
            time.sleep(0.5)
        slow += audio.slow_blocks()
        time.sleep(0.2)  # jackd's last lines
        tail.stop()
        timing = audio.callback_timing()
        under = audio.underflows - u0
        blocks = audio.callbacks - c0
        load_renders = load.renders
        print(
            f"under load ({args.seconds:.0f} s, {blocks} blocks, {load_renders} renders): "
            f"{under} underflows  (target 0)"
        )
        reasons = xrun_reasons(mark)
        for why, n in reasons.items():
            print(f"    jackd: {n} x {why}")
        if references:
            print_references(reasons, args.seconds / 60)
        period_ns = audio.block_size / audio.sample_rate * 1e9
        print(
            f"  diffhost's callback: longest {timing.max_wall_ns / 1e6:.3f} ms wall, {timing.max_cpu_ns / 1e3:.0f} us CPU; "
            f"longest gap between callbacks {timing.max_gap_ns / 1e6:.2f} ms; over the {period_ns / 1e6:.2f} ms period: "
            f"{timing.over_wall} by wall time, {timing.over_cpu} by its own CPU time; {len(slow)} callbacks over 1 ms "
            f"(or starting 1 ms late), CPU of the slowest-by-wall {max(slow, key=lambda b: b.wall_ns).cpu_ns / 1e3 if slow else 0:.0f} us"
        )
        attribute(tail, slow, since_ns, period_ns)
        print(f"  the hypervisor took {steal_s() - steal0:.1f} s of vCPU time from this machine during the run (steal)")
        print(f"trigger latency under load ({len(cb_load)} triggers)")
        print(summary("to the rendering callback", cb_load))
        print(summary("to the DAC (incl. server latency)", dac_load))
        audio.close()

        if args.compare_python:
            mark = log_size()
            py = python_callback_underflows(args.seconds)
            print(
                f"\nsame load, Python sounddevice callback instead of diffhost's C callback: {py} underflows"
            )
    finally:
        load.stop()
        stop_references(references)
        import sounddevice as sd

        sd._terminate()
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
