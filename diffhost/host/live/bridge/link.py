"""diffhost's side of the link with the diffhost Bridge plugin (docs/plugin.md, the protocol there).

Each plugin instance (one per DAW track) says hello every second from its own UDP socket; we
answer to that address. It reports the host's tempo, signature and transport; with a valid bar/beat
position it is a tempo source ("plugin") beside the session, Link and MIDI clock. We send it clips
for its 16 pads: a render's processed audio made into a clip at the plugin's sample rate (loops cut
to exactly whole bars at the host's tempo) and written into the content-addressed clip cache, then
`/bridge/pad/options` (with the recipe the project keeps) and `/bridge/pad/load`.

Threads: the OSC thread calls the `on_*` methods, which only record and enqueue. One worker thread
does the slow parts (reading renders, resampling, stretching, writing the cache, reading a capture)
and one event thread turns the session's "done" events into deliveries. When the host's tempo
(or signature) changes, the worker re-fits every looping pad of that instance: the loop is rendered
again from its sidecar at the new tempo, as the same number of whole bars (same seed, same
finishing; in memory, at live priority, nothing added to the library), and sent with
swap_at_bar=1, so the plugin swaps it at the next bar line, never in the middle of one.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder

from diffhost.engine.request import BPM_RANGE
from diffhost.host.live.bridge.cache import ClipCache
from diffhost.host.live.bridge.clips import (
    BARS_RANGE,
    ClipSpec,
    loop_of,
    make_clip,
    read_render,
    recipe_json,
)
from diffhost.host.live.bridge.restore import render_again
from diffhost.host.render.finisher import Processed

Address = tuple[str, int]
Send = Callable[[Address, bytes], None]

PADS = 16
# An instance says hello every second while its host has it active. Hosts deactivate plugins
# without destroying them (DawDreamer between renders, a DAW on transport stop or bypass): the
# hellos stop, and come back when the host activates it again. So silence (or a bye) makes an
# instance "asleep", not gone: it stays listed, keeps its pads, and what is sent to it waits for its
# next hello. Only after GRACE_S asleep is it gone, and what waited is reported as not delivered.
ASLEEP_AFTER_S = 2.5  # more than two missed hellos
GRACE_S = 300.0
MAX_HELD = 128  # messages kept for one asleep instance (16 pads x options + load, and a few more)
MAX_DEPARTED = 256  # gone instances remembered (with their pads) in case they come back
REFIT_BPM_STEP = 0.005  # smaller tempo moves (float rounding in hosts) re-fit nothing
ID_PATTERN = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
MODES = {0: "one-shot", 1: "loop", 2: "gate"}
QUANTIZES = {0: "none", 1: "beat", 2: "bar"}
GAIN_DB_RANGE = (-60.0, 24.0)  # the plugin's own range
CAPTURE_BARS_RANGE = (1, 16)
TAG_PREFIX = "plugin:"


def monotonic_raw_ns() -> int:
    clock = getattr(time, "CLOCK_MONOTONIC_RAW", None)
    return time.clock_gettime_ns(clock) if clock is not None else time.monotonic_ns()


def osc_message(address: str, *args: Any) -> bytes:
    """One OSC message with the protocol's explicit types: ints `i`, floats `f`, text `s`."""
    b = OscMessageBuilder(address)
    for a in args:
        if isinstance(a, bool):
            b.add_arg(int(a), "i")
        elif isinstance(a, int):
            b.add_arg(a, "i")
        elif isinstance(a, float):
            b.add_arg(a, "f")
        else:
            b.add_arg(str(a), "s")
    return b.build().dgram


@dataclass(frozen=True)
class Transport:
    bpm: float
    sig_num: int
    sig_den: int
    playing: bool
    bbt_valid: bool
    bar: float
    beat_in_bar: float
    received_ns: int  # CLOCK_MONOTONIC_RAW when it arrived


@dataclass(frozen=True)
class PadOptions:
    """A pad's playing options, as the plugin takes them (protocol: /bridge/pad/options)."""

    mode: int = 1  # 0 one-shot, 1 loop, 2 gate
    choke: int = 0  # 0 none, or 1..16
    quantize: int = 2  # 0 none, 1 beat, 2 bar
    gain_db: float = 0.0
    pan: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode: {self.mode!r} is not valid; valid are 0 one-shot, 1 loop, 2 gate")
        if not (isinstance(self.choke, int) and 0 <= self.choke <= PADS):
            raise ValueError(f"choke: {self.choke!r} is out of range; valid is 0 (none) or 1..{PADS}")
        if self.quantize not in QUANTIZES:
            raise ValueError(f"quantize: {self.quantize!r} is not valid; valid are 0 none, 1 beat, 2 bar")
        if not GAIN_DB_RANGE[0] <= float(self.gain_db) <= GAIN_DB_RANGE[1]:
            raise ValueError(
                f"gain_db: {self.gain_db!r} is out of range; valid is {GAIN_DB_RANGE[0]:g}..{GAIN_DB_RANGE[1]:g} dB"
            )
        if not -1.0 <= float(self.pan) <= 1.0:
            raise ValueError(f"pan: {self.pan!r} is out of range; valid is -1..1")


