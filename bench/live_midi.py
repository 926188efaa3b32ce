"""MIDI note-on to first sample, on a JACK dummy server at 128 frames / 48 kHz, idle and while the
engine renders, measured by a JACK peer that plays the notes and records diffhost's outputs on the
same frame clock (the test peer: tests/jackd.py runs tests/audio/jack_peer.py).

    python bench/live_midi.py [--notes 400] [--load model|none]

Prints p50 / p99 / max latency in frames and ms for each phase, the ratio of p99 to the bar
(one block + 1 ms = 176 frames), the velocity->gain error, and xruns JACK reported.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from audio_latency import BLOCK, RATE, Load, log_size, start_jack, xrun_reasons  # noqa: E402

BAR = BLOCK + 0.001 * RATE


def run_notes(audio, peer, notes: int, rng) -> tuple[np.ndarray, float]:
    from diffhost.host.live.midi import velocity_gain

    rows, delay = [], 2 * BLOCK
    vel = []
    for _ in range(notes):
        delay += 1300 + int(rng.integers(0, BLOCK))
        v = int(rng.integers(20, 128))
        vel.append(v)
        rows.append([delay, 0x90, 36, v])
    peer.start()
    base = peer.send_midi(np.array(rows))
    target = audio.frames + delay + 2000
    while audio.frames < target:
        time.sleep(0.01)
    blocks, stamps = peer.stop_raw()  # a cycle the capture missed is a gap, not an error
    frames = (stamps[:, None] + np.arange(blocks.shape[2])[None, :]).ravel()  # each sample's peer frame
    sig = blocks[0].ravel()
    on = sig != 0
    first_on = np.flatnonzero(on[1:] & ~on[:-1] & (np.diff(frames) == 1)) + 1
    onsets = frames[first_on]  # peer frames
    played = np.array([base + r[0] for r in rows])
    # each note's own onset: the first one at or after it, before the next note
    idx = np.searchsorted(onsets, played)
    ok = idx < onsets.size
    ok[ok] &= onsets[idx[ok]] < np.append(played[1:], np.inf)[ok]
    if not ok.all():
        print(f"  {int((~ok).sum())} of {played.size} notes have no onset of their own (it fell in a cycle the peer missed, or was lost)")
    lat = onsets[idx[ok]] - played[ok]
    want = 0.5 * np.array([velocity_gain(v) for v in vel])[ok]
    got = sig[first_on[idx[ok]] + 5]
    err = float(np.max(np.abs(got - want) / want))
    return lat, err


def report(name: str, lat: np.ndarray, err: float) -> None:
    p50, p99, mx = np.percentile(lat, 50), np.percentile(lat, 99), lat.max()
    print(
        f"{name}: {lat.size} notes  p50 {p50:.0f}  p99 {p99:.0f}  max {mx:.0f} frames "
        f"(p99 {p99 / RATE * 1000:.2f} ms; bar {BAR:.0f} frames: p99/bar {p99 / BAR:.2f})  "
        f"velocity gain error max {err * 100:.4f} %"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--notes", type=int, default=400)
    ap.add_argument("--load", choices=("model", "none"), default="model")
    args = ap.parse_args()
    name = f"dh-live-bench-{os.getpid()}"
    # Synchronous, as in tests/audio: the peer stamps its capture with its own cycle count, which
    # stays on diffhost's clock only while no client misses a cycle. On the default (asynchronous)
    # server a late peer skips cycles and its onsets land whole blocks off.
    server = start_jack(name, synchronous=True)
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    from diffhost.host.audio import open_host_audio, rescan_devices
    from diffhost.host.live.midi.jack_input import JackMidiInput
    from diffhost.host.live.midi.router import MidiRouter
    from tests.jackd import Peer  # the test's JACK peer (its own process, frame-stamped capture)

    rescan_devices()

    class _Session:  # the router only reads .audio on the note path
        audio = None

    rng = np.random.default_rng(4)
    audio = open_host_audio(sample_rate=RATE, block_size=BLOCK, input=False)
    session = _Session()
    session.audio = audio
    router = MidiRouter(session)
    port = JackMidiInput(router, session, server=name)
    peer = Peer(name, Path(tempfile.mkdtemp(prefix="dh-live-bench-")))
    try:
        peer.connect()
        peer.connect_midi(port.port_name)
        print(f"JACK MIDI port {port.port_name}, ordered after the audio client: {port.ordered}")
        audio.assign(1, np.full((1, 600), 0.5, np.float32), RATE)
        u0, mark = audio.underflows, log_size()
        lat, err = run_notes(audio, peer, args.notes, rng)
        report("idle", lat, err)
        idle_x = audio.underflows - u0
        for why, n in xrun_reasons(mark).items():
            print(f"    jackd: {n} x {why}")
        if args.load != "none":
            load = Load(args.load)
            load.start()
            try:
                u1, mark = audio.underflows, log_size()
                lat2, err2 = run_notes(audio, peer, args.notes, rng)
                report(f"while rendering ({load.renders} renders)", lat2, err2)
                print(f"xruns JACK flagged: idle {idle_x}, while rendering {audio.underflows - u1}")
                for why, n in xrun_reasons(mark).items():
                    print(f"    jackd: {n} x {why}")
            finally:
                load.stop()
        else:
            print(f"xruns JACK flagged: idle {idle_x}")
    finally:
        peer.close()
        port.close()
        router.close()
        audio.close()
        import sounddevice as sd

        sd._terminate()
        server.terminate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
