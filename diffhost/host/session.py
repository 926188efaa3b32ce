"""The session: current parameters, seed clip, renders and slots, shared by GUI, OSC and CLI.

Front ends call methods here; nothing here knows Qt or OSC. Engine events are
finished (post-processing, files, library) on the session's own finisher
thread, so neither the engine worker nor the GUI thread touches the disk, and
every subscriber gets SessionEvents through its own bounded queue.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from diffhost.engine.audio import SEED_MAX_S, BoundedClip, read_seed_file
from diffhost.engine.fanout import Fanout
from diffhost.engine.loader import DEFAULT_NAMES, pipeline_class_name
from diffhost.engine.request import GenerationRequest, ModelInfo, Priority, SeedClip
from diffhost.host.render.disk import describe_write_error
from diffhost.host.render.finisher import Finisher, SavedRender, Tap

if TYPE_CHECKING:  # the components the session is handed (built by diffhost.runtime)
    from diffhost.engine.engine import Job
    from diffhost.engine.interface import RenderEngine
    from diffhost.host.audio.host_audio import HostAudio
    from diffhost.host.library import RenderLibrary
    from diffhost.host.presets import PresetStore
    from diffhost.host.render.post import Recipe

SessionEventKind = Literal[
    "accepted", "progress", "done", "cancelled", "error", "param", "seed", "slot", "message"
]

# Parameters a front end may set by name (OSC /diffhost/param/set, GUI widgets, presets).
PARAM_NAMES = tuple(f.name for f in fields(GenerationRequest) if f.name != "seed_clip") + ("model",)
KEPT_JOBS = 4096  # finished jobs whose files `assign_slot(job_id=...)` still finds
MAX_TEXT_CHARS = 1000  # prompt and negative prompt, the same in the window, over OSC and on the CLI
# An engine event's kind -> the job's state; "done" from the engine means the files are being written.
_JOB_STATES = {"accepted": "queued", "progress": "running", "done": "saving"}


@dataclass(frozen=True)
class SessionEvent:
    kind: SessionEventKind
    job_id: int = -1
    progress: float = 0.0
    paths: tuple[Path, ...] = ()
    length_s: float = 0.0
    sample_rate: int = 0
    message: str = ""
    name: str = ""  # param name or slot number as text
    value: Any = None
    tag: str | None = None
    reply_to: ReplyRoute | None = None  # a job's events: the client that asked (RenderPlan.reply_to)
    render_ids: tuple[int, ...] = ()  # render-library row ids, when a library is attached
    result: Any = None  # "done": the engine's GenerationResult (seed, model, render time)
    eta_s: float | None = None  # "accepted" / "progress": seconds left, from this machine's step times

    @property
    def terminal(self) -> bool:
        return self.kind in ("done", "cancelled", "error")


@dataclass(frozen=True)
class ReplyRoute:
    """Who asked for a job, so its events reach that client as well as every subscriber: the
    address its answers go to, and the token it gave to pick out its own jobs (0 = none)."""

    host: str
    port: int
    token: int = 0


@dataclass(frozen=True)
class RenderPlan:
    """One render, validated once and then submitted as it is.

    It holds what the engine renders (the request and the resolved model), how the job is
    finished (its own recipe, where its files go, its library links) and who is told about it
    (the reply route). It travels beside the job, so a render never changes the shared session.
    """

    request: GenerationRequest
    model: str | None = None  # resolved: the caller's, else the preset's, else the session's
    priority: Priority = "batch"
    tag: str | None = None  # the engine job's tag (who submitted it, for logs and live parts)
    reply_to: ReplyRoute | None = None  # copied into every event of the job
    recipe: Any = None  # host.post.Recipe; None = the session finisher's current recipe
    out: Path | None = None  # a folder or a file name; None = the session's renders folder
    tags: tuple[str, ...] = ()
    variations: tuple[int, ...] | None = None  # which variations to keep (None = all)
    parent_id: int | None = None  # the library row this one re-renders
    # True: a live part's own render (a fresh pad's pool), used from the engine's result by the
    # part that asked: nothing is written (no file, sidecar or library row) and no session event
    # goes out (no OSC job messages, no history refresh). Writing and announcing 16 variations a
    # second competed with the refill renders for the CPU and the GIL, and filled the library.
    internal: bool = False

    def with_seed_clip(self, clip: SeedClip | None) -> RenderPlan:
        """The same plan with this seed clip (read once the plan says how long the render is)."""
        return replace(self, request=self.request.with_(seed_clip=clip))


class Session:
    """Owns current params and the seed clip; turns renders into saved files."""

    def __init__(
        self,
        engine: RenderEngine,
        *,
        renders_dir: Path,
        model: str | None = None,
        defaults: GenerationRequest | None = None,
        finish: Finisher | None = None,
        audio: HostAudio | None = None,
        presets: PresetStore | None = None,
        library: RenderLibrary | None = None,
    ):
        self.engine = engine
        self.renders_dir = Path(renders_dir).expanduser().resolve()
        self.renders_dir.mkdir(parents=True, exist_ok=True)
        self._params = defaults or GenerationRequest(length=1.0)
        self._model = model
        self._seed_clip: SeedClip | None = None
        self._preloading: set[Any] = set()
        self._lock = threading.Lock()
        self._plans: dict[int, RenderPlan] = {}  # job id -> its plan, until the job ends
        self._plans_lock = threading.Lock()
        self._fanout: Fanout[SessionEvent] = Fanout()
        self.renders: dict[int, list[SavedRender]] = {}  # job id -> saved files
        self._job_states: dict[int, str] = {}  # job id -> its last state (job_state)
        # Every render is finished (effects, finishing, export, sidecar) by a Finisher; one with the
        # default recipe when none is given (a bare session: tests, scripts).
        self._finish = finish if finish is not None else Finisher()
        self.audio = audio  # None when headless without an output device
        self.presets = presets
        self.library = library
        self.audio_problem = ""  # why there is no audio any more (the device went away), in plain words
        self._events = engine.subscribe()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="diffhost-finisher", daemon=True)
        self._thread.start()

    # -- parameters ---------------------------------------------------------------
    @property
    def params(self) -> GenerationRequest:
        return self._params

    @property
    def model(self) -> str | None:
        return self._model

    def get_param(self, name: str) -> Any:
        if name == "model":
            return self._model
        if name not in PARAM_NAMES:
            raise ValueError(f"param: unknown name {name!r}; valid are {', '.join(PARAM_NAMES)}")
        return getattr(self._params, name)

    def model_info(self, spec: Any = ...) -> ModelInfo | None:
        """The limits of a model (the session's by default) once the engine has loaded it; else None."""
        spec = self._model if spec is ... else spec
        info = self.engine.model_info(spec)
        if info is None and spec not in self._preloading:
            self._preloading.add(spec)  # once: the next check knows the limits
            self.engine.preload(spec)
        return info

    def set_param(self, name: str, value: Any) -> Any:
        """Validate and set one parameter; a bad value raises ValueError and changes nothing.

        Values are checked when they are set, against the loaded model's limits too (its lengths,
        whether it takes a prompt), so a later render cannot fail on them.
        """
        if name == "model":
            check_model_spec(value)
            self._model = str(value) if value not in (None, "") else None
            self._emit(SessionEvent("param", name=name, value=self._model))
            return self._model
        if name not in PARAM_NAMES:
            raise ValueError(f"param: unknown name {name!r}; valid are {', '.join(PARAM_NAMES)}")
        value = _coerce(name, value)
        check_for_model(name, value, self.model_info())
        with self._lock:
            self._params = self._params.with_(**_length_or_bars({name: value}))  # validates
        self._emit(SessionEvent("param", name=name, value=value))
        return value

    def update_params(self, **values: Any) -> None:
        """Set several parameters at once, all or nothing."""
        model = values.pop("model", self._model)
        for name in values:
            if name not in PARAM_NAMES:
                raise ValueError(f"param: unknown name {name!r}; valid are {', '.join(PARAM_NAMES)}")
        coerced = {k: _coerce(k, v) for k, v in values.items()}
        if model != self._model:
            check_model_spec(model)
        info = self.model_info(model)
        for k, v in coerced.items():
            check_for_model(k, v, info)
        with self._lock:
            self._params = self._params.with_(**_length_or_bars(coerced))
            self._model = model
        for k, v in coerced.items():
            self._emit(SessionEvent("param", name=k, value=v))

    # -- seed clip ----------------------------------------------------------------
    @property
    def seed_clip(self) -> SeedClip | None:
        return self._seed_clip

    def set_seed_clip(self, clip: SeedClip | None, note: str = "") -> None:
        """Set (or clear) the seed clip; `note` (e.g. how it was trimmed) travels with the event."""
        self._seed_clip = clip
        self._emit(SessionEvent("seed", value=None if clip is None else clip.duration_s, message=note))

    def load_seed(self, path: str | Path) -> SeedClip:
        """Load a seed clip from any common audio file (errors name the file; nothing changes)."""
        return self.load_seed_bounded(path).clip

    def load_seed_bounded(self, path: str | Path) -> BoundedClip:
        """Load a seed clip, at most as long as the session's model can render (SEED_MAX_S when
        the model is not loaded yet), read in blocks and resampled to the model's own rate on the
        way. Slow for long files: call it off the GUI, OSC and audio threads. `.note()` says
        whether it was trimmed."""
        info = self.model_info()
        max_s = min(SEED_MAX_S, info.max_length_s) if info is not None else SEED_MAX_S
        loaded = read_seed_file(
            Path(path), max_s=max_s, sample_rate=info.native_sample_rate if info is not None else None
        )
        self.set_seed_clip(loaded.clip, note=loaded.note())
        return loaded

    # -- rendering ----------------------------------------------------------------
    def build_request(self, *, preset: Any = None, **overrides: Any) -> GenerationRequest:
        """The session's params, then the preset's (a Preset or a name), then `overrides` on top.

        The one place a request is composed: the window, OSC, the CLI and re-renders all come here.
        Nothing in the session changes; a bad value raises ValueError naming it.
        """
        preset = self._preset(preset)
        changes = {k: v for k, v in (preset.params if preset else {}).items() if k != "model"}
        changes.update({k: v for k, v in overrides.items() if v is not None})
        changes = _length_or_bars({k: _coerce(k, v) for k, v in changes.items()})
        if self._seed_clip is not None and "seed_clip" not in changes:
            changes["seed_clip"] = self._seed_clip
        return self._params.with_(**changes) if changes else self._params

    def plan(
        self,
        *,
        priority: Priority = "batch",
        tag: str | None = None,
        reply_to: ReplyRoute | None = None,
        preset: Any = None,
        model: str | None = None,
        recipe: Any = None,
        out: Path | None = None,
        tags: tuple[str, ...] = (),
        **overrides: Any,
    ) -> RenderPlan:
        """Validate a render once: session params < preset (name or Preset) < overrides, checked
        against the model's limits. Returns the plan to `submit`; a bad value raises ValueError
        naming it, and nothing is queued or changed.

        A preset here applies to this render only (its params, model and recipe); the session's
        own params and finisher stay as they are.
        """
        # 1. The preset, by name or as given.
        preset = self._preset(preset)
        # 2. The request: the session's params with the preset's and the overrides on top.
        request = self.build_request(preset=preset, **overrides)
        # 3. The model and recipe: the caller's, else the preset's, else the session's.
        if preset is not None:
            model = model if model is not None else preset.params.get("model")
            recipe = recipe if recipe is not None else preset.recipe()
        model = model if model is not None else self._model
        # 4. What the model cannot render is refused now, not failed later on the engine thread.
        info = self.model_info(model)
        for name in ("length", "prompt", "negative_prompt", "guidance"):
            check_for_model(name, getattr(request, name), info)
        return RenderPlan(
            request=request,
            model=model,
            priority=priority,
            tag=tag,
            reply_to=reply_to,
            recipe=recipe,
            out=Path(out).expanduser() if out else None,
            tags=tuple(tags),
        )

    def render(self, **options: Any):
        """`plan` (with these arguments) and `submit` in one call, for a caller with nothing to do
        between the two. Returns the Job."""
        return self.submit(self.plan(**options))

    def render_exact(
        self,
        request: GenerationRequest,
        *,
        model: str | None,
        recipe: Any,
        out: Path,
        variations: tuple[int, ...] | None = None,
        priority: Priority = "batch",
        tag: str | None = None,
    ):
        """Render this exact request (nothing from the session's params or seed clip is mixed in)
        with this recipe into `out`: how a clip is made again from the recipe a DAW project kept."""
        return self.submit(
            RenderPlan(
                request=request,
                model=model,
                priority=priority,
                tag=tag,
                recipe=recipe,
                out=Path(out).expanduser(),
                variations=variations,
            )
        )

    def submit_internal(
        self, request: GenerationRequest, *, model: str | None, priority: Priority = "live", tag: str | None = None
    ):
        """Queue a render for a live part that takes its audio from the engine's own events (a fresh
        pad's pool): it is never saved and the session announces nothing about it."""
        return self.submit(RenderPlan(request=request, model=model, priority=priority, tag=tag, internal=True))

    def submit(self, plan: RenderPlan):
        """Queue a plan as it is (from `plan`, or built by a caller that checked it). Returns the Job;
        a full queue raises QueueFullError."""
        # Held across submit: a fast job's "done" must not reach the finisher before its plan does.
        with self._plans_lock:
            job = self.engine.submit(plan.request, model=plan.model, priority=plan.priority, tag=plan.tag)
            self._plans[job.id] = plan
        return job

    def _preset(self, preset: Any) -> Any:
        if preset is None or preset == "":
            return None
        return self._need("presets").load(preset) if isinstance(preset, str) else preset

    def cancel(self, job_id: int) -> int:
        """Cancel a job (-1: all); how many the engine cancelled (0 when none was left)."""
        return self.engine.cancel(job_id)

    def wait_for(
        self,
        submit: Callable[[], Any],
        *,
        timeout: float | None = None,
        on_progress: Callable[[SessionEvent], None] | None = None,
    ) -> tuple[Any, SessionEvent]:
        """Submit (e.g. `lambda: session.render(...)`) and block until that job is finished and saved.

        The one wait-for-a-job helper (CLI render, library re-render, benches). Subscribes before
        submitting, so a job that ends at once is still seen. Returns (job, terminal event).
        """
        events = self.subscribe()
        try:
            job = submit()
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    self.cancel(job.id)
                    raise TimeoutError(f"render: job {job.id} did not finish within {timeout:g} s")
                try:
                    ev = events.get(timeout=left)
                except queue.Empty:
                    continue
                if ev.job_id != job.id:
                    continue
                if ev.kind in ("accepted", "progress") and on_progress is not None:
                    on_progress(ev)
                elif ev.terminal:
                    return job, ev
        finally:
            self.unsubscribe(events)

    # -- presets (components from host.presets) ---------------------------------------------
    def list_presets(self) -> list[str]:
        return self._need("presets").names()

    def load_preset(self, name: str) -> Any:
        """Make a preset the session's: its generation params, and its effects/finishing/export for
        the finisher. All or nothing: the recipe is built (plugins loaded, files checked) first.
        (A single render with a preset: `render(preset=name)`, which changes nothing here.)
        """
        preset = self._need("presets").load(name)
        recipe = preset.recipe()
        self.update_params(**preset.params)
        self._finish.configure(recipe)
        self._emit(SessionEvent("message", name="preset", value=name))
        return preset

    # -- render library (component from host.library) -------------------------------------------
    def rerender(
        self, render_id: int, *, priority: Priority = "batch", out: Path | None = None, tag: str | None = None
    ):
        """Render a library row again, bit-identically: its own params, model and recipe, into its
        own folder (or `out`), recorded as a child row. Returns the Job."""
        library = self._need("library")
        row = library.get(render_id)
        return self.submit(
            RenderPlan(
                request=library.request_of(row),
                model=library.model_spec(row),
                priority=priority,
                tag=tag,
                recipe=library.recipe_of(row),
                out=Path(out).expanduser() if out else row.path.parent,
                variations=(row.variation,),
                parent_id=row.id,
            )
        )

    # -- live audio (component from host.audio) -----------------------------------------------
    def record_seed(self, seconds: float) -> SeedClip:
        """Record from the input device into the current seed clip (blocks for `seconds`)."""
        audio, sr = self._need("audio").record(seconds)
        clip = SeedClip(audio, sr)
        self.set_seed_clip(clip)
        return clip

    # Slots are numbered 1..N. State changes (playing, ready again when a clip ends) are pushed by
    # the audio's event thread as "slot" events; assign adds one carrying the clip's name.
    @property
    def audio(self) -> HostAudio | None:
        return self._audio

    @audio.setter
    def audio(self, audio: HostAudio | None) -> None:
        old = getattr(self, "_audio", None)  # None the first time, from __init__
        if old is not None:
            old.remove_slot_listener(self._on_slot_state)
        self._audio = audio
        if audio is not None:
            audio.add_slot_listener(self._on_slot_state)

    def _on_slot_state(self, slot: int, state: str) -> None:
        self._emit(SessionEvent("slot", name=str(slot), value=state))

    def assign_slot(self, slot: int, job_id: int | None = None, path: Path | None = None) -> str:
        """Put a finished render (by job id) or a file into slot 1..N: at most MAX_PAD_S seconds of
        it, read in blocks at the stream's rate. Returns "" or how the clip was trimmed. Slow for
        long files: front ends call it off their UI, OSC and MIDI threads."""
        from diffhost.host.live.padclip import read_pad_clip

        if path is None:
            saved = self.renders.get(int(job_id)) if job_id is not None else None
            if not saved:
                raise ValueError(f"job: {job_id} has no finished render to assign")
            path = saved[0].path
        audio = self._need("audio")
        audio.slot_state(int(slot))  # a bad slot number is refused before the file is read
        data, rate, note = read_pad_clip(Path(path), audio.sample_rate)
        audio.assign(int(slot), data, rate, path=Path(path))
        self._emit(
            SessionEvent("slot", name=str(slot), value=audio.slot_state(int(slot)), message=Path(path).stem)
        )
        return note

    def job_state(self, job_id: int) -> str | None:
        """What became of a job this session saw: queued, running, saving, done, cancelled or
        error; None for an id it never saw (or one long forgotten)."""
        return self._job_states.get(int(job_id))

    def _note_job(self, job_id: int, state: str) -> None:
        self._job_states[job_id] = state
        while len(self._job_states) > KEPT_JOBS:  # bounded like `renders`
            self._job_states.pop(next(iter(self._job_states)))

    def play_slot(self, slot: int, gain: float = 1.0) -> None:
        self._need("audio").trigger(int(slot), gain=float(gain))

    def stop_slot(self, slot: int) -> None:
        self._need("audio").stop_slot(int(slot))

    def set_tempo(self, bpm: float) -> None:
        self._need("audio").set_tempo(float(bpm))
        self._emit(SessionEvent("param", name="tempo", value=float(bpm)))

    def set_quantize(self, beats: float) -> None:
        self._need("audio").set_quantize(float(beats))
        self._emit(SessionEvent("param", name="quantize", value=float(beats)))

    def tap_processed(self, tap: Tap, *, remove: bool = False) -> None:
        """Have `tap(processed)` told each render's processed audio before its files are written
        (host.render.finisher.Processed, Finisher.add_tap), or no longer with remove=True."""
        if remove:
            self._finish.remove_tap(tap)
        else:
            self._finish.add_tap(tap)

    # -- effects chain (the finisher from host.render.finisher) ------------------------------------
    @property
    def recipe(self) -> Recipe:
        """The recipe (effects, finishing, export, preset) later renders are finished with."""
        return self._finish.recipe

    def set_effects(self, chain: list[dict[str, Any]]) -> None:
        """Replace the effects chain renders are finished with; validated first, so a bad chain
        (unknown effect, out-of-range value, missing plug-in) raises ValueError and changes nothing."""
        from diffhost.host.render.post import Recipe

        self._finish.configure(Recipe.from_dict({**self._finish.recipe.to_dict(), "effects": list(chain)}))
        self._emit(SessionEvent("message", name="effects", value=len(chain)))

    def set_finishing(self, finishing: dict[str, Any]) -> None:
        """Replace the finishing steps (host.finishing); validated first, a bad value changes nothing."""
        self._set_recipe_part("finishing", dict(finishing))
        self._emit(SessionEvent("message", name="finishing", value=None))

    def set_export(self, export: dict[str, Any] | str) -> None:
        """Replace the file format renders (and kept re-processes) are written in (host.export)."""
        self._set_recipe_part("export", export)
        self._emit(SessionEvent("message", name="export", value=None))

    def clear_preset(self) -> None:
        """"No preset": the default recipe (no effects, default finishing and export, no preset name
        or tags) for later renders. Generation params stay as the user set them."""
        from diffhost.host.render.post import Recipe

        self._finish.configure(Recipe())
        self._emit(SessionEvent("message", name="preset", value=None))

    def _set_recipe_part(self, key: str, value: Any) -> None:
        from diffhost.host.render.post import Recipe

        self._finish.configure(Recipe.from_dict({**self._finish.recipe.to_dict(), key: value}))

    def load_model_info(self, model: str | None = None) -> Any:
        """The ModelInfo (length range, features) of `model` (default: the session's), loading it on
        the engine's thread if needed: blocks, so front ends call it off their UI thread.
        (`model_info` answers at once, None while the model is not loaded yet.)"""
        return self.engine.load(model if model is not None else self._model).info

    # -- non-destructive post (host.reprocess) ---------------------------------------------------
    def reprocess(self, render: Any, recipe: Any = None) -> Any:
        """Re-process a render (a processed file's path, a library row or id, or a loaded
        host.reprocess.DrySource) from its dry audio with `recipe` (default: the session's current
        one). In memory, no engine job; returns host.reprocess.Reprocessed. Slow for long audio:
        never call it on the OSC, MIDI or audio threads."""
        from diffhost.host.render import reprocess as rp

        source = render if isinstance(render, rp.DrySource) else rp.load_source(render, self.library)
        return rp.reprocess(source, recipe if recipe is not None else self._finish.recipe)

    def keep_reprocessed(self, reprocessed: Any, *, replace: bool = False) -> SavedRender:
        """Write a re-processed render as a new version (default) or in place of the processed file
        (the old one goes to the trash); the dry audio is never touched."""
        from diffhost.host.render import reprocess as rp

        return rp.keep(reprocessed, self.library, replace=replace)

    def _need(self, component: str) -> Any:
        obj = getattr(self, component)
        if obj is None and component == "audio" and self.audio_problem:
            raise ValueError(f"audio: {self.audio_problem}")
        if obj is None:
            what = {
                "audio": "no audio device is open",
                "presets": "no preset store",
                "library": "no render library",
            }
            raise ValueError(f"{component}: {what[component]} in this session")
        return obj

    # -- events -------------------------------------------------------------------
    def subscribe(self, maxsize: int = 1024) -> queue.Queue[SessionEvent]:
        return self._fanout.subscribe(maxsize)

    def unsubscribe(self, q: queue.Queue[SessionEvent]) -> None:
        self._fanout.unsubscribe(q)

    def publish(self, event: SessionEvent) -> None:
        """Announce an event from a live part (tempo sync, MIDI learn) to every subscriber."""
        self._emit(event)

    def close(self, timeout: float = 5.0) -> None:
        """Stop finishing: the file being written is completed, later variations are not started."""
        self._stop.set()
        self._thread.join(timeout=timeout)
        self.engine.unsubscribe(self._events)

    def _pump(self) -> None:
        while not self._stop.is_set():
            try:
                ev = self._events.get(timeout=0.1)
            except queue.Empty:
                continue
            tag = ev.job.tag
            self._note_job(ev.job_id, _JOB_STATES.get(ev.kind, ev.kind))
            with self._plans_lock:  # a job submitted to the engine directly has no plan
                plan = self._plans.get(ev.job_id) if not ev.terminal else self._plans.pop(ev.job_id, None)
            if plan is not None and plan.internal:
                if ev.terminal:
                    self._note_job(ev.job_id, ev.kind)  # nothing to write: done is done
                continue
            route = plan.reply_to if plan is not None else None
            if not ev.terminal:
                self._emit(
                    SessionEvent(
                        ev.kind, ev.job_id, progress=ev.progress, message=ev.message, tag=tag,
                        reply_to=route, eta_s=ev.eta_s,
                    )
                )
                continue
            if ev.kind != "done" or ev.result is None:
                self._emit(
                    SessionEvent(ev.kind, ev.job_id, progress=ev.progress, message=ev.message, tag=tag, reply_to=route)
                )
                continue
            try:
                saved = self._save(ev.result, ev.job, plan)
            except Exception as exc:  # disk full, bad effect chain: the job fails with a reason
                folder = (plan.out if plan is not None and plan.out else None) or self.renders_dir
                folder = folder if folder.suffix == "" else folder.parent
                why = (
                    describe_write_error(exc, folder)
                    if isinstance(exc, (OSError, RuntimeError))
                    else str(exc)
                )
                self._note_job(ev.job_id, "error")
                self._emit(
                    SessionEvent("error", ev.job_id, message=f"saving failed: {why}", tag=tag, reply_to=route)
                )
                continue
            self._note_job(ev.job_id, "done")
            self.renders[ev.job_id] = list(saved)
            while len(self.renders) > KEPT_JOBS:  # a server runs for days: forget the oldest
                self.renders.pop(next(iter(self.renders)))
            self._emit(
                SessionEvent(
                    "done",
                    ev.job_id,
                    progress=1.0,
                    paths=tuple(s.path for s in saved),
                    length_s=saved[0].length_s if saved else 0.0,
                    sample_rate=saved[0].sample_rate if saved else 0,
                    tag=tag,
                    reply_to=route,
                    value=ev.result.seed,
                    render_ids=tuple(s.render_id for s in saved if s.render_id is not None),
                    result=ev.result,
                )
            )

    def _save(self, result: Any, job: Job, plan: RenderPlan | None) -> list[SavedRender]:
        return self._finish.finish(
            result,
            (plan.out if plan is not None else None) or self.renders_dir,
            plan.recipe if plan is not None else None,
            variations=plan.variations if plan is not None else None,
            parent_id=plan.parent_id if plan is not None else None,
            tags=plan.tags if plan is not None else (),
            progress=self._saving_progress(job, plan.reply_to if plan is not None else None),
            stop=self._stop,
            job=(job.id, job.tag),
        )

    def _saving_progress(self, job: Job, route: ReplyRoute | None) -> Callable[[int, int], None]:
        """The saving stage after the engine's 100 %: "saving 3/64" as files are written."""
        tag = job.tag

        def report(done: int, total: int) -> None:
            fraction = done / max(total, 1)
            self._emit(
                SessionEvent(
                    "message", job.id, progress=fraction, name="saving", value=(done, total), tag=tag, reply_to=route
                )
            )

        return report

    def _emit(self, event: SessionEvent) -> None:
        self._fanout.publish(event, droppable=event.kind == "progress")


def _length_or_bars(changes: dict[str, Any]) -> dict[str, Any]:
    """A length in seconds replaces a length in bars: bars win over seconds in a request, so a new
    length given without bars clears them (and bars given set the length themselves)."""
    if "length" in changes and "bars" not in changes:
        return {**changes, "bars": None}
    return changes


def _coerce(name: str, value: Any) -> Any:
    """Loose front-end values (OSC ints for floats, GUI strings) to the field's type."""
    floats = {"length", "temperature", "guidance", "strength", "bpm", "bars"}
    ints = {"sample_rate", "steps", "seed", "variations", "mix"}
    if name in ("stems", "midi"):
        if value in (None, "", 0, 0.0, False, "0", "false", "off"):
            return False
        if value in (1, 1.0, True, "1", "true", "on"):
            return True
        raise ValueError(f"{name}: expected on or off (1 or 0), got {value!r}")
    if name in ("bpm", "key", "bars") and (value is None or value == "" or value == 0):
        return None  # cleared: the tempo or key comes from the prompt, else the model chooses
    if name in ("prompt", "negative_prompt") and isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
        raise ValueError(
            f"{name}: {len(value)} characters is too long; valid is up to {MAX_TEXT_CHARS} characters"
        )
    if value is None or name in {"prompt", "negative_prompt", "seed_clip"}:
        return value if value != "" else None
    if name in ints:
        return _whole(name, value)
    if name in floats:
        try:
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: expected a number, got {value!r}") from None
    return value


def _whole(name: str, value: Any) -> int:
    """An int exactly as given: never through float(), so a 64-bit seed keeps every digit."""
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a whole number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{name}: expected a whole number, got {value!r}") from None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        exact = int(value)
        if exact == value:
            return exact
    except (TypeError, ValueError, OverflowError):
        pass
    raise ValueError(f"{name}: expected a whole number, got {value!r}")


def check_model_spec(spec: Any) -> None:
    """A model spec must be the default, a diffusers pipeline folder, or a hub id ('org/name').

    Checked when it is set, so a render never fails later on a folder that is not a model.
    """
    if spec in DEFAULT_NAMES:
        return
    text = str(spec).strip()
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"model: {text!r} is a file; give a model folder (one holding model_index.json)")
        try:
            pipeline_class_name(path)
        except ValueError as exc:  # ModelLoadError is a ValueError
            raise ValueError(
                f"model: {path} is not a model folder ({exc}); valid is 'default', a diffusers "
                "pipeline folder, or a Hugging Face id 'org/name'"
            ) from None
        return
    parts = text.split("/")
    if not (len(parts) == 2 and all(parts) and not text.startswith((".", "/", "~"))):
        raise ValueError(
            f"model: {text!r} is neither a folder nor a Hugging Face id; valid is 'default', a "
            "diffusers pipeline folder, or an id of the form 'org/name'"
        )


def check_for_model(name: str, value: Any, info: ModelInfo | None) -> None:
    """A value the loaded model cannot take raises ValueError naming its valid range (None: unknown)."""
    if info is None or value is None:
        return
    who = f"model {info.name} ({info.family})"  # worded as Model.check words it at render time
    if name == "length" and not info.min_length_s <= float(value) <= info.max_length_s:
        raise ValueError(
            f"length: {float(value)} s is out of range for {who}; "
            f"valid is {info.min_length_s:g}..{info.max_length_s:g} s"
        )
    if name == "prompt" and value and not info.supports_prompt:
        raise ValueError(f'prompt: {who} is unconditional and takes no prompt; valid is ""')
    if name == "negative_prompt" and value and not info.supports_negative_prompt:
        raise ValueError(f'negative_prompt: {who} takes no negative prompt; valid is ""')
    if name == "guidance" and not info.supports_guidance:
        raise ValueError(f"guidance: {who} has no guidance; valid is -1 (the model's default)")