@dataclass(frozen=True)
class PadClip:
    """What a pad holds, as diffhost sent it: enough to make the clip again at another tempo."""

    source: Path | None  # the render's processed file (None: a pad the plugin reported)
    sidecar: dict[str, Any]
    spec: ClipSpec
    label: str
    options: PadOptions
    hash: str
    # Made from audio in memory, not from the file: the sidecar rendered again with these changes
    # ({} none; a re-fitted loop's new tempo and length) and finished in memory gives the same audio.
    # None: made from the processed file (which an export format may have quantized).
    again: dict[str, Any] | None = None


@dataclass
class Instance:
    id: str
    track_name: str
    sample_rate: int
    version: int
    address: Address
    last_seen: float
    transport: Transport | None = None
    pads: dict[int, PadClip] = field(default_factory=dict)
    loaded: dict[int, str] = field(default_factory=dict)  # pad -> hash the plugin says it swapped in
    asleep_since: float | None = None  # monotonic time its host stopped it; None while alive
    held: list[tuple[str, bytes]] = field(default_factory=list)  # (what, message) waiting for it
    gone: bool = False  # given up on: nothing more is sent or held for this object
    reported: set[int] = field(default_factory=set)  # pads of a pads report still coming in

    @property
    def state(self) -> str:
        return "alive" if self.asleep_since is None else "asleep"

    @property
    def name(self) -> str:
        """How people see it: the track's name when the host gives one."""
        return self.track_name or f"instance {self.id}"

    @property
    def bpm(self) -> float | None:
        t = self.transport
        return t.bpm if t is not None and t.bbt_valid else None

    @property
    def beats_per_bar(self) -> int:
        t = self.transport
        return t.sig_num if t is not None and t.bbt_valid else 4


@dataclass(frozen=True)
class Target:
    """A pad of an instance that renders go to."""

    instance: str  # id
    pad: int
    options: PadOptions | None = None  # None: loop for loops, one-shot otherwise
    label: str = ""
    typed: bool = False  # a prompt typed in the DAW: failures are answered to the plugin too


@dataclass(frozen=True)
class PadInfo:
    """What one pad holds, for front ends."""

    pad: int
    label: str
    hash: str
    kind: str  # "loop, 2 bars at 120 bpm" or "one-shot"
    loaded: bool  # the plugin said it plays this clip


@dataclass(frozen=True)
class InstanceInfo:
    """A snapshot for front ends (the window's list, `diffhost plugin status`, OSC)."""

    id: str
    track_name: str
    name: str
    sample_rate: int
    version: int
    address: Address
    bpm: float | None
    playing: bool
    pads: dict[int, str]  # pad -> label
    state: str = "alive"  # or "asleep": its host deactivated it; sends wait for its next hello
    asleep_s: float = 0.0  # how long it has been asleep
    held: int = 0  # messages waiting for it to wake
    pad_info: tuple[PadInfo, ...] = ()


