"""Every mixer command, checked on the compiled callback itself, to the sample.

The test drives dh_callback (the function PortAudio calls) directly, block by block, with no stream
and no JACK server: what each command does to the output is then exact and independent of the
machine's load. The JACK tests beside this one check the same callback behind a real stream.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from diffhost.host.audio.mixer import Mixer

RATE, BLOCK, FADE = 48000, 128, 64


class Driver:
    """One C mixer and a fake audio thread that runs its callback on demand."""

    def __init__(self, *, voice_limit: int = 8, in_channels: int = 0):
        self.mixer = Mixer(
            out_channels=2,
            in_channels=in_channels,
            sample_rate=RATE,
            num_slots=16,
            voice_limit=voice_limit,
            record_frames=RATE,
            fade_s=FADE / RATE,
        )
        ffi = self.mixer.ffi
        self.ffi, self.lib = ffi, self.mixer.lib
        self.out = ffi.new("float[]", 2 * BLOCK)
        self.time = ffi.new("dh_time_info *")
        self.user = ffi.cast("void *", self.mixer.userdata_ptr)
        self.frame = 0

    def run(self, frames: int, inp: np.ndarray | None = None) -> np.ndarray:
        """Output (frames, 2) of the next `frames` frames (a whole number of blocks)."""
        assert frames % BLOCK == 0
        got = []
        for b in range(frames // BLOCK):
            src = self.ffi.NULL
            if inp is not None:
                src = self.ffi.cast("const float *", self.ffi.from_buffer(inp[b * BLOCK : (b + 1) * BLOCK]))
            self.lib.dh_callback(src, self.out, BLOCK, self.time, 0, self.user)
            got.append(np.frombuffer(self.ffi.buffer(self.out), dtype=np.float32).reshape(BLOCK, 2).copy())
            self.frame += BLOCK
        return np.concatenate(got)

    def options(self, slot: int, gain_l=1.0, gain_r=1.0, mode="oneshot", choke=0, grid=-1.0) -> None:
        self.mixer.slot_options(slot, gain_l, gain_r, mode, choke, grid)


def clip(n: int, lo: float = 0.1, hi: float = 0.9) -> np.ndarray:
    """A stereo clip whose every sample is distinct; the right channel is the left negated."""
    left = np.linspace(lo, hi, n, dtype=np.float32)
    return np.ascontiguousarray(np.stack([left, -left], axis=1))


def fade(n: int) -> np.ndarray:
    """The release envelope, computed as the callback does (float32, one step per frame)."""
    env, out, step = np.float32(1.0), [], np.float32(1.0) / np.float32(FADE)
    for _ in range(n):
        env = np.float32(env - step)
        out.append(max(env, np.float32(0.0)))
    return np.array(out, dtype=np.float32)


def test_trigger_plays_the_clip_with_the_slots_gains_from_the_next_block():
    d = Driver()
    c = clip(300)
    d.mixer.assign(3, c)
    d.options(3, gain_l=0.5, gain_r=0.25)
    d.run(BLOCK)
    assert d.mixer.slot_state(3) == "ready"
    tag = d.mixer.trigger(3, 0.8)
    out = d.run(4 * BLOCK)
    np.testing.assert_allclose(out[:300, 0], c[:, 0] * np.float32(0.5 * 0.8), rtol=1e-6)
    np.testing.assert_allclose(out[:300, 1], c[:, 1] * np.float32(0.25 * 0.8), rtol=1e-6)
    assert not out[300:].any()
    start = d.mixer.slot_start(3)
    assert (start.tag, start.frame) == (tag, BLOCK)
    assert d.mixer.slot_state(3) == "ready"
    assert d.mixer.slot_events() == [(3, "ready", 0), (3, "playing", BLOCK), (3, "ready", 3 * BLOCK)]


def test_a_timestamped_trigger_starts_on_its_frame_and_a_past_one_at_once():
    d = Driver()
    c = clip(100)
    d.mixer.assign(0, c)
    d.run(BLOCK)
    d.mixer.trigger(0, 1.0, at=BLOCK + 200)  # in the block after next
    out = d.run(3 * BLOCK)
    assert not out[:200].any()
    np.testing.assert_allclose(out[200:300], c, rtol=1e-6)
    assert d.mixer.slot_start(0).frame == BLOCK + 200
    d.mixer.trigger(0, 1.0, at=5)  # already past: the next block's first frame
    d.run(BLOCK)
    assert d.mixer.slot_start(0).frame == 4 * BLOCK


def test_the_grid_quantizes_starts_and_a_slot_can_opt_out():
    d = Driver()
    d.mixer.assign(1, clip(50))
    d.mixer.assign(2, clip(50))
    d.mixer.set_grid(1000.5, origin=37.0)
    d.options(2, grid=0.0)  # this pad ignores the grid
    d.run(BLOCK)
    d.mixer.trigger(1, 1.0)
    d.mixer.trigger(2, 1.0)
    d.run(10 * BLOCK)
    assert d.mixer.slot_start(1).frame == round(37.0 + 1000.5)  # the first line at or after frame 128
    assert d.mixer.slot_start(2).frame == BLOCK
    d.options(2, grid=300.0)  # its own grid (origin shared with the mixer's)
    d.run(BLOCK)
    d.mixer.trigger(2, 1.0)
    d.run(4 * BLOCK)
    assert d.mixer.slot_start(2).frame == 37 + 300 * 5  # the first line at or after frame 1408


def test_loop_mode_wraps_and_stop_fades_it_out():
    d = Driver()
    c = clip(100)
    d.mixer.assign(5, c)
    d.options(5, mode="loop")
    d.run(BLOCK)
    d.mixer.trigger(5, 1.0)
    out = d.run(4 * BLOCK)
    np.testing.assert_allclose(out, np.tile(c, (6, 1))[: 4 * BLOCK], rtol=1e-6)
    assert d.mixer.slot_state(5) == "playing"
    d.mixer.stop_slot(5)
    out = d.run(2 * BLOCK)
    pos = 4 * BLOCK % 100
    expect = np.tile(c, (4, 1))[pos : pos + FADE - 1] * fade(FADE - 1)[:, None]
    np.testing.assert_allclose(out[: FADE - 1], expect, rtol=1e-5, atol=1e-7)
    assert not out[FADE - 1 :].any()
    assert d.mixer.slot_state(5) == "ready"


def test_release_fades_a_gate_pad_and_leaves_a_oneshot_pad_alone():
    d = Driver()
    c = clip(1000)
    d.mixer.assign(1, c)
    d.options(1, mode="gate")
    d.run(BLOCK)
    d.mixer.trigger(1, 1.0)
    d.run(BLOCK)
    d.mixer.release(1)
    out = d.run(BLOCK)
    np.testing.assert_allclose(
        out[: FADE - 1], c[BLOCK : BLOCK + FADE - 1] * fade(FADE - 1)[:, None], rtol=1e-5
    )
    assert not out[FADE - 1 :].any()
    d.options(1, mode="oneshot")
    d.run(BLOCK)
    d.mixer.trigger(1, 1.0)
    d.run(BLOCK)
    d.mixer.release(1)
    out = d.run(BLOCK)
    np.testing.assert_allclose(out, c[BLOCK : 2 * BLOCK], rtol=1e-6)


def test_a_choke_group_silences_its_other_pads_and_oneshots_overlap():
    d = Driver()
    a, b = clip(1000, 0.1, 0.2), clip(1000, 0.3, 0.4)
    d.mixer.assign(1, a)
    d.mixer.assign(2, b)
    d.options(1, choke=1)
    d.options(2, choke=1)
    d.run(BLOCK)
    d.mixer.trigger(1, 1.0)
    d.run(BLOCK)
    d.mixer.trigger(1, 1.0)  # a one-shot pad retriggered: both hits sound
    out = d.run(BLOCK)
    np.testing.assert_allclose(out, a[BLOCK : 2 * BLOCK] + a[:BLOCK], rtol=1e-5)
    d.mixer.trigger(2, 1.0)  # same choke group: both of pad 1's voices fade as pad 2 starts
    out = d.run(BLOCK)
    both = (a[2 * BLOCK : 2 * BLOCK + FADE - 1] + a[BLOCK : BLOCK + FADE - 1]) * fade(FADE - 1)[:, None]
    np.testing.assert_allclose(out[: FADE - 1], both + b[: FADE - 1], rtol=1e-5)
    np.testing.assert_allclose(out[FADE - 1 :], b[FADE - 1 : BLOCK], rtol=1e-6)


def test_the_voice_limit_fades_the_oldest_voice():
    d = Driver(voice_limit=2)
    clips = [clip(2000, 0.1 * k, 0.1 * k + 0.05) for k in (1, 2, 3)]
    for s, c in enumerate(clips):
        d.mixer.assign(s, c)
    d.run(BLOCK)
    for s in range(3):
        d.mixer.trigger(s, 1.0)
        d.run(BLOCK)
    # the third voice started at frame 3 * BLOCK, fading the first (started at BLOCK) from there
    d.mixer.set_voice_limit(3)
    d.run(BLOCK)
    d.mixer.trigger(0, 1.0)  # now three may sound: nothing fades
    out = d.run(BLOCK)
    expect = clips[1][3 * BLOCK : 4 * BLOCK] + clips[2][2 * BLOCK : 3 * BLOCK] + clips[0][:BLOCK]
    np.testing.assert_allclose(out, expect, rtol=1e-5)
    assert d.lib.dh_voices_active(d.mixer._p) == 3


def test_slot_gain_changes_ramp_across_one_block():
    d = Driver()
    c = np.full((2000, 2), 0.5, dtype=np.float32)
    d.mixer.assign(4, c)
    d.run(BLOCK)
    d.mixer.trigger(4, 1.0)
    d.run(BLOCK)
    d.options(4, gain_l=0.0, gain_r=2.0)
    out = d.run(2 * BLOCK)
    ramp = np.arange(BLOCK, dtype=np.float32) / np.float32(BLOCK)
    np.testing.assert_allclose(out[:BLOCK, 0], 0.5 * (1.0 - ramp), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out[:BLOCK, 1], 0.5 * (1.0 + ramp), rtol=1e-4)
    np.testing.assert_allclose(out[BLOCK:], np.tile([0.0, 1.0], (BLOCK, 1)), rtol=1e-6)


def test_reassigning_fades_the_old_clip_unless_asked_to_keep_it_and_retires_it():
    d = Driver()
    old, new = clip(1000, 0.1, 0.2), clip(1000, 0.5, 0.6)
    d.mixer.assign(7, old)
    d.run(BLOCK)
    d.mixer.trigger(7, 1.0)
    d.run(BLOCK)
    d.mixer.assign(7, new)
    out = d.run(BLOCK)
    np.testing.assert_allclose(
        out[: FADE - 1], old[BLOCK : BLOCK + FADE - 1] * fade(FADE - 1)[:, None], rtol=1e-5
    )
    assert not out[FADE - 1 :].any()
    d.mixer.clear(7)
    d.run(BLOCK)
    assert d.mixer.slot_state(7) == "empty"
    d.mixer.assign(7, old)  # takes back the ids of both clips, which nothing reads any more
    assert list(d.mixer._clips.values()) == [old]
    d.run(BLOCK)
    d.mixer.trigger(7, 1.0)
    d.run(BLOCK)
    d.mixer.assign(7, new, keep_voices=True)  # the sounding hit rings out
    out = d.run(BLOCK)
    np.testing.assert_allclose(out, old[BLOCK : 2 * BLOCK], rtol=1e-6)
    d.mixer.trigger(7, 1.0)  # the next hit plays the new clip, over the old one's tail
    out = d.run(BLOCK)
    np.testing.assert_allclose(out, old[2 * BLOCK : 3 * BLOCK] + new[:BLOCK], rtol=1e-5)


def test_stop_all_fades_every_pad_but_not_the_player():
    d = Driver()
    c, song = clip(1000), clip(5000, 0.01, 0.02)
    d.mixer.assign(1, c)
    d.mixer.assign(2, c)
    d.run(BLOCK)
    d.mixer.trigger(1, 1.0)
    d.mixer.trigger(2, 1.0)
    d.mixer.play(song)
    d.run(BLOCK)
    assert d.mixer.player_active() and d.mixer.player_position() == BLOCK
    d.mixer.stop_all()
    out = d.run(BLOCK)
    pads = (c[BLOCK : BLOCK + FADE - 1] * 2) * fade(FADE - 1)[:, None]
    np.testing.assert_allclose(out[: FADE - 1], pads + song[BLOCK : BLOCK + FADE - 1], rtol=1e-5)
    np.testing.assert_allclose(out[FADE - 1 :], song[BLOCK + FADE - 1 : 2 * BLOCK], rtol=1e-6)
    d.mixer.stop_player()
    out = d.run(BLOCK)
    np.testing.assert_allclose(
        out[: FADE - 1], song[2 * BLOCK : 2 * BLOCK + FADE - 1] * fade(FADE - 1)[:, None], rtol=1e-5
    )
    assert not out[FADE - 1 :].any()
    assert not d.mixer.player_active() and d.mixer.player_position() == 0


def test_a_new_play_replaces_the_player_and_ends_on_its_last_frame():
    d = Driver()
    first, second = clip(2000, 0.1, 0.2), clip(200, 0.5, 0.6)
    d.mixer.play(first)
    d.run(BLOCK)
    d.mixer.play(second)
    out = d.run(2 * BLOCK)
    both = first[BLOCK : BLOCK + FADE - 1] * fade(FADE - 1)[:, None] + second[: FADE - 1]
    np.testing.assert_allclose(out[: FADE - 1], both, rtol=1e-5)
    np.testing.assert_allclose(out[FADE - 1 : 200], second[FADE - 1 :], rtol=1e-6)
    assert not out[200:].any()
    assert not d.mixer.player_active()


def test_input_is_captured_and_metered():
    d = Driver(in_channels=2)
    sig = np.zeros((4 * BLOCK, 2), dtype=np.float32)
    sig[:, 0] = np.linspace(-0.5, 0.25, 4 * BLOCK, dtype=np.float32)
    sig[:, 1] = 0.125
    d.run(4 * BLOCK, inp=sig)
    assert d.mixer.input_written() == 4 * BLOCK
    np.testing.assert_array_equal(d.mixer.read_input(BLOCK, 2 * BLOCK), sig[BLOCK : 3 * BLOCK])
    assert d.mixer.read_input(3 * BLOCK, 2 * BLOCK) is None  # not all written yet
    peak, meansq = d.mixer.meter(BLOCK)
    last = sig[3 * BLOCK :]
    assert peak == pytest.approx(float(np.abs(last).max()))
    assert meansq == pytest.approx(float((last.astype(np.float64) ** 2).mean()), rel=1e-5)


def test_a_time_grid_starts_a_pad_on_a_clock_line_as_heard():
    """In time mode (Ableton Link) a start is a clock time, re-placed on a frame by each block's own
    clock stamp until it sounds. The blocks here run back to back, faster than real time, so the
    pad starts in the first block whose stamp is within one block of the line."""
    d = Driver()
    d.mixer.assign(0, clip(50))
    d.run(BLOCK)
    ns, _ = d.mixer.clock()
    step, latency = 20e6, 3_000_000  # a line every 20 ms; sound heard 3 ms after its block
    origin = float(ns + 7_000_000)
    d.mixer.set_time_grid(step, origin, latency)
    d.mixer.trigger(0, 1.0)
    d.run(BLOCK)
    ns, _ = d.mixer.clock()  # the block that applied the trigger: the next line as heard from it
    start_ns = origin + math.ceil((ns + latency - origin) / step - 1e-9) * step - latency
    deadline = time.monotonic() + 10.0
    while d.mixer.slot_start(0).tag < 0:
        assert time.monotonic() < deadline
        d.run(BLOCK)
    ns, t0 = d.mixer.clock()  # the block it started in
    expect = max(t0, t0 + round((start_ns - ns) * RATE / 1e9))
    start = d.mixer.slot_start(0)
    assert start.frame == expect
    assert start.clock_ns == ns + round((expect - t0) / RATE * 1e9)
    if expect > t0:  # not started late (the test thread was not held off the CPU past the line)
        assert abs(start.clock_ns - start_ns) <= 0.5e9 / RATE + 1  # on the line, to the frame


def test_a_slot_state_read_before_the_audio_thread_runs_tells_the_truth():
    """slot_state() counts commands the audio thread has not run yet; it must say what they will
    leave: stopping an empty slot leaves it empty (not "ready"), a trigger of an empty slot plays
    nothing, stop-all stops a trigger still waiting, a kept-voices re-assign of a playing slot
    leaves it playing. Each is checked before and after the callback runs the commands."""
    d = Driver()
    m = d.mixer
    m.stop_slot(2)  # an empty slot
    assert m.slot_state(2) == "empty"
    m.trigger(3, 1.0)  # an empty slot: nothing to play
    assert m.slot_state(3) == "empty"
    d.run(BLOCK)
    assert (m.slot_state(2), m.slot_state(3)) == ("empty", "empty")

    m.assign(0, clip(4 * BLOCK))
    assert m.slot_state(0) == "ready"
    m.trigger(0, 1.0)
    assert m.slot_state(0) == "playing"
    m.stop_all()  # the trigger has not run yet: stop-all stops it with the rest
    assert (m.slot_state(0), m.slot_state(2)) == ("ready", "empty")
    d.run(2 * BLOCK)  # the stop's fade
    assert (m.slot_state(0), m.slot_state(2)) == ("ready", "empty")

    m.trigger(0, 1.0)
    d.run(BLOCK)
    assert m.slot_state(0) == "playing"
    m.assign(0, clip(4 * BLOCK, 0.2, 0.8), keep_voices=True)  # the sounding hit rings on
    assert m.slot_state(0) == "playing"
    m.stop_slot(0)
    assert m.slot_state(0) == "ready"
    d.run(2 * BLOCK)
    assert m.slot_state(0) == "ready"
    m.clear(0)
    m.stop_slot(0)
    assert m.slot_state(0) == "empty"
    d.run(BLOCK)
    assert m.slot_state(0) == "empty"
