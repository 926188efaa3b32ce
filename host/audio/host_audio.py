"""HostAudio: one duplex PortAudio stream for recording, playback and the live slot bank.

Callers (Session, GUI, OSC, CLI) use plain methods; none of them blocks on the
audio thread except record(), which waits for the audio by design. Everything
sent to the audio thread goes through the C mixer's command ring (host/audio/
mixer.py explains why the callback is C, not Python).
"""

from __future__ import annotations

import math
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sounddevice as sd

from diffhost.engine.audio import read_audio
from diffhost.host.audio import native
from diffhost.host.audio.clips import check_clip, convert_clip, prepare_clip
from diffhost.host.audio.devices import AudioDeviceError, DeviceInfo, resolve_device
from diffhost.host.audio.mixer import MODES, Mixer, SlotStart
from diffhost.host.audio.settings import AudioSettings

SlotMode = str  # "oneshot" | "loop" | "gate"
# The GIL hand-over interval while live audio is open. The callback never needs the GIL, but the
# threads that call trigger() (OSC, GUI, MIDI) do: at Python's default 5 ms a torch thread made
# the slowest triggers 388 frames late at 128/48k; at 0.5 ms, 138 (bench/audio_latency.py),
# with no measurable cost to the render rate.
LIVE_SWITCH_INTERVAL_S = 0.0005
METER_WINDOW_S = 0.1
SILENCE_DB = -120.0  # the meter's floor, so callers always get a finite number


