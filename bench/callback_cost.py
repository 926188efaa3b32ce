"""What one audio callback costs in CPU time, by what the voices play: diffhost's C callback
(dh_callback) called directly, with no stream, 16 voices sounding.

    python bench/callback_cost.py [--blocks 4000] [--voices 16]

Clips: closed hats from the embedded default model, whose decaying tails hold subnormal floats
(about 15 % of their samples), as rendered and with those flushed to zero; a plain sine as the
baseline. Prints the median and p99 CPU time per 128-frame block for each, and the ratio to the
baseline. On x86-64 each arithmetic step on a subnormal costs a microcode assist (~100+ cycles)
unless the thread runs with flush-to-zero / denormals-are-zero. CPU time of this thread
(time.thread_time_ns), so other work on the machine does not count.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RATE, BLOCK = 48000, 128


def cost(clip: np.ndarray, voices: int, blocks: int) -> np.ndarray:
    """ns of CPU per callback while `voices` voices play `clip` (re-triggered as they end)."""
    from diffhost.host.audio.clips import convert_clip
    from diffhost.host.audio.mixer import Mixer

    mixer = Mixer(out_channels=2, in_channels=0, sample_rate=RATE, num_slots=16, voice_limit=32, record_frames=RATE)
    ffi, lib = mixer.ffi, mixer.lib
    frames = convert_clip(clip, RATE, RATE, 2)
    out = ffi.new("float[]", 2 * BLOCK)
    ti = ffi.new("dh_time_info *")
    user = mixer._p
    for s in range(voices):
        mixer.assign(s, frames)
    lib.dh_callback(ffi.NULL, out, BLOCK, ti, 0, user)  # applies the assignments
    length = frames.shape[0] // BLOCK
    step = max(1, length // voices)  # a new voice every `step` blocks: `voices` sound at once, spread over the clip
    times = np.empty(blocks, dtype=np.int64)
    for b in range(length + blocks):
        if b % step == 0:
            mixer.trigger(b // step % voices, 1.0, at=0)
        t0 = time.thread_time_ns()
        lib.dh_callback(ffi.NULL, out, BLOCK, ti, 0, user)
        if b >= length:
            times[b - length] = time.thread_time_ns() - t0
    mixer.close()
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--blocks", type=int, default=4000)
    ap.add_argument("--voices", type=int, default=16)
    args = ap.parse_args()
    from diffhost.engine import load_model

    hats = load_model().generate("closed hat", sample_rate=RATE, length=1.0, variations=8, seed=3)
    tiny = np.finfo(np.float32).tiny
    sub = [int(((np.abs(h) < tiny) & (h != 0)).sum()) for h in hats]
    hat = hats[int(np.argmax(sub))]
    flushed = np.where(np.abs(hat) < tiny, np.float32(0), hat).astype(np.float32)
    sine = (0.5 * np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE)).astype(np.float32)[None].repeat(2, 0)
    print(f"hat clip: {max(sub)} subnormal samples of {hat.size}")
    results = {}
    for name, clip in (("sine (baseline)", sine), ("hat as rendered", hat), ("hat, subnormals flushed", flushed)):
        t = cost(clip, args.voices, args.blocks)
        results[name] = t
        print(
            f"{name:26s} median {np.median(t) / 1000:7.1f} us  p99 {np.percentile(t, 99) / 1000:7.1f} us  "
            f"(x{np.median(t) / np.median(results['sine (baseline)']):.2f} the baseline)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
