"""The slot bank against a real JACK server: what diffhost's output ports carry, to the frame."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import BLOCK, RATE, jack_offset, wait_frames

FADE = round(0.005 * RATE)  # the mixer's stop/choke/reassign fade


def ramp(n: int, lo: float = 0.1, hi: float = 0.9) -> np.ndarray:
    """A mono clip whose every sample is distinct, so its position in the output is unambiguous."""
    return np.linspace(lo, hi, n, dtype=np.float32)[np.newaxis, :]


def sine(freq: float, n: int, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(n) / RATE)).astype(np.float32)[np.newaxis, :]


def test_trigger_plays_the_clip_from_the_next_block_at_the_expected_frame(audio, peer):
    offset = jack_offset(audio, peer)
    clip = ramp(1000)
    audio.assign(4, clip, RATE)
    audio.set_slot_options(4, gain=0.5, pan=0.5)  # balance: left 0.5 * 0.5, right 0.5
    peer.start()
    wait_frames(audio, 2 * BLOCK)
    before = audio.frames
    audio.trigger(4)
    wait_frames(audio, 1000 + 4 * BLOCK)
    out, first = peer.stop()
    start = audio.slot_start(4)
    # it started in the block after the call: at most one block after the callback's clock
    assert 0 <= start.frame - before <= BLOCK
    i = start.frame + offset - first  # that diffhost frame, on the peer's clock, in the capture
    np.testing.assert_allclose(out[0, i : i + 1000], clip[0] * 0.25, rtol=1e-6)
    np.testing.assert_allclose(out[1, i : i + 1000], clip[0] * 0.5, rtol=1e-6)
    assert not out[:, :i].any() and not out[:, i + 1000 :].any()
    assert audio.slot_state(4) == "ready"


def test_quantized_triggers_start_on_the_grid(audio, peer):
    offset = jack_offset(audio, peer)
    audio.assign(1, ramp(200), RATE)
    audio.set_tempo(137.0)  # a grid that is not a whole number of frames: 0.25 beat = 5255.47...
    audio.set_quantize(0.25)
    grid = audio.grid_frames()
    peer.start()
    starts = []
    for pause in (700, 3100, 2300):
        wait_frames(audio, pause)
        before = audio.frames
        tag = audio.trigger(1)
        wait_frames(audio, int(grid) + 2 * BLOCK)
        s = audio.slot_start(1)
        assert s.tag == tag
        k = round(s.frame / grid)
        assert s.frame == round(k * grid), (s.frame, grid)  # exactly on a grid line, to the sample
        assert before <= s.frame < before + grid + BLOCK  # the next line, not a later one
        starts.append(s.frame)
    out, first = peer.stop()
    onsets = np.flatnonzero((out[0, 1:] != 0) & (out[0, :-1] == 0)) + 1
    assert list(onsets + first - offset) == starts


def test_choke_group_cuts_the_open_hat(audio, peer):
    audio.assign(1, np.full((1, RATE), 0.4, np.float32), RATE)  # "open hat": long, hard left
    audio.assign(2, np.full((1, 2000), 0.3, np.float32), RATE)  # "closed hat": hard right
    audio.set_slot_options(1, pan=-1.0, choke_group=1)
    audio.set_slot_options(2, pan=1.0, choke_group=1)
    peer.start()
    audio.trigger(1)
    wait_frames(audio, 10 * BLOCK)
    audio.trigger(2)
    wait_frames(audio, 30 * BLOCK)
    out, _ = peer.stop()
    left, right = out
    cut = int(np.flatnonzero(right)[0])  # where the closed hat starts
    assert np.allclose(left[cut - 100 : cut], 0.4)  # the open hat sounded until then
    assert np.all(np.diff(left[cut : cut + FADE]) <= 1e-7)  # then faded, never jumping up
    assert not left[cut + FADE + 1 :].any()  # and is gone 5 ms later
    assert np.allclose(right[cut : cut + 2000], 0.3)
    assert audio.slot_state(1) == "ready"


def test_loop_repeats_until_stopped_and_gate_stops_on_release(audio, peer):
    clip = ramp(1000)
    audio.assign(1, clip, RATE)
    audio.set_slot_options(1, mode="loop")
    peer.start()
    audio.trigger(1)
    wait_frames(audio, 4000)
    assert audio.slot_state(1) == "playing"
    audio.release(1)  # note-off does not stop a loop
    wait_frames(audio, 1000)
    audio.stop_slot(1)
    wait_frames(audio, FADE + 2 * BLOCK)
    out, _ = peer.stop()
    on = np.flatnonzero(out[0])
    seg = out[0, on[0] : on[-1] + 1]
    assert seg.shape[0] >= 5000
    np.testing.assert_allclose(seg[:4000], np.tile(clip[0], 4), rtol=1e-6)  # seamless repeats
    assert audio.slot_state(1) == "ready"

    # A clip far longer than the release takes to arrive, even on a loaded machine: the gate, not
    # the clip's end, must be what stops it.
    long_clip = ramp(RATE)
    audio.assign(1, long_clip, RATE)
    audio.set_slot_options(1, mode="gate")
    peer.start()
    audio.trigger(1)
    wait_frames(audio, 500)
    audio.release(1)
    wait_frames(audio, 4000)
    out, _ = peer.stop()
    sounded = np.flatnonzero(out[0]).shape[0]
    assert 500 <= sounded < RATE // 2  # released long before its end (1 s), after at least 500 frames
    audio.assign(1, clip, RATE)

    audio.set_slot_options(1, mode="oneshot")
    peer.start()
    audio.trigger(1)
    audio.release(1)  # one-shots play through a note-off
    wait_frames(audio, 2000)
    out, _ = peer.stop()
    assert np.flatnonzero(out[0]).shape[0] == 1000


def test_reassigning_a_playing_slot_fades_without_a_click(audio, peer):
    a, b = sine(440, RATE, 0.8), sine(660, RATE, 0.8)
    audio.assign(6, a, RATE)
    audio.set_slot_options(6, mode="loop")
    peer.start()
    audio.trigger(6)
    wait_frames(audio, 4000)
    buffers = audio._mixer._clips  # clip id -> buffer the audio thread may read
    old = [cid for cid, buf in buffers.items() if buf.shape[0] == RATE]
    audio.assign(6, b, RATE)  # while it plays
    assert all(cid in buffers for cid in old)  # still alive: the callback is fading it out
    wait_frames(audio, 2000)
    audio._mixer.clear(15)  # (the mixer's own 0-based index)  # any later call reclaims what the callback has let go
    assert old and not any(cid in buffers for cid in old)  # released only after the fade
    assert audio.slot_state(6) == "ready"  # the old clip faded out; nothing started the new one
    audio.trigger(6)
    wait_frames(audio, 3000)
    out, _ = peer.stop()
    steps = np.abs(np.diff(out[0]))
    step = steps.max()
    # a 0.8 sine at 660 Hz moves at most 0.069 per sample; a click would jump up to 1.6
    assert step < 0.08, (step, int(steps.argmax()), np.flatnonzero(out[0])[[0, -1]])
    on = np.flatnonzero(out[0])
    gap_start = int(np.flatnonzero(np.diff(on) > 100)[0])  # (sines touch 0.0 now and then)
    end_a, start_b = on[gap_start], on[gap_start + 1]
    np.testing.assert_allclose(out[0, start_b - 1 : start_b + 999], b[0, :1000], atol=1e-6)  # b[0] is 0.0
    assert end_a - on[0] > 4000 - BLOCK  # a played until the reassignment, then faded


def test_voice_limit_steals_the_oldest_voice(audio, peer):
    for slot, level in ((1, 0.1), (2, 0.2), (3, 0.4)):
        audio.assign(slot, np.full((1, RATE), level, np.float32), RATE)
    audio.set_voice_limit(2)
    peer.start()
    for slot in (1, 2, 3):
        audio.trigger(slot)
        wait_frames(audio, 5 * BLOCK)
    wait_frames(audio, 10 * BLOCK)
    out, _ = peer.stop()
    assert audio.voices_active == 2
    np.testing.assert_allclose(out[0, -BLOCK:], 0.6, rtol=1e-5)  # slots 2 and 3; slot 1 was stolen
    assert np.abs(np.diff(out[0])).max() <= 0.4 + 1e-6  # steps only where a voice starts, no cut
    audio.stop_all()
    wait_frames(audio, FADE + 2 * BLOCK)
    assert audio.voices_active == 0
    assert [audio.slot_state(s) for s in (1, 2, 3, 4)] == ["ready", "ready", "ready", "empty"]


def test_bad_slot_input_is_refused_and_changes_nothing(audio):
    with pytest.raises(ValueError, match="out of range 1..16"):
        audio.trigger(17)
    with pytest.raises(ValueError, match="empty"):
        audio.trigger(3)
    with pytest.raises(ValueError, match="mode"):
        audio.set_slot_options(2, mode="reverse")
    with pytest.raises(ValueError, match="pan"):
        audio.set_slot_options(2, gain=0.5, pan=2.0)
    assert audio.slot_options(2).gain == 1.0  # the valid gain in the refused call was not applied
    with pytest.raises(ValueError, match="tempo"):
        audio.set_tempo(5)
    with pytest.raises(ValueError, match="NaN"):
        audio.assign(1, np.full((1, 100), np.nan, np.float32), RATE)
    assert audio.slot_state(1) == "empty"


def test_gain_and_pan_changes_reach_a_sounding_loop_smoothly(audio, peer):
    audio.assign(8, np.full((1, 4800), 0.5, np.float32), RATE)
    audio.set_slot_options(8, mode="loop")
    peer.start()
    audio.trigger(8, gain=0.8)  # velocity 0.8 x slot gain
    wait_frames(audio, 20 * BLOCK)
    audio.set_slot_options(8, gain=0.5, pan=-1.0)  # while it sounds
    wait_frames(audio, 20 * BLOCK)
    audio.stop_slot(8)
    wait_frames(audio, FADE + 2 * BLOCK)
    out, _ = peer.stop()
    left, right = out
    on = np.flatnonzero(left)
    assert np.isclose(left[on[0] + 10], 0.4) and np.isclose(right[on[0] + 10], 0.4)  # 0.5 x 0.8, centre
    end = on[-1] - FADE - 10  # just before the stop's fade
    assert np.isclose(left[end], 0.2) and right[end] == 0.0  # x 0.5 gain, hard left
    # the change ramped over one block: per-frame steps of at most 0.2/128 (left), 0.4/128 (right)
    assert np.abs(np.diff(left[on[0] + 1 :])).max() <= 0.2 / BLOCK + 1e-6
    assert np.abs(np.diff(right[on[0] + 1 :])).max() <= 0.4 / BLOCK + 1e-6
