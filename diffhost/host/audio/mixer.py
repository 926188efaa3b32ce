"""The slot bank, player and input capture: a Python front for the C mixer state.

Why the callback is C (host/audio/_mixer.c), not Python. Measured on the JACK dummy
server at 128 frames / 48 kHz, with a torch thread rendering in this process on a shared
2-core machine (bench/audio_latency.py --compare-python, 60 s): a plain sounddevice Python
callback got 138 underflows, and jackd blamed 89 of them on the client still *running*
at its deadline: the callback waited for the GIL, which the torch thread holds for up to
the 5 ms switch interval (a block is 2.67 ms). The C callback never takes the GIL; under
the same load it got 24, each one the machine not waking the audio thread in time
("not finished, state = Triggered") or the server's own timer waking late, which the idle
baseline shows as well (on a busier run both designs drowned in those: 80 vs 86). A
separate audio process would also escape the GIL, but not Python's allocations in the
callback, and costs IPC for every clip.

rtmixer (the sounddevice author's C callback with a lock-free action queue and
sample-accurate scheduled starts) was the first candidate and shaped this design, but it
has no per-voice gain or pan, no looping, no fades (stop, choke and reassign would click)
and no voice stealing, and its compiled callback cannot be extended.

Threading: one Python thread at a time writes the command ring (``_lock``); the audio
thread is its only reader. The C side never frees a clip: buffers are numpy arrays kept
alive here until the callback reports their id as retired (no slot and no voice refers to
them any more), so nothing the audio thread reads is ever released under it.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np

from diffhost.host.audio import native

# How a slot plays, and what state it is in, by name. The C values (dh_slot_mode and
# dh_slot_state_value in _mixer.h) are read from the compiled extension, like the command types.
MODES = ("oneshot", "loop", "gate")
SLOT_STATES = ("empty", "ready", "playing")


class AudioBusyError(ValueError):
    """The audio thread is not keeping up with commands (or the stream is stopped)."""


@dataclass(frozen=True)
class SlotStart:
    """When a slot's latest voice started: the trigger's tag, its frame, and stream times (s)."""

    tag: int
    frame: int
    time: float  # stream time of the callback that rendered the first sample, plus its offset
    dac_time: float  # stream time the first sample reaches the converter (PortAudio's estimate)
    clock_ns: int = 0  # CLOCK_MONOTONIC_RAW when its block was rendered, plus its offset (Link's clock)


@dataclass(frozen=True)
class SlowBlock:
    """One callback that took longer than the profiling threshold, or started that late."""

    frame: int  # its first frame
    start_ns: int  # CLOCK_MONOTONIC_RAW at its entry
    wall_ns: int  # entry to return
    cpu_ns: int  # the audio thread's CPU time over that span (-1: profiling was off)
    gap_ns: int  # since the previous callback's entry (one period when on time)
    voices: int  # voices it mixed
    commands: int  # commands it applied (Python's; the MIDI reader's are not counted)


@dataclass(frozen=True)
class CallbackTiming:
    """The callback's own timing since the stream opened: what tells its overruns from the machine's."""

    max_wall_ns: int
    max_cpu_ns: int  # 0 unless profiling is on
    max_gap_ns: int
    over_wall: int  # callbacks whose wall time passed the block's period
    over_cpu: int  # callbacks whose own CPU time passed it (an overrun of diffhost's making)


class Mixer:
    """Owns the C mixer state; every method is safe to call from any non-audio thread."""

    def __init__(
        self,
        *,
        out_channels: int,
        in_channels: int,
        sample_rate: int,
        num_slots: int,
        voice_limit: int,
        record_frames: int,
        fade_s: float = 0.005,
    ):
        self.ffi, self.lib = native.load()
        cap = 1 << max(12, int(record_frames + sample_rate).bit_length())  # power of two, with headroom
        fade = max(1, round(fade_s * sample_rate))
        ptr = self.lib.dh_mixer_new(
            out_channels, in_channels, float(sample_rate), num_slots, voice_limit, cap, fade
        )
        if ptr == self.ffi.NULL:
            raise ValueError(
                f"mixer: cannot create (out {out_channels} ch, in {in_channels} ch, {num_slots} slots, "
                f"input ring {cap} frames); out 1..2, in 0..2, slots 1..{native.MAX_SLOTS}"
            )
        self._m = ptr
        self._closed = False
        # Freed only when this object is collected: a thread still reading a counter after close()
        # reads valid memory, and the stream (closed first) can no longer run the callback.
        weakref.finalize(self, self.lib.dh_mixer_free, ptr)
        self.out_channels, self.in_channels = out_channels, in_channels
        self.sample_rate, self.num_slots = sample_rate, num_slots
        self.input_capacity = cap
        self._lock = threading.Lock()
        lib = self.lib
        self._modes = {"oneshot": lib.DH_MODE_ONESHOT, "loop": lib.DH_MODE_LOOP, "gate": lib.DH_MODE_GATE}
        self._states = {
            lib.DH_SLOT_EMPTY: "empty",
            lib.DH_SLOT_READY: "ready",
            lib.DH_SLOT_PLAYING: "playing",
        }
        self._sent = 0  # commands pushed so far; the callback reports how many it has applied
        self._clips: dict[int, np.ndarray] = {}  # clip id -> buffer the audio thread may read
        self._free = list(range(native.MAX_CLIPS - 1, -1, -1))
        # (command tag, state) of the latest state-changing command per slot, until the callback applies it
        self._slot_pending: list[tuple[int, str]] = [(0, "empty")] * native.MAX_SLOTS
        self._play_pending = 0
        self._event = self.ffi.new("dh_slot_event *")
        self._clock = (self.ffi.new("int64_t *"), self.ffi.new("int64_t *"))

    # -- plumbing --------------------------------------------------------------------
    @property
    def callback_ptr(self) -> int:
        return int(self.ffi.cast("uintptr_t", self.ffi.addressof(self.lib, "dh_callback")))

    @property
    def userdata_ptr(self) -> int:
        return int(self.ffi.cast("uintptr_t", self._p))

    def _command(self, kind: int, slot: int = 0):
        """A zeroed dh_command of type `kind` (lib.DH_CMD_*) for `slot`; the caller fills its payload."""
        c = self.ffi.new("dh_command *")
        c.type, c.slot = kind, slot
        return c

    def _clip_payload(self, payload, cid: int, data: np.ndarray) -> None:
        """Point an assign or play payload at a clip buffer, which _clips keeps alive until retired."""
        payload.clip = cid
        payload.frames = data.shape[0]
        payload.data = self.ffi.cast("const float *", self.ffi.from_buffer(data))

    def _push(self, c) -> int:
        """Push one command; returns its number (1-based), the count the callback reports applied
        (dh_commands_done). Caller holds _lock."""
        if not self.lib.dh_push(self._p, c):
            raise AudioBusyError("audio: the command queue is full; the audio stream is not running")
        self._sent += 1
        return self._sent

    def _reclaim(self) -> None:
        """Release buffers the audio thread no longer reads. Caller holds _lock."""
        while (cid := self.lib.dh_pop_retired(self._p)) >= 0:
            self._clips.pop(cid, None)
            self._free.append(cid)

    def _new_clip(self, data: np.ndarray) -> int:
        self._reclaim()
        if not self._free:
            raise AudioBusyError("audio: too many clips waiting for the audio thread to let go; try again")
        cid = self._free.pop()
        self._clips[cid] = data
        return cid

    @property
    def _p(self):
        """The C state; a closed mixer refuses every call instead of touching freed memory."""
        if self._closed:
            raise AudioBusyError("audio: the audio stream is closed")
        return self._m

    def _done(self, tag: int) -> bool:
        return self.lib.dh_commands_done(self._p) >= tag

    # -- slots ---------------------------------------------------------------------
    def assign(self, slot: int, frames: np.ndarray, keep_voices: bool = False) -> None:
        """frames: float32 C-contiguous (samples, out_channels), already at the stream rate.
        keep_voices: voices playing the old clip ring out (a fresh pad's next variation)."""
        with self._lock:
            cid = self._new_clip(frames)
            c = self._command(self.lib.DH_CMD_ASSIGN, slot)
            self._clip_payload(c.assign, cid, frames)
            c.assign.keep_voices = int(keep_voices)
            try:
                before = self.slot_state(slot)
                tag = self._push(c)
                # Kept voices ring on: a playing slot stays playing; otherwise it now holds a clip.
                self._slot_pending[slot] = (tag, "playing" if keep_voices and before == "playing" else "ready")
            except AudioBusyError:
                self._clips.pop(cid)
                self._free.append(cid)
                raise

    def clear(self, slot: int) -> None:
        with self._lock:
            self._slot_pending[slot] = (self._push(self._command(self.lib.DH_CMD_CLEAR, slot)), "empty")
            self._reclaim()

    def slot_options(
        self, slot: int, gain_l: float, gain_r: float, mode: str, choke: int, grid: float = -1.0
    ) -> None:
        """mode: one of MODES; grid: this slot's quantize grid in frames (0 = immediate, < 0 = the mixer's)."""
        c = self._command(self.lib.DH_CMD_SLOT_OPTIONS, slot)
        o = c.slot_options
        o.gain_l, o.gain_r, o.mode, o.choke, o.grid = gain_l, gain_r, self._modes[mode], choke, grid
        with self._lock:
            self._push(c)

    def trigger(self, slot: int, gain: float, at: int = 0) -> int:
        """at: the earliest frame to start on (a timestamped MIDI note); 0 or a past frame = next block."""
        c = self._command(self.lib.DH_CMD_TRIGGER, slot)
        c.trigger.gain, c.trigger.at = gain, max(0, int(at))
        with self._lock:
            c.trigger.tag = self._sent + 1  # echoed in the slot's start record: this command's number
            before = self.slot_state(slot)
            tag = self._push(c)
            if before != "empty":  # an empty slot's trigger plays nothing: it stays empty
                self._slot_pending[slot] = (tag, "playing")
            return tag

    def stop_slot(self, slot: int) -> None:
        with self._lock:
            after = self._stopped(slot)
            self._slot_pending[slot] = (self._push(self._command(self.lib.DH_CMD_STOP_SLOT, slot)), after)

    def _stopped(self, slot: int) -> str:
        """The state stopping leaves: "ready" for a slot with a clip, "empty" for one without."""
        return "empty" if self.slot_state(slot) == "empty" else "ready"

    def release(self, slot: int) -> None:
        with self._lock:
            self._push(self._command(self.lib.DH_CMD_RELEASE, slot))

    def stop_all(self) -> None:
        with self._lock:
            after = [self._stopped(i) for i in range(self.num_slots)]
            tag = self._push(self._command(self.lib.DH_CMD_STOP_ALL))
            for i, state in enumerate(after):  # a trigger still waiting is stopped with the rest
                self._slot_pending[i] = (tag, state)

    def set_grid(self, frames: float, origin: float = 0.0) -> None:
        """Quantize grid (frames, 0 = off) with a grid line on frame `origin` (the shared beat phase)."""
        c = self._command(self.lib.DH_CMD_GRID)
        c.grid.step, c.grid.origin = frames, origin
        with self._lock:
            self._push(c)

    def set_time_grid(self, step_ns: float, origin_ns: float, latency_ns: int) -> None:
        """Quantize grid in CLOCK_MONOTONIC_RAW time (Ableton Link): a line every step_ns, one heard
        at origin_ns; a block's sound is heard latency_ns after its callback."""
        c = self._command(self.lib.DH_CMD_GRID)
        g = c.grid
        g.step, g.origin, g.latency_ns, g.time_mode = step_ns, origin_ns, max(0, int(latency_ns)), 1
        with self._lock:
            self._push(c)

    def set_voice_limit(self, voices: int) -> None:
        c = self._command(self.lib.DH_CMD_VOICE_LIMIT)
        c.voice_limit.voices = int(voices)
        with self._lock:
            self._push(c)

    def slot_state(self, slot: int) -> str:
        tag, state = self._slot_pending[slot]
        if not self._done(tag):  # what the audio thread is about to do counts already
            return state
        return self._states[self.lib.dh_slot_state(self._p, slot)]

    def slot_start(self, slot: int) -> SlotStart:
        lib, m = self.lib, self._p
        tag = lib.dh_slot_start_tag(m, slot)
        return SlotStart(
            tag,
            lib.dh_slot_start_frame(m, slot),
            lib.dh_slot_start_time(m, slot),
            lib.dh_slot_start_dac(m, slot),
            lib.dh_slot_start_ns(m, slot),
        )

    def slot_events(self) -> list[tuple[int, str, int]]:
        """(slot index, state, frame) of every state change the callback pushed since the last call.
        One reader only (the audio's event thread)."""
        got = []
        ev = self._event
        while not self._closed and self.lib.dh_pop_slot_event(self._m, ev):
            got.append((int(ev.slot), self._states[ev.state], int(ev.frame)))
        return got

    def set_profile(self, on: bool, slow_ns: int) -> None:
        """on: also read the audio thread's CPU clock per callback; slow_ns: record callbacks slower
        than this (wall), or starting this much later than one period after the previous (0 = none)."""
        self.lib.dh_set_profile(self._p, int(bool(on)), int(slow_ns))

    def callback_timing(self) -> CallbackTiming:
        out = self.ffi.new("int64_t[5]")
        self.lib.dh_callback_stats(self._p, out)
        return CallbackTiming(*(int(x) for x in out))

    def slow_blocks(self) -> list[SlowBlock]:
        """The slow callbacks recorded since the last call (at most the ring's 1024)."""
        e = self.ffi.new("dh_slow_block *")
        got = []
        while self.lib.dh_pop_slow_block(self._p, e):
            got.append(
                SlowBlock(
                    int(e.frame), int(e.start_ns), int(e.wall_ns), int(e.cpu_ns), int(e.gap_ns), e.voices, e.commands
                )
            )
        return got

    def clock(self) -> tuple[int, int] | None:
        """(CLOCK_MONOTONIC_RAW ns, frame) of the latest block's start; None before the first block."""
        ns, frame = self._clock
        for _ in range(100):
            if self.lib.dh_clock(self._p, ns, frame):
                return int(ns[0]), int(frame[0])
        return None

    # -- player ----------------------------------------------------------------------
    def play(self, frames: np.ndarray) -> None:
        with self._lock:
            cid = self._new_clip(frames)
            c = self._command(self.lib.DH_CMD_PLAY)
            self._clip_payload(c.play, cid, frames)
            self._play_pending = self._push(c)

    def stop_player(self) -> None:
        with self._lock:
            self._push(self._command(self.lib.DH_CMD_STOP_PLAYER))
            self._play_pending = 0

    def player_active(self) -> bool:
        return bool(self.lib.dh_player_active(self._p)) or not self._done(self._play_pending)

    def player_position(self) -> int:
        return 0 if not self._done(self._play_pending) else int(self.lib.dh_player_pos(self._p))

    # -- input -----------------------------------------------------------------------
    def input_written(self) -> int:
        return int(self.lib.dh_input_written(self._p))

    def read_input(self, start: int, frames: int) -> np.ndarray | None:
        """(frames, in_channels) captured input from absolute frame start; None if not all there yet."""
        out = np.empty((frames, self.in_channels), dtype=np.float32)
        got = self.lib.dh_input_read(
            self._p, start, self.ffi.cast("float *", self.ffi.from_buffer(out)), frames
        )
        if got < 0:
            raise AudioBusyError("audio: the recording was overwritten before it could be read")
        return out if got == frames else None

    def meter(self, frames: int) -> tuple[float, float] | None:
        """(peak, mean square) of the newest input covering `frames`; None before any input."""
        pk = self.ffi.new("float *")
        ms = self.ffi.new("float *")
        if not self.lib.dh_meter(self._p, frames, pk, ms):
            return None
        return float(pk[0]), float(ms[0])

    # -- stats -----------------------------------------------------------------------
    def stat(self, name: str) -> int:
        return int(getattr(self.lib, f"dh_{name}")(self._p))

    def stream_times(self) -> tuple[float, float]:
        """(callback time, DAC time) of the latest block, in stream seconds."""
        return float(self.lib.dh_last_time(self._p)), float(self.lib.dh_last_dac(self._p))

    def close(self) -> None:
        """Refuse further calls; only once the stream is closed (the callback can no longer run)."""
        with self._lock:
            self._closed = True