class PluginLink:
    def __init__(
        self,
        session: Any,
        *,
        sync: Any = None,
        cache: ClipCache | None = None,
        send: Send | None = None,
        grace_s: float = GRACE_S,
    ):
        self.session = session
        self.grace_s = float(grace_s)  # how long an asleep instance is waited for
        self.sync = sync  # host.live.sync.TempoSync: the plugin as a tempo source
        self.cache = cache or ClipCache()
        self.send: Send | None = send  # the OSC server's socket; set by attach()
        self._lock = threading.Lock()
        self._instances: dict[str, Instance] = {}
        # Instances that said bye or went silent, kept by id: a host re-activating a plugin (DawDreamer
        # does on every render, a DAW on a device change) comes back with the same id from a new
        # port, and its pads must still re-fit when the tempo changes.
        self._departed: dict[str, Instance] = {}
        self._pending: dict[int, Target] = {}  # job id -> where its render goes
        self._captures: dict[tuple[str, int], dict[str, Any]] = {}  # (id, pad) -> render overrides
        self._refits: set[str] = set()  # instances with a re-fit queued
        self.target: Target | None = None  # where the window's (and untargeted) renders go
        self._work: queue.Queue[tuple[str, Any] | None] = queue.Queue(maxsize=256)
        self._stop = threading.Event()
        # Each finished render's processed audio, by its file, from the finisher as it writes the
        # file: a render going to a pad is made into its clip from memory, not read back. Taken
        # (or dropped) when the render's "done" event comes; a handful at most.
        # Jobs whose clip went out from the finisher's tap, before their files were written: their
        # "done" has nothing left to send. Bounded: a job whose "done" never comes here is forgotten.
        self._sent_early: dict[int, None] = {}
        # (instance, pad) -> set when the plugin reports that pad loaded: the finisher waits on it
        # (_take_processed) so the render's files are not written while the plugin reads the clip
        self._swapping: dict[tuple[str, int], threading.Event] = {}
        session.tap_processed(self._take_processed)
        self._events = session.subscribe()
        self._threads = [
            threading.Thread(target=self._worker, name="diffhost-plugin-link", daemon=True),
            threading.Thread(target=self._pump, name="diffhost-plugin-events", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def attach(self, send: Send) -> None:
        """Talk through this socket (the OSC server's: the plugin sends to and hears from it)."""
        self.send = send

    # -- instances -----------------------------------------------------------------------------
    def instances(self) -> list[InstanceInfo]:
        self._expire()
        with self._lock:
            return [self._info(i) for i in self._instances.values()]

    def _info(self, i: Instance) -> InstanceInfo:
        t = i.transport
        return InstanceInfo(
            i.id,
            i.track_name,
            i.name,
            i.sample_rate,
            i.version,
            i.address,
            i.bpm,
            bool(t and t.playing),
            {n: p.label for n, p in sorted(i.pads.items())},
            state=i.state,
            asleep_s=0.0 if i.asleep_since is None else round(time.monotonic() - i.asleep_since, 1),
            held=len(i.held),
            pad_info=tuple(
                PadInfo(n, p.label, p.hash, _kind(p), bool(p.hash) and i.loaded.get(n) == p.hash)
                for n, p in sorted(i.pads.items())
            ),
        )

    def find(self, which: str) -> Instance:
        """An instance by id or by its track's name (which must then be unique)."""
        self._expire()
        with self._lock:
            if which in self._instances:
                return self._instances[which]
            named = [i for i in self._instances.values() if i.track_name and i.track_name == which]
            known = (
                ", ".join(f"{i.id} ({i.name}, {i.state})" for i in self._instances.values())
                or "none is connected"
            )
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise ValueError(f"instance: several tracks are named {which!r}; give the id ({known})")
        raise ValueError(f"instance: {which!r} is no connected plugin instance; connected are: {known}")

    def _expire(self) -> None:
        """Alive -> asleep after missed hellos; asleep -> gone after the grace period."""
        now = time.monotonic()
        said: list[tuple[str, str]] = []
        with self._lock:
            for key, i in list(self._instances.items()):
                if i.asleep_since is None and now - i.last_seen > ASLEEP_AFTER_S:
                    i.asleep_since = i.last_seen
                    said.append((f"{i.name} is asleep (its host stopped it); {self._waits()}", i.id))
                elif i.asleep_since is not None and now - i.asleep_since > self.grace_s:
                    self._instances.pop(key)
                    lost = [what for what, _ in i.held]
                    i.held.clear()
                    self._depart(i)
                    text = f"{i.name} is gone: no hello for {now - i.asleep_since:.0f} s"
                    if lost:
                        text += (
                            f"; not delivered: {', '.join(dict.fromkeys(lost))} (send them again when"
                            " its track plays)"
                        )
                    said.append((text, i.id))
        for text, ident in said:
            self._announce(text, ident)

    def _waits(self) -> str:
        return f"what is sent to it waits up to {self.grace_s:g} s for it to wake"

    def _announce(self, text: str, instance: str = "") -> None:
        from diffhost.host.session import SessionEvent

        self.session.publish(SessionEvent("message", name="plugin", value=instance, message=text))

    # -- from the plugin (called on the OSC thread: record and enqueue only) -----------------------
    def on_hello(
        self, sender: Address, ident: str, track_name: str, sample_rate: float, version: int
    ) -> list[bytes]:
        """Record the hello; returns what goes back to the sender, in order: the answer, then
        whatever waited while the instance was asleep."""
        _check_id(ident)
        rate = int(round(float(sample_rate)))
        ClipSpec(rate)  # validates the rate
        now = time.monotonic()
        with self._lock:
            inst = self._instances.get(ident)
            new = inst is None
            if inst is None:
                inst = self._departed.pop(ident, None) or Instance(
                    ident, track_name, rate, int(version), sender, now
                )
                inst.gone = False
                self._instances[ident] = inst
            woke = inst.asleep_since is not None and not new
            inst.asleep_since = None
            held, inst.held = inst.held, []
            rate_changed = inst.sample_rate != rate
            inst.track_name, inst.sample_rate, inst.version = track_name, rate, int(version)
            inst.address, inst.last_seen = sender, now
        if new:
            self._announce(f"{inst.name} connected", ident)
        elif woke:
            self._announce(
                f"{inst.name} is awake" + (f"; sent what waited for it: {len(held)} messages" if held else ""),
                ident,
            )
        if rate_changed and inst.pads:  # the host changed its rate: the pads' clips must follow it
            self._queue_refit(ident, force=True)
        from diffhost import __version__

        answer = [osc_message("/bridge/hello", __version__), *(m for _, m in held)]
        if new:  # first contact in this run (diffhost restarted, or it was gone): what do its pads hold?
            answer.append(osc_message("/bridge/pads"))
        return answer

    def on_transport(self, ident: str, t: Transport) -> None:
        inst = self._known(ident)
        with self._lock:
            old = inst.transport
            inst.transport = t
            inst.last_seen = time.monotonic()
        if not t.bbt_valid:
            return
        if self.sync is not None and self.sync.source == "plugin":
            origin_ns = None
            if t.playing:  # where the last beat fell on the clock the mixer's grid follows
                beat_ns = 60e9 / t.bpm
                frac = t.beat_in_bar - int(t.beat_in_bar)
                origin_ns = t.received_ns - frac * beat_ns
            self.sync.update("plugin", t.bpm, origin_ns=origin_ns)
        moved = (
            old is None
            or not old.bbt_valid
            or abs(old.bpm - t.bpm) > REFIT_BPM_STEP
            or old.sig_num != t.sig_num
        )
        if moved and any(p.spec.loop for p in inst.pads.values()):
            self._queue_refit(ident)

    def on_loaded(self, ident: str, pad: int, result: str) -> None:
        with self._lock:
            swapped = self._swapping.pop((ident, pad), None)
        if swapped is not None:
            swapped.set()
        inst = self._known(ident)
        if result.startswith("error"):
            self._announce(f"{inst.name} pad {pad}: {result}", ident)
            return
        with self._lock:
            inst.loaded[pad] = result
        self._announce(f"{inst.name} pad {pad}: loaded", ident)

    def on_captured(self, ident: str, pad: int, wav_path: str, bars: int) -> None:
        inst = self._known(ident)
        if wav_path.startswith("error"):  # the plugin could not write the capture
            with self._lock:
                self._captures.pop((ident, pad), None)
            self._announce(f"{inst.name} pad {pad}: capture failed: {wav_path}", ident)
            return
        path = Path(wav_path)
        if not self.cache.is_capture(path):
            raise ValueError(
                f"wav_path: {wav_path!r} is not in the clip cache's captures folder {self.cache.captures_dir}"
            )
        with self._lock:
            overrides = self._captures.pop((ident, pad), None)
        if overrides is None:
            raise ValueError(f"pad: no capture was asked of {inst.name} for pad {pad}")
        self._enqueue("capture", (ident, pad, path, int(bars), overrides))

    def on_bye(self, ident: str) -> None:
        """The host deactivated the instance (or is destroying it): asleep until it says hello."""
        with self._lock:
            inst = self._instances.get(ident)
            if inst is None or inst.asleep_since is not None:
                return
            inst.asleep_since = time.monotonic()
        self._announce(f"{inst.name} is asleep (its host stopped it); {self._waits()}", ident)

    def _depart(self, inst: Instance) -> None:  # with the lock held
        inst.gone = True
        inst.transport = None  # its host may come back at another tempo; the next transport says
        self._departed[inst.id] = inst
        while len(self._departed) > MAX_DEPARTED:
            self._departed.pop(next(iter(self._departed)))

    def on_error(self, ident: str, text: str) -> None:
        """The plugin could not do something asked of it (a bad option, an unknown message)."""
        with self._lock:
            inst = self._instances.get(ident)
        self._announce(f"{inst.name if inst else ident}: {text}", ident)

    def on_pad(
        self, ident: str, pad: int, hash_hex: str, label: str, options: PadOptions, recipe: str, loaded: bool
    ) -> None:
        """One pad of the plugin's pads report (its saved state): adopted as if diffhost had sent it."""
        from diffhost.host.live.bridge.cache import check_hash
        from diffhost.host.live.bridge.clips import parse_recipe

        inst = self._known(ident)
        _check_pad(pad)
        check_hash(hash_hex)
        try:
            sidecar, spec, again = parse_recipe(recipe)
        except ValueError:  # no recipe (or not one of ours): it plays, but cannot be made again
            sidecar, spec, again = {}, ClipSpec(inst.sample_rate), None
        clip = PadClip(None, sidecar, spec, label[:64], options, hash_hex, again)
        with self._lock:
            inst.pads[pad] = clip
            inst.reported.add(pad)
            if loaded:
                inst.loaded[pad] = hash_hex
            else:
                inst.loaded.pop(pad, None)

    def on_pads(self, ident: str, count: int) -> None:
        """The end of a pads report: the pads not in it are empty. Loops are then re-fitted to the
        host's tempo and clips the plugin could not load are made again from their recipes."""
        inst = self._known(ident)
        with self._lock:
            for pad in [p for p in inst.pads if p not in inst.reported]:
                inst.pads.pop(pad)
                inst.loaded.pop(pad, None)
            got, inst.reported = len(inst.reported), set()
            missing = [p for p, c in inst.pads.items() if inst.loaded.get(p) != c.hash]
        text = f"{inst.name}: {got} pads adopted from the project"
        if got != count:
            text += f" ({count - got} of the {count} reported did not arrive)"
        if missing:
            text += f"; making pads {', '.join(map(str, sorted(missing)))} again (the cache lacked them)"
        self._announce(text, ident)
        if inst.pads:
            self._enqueue("refit", (ident, False, True))

    def on_prompt(
        self, sender: Address, ident: str, pad: int, prompt: str, bars: float, options: PadOptions | None
    ) -> Any:
        """A prompt typed for a pad in the DAW: rendered at the host's tempo, landed on that pad."""
        with self._lock:
            inst = self._instances.get(ident)
        if inst is None:
            raise ValueError(f"id: {ident!r} is not a connected instance; send /diffhost/plugin/hello first")
        if not prompt.strip():
            raise ValueError("prompt: empty; type what the pad should play")
        job = self.render_to(ident, pad, prompt=prompt, bars=bars, options=options, typed=True)
        self._announce(f"{inst.name} pad {pad}: rendering {prompt!r} typed in the DAW (job {job.id})", ident)
        return job

    def on_pong(self, ident: str) -> None:
        with self._lock:
            inst = self._instances.get(ident)
            if inst is not None:
                inst.last_seen = time.monotonic()

    def _known(self, ident: str) -> Instance:
        with self._lock:
            inst = self._instances.get(ident)
        if inst is None:
            raise ValueError(f"id: {ident!r} is not a connected instance; send /diffhost/plugin/hello first")
        return inst

    # -- to the plugin ---------------------------------------------------------------------------
    def send_render(
        self,
        which: str,
        pad: int,
        path: Path,
        *,
        options: PadOptions | None = None,
        label: str = "",
        wait: bool = False,
    ) -> None:
        """Send a finished render (its processed file) to a pad; the work runs on the link's thread."""
        inst = self.find(which)
        _check_pad(pad)
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"path: {path} is not a file")
        done = threading.Event() if wait else None
        self._enqueue("deliver", (Target(inst.id, pad, options, label), path, done))
        if done is not None:
            done.wait(timeout=120)

    def send_job(self, which: str, pad: int, job_id: int, *, options: PadOptions | None = None) -> None:
        """Send a job's render: now if it is finished, else when it is."""
        inst = self.find(which)
        _check_pad(pad)
        target = Target(inst.id, pad, options)
        # Registered before looking for the finished files: a job finishing in between is then
        # delivered once, by whichever side takes the registration back.
        with self._lock:
            self._pending[int(job_id)] = target
        saved = self.session.renders.get(int(job_id))
        if saved:
            with self._lock:
                mine = self._pending.pop(int(job_id), None) is not None
            if mine:
                self._enqueue("deliver", (target, saved[0].path, None))

    def render_to(
        self,
        which: str,
        pad: int,
        *,
        prompt: str | None = None,
        bars: float = 4.0,
        options: PadOptions | None = None,
        seed_clip: Any = None,
        typed: bool = False,
        **overrides: Any,
    ) -> Any:
        """Render for a pad at the host's tempo: `bars` whole bars (a loop) rendered at its bpm."""
        inst = self.find(which)
        _check_pad(pad)
        if not BARS_RANGE[0] <= float(bars) <= BARS_RANGE[1]:
            raise ValueError(f"bars: {bars!r} is out of range; valid is {BARS_RANGE[0]:g}..{BARS_RANGE[1]:g}")
        bpm = round(inst.bpm or self.tempo(), 3)  # the tempo the render and its clip both say
        length = float(bars) * inst.beats_per_bar * 60.0 / bpm
        extra = {"seed_clip": seed_clip} if seed_clip is not None else {}
        with self._lock:  # the job's "done" must find its target, however fast it comes
            job = self.session.render(
                prompt=prompt,
                sample_rate=inst.sample_rate,  # rendered at the plugin's rate: nothing to resample
                bpm=bpm,
                length=length,
                tag=f"{TAG_PREFIX}{inst.id}:{pad}",
                **extra,
                **overrides,
            )
            self._pending[job.id] = Target(inst.id, pad, options, label=prompt or "", typed=typed)
        return job

    def capture(self, which: str, pad: int, bars: int, **render: Any) -> None:
        """Ask the plugin to record `bars` bars of its input from the next bar line; the render
        seeded with it (prompt etc. in `render`) lands on the pad."""
        inst = self.find(which)
        _check_pad(pad)
        lo, hi = CAPTURE_BARS_RANGE
        if isinstance(bars, bool) or not isinstance(bars, int) or not lo <= bars <= hi:
            raise ValueError(f"bars: {bars!r} is out of range; valid is {lo}..{hi}")
        with self._lock:
            self._captures[(inst.id, pad)] = dict(render)
        self._send(inst, osc_message("/bridge/capture", pad, bars), f"pad {pad} capture")

    def clear(self, which: str, pad: int) -> None:
        inst = self.find(which)
        _check_pad(pad)
        with self._lock:
            inst.pads.pop(pad, None)
            inst.loaded.pop(pad, None)
        self._send(inst, osc_message("/bridge/pad/clear", pad), f"pad {pad} clear")

    def ping(self, which: str) -> None:
        self._send(self.find(which), osc_message("/bridge/ping"), "ping")

    def set_target(self, which: str | None, pad: int = 1, options: PadOptions | None = None) -> Target | None:
        """Where renders without a destination of their own go (None: nowhere)."""
        if which is None or which == "":
            self.target = None
        else:
            _check_pad(pad)
            self.target = Target(self.find(which).id, pad, options)
        return self.target

    def describe_target(self) -> str:
        t = self.target
        if t is None:
            return "renders stay in diffhost"
        with self._lock:
            inst = self._instances.get(t.instance)
        where = inst.name if inst is not None else f"instance {t.instance} (not connected)"
        return f"renders go to {where}, pad {t.pad}"

    def tempo(self) -> float:
        """The tempo renders for the plugin use when its host gives none: the session's."""
        sync_bpm = getattr(self.sync, "bpm", None)
        if sync_bpm:
            return float(sync_bpm)
        audio = self.session.audio
        return float(audio.tempo) if audio is not None else 120.0

    def _send(self, inst: Instance, message: bytes, what: str = "a message") -> None:
        """Send to the instance now, or keep it for the instance's next hello while it is asleep."""
        if self.send is None:
            raise ValueError("plugin: diffhost has no OSC server running, so it cannot reach the plugin")
        with self._lock:
            if inst.gone:
                raise ValueError(f"instance: {inst.name} is gone (no hello for over {self.grace_s:g} s)")
            if inst.asleep_since is not None:
                if len(inst.held) >= MAX_HELD:
                    raise ValueError(
                        f"instance: {inst.name} is asleep and {MAX_HELD} messages already wait for it;"
                        " play its track (or bypass it off) and try again"
                    )
                inst.held.append((what, message))
                return
            address = inst.address
        self.send(address, message)

    def _enqueue(self, kind: str, item: Any) -> None:
        try:
            self._work.put_nowait((kind, item))
        except queue.Full:
            raise ValueError(
                "plugin: too much work queued for the plugin link; try again in a moment"
            ) from None

    def _queue_refit(self, ident: str, force: bool = False) -> None:
        with self._lock:
            if ident in self._refits and not force:
                return  # the queued one reads the tempo when it runs, so it covers this move too
            self._refits.add(ident)
        with contextlib.suppress(ValueError):
            self._enqueue("refit", (ident, force))

    # -- the worker ------------------------------------------------------------------------------
    def _worker(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._work.get(timeout=0.2)
            except queue.Empty:
                self._expire()
                continue
            if item is None:
                break
            kind, payload = item
            try:
                getattr(self, f"_do_{kind}")(*payload)
            except Exception as exc:  # a bad file or a full disk: say so, keep serving
                self._announce(f"plugin link: {kind} failed: {exc}")
                target = payload[0] if kind == "deliver" else None
                if isinstance(target, Target) and target.typed:
                    self._tell_typed(target, f"the clip could not be sent: {exc}")

    def _do_deliver(
        self,
        target: Target,
        path: Path,
        done: threading.Event | None,
        memory: tuple[Any, int, dict[str, Any]] | None = None,
        handed: threading.Event | None = None,
    ) -> None:
        """handed (from the finisher's tap): set once the plugin reports the clip loaded (or at
        once when it is asleep, the delivery failed, or a re-fit must render again), so the
        finisher writes the render's files then and not while the plugin reads the clip."""
        try:
            with self._lock:
                inst = self._instances.get(target.instance)
            if inst is None:
                raise ValueError(f"instance {target.instance} disconnected before its render was ready")
            again: dict[str, Any] | None
            if memory is not None:  # the processed audio and sidecar as the finisher made them
                audio, sr, sidecar = memory
                again = {}
            else:
                (audio, sr, sidecar), again = read_render(path), None
            # A loop stays whole bars (and follows the host's tempo) unless the pad was asked to
            # play it another way: then it is a one-shot, resampled and nothing more.
            loop = loop_of(sidecar) if target.options is None or target.options.mode == 1 else None
            spec = (
                ClipSpec(inst.sample_rate, loop[0], 4, loop[1])
                if loop is not None
                else ClipSpec(inst.sample_rate)
            )
            options = target.options or PadOptions(mode=1 if spec.loop else 0, quantize=2 if spec.loop else 0)
            label = target.label or (sidecar.get("params") or {}).get("prompt") or path.stem
            clip = PadClip(path, sidecar, spec, label[:64], options, "", again)
            try:
                fitted = self._fit(inst, clip, handed)  # a loop at another tempo than the host's: rendered again
            except (ValueError, TimeoutError) as exc:  # e.g. its bars at the host's tempo are too long
                self._announce(
                    f"{inst.name} pad {target.pad}: sent at its own {spec.bpm:g} bpm, not re-fitted: {exc}",
                    inst.id,
                )
                fitted = None
            if fitted is not None:
                clip, audio, sr = fitted
            self._load(inst, target.pad, clip, audio, sr, swap_at_bar=0, handed=handed)
        finally:
            if done is not None:
                done.set()
            if handed is not None:
                with self._lock:  # unless the plugin's "loaded" will set it (_load)
                    waits = any(e is handed for e in self._swapping.values())
                if not waits:
                    handed.set()

    def _fit(
        self, inst: Instance, clip: PadClip, handed: threading.Event | None = None
    ) -> tuple[PadClip, Any, int] | None:
        """A loop rendered again at the host's tempo and signature, as whole bars; None when it
        already fits (or is no loop, or the host gives no tempo)."""
        spec = clip.spec
        if not spec.loop or inst.bpm is None:
            return None
        bpm, beats = round(inst.bpm, 3), inst.beats_per_bar
        if spec.bpm == bpm and spec.beats_per_bar == beats:
            return None
        lo, hi = BPM_RANGE
        if not lo <= bpm <= hi:
            raise ValueError(
                f"bpm: the host's {bpm:g} bpm is out of range for a render; valid is {lo:g}..{hi:g}"
            )
        assert spec.bars is not None
        again = {"bpm": bpm, "length": spec.bars * beats * 60.0 / bpm}
        if handed is not None:
            handed.set()  # rendering again takes seconds: the finisher need not wait for it
        audio, sr = render_again(self.session, clip.sidecar, again)
        new = ClipSpec(inst.sample_rate, spec.bars, beats, bpm)
        return replace(clip, spec=new, again=again), audio, sr

    def _load(
        self,
        inst: Instance,
        pad: int,
        clip: PadClip,
        audio: Any,
        sr: int,
        *,
        swap_at_bar: int,
        handed: threading.Event | None = None,
    ) -> str:
        """The clip into the cache, then its options and load to the plugin: sent as soon as the
        file can be read, while its bytes are still being synced to disk (ClipCache.put)."""

        def send(h: str) -> None:
            with self._lock:
                inst.pads[pad] = replace(clip, hash=h)
            o = clip.options
            self._send(
                inst,
                osc_message(
                    "/bridge/pad/options",
                    pad,
                    o.mode,
                    o.choke,
                    o.quantize,
                    float(o.gain_db),
                    float(o.pan),
                    recipe_json(clip.sidecar, clip.spec, clip.again),
                ),
                f"pad {pad} options",
            )
            old = None
            if handed is not None and swap_at_bar == 0:
                with self._lock:  # the plugin's "loaded" lets the finisher write (on_loaded)
                    if inst.asleep_since is None:
                        old = self._swapping.pop((inst.id, pad), None)
                        self._swapping[(inst.id, pad)] = handed
                        while len(self._swapping) > 64:  # reports that never came
                            self._swapping.pop(next(iter(self._swapping))).set()
                if old is not None:
                    old.set()
            self._send(inst, osc_message("/bridge/pad/load", pad, h, clip.label, swap_at_bar), f"pad {pad} clip")
            if handed is not None and (inst.id, pad) not in self._swapping:
                handed.set()  # nothing to wait for (the instance is asleep): the finisher may write now

        return self.cache.put(make_clip(audio, sr, clip.spec), clip.spec.sample_rate, then=send)

    def _audio_of(self, clip: PadClip) -> tuple[Any, int]:
        """A pad's source audio again: rendered again in memory, or its processed file read."""
        if clip.again is not None or clip.source is None or not clip.source.is_file():
            if not clip.sidecar.get("params"):
                raise ValueError(f"pad {clip.label!r}: no recipe to make it again from")
            return render_again(self.session, clip.sidecar, clip.again or {})
        audio, sr, _ = read_render(clip.source)
        return audio, sr

    def _do_refit(self, ident: str, force: bool, restore: bool = False) -> None:
        """Every pad of the instance made again for the host's tempo, signature and rate; the
        plugin swaps each at its next bar line (swap_at_bar=1). restore: pads the plugin could
        not load (a pads report) are made again too, and swapped in at once (nothing plays)."""
        with self._lock:
            self._refits.discard(ident)
            inst = self._instances.get(ident)
            pads = sorted(inst.pads.items()) if inst is not None else []
            playing = {p for p, c in pads if inst is not None and inst.loaded.get(p) == c.hash}
        if inst is None:
            return
        for pad, clip in pads:
            lost = restore and pad not in playing
            if not clip.sidecar.get("params"):
                if lost:
                    self._announce(f"{inst.name} pad {pad}: its clip is missing and it has no recipe", ident)
                continue
            rate_moved = clip.spec.sample_rate != inst.sample_rate
            if rate_moved:
                clip = replace(clip, spec=replace(clip.spec, sample_rate=inst.sample_rate))
            try:
                fitted = self._fit(inst, clip)
            except (ValueError, TimeoutError) as exc:  # the plugin reads it faster or slower meanwhile
                self._announce(f"{inst.name} pad {pad}: not re-fitted: {exc}", ident)
                if not (rate_moved or force or lost):
                    continue
                fitted = None
            if fitted is not None:
                clip, audio, sr = fitted
            elif rate_moved or force or lost:
                audio, sr = self._audio_of(clip)
                if clip.source is None and clip.again is None:  # a reported pad: now made in memory
                    clip = replace(clip, again={})
            else:
                continue
            h = self._load(inst, pad, clip, audio, sr, swap_at_bar=0 if lost else 1)
            if lost and not fitted and h != clip.hash:
                self._announce(
                    f"{inst.name} pad {pad}: made again from its recipe as {h[:12]}, not {clip.hash[:12]}"
                    " (another diffhost version or model?)",
                    ident,
                )

    def _do_capture(self, ident: str, pad: int, path: Path, bars: int, overrides: dict[str, Any]) -> None:
        from diffhost.engine.audio import read_audio
        from diffhost.engine.request import SeedClip

        audio, sr = read_audio(path)
        self.render_to(ident, pad, bars=float(bars), seed_clip=SeedClip(audio, sr), **overrides)

    # -- session events: finished renders go where they were sent ---------------------------------
    def _pump(self) -> None:
        while not self._stop.is_set():
            try:
                ev = self._events.get(timeout=0.2)
            except queue.Empty:
                continue
            if ev.kind not in ("done", "error", "cancelled") or ev.job_id < 0:
                continue
            with self._lock:
                target = self._pending.pop(ev.job_id, None)
                if ev.job_id in self._sent_early:  # its clip went out from the finisher's tap already
                    del self._sent_early[ev.job_id]
                    continue
            if ev.kind != "done" or not ev.paths:
                if target is not None:
                    why = f"the render {'was cancelled' if ev.kind == 'cancelled' else 'failed'}"
                    if ev.message:
                        why += f": {ev.message}"
                    self._announce(f"pad {target.pad}: {why}", target.instance)
                    if target.typed:
                        self._tell_typed(target, why)
                continue
            if target is None and self.target is not None and not (ev.tag or "").startswith(TAG_PREFIX):
                target = self.target
            if target is not None:  # a render the tap did not see (another session's finisher)
                with contextlib.suppress(ValueError):
                    self._enqueue("deliver", (target, ev.paths[0], None))

    def _tell_typed(self, target: Target, why: str) -> None:
        """A prompt typed in the DAW did not land: the plugin hears why (it may show it)."""
        with self._lock:
            inst = self._instances.get(target.instance)
        if inst is not None:
            with contextlib.suppress(ValueError):
                self._send(inst, osc_message("/bridge/prompt/error", target.pad, why[:500]), f"pad {target.pad} error")

    def _take_processed(self, processed: Processed) -> threading.Event | None:
        """The finisher's tap (its thread), called as soon as a variation is processed and before
        its files are written: a render going to a pad is sent from memory at once, so the clip
        swaps in within milliseconds of the render's end. The first variation goes to the pad, as
        the first file does when "done" delivers. Returns an event set once the plugin has the
        clip (see _do_deliver): the finisher writes its files after that (or after its own limit),
        so they do not compete with the clip for the CPU."""
        job_id = processed.job_id
        if job_id is None:
            return None
        with self._lock:
            if job_id in self._sent_early:
                return None  # a later variation of a job already sent
            target = self._pending.pop(job_id, None)
            tag = processed.job_tag or ""
            if target is None and self.target is not None and not tag.startswith(TAG_PREFIX):
                target = self.target
            if target is None:
                return None
            self._sent_early[job_id] = None
            while len(self._sent_early) > 64:
                self._sent_early.pop(next(iter(self._sent_early)))
        memory = (processed.audio, processed.sample_rate, processed.sidecar)
        handed = threading.Event()
        try:
            self._enqueue("deliver", (target, processed.path, None, memory, handed))
        except ValueError as exc:
            self._announce(f"pad {target.pad}: {exc}", target.instance)
            return None
        return handed

    def close(self) -> None:
        self.session.tap_processed(self._take_processed, remove=True)
        self._stop.set()
        with contextlib.suppress(queue.Full):
            self._work.put_nowait(None)
        for t in self._threads:
            t.join(timeout=2)
        self.session.unsubscribe(self._events)


def _kind(clip: PadClip) -> str:
    mode = MODES.get(clip.options.mode, "?")
    spec = clip.spec
    if spec.loop and spec.bpm is not None:
        return f"{mode}, {spec.bars:g} bars at {spec.bpm:g} bpm"
    return mode


def _check_id(ident: str) -> None:
    if not isinstance(ident, str) or not ID_PATTERN.match(ident):
        raise ValueError(f"id: {ident!r} is not an instance id; valid is 1..64 letters, digits, '-' or '_'")


def _check_pad(pad: int) -> None:
    if isinstance(pad, bool) or not isinstance(pad, int) or not 1 <= pad <= PADS:
        raise ValueError(f"pad: {pad!r} is out of range; valid is 1..{PADS}")
