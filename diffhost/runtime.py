"""The composition root: the one place the app is put together.

`build_runtime(options)` builds, once and in this order: the engine, the audio device (from the
one audio-settings store), presets, the render library, the finisher, the session and, when asked,
the OSC server. Every front end starts here: the window (`diffhost gui`), `diffhost serve`,
`diffhost render`, `diffhost library rerender`, the benches and the screenshot script. None of
them wires parts by hand, so they cannot drift apart.

Qt-free: the window takes the finished Runtime. Components a front end may run without (a missing
audio device in the window, say) are listed in `RuntimeOptions.optional`; one of those that fails
to open is left out with its reason in `Runtime.unavailable`, any other failure raises.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from diffhost import paths
from diffhost.engine.engine import Engine
from diffhost.engine.interface import RenderEngine
from diffhost.engine.remote.client import parse_engine_url
from diffhost.host.audio import AudioControl, HostAudio
from diffhost.host.audio.watch import AudioWatch
from diffhost.host.library import RenderLibrary
from diffhost.host.live.kit import KitStore
from diffhost.host.live.rig import JACK_PORT, LiveRig
from diffhost.host.presets import PresetStore
from diffhost.host.render.finisher import Finisher
from diffhost.host.session import Session
from diffhost.osc.server import OscConfig, OscServer

COMPONENTS = ("audio", "presets", "library", "finisher", "osc", "midi", "link")
ENGINE_NICE = 10  # renders yield the CPU to the window (and everything else the musician runs)
# Quitting takes at most about 3 s: the finisher completes the file it is writing (a second at most
# for a long WAV), the engine ends its current step; a model load is not waited for.
FINISH_TIMEOUT_S = 1.5
CLOSE_TIMEOUT_S = 0.5  # the engine's current step; a model load cannot be cut short, so not waited for
DEVICE_CLOSE_TIMEOUT_S = 2.5  # MIDI ports and the audio stream: a last fence (a lost stream is not waited for)


@dataclass(frozen=True)
class RuntimeOptions:
    renders_dir: Path = Path("renders")
    model: str | None = None  # None: the embedded default
    device: str = "auto"
    max_queue: int = 16
    engine_url: str | None = None  # http://HOST:8450: render on a `diffhost engine-serve` (docs/remote.md)
    audio: bool = True  # open the audio device (slots, playback, recording)
    # One run's device choices on top of the saved settings (serve's flags); never saved.
    audio_overrides: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    audio_config_dir: Path | None = None  # None: the platform's config folder (or DIFFHOST_CONFIG_DIR)
    slots: int = 16
    presets: bool = True
    library: bool = True
    library_dir: Path | None = None  # None: the user's data folder, shared by every front end
    osc: OscConfig | None = None  # None: no OSC server
    optional: frozenset[str] = frozenset()  # components that may fail to open (see module doc)
    # Live performance (host.live): the last kit comes back; MIDI inputs ("jack" = diffhost's own JACK
    # MIDI port, offered by default when the audio runs on JACK); where the tempo comes from.
    live: bool = True  # the live parts (kits, MIDI, tempo sync, fresh pads); a one-shot render needs none
    kits: bool = True
    midi_in: tuple[str, ...] = ()
    jack_midi: bool | None = None  # None: when the audio output is a JACK device
    tempo_source: str = "session"  # "session", "link" or "midi clock"
    background_load: bool = False  # window: load the model and the finisher's imports at startup
    lower_engine_priority: bool = False  # window: renders yield the CPU to the UI

    def __post_init__(self) -> None:
        unknown = set(self.optional) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"optional: unknown component(s) {sorted(unknown)}; valid are {COMPONENTS}")
        if self.max_queue < 1:
            raise ValueError(f"max-queue: {self.max_queue} is out of range; valid is 1 or more")
        if self.engine_url is not None:
            parse_engine_url(self.engine_url)  # a bad URL fails here, before anything opens


@dataclass
class Runtime:
    """The running app's parts. Close it once; closing never blocks on a model still loading."""

    engine: RenderEngine
    session: Session
    audio_control: AudioControl
    osc: OscServer | None = None
    unavailable: dict[str, str] = field(default_factory=dict)
    live: LiveRig | None = None
    engine_stopped: bool = True  # False after close() when the engine was still inside a model load
    watch: AudioWatch | None = None  # notices the audio device going away (host.audio.watch)
    _closed: bool = False

    @property
    def audio(self) -> HostAudio | None:
        return self.session.audio

    @property
    def library(self) -> RenderLibrary | None:
        return self.session.library

    @property
    def presets(self) -> PresetStore:
        """The preset store; a clear error, not an AttributeError, when it could not be opened."""
        if self.session.presets is None:
            raise ValueError(f"preset: no preset store ({self.unavailable.get('presets', 'presets are off')})")
        return self.session.presets

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Stop OSC, the audio device, the session (its finisher ends the file it is writing; writes
        are atomic, so nothing partial is left), the library and the engine, each once."""
        if self._closed:
            return
        self._closed = True
        steps: list[tuple[str, Callable[[], Any]]] = []
        if self.watch is not None:
            steps.append(("audio watch", self.watch.stop))
        if self.osc is not None:
            steps.append(("OSC", self.osc.stop))
        if self.live is not None:  # the pads as they are now come back on the next start
            steps.append(("last kit", self.live.save_last))
            steps.append(("MIDI and sync", self.live.close))
        if self.session.audio is not None:
            steps.append(("audio", self.session.audio.close))
        steps.append(("session", lambda: self.session.close(timeout=FINISH_TIMEOUT_S)))
        if self.session.library is not None:
            steps.append(("library", self.session.library.close))
        for what, step in steps:
            # MIDI ports and the audio stream talk to the audio server, and block forever once it
            # is gone: such a step is left behind after DEVICE_CLOSE_TIMEOUT_S, so quitting ends.
            limit = DEVICE_CLOSE_TIMEOUT_S if what in ("MIDI and sync", "audio") else None
            _bounded(what, step, limit)
        self.engine_stopped = bool(self.engine.stop(timeout=timeout))

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _bounded(what: str, step: Callable[[], Any], limit: float | None) -> None:
    """Run one closing step, reporting a failure; with a limit, on a helper thread waited for at
    most `limit` s (a step that blocks is left behind: the process is ending)."""

    def run() -> None:
        try:
            step()
        except Exception as exc:  # shutting down: report and carry on closing the rest
            print(f"diffhost: while closing the {what}: {exc}", file=sys.stderr)

    if limit is None:
        run()
        return
    helper = threading.Thread(target=run, name=f"diffhost-close-{what}", daemon=True)
    helper.start()
    helper.join(limit)
    if helper.is_alive():
        print(f"diffhost: the {what} did not close within {limit:g} s (its server is gone); left behind", file=sys.stderr)


def build_runtime(options: RuntimeOptions, *, engine: RenderEngine | None = None) -> Runtime:
    """Build the app once. `engine`: an Engine to use (e.g. with its own loader); default a new one."""
    unavailable: dict[str, str] = {}

    def opened(name: str, make: Callable[[], Any]) -> Any:
        if name not in options.optional:
            return make()
        try:
            return make()
        except Exception as exc:  # no device, bad folder, port taken: this front end runs without it
            unavailable[name] = _describe(exc)
            return None

    audio_control = AudioControl(options.audio_config_dir, slots=options.slots)
    audio = None
    if options.audio:
        audio = opened("audio", lambda: audio_control.open(**dict(options.audio_overrides)))
    else:
        unavailable["audio"] = "off (--no-audio)"
    presets = opened("presets", PresetStore) if options.presets else None
    library = (
        opened("library", lambda: RenderLibrary.open_default(options.library_dir))
        if options.library
        else None
    )
    finisher = opened("finisher", lambda: Finisher(library=library))
    engine = engine or _make_engine(options)
    engine.start()
    session = None
    live = None
    try:
        if options.lower_engine_priority:
            # Before any torch work, so torch's pool inherits it.
            engine.run_sync(lower_thread_priority, timeout=10)
        if options.background_load:
            warm_up(engine, options.model, with_finisher=finisher is not None)
        session = Session(
            engine,
            renders_dir=options.renders_dir,
            model=options.model,
            finish=finisher,
            audio=audio,
            presets=presets,
            library=library,
        )
        if finisher is not None:  # renders a killed run left half-written: adopted or trashed
            for line in finisher.recover(session.renders_dir):
                print(f"diffhost: renders: {line}", file=sys.stderr)
        live = _build_live(options, session, unavailable) if options.live else None
        osc = None
        if options.osc is not None:
            osc = opened("osc", lambda: OscServer(session, options.osc, live=live).start())
        else:
            unavailable["osc"] = "OSC is off (--no-osc)"
    except BaseException:
        if live is not None:
            live.close()
        if session is not None:
            session.close()
        engine.stop(timeout=CLOSE_TIMEOUT_S)
        for part in (audio, library):
            if part is not None:
                with contextlib.suppress(Exception):
                    part.close()
        raise
    watch = AudioWatch(
        session,
        save=live.save_last if live is not None else None,
        revive=live.revive_midi if live is not None else None,  # JACK MIDI dies with its server
    ).start()
    return Runtime(engine, session, audio_control, osc, unavailable, live=live, watch=watch)


def _build_live(options: RuntimeOptions, session: Session, unavailable: dict[str, str]) -> LiveRig:
    """Kits, MIDI and tempo sync around the session; a MIDI port or Link that cannot open is
    reported in `unavailable` (always optional: a missing controller never stops the show)."""
    kits = KitStore(options.audio_config_dir) if options.kits else None
    live = LiveRig(session, kits=kits, jack_server=paths.jack_server())
    if session.audio is not None:
        try:
            for problem in live.restore_last():
                print(f"diffhost: last kit: {problem}", file=sys.stderr)
        except ValueError as exc:  # a damaged last kit: start with empty pads, say why
            unavailable["kit"] = str(exc)
    names = list(options.midi_in)
    on_jack = session.audio is not None and "JACK" in str(getattr(session.audio.output_device, "hostapi", ""))
    if options.jack_midi or (options.jack_midi is None and on_jack):
        names.insert(0, JACK_PORT)
    opened: list[str] = []
    for name in dict.fromkeys(names):
        try:
            opened.append(live.open_midi(name))
        except (ValueError, OSError) as exc:
            if name in options.midi_in:  # asked for by name: it must open
                live.close()
                raise
            unavailable["midi"] = str(exc)
    try:
        live.set_tempo_source(options.tempo_source)
    except (ValueError, OSError) as exc:
        if options.tempo_source != "link":
            live.close()
            raise
        unavailable["link"] = str(exc)
    return live


def _make_engine(options: RuntimeOptions) -> RenderEngine:
    """The local engine (the default), or the client of a remote one when engine_url is set."""
    if options.engine_url:
        from diffhost.engine.remote.client import RemoteEngine

        return RemoteEngine(options.engine_url, max_queue=options.max_queue)
    return Engine(device=options.device, max_queue=options.max_queue)


def warm_up(engine: RenderEngine, model: str | None, *, with_finisher: bool = True) -> threading.Thread:
    """In the background, on the engine's own thread: the finisher's imports, then the model, so the
    first Render does not wait. scipy.signal alone takes about 1 s and, imported mid-render on the
    finisher thread, stalls the window; importing it beside a concurrent torch import (scipy looks
    for torch) can see a half-initialized torch module, hence the engine's thread."""

    def imports() -> None:
        import pedalboard  # noqa: F401
        import pyloudnorm  # noqa: F401
        import scipy.signal  # noqa: F401
        import soundfile  # noqa: F401
        import soxr  # noqa: F401

    def run() -> None:
        if with_finisher:
            with contextlib.suppress(Exception):  # a warm-up only; the finisher imports them anyway
                engine.run_sync(imports, timeout=120)
        with contextlib.suppress(Exception):  # a bad spec is reported by the first render instead
            engine.load(model)

    thread = threading.Thread(target=run, name="diffhost-warm-up", daemon=True)
    thread.start()
    return thread


def lower_thread_priority(increment: int = ENGINE_NICE) -> None:
    """Lower the calling thread's CPU priority. Linux only: there nice is per thread, and threads it
    starts (torch's worker pool) inherit it. Elsewhere this does nothing."""
    if sys.platform.startswith("linux") and hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + increment)


def exit_process(code: int, runtime: Runtime) -> None:
    """End a long-running front end (the window, `serve`) with `code` once its runtime is closed.

    Everything that matters is already closed by then: settings saved, files written atomically,
    the library committed, devices released. What remains is interpreter teardown, which is slow
    (torch's and Qt's destructors: seconds on a busy machine) and, while the engine is still inside
    a model load, fatal: tearing down torch under its live native threads aborts the process
    ("terminate called without an active exception", exit -6). So the process ends here.
    """
    if not runtime._closed:
        raise RuntimeError("exit_process: close the runtime first")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _describe(exc: BaseException) -> str:
    """One line for the panel that needs the component: user messages as they are, others typed."""
    msg = str(exc).strip() or type(exc).__name__
    return msg if isinstance(exc, ValueError) else f"{type(exc).__name__}: {msg}"