@dataclass(frozen=True)
class SlotOptions:
    gain: float = 1.0  # linear, 0..4
    pan: float = 0.0  # -1 (left) .. 1 (right); balance law, centre = unity on both sides
    mode: SlotMode = "oneshot"
    choke_group: int = 0  # 0 = none; a slot starting cuts the other slots of its group


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
        self._has_clip = [False] * mixer.num_slots
        self._bpm = 120.0
        self._quantize = 0.0
        self._closed = False
        self._play_lock = threading.Lock()
        self._play_gen = 0
        self._loading = 0  # generation of a play() still converting its audio, 0 = none

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

    @property
    def voices_active(self) -> int:
        return self._mixer.stat("voices_active")

    @property
    def latency(self) -> tuple[float, float]:
        """PortAudio's (input, output) latency estimate in seconds."""
        lat = self._stream.latency
        return (float(lat[0]), float(lat[1])) if isinstance(lat, tuple) else (0.0, float(lat))

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
    def assign(self, slot: int, audio: np.ndarray, sample_rate: int) -> None:
        """Put a clip in a slot (converted here, so triggering does no work); a playing slot fades out."""
        slot = self._slot(slot)
        frames = prepare_clip(audio, sample_rate, self.sample_rate, self.channels)
        self._mixer.assign(slot, frames)
        self._has_clip[slot] = True

    def assign_file(self, slot: int, path: Path) -> None:
        audio, sr = read_audio(path)
        self.assign(slot, audio, sr)

    def clear_slot(self, slot: int) -> None:
        slot = self._slot(slot)
        self._mixer.clear(slot)
        self._has_clip[slot] = False

    def trigger(self, slot: int, gain: float = 1.0) -> int:
        """Start the slot's clip in the next block (or on the next grid line); returns the trigger's tag."""
        slot = self._slot(slot)
        gain = float(gain)
        if not (0.0 <= gain <= 4.0) or math.isnan(gain):
            raise ValueError(f"gain: {gain} is out of range 0..4 (linear)")
        if not self._has_clip[slot]:
            raise ValueError(f"slot {slot}: is empty; assign a clip first")
        return self._mixer.trigger(slot, gain)

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
    ) -> SlotOptions:
        """Change some of a slot's options (None keeps one); all are checked before any applies.

        Gain and pan reach voices already sounding within one block, ramped (no zipper noise);
        mode and choke group apply from the next trigger.
        """
        slot = self._slot(slot)
        old = self._options[slot]
        new = SlotOptions(
            gain=old.gain if gain is None else float(gain),
            pan=old.pan if pan is None else float(pan),
            mode=old.mode if mode is None else str(mode),
            choke_group=old.choke_group if choke_group is None else int(choke_group),
        )
        if not (0.0 <= new.gain <= 4.0):
            raise ValueError(f"gain: {new.gain} is out of range 0..4 (linear)")
        if not (-1.0 <= new.pan <= 1.0):
            raise ValueError(f"pan: {new.pan} is out of range -1 (left)..1 (right)")
        if new.mode not in MODES:
            raise ValueError(f"mode: {new.mode!r} is not one of {', '.join(MODES)}")
        if not (0 <= new.choke_group <= 16):
            raise ValueError(f"choke_group: {new.choke_group} is out of range 0 (none)..16")
        left = new.gain * min(1.0, 1.0 - new.pan)
        right = new.gain * min(1.0, 1.0 + new.pan)
        self._mixer.slot_options(slot, left, right, MODES[new.mode], new.choke_group)
        self._options[slot] = new
        return new

    def set_voice_limit(self, voices: int) -> None:
        """Most slot voices sounding at once; a new one beyond it fades out the oldest."""
        top = native.MAX_VOICES // 2  # the other half holds fading tails
        if not (1 <= int(voices) <= top):
            raise ValueError(f"voices: {voices} is out of range 1..{top}")
        self._mixer.set_voice_limit(int(voices))

    def set_tempo(self, bpm: float) -> None:
        bpm = float(bpm)
        if not (20.0 <= bpm <= 999.0):
            raise ValueError(f"tempo: {bpm} BPM is out of range 20..999 BPM")
        self._bpm = bpm
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

    def grid_frames(self) -> float:
        """The quantize grid in frames (0 when off)."""
        return self._quantize * 60.0 / self._bpm * self.sample_rate

    def _send_grid(self) -> None:
        self._mixer.set_grid(self.grid_frames())

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
    def close(self) -> None:
        with self._play_lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._stream.stop(ignore_errors=True)
            self._stream.close(ignore_errors=True)
        finally:
            self._mixer.close()  # only now: the callback can no longer run

    def __enter__(self) -> HostAudio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _slot(self, slot: int) -> int:
        try:
            s = int(slot)
        except (TypeError, ValueError):
            raise ValueError(f"slot: expected a number 0..{self.num_slots - 1}, got {slot!r}") from None
        if s != slot or not 0 <= s < self.num_slots:
            raise ValueError(f"slot: {slot} is out of range 0..{self.num_slots - 1}")
        return s


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
        stream = sd._StreamBase(  # the C callback is passed as a function pointer, as rtmixer does
            kind=kind,
            samplerate=settings.sample_rate,
            blocksize=0 if jack else settings.block_size,
            device=(in_dev.index, out_dev.index) if in_ch else out_dev.index,
            channels=(in_ch, out_ch) if in_ch else out_ch,
            dtype="float32",
            latency="low",
            callback=sd._ffi.cast("PaStreamCallback *", mixer.callback_ptr),
            userdata=sd._ffi.cast("void *", mixer.userdata_ptr),
        )
        stream.start()
    except (sd.PortAudioError, ValueError) as exc:
        mixer.close()
        where = f"output {out_dev.name!r} ({out_dev.hostapi})"
        if in_dev and in_ch:
            where += f", input {in_dev.name!r} ({in_dev.hostapi})"
        raise AudioDeviceError(
            f"audio: cannot open {where} at {settings.sample_rate} Hz, {settings.block_size}-frame blocks: {exc}"
        ) from None
    if switch_interval is not None and sys.getswitchinterval() > switch_interval:
        sys.setswitchinterval(switch_interval)
    return HostAudio(
        stream,
        mixer,
        output=out_dev,
        input=in_dev if in_ch else None,
        max_record_s=settings.max_record_s,
        requested_block=settings.block_size,
    )


def open_from_settings(settings: AudioSettings, slots: int = 16) -> HostAudio:
    """Open the devices and format the user chose (host.audio.settings.load_settings())."""
    return open_host_audio(
        settings.output,
        settings.input,
        settings.sample_rate,
        settings.block_size,
        slots,
        input_channels=settings.input_channels,
        max_record_s=settings.max_record_s,
    )


def _db(x: float) -> float:
    return max(SILENCE_DB, 20.0 * math.log10(x)) if x > 0 else SILENCE_DB
