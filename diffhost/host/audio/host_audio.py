"""HostAudio: one duplex PortAudio stream for recording, playback and the live slot bank.

Callers (Session, GUI, OSC, MIDI, CLI) use plain methods; none of them blocks on the
audio thread except record(), which waits for the audio by design. Everything
sent to the audio thread goes through the C mixer's command ring (host/audio/
mixer.py explains why the callback is C, not Python).

Slots are numbered 1..num_slots, as musicians count and as OSC, the window, kits and MIDI
maps name them. Each slot keeps its source clip (at its own rate) and options, so a device or
rate change can rebuild the bank on the new stream (snapshot() / restore()). Slot state changes
are pushed: the callback writes them to a ring, one event thread hands them to listeners.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sounddevice as sd

from diffhost.engine.audio import read_audio
from diffhost.host.audio import native
from diffhost.host.audio.clips import check_clip, convert_clip
from diffhost.host.audio.devices import (
    AudioDeviceError,
    DeviceInfo,
    plain_open_error,
    portaudio_lock,
    resolve_device,
    stream_left_behind,
)
from diffhost.host.audio.mixer import MODES, CallbackTiming, Mixer, SlotStart, SlowBlock
from diffhost.host.audio.settings import AudioSettings

SlotMode = str  # "oneshot" | "loop" | "gate"
# The GIL hand-over interval while live audio is open. The callback never needs the GIL, but the
# threads that call trigger() (OSC, GUI, MIDI) do: at Python's default 5 ms a torch thread made
# the slowest triggers 388 frames late at 128/48k; at 0.5 ms, 138 (bench/audio_latency.py),
# with no measurable cost to the render rate.
LIVE_SWITCH_INTERVAL_S = 0.0005
METER_WINDOW_S = 0.1
SILENCE_DB = -120.0  # the meter's floor, so callers always get a finite number
EVENT_PERIOD_S = 0.003  # how often the event thread drains the callback's slot-state ring
SlotListener = Callable[[int, str], None]  # (slot number 1..N, "empty" | "ready" | "playing")


@dataclass(frozen=True)
class SlotOptions:
    gain: float = 1.0  # linear, 0..4
    pan: float = 0.0  # -1 (left) .. 1 (right); balance law, centre = unity on both sides
    mode: SlotMode = "oneshot"
    choke_group: int = 0  # 0 = none; a slot starting cuts the other slots of its group
    quantize: float | None = None  # beats; None = the session's quantize, 0 = immediately


@dataclass(frozen=True)
class SlotSource:
    """What a slot holds, before conversion to the stream: reassigned as is when the device changes."""

    audio: np.ndarray = field(repr=False)  # float32 (channels, samples), checked
    sample_rate: int
    path: Path | None = None
    label: str = ""


@dataclass(frozen=True)
class BankState:
    """Everything the slot bank holds, independent of the device: what a reopen restores."""

    sources: tuple[SlotSource | None, ...]
    options: tuple[SlotOptions, ...]
    tempo: float = 120.0
    quantize: float = 0.0


class HostAudio:
    """The host's live audio: seed recording with a meter, a file/render player and a slot bank."""

    def __init__(
        self,
        stream: Any,
        mixer: Mixer,
        *,
        output: DeviceInfo,
        input: DeviceInfo | None,
        max_record_s: float,
        requested_block: int,
    ):
        self._stream = stream
        self._mixer = mixer
        self.output_device = output
        self.input_device = input
        self.sample_rate = int(mixer.sample_rate)
        self._requested_block = int(requested_block)
        self.channels = mixer.out_channels
        self.input_channels = mixer.in_channels
        self.max_record_s = max_record_s
        self._options = [SlotOptions() for _ in range(mixer.num_slots)]
        self._sources: list[SlotSource | None] = [None] * mixer.num_slots
        self._bpm = 120.0
        self._quantize = 0.0
        self._grid_origin = 0.0
        self._time_grid: tuple[float, float] | None = None  # (origin ns, latency ns): Link's time grid
        self._closed = False
        self._play_lock = threading.Lock()
        self._play_gen = 0
        self._loading = 0  # generation of a play() still converting its audio, 0 = none
        self.settings: AudioSettings | None = None  # what it was opened with (AudioControl falls back to it)
        self._listeners: list[SlotListener] = []
        self._trigger_listeners: list[Callable[[int], None]] = []
        self._events_stop = threading.Event()
        self._events = threading.Thread(target=self._pump_events, name="diffhost-slot-events", daemon=True)
        self._events.start()

    # -- info ------------------------------------------------------------------------
    @property
    def num_slots(self) -> int:
        return self._mixer.num_slots

    @property
    def block_size(self) -> int:
        """Frames per callback as the device runs it (the requested size until the first block)."""
        return self._mixer.stat("block") or self._requested_block

    @property
    def underflows(self) -> int:
        """Blocks the device flagged as output/input underflow since open (dropouts heard).

        JACK flags every xrun in its graph on both counters, whoever caused it.
        """
        return self._mixer.stat("underflows")

    @property
    def overflows(self) -> int:
        """Blocks the device flagged as input/output overflow since open (input lost)."""
        return self._mixer.stat("overflows")

    @property
    def frames(self) -> int:
        """Frames the callback has produced: the first frame of the next block."""
        return self._mixer.stat("frames")

    @property
    def callbacks(self) -> int:
        return self._mixer.stat("callbacks")

    def profile_callback(self, on: bool = True, slow_ms: float = 1.0) -> None:
        """Time the audio callback itself (benches): its CPU time per block, and every block slower
        than `slow_ms` (or starting that late) kept for slow_blocks(). Off by default: reading a
        thread's CPU clock is a system call each way."""
        slow_ms = float(slow_ms)
        if not 0.0 <= slow_ms <= 1000.0 or math.isnan(slow_ms):
            raise ValueError(f"slow_ms: {slow_ms} is out of range 0..1000 ms")
        self._mixer.set_profile(on, round(slow_ms * 1e6))

    def callback_timing(self) -> CallbackTiming:
        """Longest callback (wall and, when profiled, CPU), longest gap between callbacks, and how
        many passed a block's period by wall time and by their own CPU time."""
        return self._mixer.callback_timing()

    def slow_blocks(self) -> list[SlowBlock]:
        return self._mixer.slow_blocks()

    @property
    def voices_active(self) -> int:
        return self._mixer.stat("voices_active")

    @property
    def latency(self) -> tuple[float, float]:
        """PortAudio's (input, output) latency estimate in seconds."""
        lat = self._stream.latency
        return (float(lat[0]), float(lat[1])) if isinstance(lat, tuple) else (0.0, float(lat))

    def output_latency_s(self) -> float:
        """Seconds from a block's callback to its first sample at the converter (PortAudio's figure)."""
        t, dac = self._mixer.stream_times()
        return dac - t if dac > t else self.latency[1]

    def stream_time(self) -> float:
        """PortAudio's stream clock (s): the clock of SlotStart.time and SlotStart.dac_time."""
        return float(self._stream.time)

    def slot_start(self, slot: int) -> SlotStart:
        """When the slot's latest voice started (for latency measurement and tests)."""
        return self._mixer.slot_start(self._slot(slot))

    # -- recording -------------------------------------------------------------------
    def record(self, seconds: float, channels: int | None = None) -> tuple[np.ndarray, int]:
        """Record `seconds` from the input, blocking; float32 (channels, samples) and the rate."""
        if self.input_channels == 0:
            raise AudioDeviceError("record: no input device is open")
        seconds = float(seconds)
        if not (0.0 < seconds <= self.max_record_s):
            raise ValueError(f"record: {seconds} s is out of range (0, {self.max_record_s:g}] s")
        channels = self.input_channels if channels is None else int(channels)
        if channels not in (1, 2):
            raise ValueError(f"record: channels must be 1 (mono) or 2 (stereo), got {channels}")
        n = max(1, round(seconds * self.sample_rate))
        start = self._mixer.input_written()
        deadline = time.monotonic() + seconds + 2.0 + self.latency[0]
        time.sleep(seconds)
        while (frames := self._mixer.read_input(start, n)) is None:
            if time.monotonic() > deadline:
                raise AudioDeviceError(
                    f"record: the input device {self.input_device.name if self.input_device else ''!r} "
                    "stopped delivering audio"
                )
            time.sleep(0.005)
        audio = np.ascontiguousarray(frames.T)
        if channels != audio.shape[0]:
            audio = audio.mean(axis=0, keepdims=True) if channels == 1 else np.repeat(audio, 2, axis=0)
        return audio.astype(np.float32, copy=False), self.sample_rate

    def meter(self) -> tuple[float, float]:
        """Input (peak, RMS) in dBFS over the newest 100 ms; -120 when silent or without input."""
        got = self._mixer.meter(round(METER_WINDOW_S * self.sample_rate)) if self.input_channels else None
        if got is None:
            return SILENCE_DB, SILENCE_DB
        peak, meansq = got
        return _db(peak), _db(math.sqrt(meansq))

    # -- slots -----------------------------------------------------------------------
    def assign(
        self,
        slot: int,
        audio: np.ndarray,
        sample_rate: int,
        *,
        path: Path | None = None,
        label: str | None = None,
        keep_voices: bool = False,
    ) -> None:
        """Put a clip in slot 1..N (converted here, so triggering does no work); a playing slot fades
        out, unless keep_voices (a fresh pad's next variation: the sounding hit rings out)."""
        i = self._slot(slot)
        checked = check_clip(audio, sample_rate)
        frames = convert_clip(checked, int(sample_rate), self.sample_rate, self.channels)
        self._mixer.assign(i, frames, keep_voices)
        name = label if label is not None else (Path(path).stem if path is not None else "")
        self._sources[i] = SlotSource(checked, int(sample_rate), None if path is None else Path(path), name)

    def assign_file(self, slot: int, path: Path) -> None:
        audio, sr = read_audio(path)
        self.assign(slot, audio, sr, path=Path(path))

    def clear_slot(self, slot: int) -> None:
        i = self._slot(slot)
        self._mixer.clear(i)
        self._sources[i] = None

    def slot_source(self, slot: int) -> SlotSource | None:
        return self._sources[self._slot(slot)]

    def trigger(self, slot: int, gain: float = 1.0, *, at: int = 0) -> int:
        """Start the slot's clip in the next block (or on the next grid line); returns the trigger's tag.

        at: a frame of this stream to start on, not before (a MIDI note's own time); a frame
        already past, or 0, starts in the next block.
        """
        i = self._slot(slot)
        gain = float(gain)
        if not (0.0 <= gain <= 4.0) or math.isnan(gain):
            raise ValueError(f"gain: {gain} is out of range 0..4 (linear)")
        if self._sources[i] is None:
            raise ValueError(f"slot {slot}: is empty; assign a clip first")
        tag = self._mixer.trigger(i, gain, at)
        for listener in self._trigger_listeners:  # cheap by contract (a fresh pad queues a swap)
            listener(i + 1)
        return tag

    def release(self, slot: int) -> None:
        """Note-off: a gate-mode slot fades out; one-shot and loop slots ignore it."""
        self._mixer.release(self._slot(slot))

    def stop_slot(self, slot: int) -> None:
        """Stop every voice of the slot, in any mode, with a short fade."""
        self._mixer.stop_slot(self._slot(slot))

    def stop_all(self) -> None:
        self._mixer.stop_all()

    def slot_state(self, slot: int) -> str:
        return self._mixer.slot_state(self._slot(slot))

    def slot_options(self, slot: int) -> SlotOptions:
        return self._options[self._slot(slot)]

    def set_slot_options(
        self,
        slot: int,
        *,
        gain: float | None = None,
        pan: float | None = None,
        mode: SlotMode | None = None,
        choke_group: int | None = None,
        quantize: float | None | str = "keep",
    ) -> SlotOptions:
        """Change some of a slot's options (None keeps one; quantize=None follows the session's);
        all are checked before any applies.

        Gain and pan reach voices already sounding within one block, ramped (no zipper noise);
        mode, choke group and quantize apply from the next trigger.
        """
        i = self._slot(slot)
        old = self._options[i]
        new = SlotOptions(
            gain=old.gain if gain is None else float(gain),
            pan=old.pan if pan is None else float(pan),
            mode=old.mode if mode is None else str(mode),
            choke_group=old.choke_group if choke_group is None else int(choke_group),
            quantize=old.quantize if isinstance(quantize, str) else _beats_or_none(quantize),
        )
        check_slot_options(new)
        self._options[i] = new
        self._send_slot_options(i)
        return new

    def add_slot_listener(self, listener: SlotListener) -> None:
        """listener(slot number, state) is called on the event thread for every state change."""
        self._listeners.append(listener)

    def notify_triggered(self, slot: int) -> None:
        """A trigger that reached the mixer another way (the C JACK MIDI reader) tells the listeners."""
        n = self._slot(slot) + 1
        for listener in self._trigger_listeners:
            listener(n)

    def add_trigger_listener(self, listener: Callable[[int], None]) -> None:
        """listener(slot number) right after each trigger, on the caller's thread: it must not block."""
        self._trigger_listeners.append(listener)

    def remove_trigger_listener(self, listener: Callable[[int], None]) -> None:
        if listener in self._trigger_listeners:
            self._trigger_listeners.remove(listener)

    def remove_slot_listener(self, listener: SlotListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def snapshot(self) -> BankState:
        """The bank's sources and options, to restore on another stream (any rate)."""
        return BankState(tuple(self._sources), tuple(self._options), self._bpm, self._quantize)

    def restore(self, state: BankState) -> list[str]:
        """Reassign every clip (converted to this stream's rate) and option; returns problems, per slot."""
        problems = []
        self.set_tempo(state.tempo)
        self.set_quantize(state.quantize)
        for i in range(min(self.num_slots, len(state.options))):
            src = state.sources[i] if i < len(state.sources) else None
            o = state.options[i]
            try:
                self.set_slot_options(
                    i + 1, gain=o.gain, pan=o.pan, mode=o.mode, choke_group=o.choke_group, quantize=o.quantize
                )
                if src is not None:
                    self.assign(i + 1, src.audio, src.sample_rate, path=src.path, label=src.label)
            except ValueError as exc:
                problems.append(f"slot {i + 1}: {exc}")
        return problems

    def _send_slot_options(self, i: int) -> None:
        o = self._options[i]
        left = o.gain * min(1.0, 1.0 - o.pan)
        right = o.gain * min(1.0, 1.0 + o.pan)
        grid = -1.0 if o.quantize is None else self._beats_to_grid(o.quantize)
        self._mixer.slot_options(i, left, right, o.mode, o.choke_group, grid)

    def _pump_events(self) -> None:
        while not self._events_stop.wait(EVENT_PERIOD_S):
            try:
                events = self._mixer.slot_events()
            except Exception:  # closed under us: the thread ends with the stream
                return
            for index, state, _frame in events:
                for listener in list(self._listeners):
                    try:
                        listener(index + 1, state)
                    except Exception as exc:  # a front end's bug must not stop other listeners
                        print(f"diffhost: slot listener failed: {exc}", file=sys.stderr)

    def set_voice_limit(self, voices: int) -> None:
        """Most slot voices sounding at once; a new one beyond it fades out the oldest."""
        top = native.MAX_VOICES // 2  # the other half holds fading tails
        if not (1 <= int(voices) <= top):
            raise ValueError(f"voices: {voices} is out of range 1..{top}")
        self._mixer.set_voice_limit(int(voices))

    def set_tempo(
        self,
        bpm: float,
        *,
        origin: float | None = None,
        origin_ns: float | None = None,
        latency_ns: float = 0.0,
    ) -> None:
        """Tempo, and where its beats fall: `origin`, a frame of this stream a beat falls on (MIDI
        clock; the grid then counts frames), or `origin_ns`, a CLOCK_MONOTONIC_RAW time a beat is
        heard at (Ableton Link; the grid then follows the clock, whatever the device's own rate,
        and a block is heard `latency_ns` after its callback). Neither: the beat stays where it is."""
        bpm = float(bpm)
        if not (20.0 <= bpm <= 999.0) or math.isnan(bpm):
            raise ValueError(f"tempo: {bpm} BPM is out of range 20..999 BPM")
        self._bpm = bpm
        if origin_ns is not None:
            self._time_grid = (float(origin_ns), float(latency_ns))
        elif origin is not None:
            self._grid_origin = float(origin)
            self._time_grid = None
        self._send_grid()

    def set_quantize(self, beats: float) -> None:
        """Grid in beats (0.25 = 1/16 note at 4/4); 0 = off. Grid lines count from the stream's frame 0."""
        beats = float(beats)
        if not (beats == 0.0 or 1.0 / 64 <= beats <= 64.0):
            raise ValueError(f"quantize: {beats} beats is out of range 1/64..64 beats (0 = off)")
        self._quantize = beats
        self._send_grid()

    @property
    def tempo(self) -> float:
        return self._bpm

    @property
    def quantize(self) -> float:
        return self._quantize

    @property
    def grid_origin(self) -> float:
        """A frame a beat falls on: grid lines are origin + k * grid_frames()."""
        return self._grid_origin

    def grid_frames(self) -> float:
        """The quantize grid in frames (0 when off)."""
        return self._beats_to_frames(self._quantize)

    def frames_per_beat(self) -> float:
        return 60.0 / self._bpm * self.sample_rate

    def clock(self) -> tuple[int, int] | None:
        """(CLOCK_MONOTONIC_RAW ns, frame) at the start of the latest block: maps Link time to frames."""
        return self._mixer.clock()

    def _beats_to_frames(self, beats: float) -> float:
        return beats * 60.0 / self._bpm * self.sample_rate

    def _beats_to_grid(self, beats: float) -> float:
        """A grid step in the mixer's current unit: ns on Link's time grid, else frames."""
        return beats * 60e9 / self._bpm if self._time_grid is not None else self._beats_to_frames(beats)

    @property
    def grid_clock(self) -> str:
        """"time" while the grid follows Link's clock, "frames" otherwise."""
        return "time" if self._time_grid is not None else "frames"

    def _send_grid(self) -> None:
        if self._time_grid is not None:
            origin_ns, latency_ns = self._time_grid
            self._mixer.set_time_grid(self._beats_to_grid(self._quantize), origin_ns, round(latency_ns))
        else:
            # A beat-anchored origin, reduced so it stays within one beat of the stream's start.
            fpb = self.frames_per_beat()
            origin = self._grid_origin % fpb if fpb > 0 else 0.0
            self._mixer.set_grid(self.grid_frames(), origin)
        for i, o in enumerate(self._options):
            if o.quantize is not None:  # slot grids are in beats: they follow the tempo
                self._send_slot_options(i)

    # -- player ----------------------------------------------------------------------
    def play(self, audio: np.ndarray, sample_rate: int) -> None:
        """Play a render or any audio from its start, replacing what the player plays.

        Returns at once: bad input raises here, but resampling (about a second for a
        3-minute file) happens on a short-lived loader thread; is_playing() is True meanwhile.
        """
        checked = check_clip(audio, sample_rate)
        with self._play_lock:
            self._play_gen += 1
            gen = self._play_gen
            self._loading = gen
        threading.Thread(
            target=self._load_and_play,
            args=(checked, int(sample_rate), gen),
            name="diffhost-play-load",
            daemon=True,
        ).start()

    def _load_and_play(self, audio: np.ndarray, sample_rate: int, gen: int) -> None:
        frames = convert_clip(audio, sample_rate, self.sample_rate, self.channels)
        with self._play_lock:
            if gen == self._play_gen and not self._closed:  # not stopped or replaced meanwhile
                self._mixer.play(frames)
            if self._loading == gen:
                self._loading = 0

    def play_file(self, path: Path | str) -> None:
        audio, sr = read_audio(path)
        self.play(audio, sr)

    def stop(self) -> None:
        with self._play_lock:
            self._play_gen += 1  # a play() still loading will not start
            self._loading = 0
            self._mixer.stop_player()

    def position(self) -> float:
        """Seconds into what the player plays (0 when nothing plays)."""
        return self._mixer.player_position() / self.sample_rate

    def is_playing(self) -> bool:
        return bool(self._loading) or self._mixer.player_active()

    # -- lifetime --------------------------------------------------------------------
    @property
    def lost(self) -> bool:
        """True when the device went away under a running stream (the JACK server died, a USB
        interface was unplugged): PortAudio then reports the stream neither active nor stopped."""
        if self._closed:
            return False
        try:
            return not self._stream.active and not self._stream.stopped
        except Exception:  # PortAudio cannot even tell: it is gone
            return True

    def close(self, timeout: float | None = None) -> bool:
        """Stop and close the stream; returns False when it was left behind.

        sounddevice's stop (and abort, and close) wait for the audio thread to acknowledge, which
        never happens once the audio server is gone: they block forever. So a lost stream is not
        touched at all, and a live one is closed on a helper thread, waited for at most `timeout`
        s when given (the composition root bounds quitting this way). A stream left behind keeps
        its mixer memory (it could still call into it); the process is about to end anyway. A
        healthy stream on a loaded machine can take more than a second to stop, so by default
        this waits for it: releasing PortAudio under a stop still in progress would crash.
        """
        with self._play_lock:
            if self._closed:
                return True
            lost = self.lost
            self._closed = True
        self._events_stop.set()
        if threading.current_thread() is not self._events:
            self._events.join(timeout=1)
        if lost:
            stream_left_behind()  # the next re-scan takes a fresh PortAudio (devices.py says why)
            return False
        done = threading.Event()

        def close_stream() -> None:
            try:
                self._stream.stop(ignore_errors=True)
                self._stream.close(ignore_errors=True)
            except Exception:
                pass
            done.set()

        threading.Thread(target=close_stream, name="diffhost-audio-close", daemon=True).start()
        if not done.wait(timeout):
            return False
        self._mixer.close()  # only now: the callback can no longer run
        return True

    def __enter__(self) -> HostAudio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _slot(self, slot: int) -> int:
        """Slot number 1..N -> the mixer's index."""
        return slot_index(slot, self.num_slots)


def slot_index(slot: object, num_slots: int) -> int:
    """A slot number 1..num_slots (as musicians count) -> 0-based index; anything else raises."""
    try:
        s = int(slot)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValueError(f"slot: expected a number 1..{num_slots}, got {slot!r}") from None
    if isinstance(slot, bool) or s != slot or not 1 <= s <= num_slots:
        raise ValueError(f"slot: {slot} is out of range 1..{num_slots}")
    return s - 1


def _beats_or_none(beats: float | None) -> float | None:
    return None if beats is None else float(beats)


def check_slot_options(o: SlotOptions) -> None:
    """Raise ValueError naming the first option out of range."""
    if not (0.0 <= o.gain <= 4.0) or math.isnan(o.gain):
        raise ValueError(f"gain: {o.gain} is out of range 0..4 (linear)")
    if not (-1.0 <= o.pan <= 1.0) or math.isnan(o.pan):
        raise ValueError(f"pan: {o.pan} is out of range -1 (left)..1 (right)")
    if o.mode not in MODES:
        raise ValueError(f"mode: {o.mode!r} is not one of {', '.join(MODES)}")
    if not (0 <= o.choke_group <= 16):
        raise ValueError(f"choke_group: {o.choke_group} is out of range 0 (none)..16")
    q = o.quantize
    if q is not None and not (q == 0.0 or 1.0 / 64 <= q <= 64.0):
        raise ValueError(f"quantize: {q} beats is out of range 1/64..64 beats (0 = immediately, none = session)")


def open_host_audio(
    output: Any = None,
    input: Any = None,
    sample_rate: int = 48000,
    block_size: int = 128,
    slots: int = 16,
    *,
    input_channels: int = 1,
    max_record_s: float = 60.0,
    voices: int = 16,
    switch_interval: float | None = LIVE_SWITCH_INTERVAL_S,
) -> HostAudio:
    """Open one stream on the chosen devices (None = system default; input=False = no input).

    Lowers the interpreter's GIL switch interval to `switch_interval` (None leaves it as is;
    see LIVE_SWITCH_INTERVAL_S). Raises AudioDeviceError (a ValueError) naming the devices
    when the stream cannot open.
    """
    settings = AudioSettings(  # validates rate, block size, channels, record length
        sample_rate=int(sample_rate),
        block_size=int(block_size),
        input_channels=int(input_channels),
        max_record_s=float(max_record_s),
    )
    if not 1 <= int(slots) <= native.MAX_SLOTS:
        raise ValueError(f"slots: {slots} is out of range 1..{native.MAX_SLOTS}")
    if not 1 <= int(voices) <= native.MAX_VOICES // 2:
        raise ValueError(f"voices: {voices} is out of range 1..{native.MAX_VOICES // 2}")
    out_dev = resolve_device(output, "output")
    if out_dev is None:
        raise AudioDeviceError("output: no output device found (is an audio server running?)")
    in_dev = None if input is False else resolve_device(input, "input")
    out_ch = min(2, out_dev.max_output_channels)
    in_ch = min(settings.input_channels, in_dev.max_input_channels) if in_dev else 0

    mixer = Mixer(
        out_channels=out_ch,
        in_channels=in_ch,
        sample_rate=settings.sample_rate,
        num_slots=int(slots),
        voice_limit=int(voices),
        record_frames=round(settings.max_record_s * settings.sample_rate),
    )
    kind = "duplex" if in_ch else "output"
    # JACK fixes the period server-side; asking PortAudio for a block size there only adds its
    # adapter buffer (a block each way). Elsewhere the block size sets the device buffer.
    jack = "JACK" in out_dev.hostapi
    try:
        with portaudio_lock():  # not while another thread re-scans (devices.rescan_devices)
            stream = sd._StreamBase(  # the C callback is passed as a function pointer, as rtmixer does
                kind=kind,
                samplerate=settings.sample_rate,
                blocksize=0 if jack else settings.block_size,
                device=(in_dev.index, out_dev.index) if in_dev is not None and in_ch else out_dev.index,
                channels=(in_ch, out_ch) if in_ch else out_ch,
                dtype="float32",
                latency="low",
                callback=sd._ffi.cast("PaStreamCallback *", mixer.callback_ptr),
                userdata=sd._ffi.cast("void *", mixer.userdata_ptr),
            )
            stream.start()
    except (sd.PortAudioError, ValueError) as exc:
        mixer.close()
        raise AudioDeviceError(
            plain_open_error(exc, out_dev, in_dev if in_ch else None, settings.sample_rate, settings.block_size),
            detail=str(exc),
        ) from None
    if switch_interval is not None and sys.getswitchinterval() > switch_interval:
        sys.setswitchinterval(switch_interval)
    audio = HostAudio(
        stream,
        mixer,
        output=out_dev,
        input=in_dev if in_ch else None,
        max_record_s=settings.max_record_s,
        requested_block=settings.block_size,
    )
    audio.settings = AudioSettings(
        output=out_dev.name,
        input=in_dev.name if in_dev and in_ch else None,
        sample_rate=settings.sample_rate,
        block_size=settings.block_size,
        input_channels=settings.input_channels,
        max_record_s=settings.max_record_s,
    )
    return audio


def open_from_settings(settings: AudioSettings, slots: int = 16) -> HostAudio:
    """Open the devices and format the user chose (host.audio.settings.load_settings())."""
    audio = open_host_audio(
        settings.output,
        settings.input,
        settings.sample_rate,
        settings.block_size,
        slots,
        input_channels=settings.input_channels,
        max_record_s=settings.max_record_s,
    )
    audio.settings = settings  # as chosen (None = system default stays None, "no input" stays False)
    return audio


def _db(x: float) -> float:
    return max(SILENCE_DB, 20.0 * math.log10(x)) if x > 0 else SILENCE_DB
