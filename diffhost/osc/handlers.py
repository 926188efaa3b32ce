"""What each incoming address does, in terms of Session methods.

Handlers check their arguments (osc.args), call the Session and return the
direct answers for the sender. Changes the Session announces as events (params,
seed, slots, jobs) also reach subscribers through the event forwarder
(osc.replies); a sender that is itself subscribed at its sending address gets
those through the subscription only, so it never sees an answer twice.
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diffhost import __version__
from diffhost.engine.errors import QueueFullError
from diffhost.engine.request import LENGTH_RANGE_S, SEED_RANGE
from diffhost.host.live.kit import KIT_SUFFIX, is_kit_file
from diffhost.host.live.midi.mapping import PARAM_TARGETS, SLOT_TARGETS
from diffhost.host.live.sync import SOURCES as TEMPO_SOURCES
from diffhost.host.session import PARAM_NAMES, ReplyRoute
from diffhost.osc import messages as out
from diffhost.osc.access import AccessList
from diffhost.osc.args import (
    MAX_TEXT,
    OscArgError,
    as_button,
    as_float,
    as_int,
    as_switch,
    as_text,
    as_typed,
    expect_count,
    osc_type,
    shown,
)
from diffhost.osc.dispatcher import Address, Reply, SlotHandler, Stats
from diffhost.osc.paths import PathPolicy
from diffhost.osc.plugin import PluginHandlers
from diffhost.osc.subscribers import Subscribers

if TYPE_CHECKING:
    from diffhost.host.live.rig import LiveRig
    from diffhost.host.session import Session

P = out.PREFIX
JOB_RANGE = (1, 2**31 - 1)
TOKEN_RANGE = (0, 2**31 - 1)  # a client's render token; 0 = none
GAIN_RANGE = (0.0, 4.0)  # linear; 0 is a button release and does nothing
TEMPO_RANGE = (20.0, 999.0)  # bpm
QUANTIZE_RANGE = (0.0, 64.0)  # beats; 0 = off
RECORD_RANGE_S = (0.1, 60.0)
TEXT_PARAMS = {"prompt", "negative_prompt", "model", "key"}
UNSET_BY_MINUS_ONE = {"steps", "guidance", "seed", "bpm", "mix"}  # -1: "the model's default" / "random" / "the newest"
UNSET_BY_EMPTY = UNSET_BY_MINUS_ONE  # "" unsets them too: unset numbers travel as -1 or ""
WHOLE_PARAMS = {"sample_rate", "steps", "seed", "variations", "mix"}
MAX_PENDING_LOADS = 32  # slot loads waiting for the loader thread; more are refused with a reason
SETTABLE = tuple(PARAM_NAMES) + ("tempo", "quantize")

Send = Callable[[Address, bytes], None]


class RenderRefused(ValueError):
    """A refused render; `echo` (the client's token) follows the reason in /diffhost/error."""

    def __init__(self, message: str, token: int):
        super().__init__(message)
        self.echo = (token,) if token else ()


class Handlers:
    """The v1 address space (plus the additions documented in docs/osc.md)."""

    def __init__(
        self,
        session: Session,
        *,
        paths: PathPolicy,
        subscribers: Subscribers,
        access: AccessList,
        reply_port: int,
        send: Send,
        stats: Stats,
        order: threading.Lock | None = None,
        live: LiveRig | None = None,
    ):
        self.session = session
        self.live = live  # host.live.LiveRig: kits, MIDI learn, tempo sync; None without one
        self.paths = paths
        self.subscribers = subscribers
        self.access = access
        self.reply_port = reply_port
        self.send = send  # for answers that arrive later (seed/record)
        self.stats = stats
        self._recording = threading.Lock()
        self._seed_loading = threading.Lock()
        # Held while a render is submitted and its "accepted" sent; the forwarder takes it before
        # sending job events, so nothing about a job can overtake its "accepted".
        self.order = order or threading.Lock()
        self._startup_model = session.model  # the model diffhost was started with stays selectable
        # Slot loads (reading and converting a clip) run on one loader thread, never on the
        # receive thread: a long file must not delay anyone's answers. Bounded: see slot_load.
        self._loads: queue.Queue[Any] = queue.Queue(maxsize=MAX_PENDING_LOADS)
        self._loader: threading.Thread | None = None
        self._loader_lock = threading.Lock()

    def routes(self) -> dict[str, Callable[[Address, list[Any]], list[Reply]]]:
        return {
            f"{P}/ping": self.ping,
            f"{P}/status": self.status,
            f"{P}/subscribe": self.subscribe,
            f"{P}/unsubscribe": self.unsubscribe,
            f"{P}/render": self.render,
            f"{P}/cancel": self.cancel,
            f"{P}/param/set": self.param_set,
            f"{P}/param/get": self.param_get,
            f"{P}/preset/load": self.preset_load,
            f"{P}/preset/list": self.preset_list,
            f"{P}/seed/load": self.seed_load,
            f"{P}/seed/clear": self.seed_clear,
            f"{P}/seed/record": self.seed_record,
            f"{P}/tempo": self.tempo,
            f"{P}/quantize": self.quantize,
            f"{P}/tempo/source": self.tempo_source,
            f"{P}/kit/save": self.kit_save,
            f"{P}/kit/load": self.kit_load,
            f"{P}/midi/learn": self.midi_learn,
            **PluginHandlers(self).routes(),  # /diffhost/plugin/*: the Bridge plugin (osc.plugin)
        }

    def slot_routes(self) -> dict[str, SlotHandler]:
        return {
            "assign": self.slot_assign,
            "load": self.slot_load,
            "play": self.slot_play,
            "stop": self.slot_stop,
            "gate": self.slot_gate,
            "state": self.slot_state,
            "mode": self.slot_mode,
            "gain": self.slot_gain,
            "pan": self.slot_pan,
            "choke": self.slot_choke,
            "options": self.slot_options,
        }

    # -- helpers ------------------------------------------------------------------
    def _answer(self, sender: Address, message: bytes, *, announced: bool = False) -> list[Reply]:
        """A direct answer: to the sender and to the listeners subscribed on its host (a one-way
        sender hears it there). An `announced` answer is a session event every subscriber gets
        anyway, so it goes to the sender alone, and not even there when it is subscribed."""
        dests = self.subscribers.answer_to(sender)
        if announced:
            dests = tuple(d for d in dests if d not in self.subscribers)
        return [(dest, message) for dest in dests]

    def _send_later(self, sender: Address, message: bytes, *, announced: bool = False) -> None:
        """An answer from another thread (seed load, recording), routed like `_answer`."""
        for dest, msg in self._answer(sender, message, announced=announced):
            self.send(dest, msg)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no seed clip or slot clip is loading (for tests and benches that compare state)."""
        deadline = time.monotonic() + timeout
        if not self._seed_loading.acquire(timeout=timeout):
            return False
        self._seed_loading.release()
        while self._loads.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self) -> None:
        """Stop the slot loader (a load in progress finishes first)."""
        loader = self._loader
        if loader is not None:
            with contextlib.suppress(queue.Full):
                self._loads.put(None, timeout=1.0)
            loader.join(timeout=3.0)
            self._loader = None

    # -- connection -------------------------------------------------------------------
    def ping(self, sender: Address, args: list[Any]) -> list[Reply]:
        """Pong with the version, echoing up to 4 int/float/string arguments (a token to match)."""
        echo = [a for a in args[:4] if isinstance(a, (int, float, str)) and not isinstance(a, bool)]
        return self._answer(sender, out.encode(out.PONG, __version__, *echo))

    def status(self, sender: Address, args: list[Any]) -> list[Reply]:
        as_button(args)  # a query: a button's press and release both ask
        audio = "open" if self.session.audio is not None else "none"
        if self.session.audio is None and self.session.audio_problem:
            audio = "lost"
        s = self.stats
        return self._answer(
            sender, out.encode(out.STATUS, __version__, len(self.subscribers), s.ignored, s.errors, audio)
        )

    def subscribe(self, sender: Address, args: list[Any]) -> list[Reply]:
        expect_count(args, 0, 2, "[i:port] [s:host]")
        port = as_int("port", args[0], 1, 65535) if args else self.reply_port
        host = as_text("host", args[1], 64).strip() if len(args) > 1 else sender[0]
        host = self.access.listener_host(host or sender[0])  # an address this socket can reach
        if not self.access.may_subscribe(host, sender[0]):
            raise OscArgError(
                f"host: {host!r} is neither the sender ({sender[0]}), this machine, nor an allowed "
                "client address; replies can only go to allowed clients"
            )
        self.subscribers.add((host, port))
        ack = out.encode(out.SUBSCRIBED, host, port)
        return [((host, port), ack)] + ([(sender, ack)] if sender != (host, port) else [])

    def unsubscribe(self, sender: Address, args: list[Any]) -> list[Reply]:
        expect_count(args, 0, 2, "[i:port] [s:host]")
        port = as_int("port", args[0], 1, 65535) if args else None
        host = as_text("host", args[1], 64).strip() if len(args) > 1 else sender[0]
        if host != sender[0] and not self.access.may_subscribe(host, sender[0]):
            raise OscArgError(f"host: {host!r} is not yours to unsubscribe")
        gone = self.subscribers.remove(host, port)
        if not gone:
            where = f"{host}:{port}" if port is not None else host
            raise OscArgError(f"unsubscribe: {where} is not subscribed")
        replies: list[Reply] = []
        for h, p in gone:
            ack = out.encode(out.UNSUBSCRIBED, h, p)
            replies.append(((h, p), ack))
            if sender != (h, p):
                replies.append((sender, ack))
        return replies

    # -- rendering ------------------------------------------------------------------------
    def render(self, sender: Address, args: list[Any]) -> list[Reply]:
        """[s:prompt] [f:length_s] [i:seed] [s:preset] [i:token]; "" / 0 / -1 / "" keep the
        session's value; a token (1..2^31-1) comes back in the job's events and in a refusal."""
        expect_count(args, 0, 5, "[s:prompt] [f:length_s] [i:seed] [s:preset] [i:token]")
        token = as_int("token", args[4], *TOKEN_RANGE) if len(args) > 4 else 0
        try:
            self._render(sender, args, token)
        except (ValueError, QueueFullError) as exc:
            raise RenderRefused(str(exc), token) from None
        return []

    def _render(self, sender: Address, args: list[Any], token: int) -> None:
        overrides: dict[str, Any] = {}
        if len(args) > 0:
            overrides["prompt"] = as_text("prompt", args[0]) or None
        if len(args) > 1:
            length = as_float("length_s", args[1], 0.0, LENGTH_RANGE_S[1], "s")
            if length != 0.0:
                if length < LENGTH_RANGE_S[0]:
                    raise OscArgError(
                        f"length_s: {length:g} is out of range; valid is "
                        f"{LENGTH_RANGE_S[0]:g}..{LENGTH_RANGE_S[1]:g} s (0 = the session's length)"
                    )
                overrides["length"] = length
        if len(args) > 2:
            seed = as_int("seed", args[2], -1, SEED_RANGE[1])
            overrides["seed"] = None if seed == -1 else seed
        preset = as_text("preset", args[3]) if len(args) > 3 else ""
        # Validated once, the preset too, before anything is queued; the plan is then submitted as
        # it is. The preset applies to this render alone: the shared session's params stay as the
        # other front ends set them. The reply route travels with the job into all its events.
        plan = self.session.plan(
            tag="osc", reply_to=ReplyRoute(sender[0], sender[1], token), preset=preset or None, **overrides
        )
        # "accepted" goes out at once (one hop, not two threads away); progress and done follow
        # from the event forwarder, which cannot send before this lock is released.
        with self.order:
            job = self.session.submit(plan)
            accepted = out.encode(out.JOB_ACCEPTED, job.id, *([token] if token else []))
            for dest, msg in self._answer(sender, accepted, announced=True):
                self.send(dest, msg)

    def cancel(self, sender: Address, args: list[Any]) -> list[Reply]:
        expect_count(args, 1, 1, "i:job (-1 = all)")
        job = as_int("job", args[0], -1, JOB_RANGE[1])
        if job == 0:
            raise OscArgError("job: 0 is not a job id; ids start at 1 (-1 cancels all)")
        count = int(self.session.cancel(job))
        if not count and job != -1:
            # Too late to cancel (it just finished, or finished long ago): answered with what
            # became of it. "finishing": it left the engine and its end is on its way.
            lookup = getattr(self.session, "job_state", None)
            state = lookup(job) if lookup is not None else None
            if state is None:
                raise OscArgError(f"job: {job} is not a job of this session (not queued, running or finished)")
            state = "finishing" if state in ("queued", "running") else state
            return self._answer(sender, out.encode(out.CANCELLED, job, 0, state))
        # Answered at once, even when nothing matched: a queued job has already left the queue
        # (its /diffhost/job/cancelled is out); a running one stops within one denoising step.
        return self._answer(sender, out.encode(out.CANCELLED, job, count))

    # -- parameters -------------------------------------------------------------------------
    def param_set(self, sender: Address, args: list[Any]) -> list[Reply]:
        expect_count(args, 2, 2, "s:name value")
        name = self._param_name(args[0], SETTABLE)
        raw = args[1]
        if name == "tempo":
            bpm = self._set_tempo(name, raw)
            return self._answer(sender, out.encode(out.PARAM, name, bpm), announced=True)
        if name == "quantize":
            beats = self._set_quantize(name, raw)
            return self._answer(sender, out.encode(out.PARAM, name, beats), announced=True)
        if name == "model":
            value: Any = self._model_choice(as_text(name, raw, 4096))
        elif name in TEXT_PARAMS:
            value = as_text(name, raw) or None
        elif name in UNSET_BY_EMPTY and raw == "":
            value = None
        else:
            whole = name in WHOLE_PARAMS
            kind = "a whole number" if whole else "a number"
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                clears = ' (or "" to unset it)' if name in UNSET_BY_EMPTY else ""
                raise OscArgError(f"{name}: expected {kind}{clears}, got {osc_type(raw)} {shown(raw)}")
            value = as_typed(raw)  # 0.1 sent as float32 is stored as 0.1
            if whole and isinstance(value, float):
                if not math.isfinite(value) or not value.is_integer():
                    raise OscArgError(f"{name}: expected a whole number, got {shown(value)}")
                value = int(value)
            if name in UNSET_BY_MINUS_ONE and value == -1:
                value = None
        stored = self.session.set_param(name, value)
        return self._answer(
            sender, out.encode(out.PARAM, name, out.param_value(name, stored)), announced=True
        )

    def param_get(self, sender: Address, args: list[Any]) -> list[Reply]:
        expect_count(args, 0, 1, "[s:name] (no name = every parameter)")
        names = [self._param_name(args[0], PARAM_NAMES)] if args else list(PARAM_NAMES)
        return [
            reply
            for n in names
            for reply in self._answer(
                sender, out.encode(out.PARAM, n, out.param_value(n, self.session.get_param(n)))
            )
        ]

    def _model_choice(self, raw: str) -> str | None:
        """Over OSC a model is the default, the one diffhost started with, or a folder inside the
        allowed folders: a message must not start a download (it would write outside the renders
        folder) or read model folders elsewhere on disk."""
        if raw.strip() in ("", "default", "diffhost-default"):
            return None
        if raw == self._startup_model:
            return raw
        try:
            return str(self.paths.check_dir("model", raw))
        except OscArgError as exc:
            started = f" ({self._startup_model})" if self._startup_model else ""
            raise OscArgError(
                f"{exc}; over OSC a model is 'default', the one diffhost started with{started}, "
                "or a model folder inside the allowed folders (nothing is downloaded)"
            ) from None

    @staticmethod
    def _param_name(value: Any, valid: tuple[str, ...]) -> str:
        name = as_text("name", value, 64)
        if name not in valid:
            raise OscArgError(f"name: unknown parameter {name!r}; valid are {', '.join(valid)}")
        return name

    # -- presets --------------------------------------------------------------------------
    def preset_load(self, sender: Address, args: list[Any]) -> list[Reply]:
        expect_count(args, 1, 1, "s:name")
        name = as_text("name", args[0], MAX_TEXT)
        self.session.load_preset(name)
        return self._answer(sender, out.encode(out.PRESET_LOADED, name), announced=True)

    def preset_list(self, sender: Address, args: list[Any]) -> list[Reply]:
        as_button(args)  # a query: a button's press and release both ask
        names = list(self.session.list_presets())
        fitted: list[str] = []
        size = 64
        for n in names:  # one datagram; a list that would not fit is cut (rare: hundreds of presets)
            size += len(n.encode()) + 8
            if size > 8000:
                break
            fitted.append(n)
        return self._answer(sender, out.encode(out.PRESETS, *fitted))

    # -- seed clip --------------------------------------------------------------------------
    def seed_load(self, sender: Address, args: list[Any]) -> list[Reply]:
        """Checks the path here; reads the file on its own thread (a long file must not stall the
        server), then answers /diffhost/seed f:duration_s [s:note] (note: how it was trimmed)."""
        expect_count(args, 1, 1, "s:path")
        path = self.paths.check_file("path", as_text("path", args[0], 4096))
        if not self._seed_loading.acquire(blocking=False):
            raise OscArgError(
                "seed/load: a seed clip is already loading; send again after its /diffhost/seed"
            )
        threading.Thread(
            target=self._load_seed, args=(sender, path), name="diffhost-osc-seed", daemon=True
        ).start()
        return []

    def _load_seed(self, sender: Address, path: Any) -> None:
        try:
            loaded = self.session.load_seed_bounded(path)
            note = loaded.note()
            answer = out.encode(out.SEED, float(loaded.clip.duration_s), *([note] if note else []))
            self._send_later(sender, answer, announced=True)
        except Exception as exc:  # unreadable file, ...: the sender hears why, nothing changed
            self.stats.errors += 1
            self._send_later(sender, out.error(f"{P}/seed/load", str(exc) or type(exc).__name__))
        finally:
            self._seed_loading.release()

    def seed_clear(self, sender: Address, args: list[Any]) -> list[Reply]:
        if not as_button(args) or self.session.seed_clip is None:  # a release, or nothing to clear
            clip = self.session.seed_clip
            return self._answer(sender, out.encode(out.SEED, 0.0 if clip is None else float(clip.duration_s)))
        self.session.set_seed_clip(None)
        return self._answer(sender, out.encode(out.SEED, 0.0), announced=True)

    def seed_record(self, sender: Address, args: list[Any]) -> list[Reply]:
        expect_count(args, 1, 1, "f:seconds")
        seconds = as_float("seconds", args[0], *RECORD_RANGE_S, "s")
        if self.session.audio is None:
            self.session.record_seed(seconds)  # raises the session's "no audio device" ValueError
        if not self._recording.acquire(blocking=False):
            raise OscArgError("seed/record: a recording is already running")
        # Recording blocks for `seconds`; the server thread must keep serving meanwhile.
        threading.Thread(
            target=self._record, args=(sender, seconds), name="diffhost-osc-record", daemon=True
        ).start()
        return []

    def _record(self, sender: Address, seconds: float) -> None:
        address = f"{P}/seed/record"
        try:
            clip = self.session.record_seed(seconds)
            self._send_later(sender, out.encode(out.SEED, float(clip.duration_s)), announced=True)
        except Exception as exc:  # the device failed mid-recording: the sender hears why
            self.stats.errors += 1
            self._send_later(sender, out.error(address, str(exc) or type(exc).__name__))
        finally:
            self._recording.release()

    # -- tempo ------------------------------------------------------------------------------
    # A control's new value is echoed on the address that set it (how TouchOSC and REAPER
    # surfaces show state); subscribers also get it as /diffhost/param "tempo" / "quantize".
    def tempo(self, sender: Address, args: list[Any]) -> list[Reply]:
        expect_count(args, 1, 1, "f:bpm")
        return self._answer(sender, out.encode(f"{P}/tempo", self._set_tempo("bpm", args[0])))

    def quantize(self, sender: Address, args: list[Any]) -> list[Reply]:
        expect_count(args, 1, 1, "f:beats (0 = off)")
        return self._answer(sender, out.encode(f"{P}/quantize", self._set_quantize("beats", args[0])))

    def _set_tempo(self, name: str, raw: Any) -> float:
        bpm = as_float(name, raw, *TEMPO_RANGE, "bpm")
        self.session.set_tempo(bpm)
        return bpm

    def _set_quantize(self, name: str, raw: Any) -> float:
        beats = as_float(name, raw, *QUANTIZE_RANGE, "beats")
        self.session.set_quantize(beats)
        return beats

    # -- live: kits, tempo source, MIDI learn ------------------------------------------------------
    def _live(self) -> Any:
        if self.live is None:
            raise ValueError(
                "live: this server has no kits, MIDI or tempo sync (they come with `diffhost serve` and the window)"
            )
        return self.live

    def tempo_source(self, sender: Address, args: list[Any]) -> list[Reply]:
        """Set (or, with no argument, ask) where the tempo comes from: session, link, midi clock or plugin."""
        expect_count(args, 0, 1, f"[s:source ({', '.join(TEMPO_SOURCES)})]")
        source = as_text("source", args[0], 32) if args else None
        if source is not None and source not in TEMPO_SOURCES:
            raise OscArgError(f"source: {source!r} is not one of {', '.join(TEMPO_SOURCES)}")
        live = self._live()
        if source is not None:
            try:
                live.set_tempo_source(source)
            except (ImportError, OSError) as exc:  # Link is an optional extra
                raise ValueError(f"source: {source} is not available here ({exc})") from None
        audio = self.session.audio
        bpm = float(audio.tempo) if audio is not None else float(live.sync.bpm or 120.0)
        return self._answer(sender, out.encode(out.TEMPO_SOURCE, live.sync.source, bpm))

    def kit_save(self, sender: Address, args: list[Any]) -> list[Reply]:
        """Save the pads (clips, options, fresh pads, MIDI map) as a kit: a name ("set1") or a path
        inside the kits folder, always a .dhkit file. Only a kit ever replaces a kit."""
        expect_count(args, 1, 2, f"s:name ({KIT_SUFFIX} in the kits folder) [i:overwrite 0|1]")
        raw = as_text("path", args[0], 4096)
        overwrite = bool(as_int("overwrite", args[1], 0, 1)) if len(args) > 1 else False
        live = self._live()
        self._audio()
        kits = self._kits(live)
        if "/" not in raw and "\\" not in raw:
            path = kits.named(raw)
        else:
            path = PathPolicy(kits.dir).check_new_file("path", raw, KIT_SUFFIX)
        if path.exists() and not overwrite:
            raise OscArgError(f"path: {path} already exists; send overwrite 1 to replace it")
        if path.exists() and not is_kit_file(path):
            raise OscArgError(f"path: {path} exists and is not a diffhost kit; a kit only ever replaces a kit")
        try:
            saved = live.save_kit(path, overwrite=overwrite)
        except OSError as exc:  # a name the file system refuses, a full disk: said, nothing written
            raise OscArgError(f"path: cannot write the kit {path.name[:80]!r} ({exc.strerror or exc})") from None
        return self._answer(sender, out.encode(out.KIT_SAVED, str(saved)))

    def kit_load(self, sender: Address, args: list[Any]) -> list[Reply]:
        """Load a kit file (a name in the kits folder, or a path in the allowed folders) into the
        pads; answers with the pads that could not load as saved. Its clips obey the same folder
        rule as every other path (plus the kits' own clip folder)."""
        expect_count(args, 1, 1, "s:path")
        raw = as_text("path", args[0], 4096)
        live = self._live()
        self._audio()
        kits = self._kits(live)
        if "/" not in raw and "\\" not in raw and not Path(raw).suffix:
            raw = raw + KIT_SUFFIX  # a bare name: the kit saved under it
        path = PathPolicy(kits.dir, self.paths.roots).check_file("path", raw)
        clips = PathPolicy(self.paths.base, (*self.paths.roots, kits.clips_dir))

        def allowed(clip: Path) -> Path:
            return clips.check_file("clip", str(clip))

        def load() -> list[Reply]:  # reads up to 16 clips: on the loader thread, as slot loads are
            problems = live.load_kit(path, allowed)  # a file that is not a kit raises before anything changes
            return self._answer(sender, out.encode(out.KIT_LOADED, str(path), len(problems), *problems[:16]))

        return self._queue_load(f"{P}/kit/load", sender, load)

    @staticmethod
    def _kits(live: Any) -> Any:
        kits = getattr(live, "kits", None)
        if kits is None:
            raise ValueError("kit: this session keeps no kits (started without a kits folder)")
        kits.dir.mkdir(parents=True, exist_ok=True)
        return kits

    def midi_learn(self, sender: Address, args: list[Any]) -> list[Reply]:
        """The next MIDI note fires pad n ("pad", n), or the next CC drives a target; "cancel" stops."""
        targets = ("pad", "cancel", *SLOT_TARGETS, *PARAM_TARGETS)
        expect_count(args, 1, 2, f"s:target ({', '.join(targets)}) [i:pad]")
        target = as_text("target", args[0], 32)
        if target not in targets:
            raise OscArgError(f"target: {target!r} is not one of {', '.join(targets)}")
        audio = self.session.audio
        pads = audio.num_slots if audio is not None else 16
        pad = as_int("pad", args[1], 1, pads) if len(args) > 1 else 0
        live = self._live()
        router = live.router
        if target != "cancel" and not getattr(live, "inputs", None):
            raise OscArgError(
                f"target: no MIDI input is open, so no note or CC can arrive to learn {target}; "
                "open one first (diffhost serve --midi PORT, or the window's Live menu)"
            )
        if target == "cancel":
            router.cancel_learn()
        elif target == "pad":
            if not pad:
                raise OscArgError(f"pad: learning a note needs the pad it fires, 1..{pads}")
            router.learn_pad(pad)
        else:
            if target in SLOT_TARGETS and not pad:
                raise OscArgError(f"pad: the {target} target needs a pad 1..{pads}")
            router.learn_cc(target, pad if target in SLOT_TARGETS else None)
        return self._answer(sender, out.encode(out.MIDI_LEARN, target, pad))

    # -- slots --------------------------------------------------------------------------------
    # Every slot action is answered exactly once with the slot's state. When the action changes
    # the state, the change is pushed to every subscriber as a session event, so the answer goes
    # only where that push does not (a sender not subscribed); when it changes nothing (play
    # while looping, stop when stopped, a button's release) no push follows and the answer goes
    # to the sender and its host's listeners.
    def _slot_now(self, slot: int) -> str:
        """The slot's state; checks first that a device is open and the slot number is valid."""
        return str(self._audio().slot_state(slot))

    def _slot_result(self, sender: Address, slot: int, before: str, note: str = "") -> list[Reply]:
        state = self._slot_now(slot)
        message = out.encode(out.slot_state_address(slot), state, *([note] if note else []))
        return self._answer(sender, message, announced=state != before and not note)

    def _audio(self) -> Any:
        audio = self.session.audio
        if audio is None:
            why = getattr(self.session, "audio_problem", "")  # the device went away: say so
            raise ValueError(f"audio: {why}" if why else "audio: no audio device is open in this session")
        return audio

    def slot_assign(self, sender: Address, slot: int, args: list[Any]) -> list[Reply]:
        expect_count(args, 1, 1, "i:job")
        job = as_int("job", args[0], *JOB_RANGE)
        self._slot_now(slot)  # the root cause first: without a device no job can be assigned
        if job not in self.session.renders:
            raise OscArgError(f"job: {job} has no finished render to assign")
        return self._queue_load(f"{P}/slot/{slot}/assign", sender, lambda: self._assign(sender, slot, job=job))

    def slot_load(self, sender: Address, slot: int, args: list[Any]) -> list[Reply]:
        """Checks here; the clip is read (at most MAX_PAD_S s, see host.live.padclip) and converted
        on the loader thread, which answers .../state s:state [s:note] (note: how it was trimmed)."""
        expect_count(args, 1, 1, "s:path")
        path = self.paths.check_file("path", as_text("path", args[0], 4096))
        self._slot_now(slot)
        return self._queue_load(f"{P}/slot/{slot}/load", sender, lambda: self._assign(sender, slot, path=path))

    def _queue_load(self, address: str, sender: Address, work: Callable[[], list[Reply]]) -> list[Reply]:
        """Run `work` (reading clips: a slot load, a kit) on the loader thread; its replies are sent
        from there, a failure answers /diffhost/error for `address` with the reason."""
        try:
            self._loads.put_nowait((address, sender, work))
        except queue.Full:
            raise OscArgError(
                f"{address.rsplit('/', 1)[-1]}: {MAX_PENDING_LOADS} clip loads are already waiting; "
                "send again after their answers"
            ) from None
        with self._loader_lock:
            if self._loader is None:
                self._loader = threading.Thread(target=self._load_slots, name="diffhost-osc-slots", daemon=True)
                self._loader.start()
        return []

    def _assign(self, sender: Address, slot: int, **what: Any) -> list[Reply]:
        before = self._slot_now(slot)
        note = self.session.assign_slot(slot, **what) or ""
        return self._slot_result(sender, slot, before, note)

    def _load_slots(self) -> None:
        while True:
            item = self._loads.get()
            try:
                if item is None:
                    return
                address, sender, work = item
                try:
                    for dest, msg in work():
                        self.send(dest, msg)
                except Exception as exc:  # unreadable file, not a kit, device gone: the sender hears why
                    self.stats.errors += 1
                    self._send_later(sender, out.encode(out.ERROR, address, str(exc) or type(exc).__name__))
            finally:
                self._loads.task_done()

    def slot_play(self, sender: Address, slot: int, args: list[Any]) -> list[Reply]:
        expect_count(args, 0, 1, "[f:gain]")
        gain = as_float("gain", args[0], *GAIN_RANGE) if args else 1.0
        before = self._slot_now(slot)  # the slot number is checked before anything else
        if gain != 0.0:  # 0 is a momentary button's release (1 on press, 0 on release): no change
            self.session.play_slot(slot, gain=gain)
        return self._slot_result(sender, slot, before)

    def slot_stop(self, sender: Address, slot: int, args: list[Any]) -> list[Reply]:
        press = as_button(args)
        before = self._slot_now(slot)
        if press and before != "empty":  # an empty slot has nothing to stop
            self.session.stop_slot(slot)
        return self._slot_result(sender, slot, before)

    def slot_gate(self, sender: Address, slot: int, args: list[Any]) -> list[Reply]:
        """Toggle buttons and REAPER's b-flag feedback: nonzero (or true) plays, 0 (or false) stops."""
        expect_count(args, 1, 1, "f:on (nonzero plays, 0 stops)")
        on = as_switch("on", args[0])
        return self.slot_play(sender, slot, []) if on else self.slot_stop(sender, slot, [])

    def slot_state(self, sender: Address, slot: int, args: list[Any]) -> list[Reply]:
        as_button(args)  # a query: a button's press and release both ask
        return self._answer(sender, out.encode(out.slot_state_address(slot), self._slot_now(slot)))

    # -- per-slot options (slots 1..N, as everywhere) -------------------------------------------
    def _options_reply(self, sender: Address, slot: int) -> list[Reply]:
        o = self._audio().slot_options(slot)
        q = -1.0 if o.quantize is None else float(o.quantize)
        msg = out.encode(f"{P}/slot/{slot}/options", o.mode, float(o.gain), float(o.pan), int(o.choke_group), q)
        return self._answer(sender, msg)

    def _set_option(self, sender: Address, slot: int, verb: str, **change: Any) -> list[Reply]:
        """Set one option; its new value is echoed on the address that set it."""
        o = self._audio().set_slot_options(slot, **change)
        value = {"mode": o.mode, "gain": float(o.gain), "pan": float(o.pan), "choke": int(o.choke_group)}[verb]
        return self._answer(sender, out.encode(f"{P}/slot/{slot}/{verb}", value))

    def slot_mode(self, sender: Address, slot: int, args: list[Any]) -> list[Reply]:
        expect_count(args, 1, 1, "s:mode (oneshot, loop or gate)")
        mode = as_text("mode", args[0], 16)
        if mode not in ("oneshot", "loop", "gate"):
            raise OscArgError(f"mode: {mode!r} is not one of oneshot, loop, gate")
        return self._set_option(sender, slot, "mode", mode=mode)

    def slot_gain(self, sender: Address, slot: int, args: list[Any]) -> list[Reply]:
        expect_count(args, 1, 1, "f:gain (0..4, linear)")
        return self._set_option(sender, slot, "gain", gain=as_float("gain", args[0], *GAIN_RANGE))

    def slot_pan(self, sender: Address, slot: int, args: list[Any]) -> list[Reply]:
        expect_count(args, 1, 1, "f:pan (-1 left..1 right)")
        return self._set_option(sender, slot, "pan", pan=as_float("pan", args[0], -1.0, 1.0))

    def slot_choke(self, sender: Address, slot: int, args: list[Any]) -> list[Reply]:
        expect_count(args, 1, 1, "i:group (0 = none..16)")
        return self._set_option(sender, slot, "choke", choke_group=as_int("group", args[0], 0, 16))

    def slot_options(self, sender: Address, slot: int, args: list[Any]) -> list[Reply]:
        as_button(args)  # a query: a button's press and release both ask
        return self._options_reply(sender, slot)
