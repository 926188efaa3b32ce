"""The Model interface every family adapter (and the embedded default) implements.

`Model.generate` is the plain-Python entry point; `Model.render` is what the
engine worker calls. Both validate the request up front against what the model
supports and return audio at exactly the requested rate and length.
"""

from __future__ import annotations

import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from diffhost.engine.audio import conform, load_seed_clip
from diffhost.engine.errors import Cancelled, UnsupportedRequestError
from diffhost.engine.quiet import warnings_to_log
from diffhost.engine.request import GenerationRequest, GenerationResult, ModelInfo, SeedClip
from diffhost.engine.timing import StepTime, lookup, record, timing_key

ProgressFn = Callable[[float], None]


@dataclass(frozen=True)
class Progress:
    """One denoising step done: how far, and how long until the render ends."""

    fraction: float
    done: int
    total: int
    eta_s: float | None  # seconds left, from this render's and this machine's measured step times


ProgressEventFn = Callable[[Progress], None]


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


class StepMonitor:
    """Called once per denoising step: reports progress (with an ETA), raises Cancelled when asked."""

    def __init__(
        self,
        total: int,
        progress: ProgressFn | None,
        cancel: CancelFlag | None,
        on_progress: ProgressEventFn | None = None,
        prior: StepTime | None = None,
        variations: int = 1,
    ):
        self.total = max(1, int(total))
        self.done = 0
        self._progress = progress
        self._on_progress = on_progress
        self._cancel = cancel
        self._prior = prior
        self._variations = max(1, variations)
        self.started = time.perf_counter()
        self._last = self.started
        self.step_times: list[float] = []  # seconds between consecutive steps (the first includes setup)

    def check(self) -> None:
        if self._cancel is not None and self._cancel.is_set():
            raise Cancelled()

    def step(self) -> None:
        self.check()
        now = time.perf_counter()
        self.step_times.append(now - self._last)
        self._last = now
        self.done = min(self.done + 1, self.total)
        if self._progress is not None:
            self._progress(self.done / self.total)
        if self._on_progress is not None:
            self._on_progress(Progress(self.done / self.total, self.done, self.total, self.eta_s()))

    def step_s(self) -> float | None:
        """This render's step time so far: the median of its steps (the first one carries the setup)."""
        times = self.step_times[1:] or self.step_times
        if not times:
            return self._prior.step_s if self._prior is not None else None
        measured = float(np.median(times))
        if self._prior is not None and len(times) < 3:  # one or two steps are noisy: lean on the history
            return 0.5 * (measured + self._prior.step_s)
        return measured

    def eta_s(self) -> float | None:
        step = self.step_s()
        if step is None:
            return None
        left = (self.total - self.done) * step
        if self._prior is not None:  # decoding etc. of the variations not finished yet
            per_variation = self.total / self._variations
            unfinished = self._variations - int(self.done // per_variation) if per_variation else 0
            left += max(0, unfinished) * self._prior.other_s
        return max(0.0, left)

    def finish(self) -> None:
        """The render ended with fewer steps than planned (e.g. a seed clip's shortened schedule): say 1.0."""
        if self.done >= self.total:
            return
        self.done = self.total
        if self._progress is not None:
            self._progress(1.0)
        if self._on_progress is not None:
            self._on_progress(Progress(1.0, self.total, self.total, 0.0))


class Model(ABC):
    """A loaded generative audio model. Subclasses implement `_render` at the native rate."""

    info: ModelInfo

    def generate(
        self,
        input: str | SeedClip | Path | tuple[Any, ...] | None = None,
        *,
        sample_rate: int = 44100,
        length: float = 10.0,
        temperature: float = 1.0,
        steps: int | None = None,
        guidance: float | None = None,
        negative_prompt: str | None = None,
        seed: int | None = None,
        strength: float = 0.6,
        variations: int = 1,
        bpm: float | None = None,
        key: str | None = None,
        bars: float | None = None,
        stems: bool = False,
        midi: bool = False,
        progress: ProgressFn | None = None,
        cancel: CancelFlag | None = None,
    ) -> np.ndarray:
        """Generate audio; float32 (channels, samples), or (variations, channels, samples) if variations > 1.

        input: a prompt, a seed clip (path in any common format, (array, sample_rate),
        or SeedClip), or a (prompt, seed clip) pair. The result is exactly `length`
        seconds at exactly `sample_rate` (resampled from the model's native rate with
        soxr VHQ); seed clips of any rate and channel count are converted to the
        model's own the same way.

        temperature: scale of the initial noise. 1.0 is the model's own sampling; lower
        is tamer (0 = the same output for every seed with deterministic samplers),
        higher is wilder. With a seed clip it scales the noise added to the clip.
        seed: the same request with the same seed on the same device is bit-identical;
        None draws one (GenerationResult.seed reports it). Variation v uses seed + v.
        strength (0..1, only with a seed clip): how far the clip is re-imagined. The
        clip is encoded into the model's space, noised to the level the schedule has
        after (1 - strength) of its steps, and the remaining round(steps * strength)
        steps (at least one) are denoised: low keeps the clip, 1 is almost a fresh render.
        steps / guidance: None = the model's defaults (ModelInfo.default_steps/_guidance).
        bpm / key (e.g. 124, "A minor"): tempo and key for models that make loops and phrases
        (the default model also reads them from the prompt: "at 90 bpm", "in F# minor");
        models without a sense of tempo ignore them.
        bars: the length in bars of 4/4 instead of seconds: exactly round(bars x 240 / bpm x
        sample_rate) samples. Without a bpm, models that choose their tempo (the default model)
        pick a whole-number one; others need the bpm.
        stems / midi: models that render a score (the default model) also put each part's audio
        (GenerationResult.extra["stems"]) and the notes of the score (extra["score_notes"]; the host's
        diffhost.host.render.midifile.result_midi makes them a Standard MIDI File) in the result;
        use Model.render to get them. Other models refuse them, saying so.
        progress(fraction) is called once per denoising step; cancel.is_set() is checked
        at every step and raises engine.errors.Cancelled.
        Unsupported requests (e.g. a prompt for an unconditional model, a length past
        the model's maximum) raise UnsupportedRequestError (a ValueError) naming the
        feature, the value and the model.
        """
        prompt, clip = split_input(input)
        request = GenerationRequest(
            prompt=prompt,
            seed_clip=clip,
            sample_rate=sample_rate,
            length=length,
            temperature=temperature,
            steps=steps,
            guidance=guidance,
            negative_prompt=negative_prompt,
            seed=seed,
            strength=strength,
            variations=variations,
            bpm=bpm,
            key=key,
            bars=bars,
            stems=stems,
            midi=midi,
        )
        audio = self.render(request, progress=progress, cancel=cancel).audio
        return audio[0] if variations == 1 else audio

    def render(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelFlag | None = None,
        on_progress: ProgressEventFn | None = None,
    ) -> GenerationResult:
        """Validate, render at the native rate, conform to the requested rate and length.

        progress(fraction) and on_progress(Progress) are both called once per denoising step;
        Progress also carries the seconds left (eta_s) from this machine's measured step time.
        """
        self.check(request)
        seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
        steps = request.steps if request.steps is not None else self.info.default_steps
        guidance = request.guidance if request.guidance is not None else self.info.default_guidance
        key = self._timing_key(guidance)
        window = self.window_s(request)
        monitor = StepMonitor(
            steps, progress, cancel, on_progress, prior=lookup(key, window), variations=request.variations
        )
        monitor.check()
        t0 = time.perf_counter()
        with warnings_to_log():  # third-party warnings go to the log, not the musician's terminal
            native = self._render(request, seed=seed, steps=steps, guidance=guidance, monitor=monitor)
        self._record_timing(key, window, monitor, time.perf_counter() - t0, request.variations)
        extra: dict[str, Any] = {}
        if isinstance(native, tuple):  # (audio, what the model decided: tempo, key, bars, ...)
            native, extra = native
        native = np.asarray(native, dtype=np.float32)
        if native.ndim == 2:
            native = native[None]
        # A model may hand back audio already at another rate (the default model resamples its loops
        # circularly so the seam survives); it says so in extra.
        native_sr = int(extra.pop("native_sample_rate", self.info.native_sample_rate))
        # A model that chose its length (whole bars at the tempo it picked) says how many samples.
        num_samples = int(extra.pop("num_samples", request.num_samples))
        audio = conform(native, native_sr, request.sample_rate, num_samples)
        monitor.finish()
        return GenerationResult(
            audio=audio.astype(np.float32, copy=False),
            sample_rate=request.sample_rate,
            request=request,
            seed=seed,
            model=self.info,
            steps=steps,
            guidance=guidance,
            render_s=time.perf_counter() - t0,
            extra=dict(extra),
        )

    # -- how long it takes ----------------------------------------------------------------
    def window_s(self, request: GenerationRequest) -> float:
        """Seconds of audio the model actually denoises for this request (what its cost follows)."""
        return float(request.length)

    def planned_steps(self, request: GenerationRequest, steps: int) -> int:
        """Denoising steps the whole request runs (all variations)."""
        return steps

    def estimate_s(self, request: GenerationRequest) -> float | None:
        """Seconds this request will take here, from this machine's earlier renders of this model;
        None until it has rendered once (then every progress event carries an ETA)."""
        steps = request.steps if request.steps is not None else self.info.default_steps
        guidance = request.guidance if request.guidance is not None else self.info.default_guidance
        known = lookup(self._timing_key(guidance), self.window_s(request))
        if known is None:
            return None
        return self.planned_steps(request, steps) * known.step_s + request.variations * known.other_s

    def _timing_key(self, guidance: float | None) -> str:
        info = self.info
        guided = info.supports_guidance and guidance is not None and guidance > 1.0
        return timing_key(info.family, info.revision, info.device, info.dtype, guided)

    def _record_timing(
        self, key: str, window: float, monitor: StepMonitor, total_s: float, variations: int
    ) -> None:
        times = monitor.step_times[1:] or monitor.step_times
        if not times:
            return
        step = float(np.median(times))
        other = max(0.0, total_s - step * len(monitor.step_times)) / max(1, variations)
        record(key, StepTime(window, step, other), total_s=total_s)

    def check(self, request: GenerationRequest) -> None:
        """Raise UnsupportedRequestError naming the feature, the value and the model."""
        info = self.info
        who = f"model {info.name} ({info.family})"
        if request.prompt and not info.supports_prompt:
            raise UnsupportedRequestError(
                f"prompt: {who} is unconditional and takes no prompt (got {request.prompt!r})"
            )
        if info.requires_prompt and not request.prompt:
            raise UnsupportedRequestError(f"prompt: {who} needs a text prompt")
        if request.negative_prompt and not info.supports_negative_prompt:
            raise UnsupportedRequestError(
                f"negative_prompt: {who} does not support negative prompts (got {request.negative_prompt!r})"
            )
        if request.seed_clip is not None and not info.supports_seed_clip:
            raise UnsupportedRequestError(f"seed_clip: {who} cannot start from seed audio")
        if info.requires_seed_clip and request.seed_clip is None:
            raise UnsupportedRequestError(f"seed_clip: {who} needs a seed clip to work from")
        if request.guidance is not None and not info.supports_guidance:
            raise UnsupportedRequestError(
                f"guidance: {who} has no classifier-free guidance (got {request.guidance})"
            )
        if request.bars is not None and request.bpm is None and not info.makes_music:
            raise UnsupportedRequestError(
                f"bars: {who} has no sense of tempo; give a bpm with bars={request.bars:g} "
                "(e.g. bpm=120), or a length in seconds"
            )
        if request.mix is not None and request.mix not in info.mix_versions:
            valid = ", ".join(str(v) for v in info.mix_versions)
            raise UnsupportedRequestError(
                f"mix: {who} has no mix {request.mix}; "
                + (f"valid are {valid}" if valid else "it has no mix versions to choose from")
            )
        for flag in ("stems", "midi"):
            if getattr(request, flag) and not info.makes_music:
                raise UnsupportedRequestError(
                    f"{flag}: {who} renders audio, not a score: it has no stems or MIDI to give "
                    "(the embedded default model has both)"
                )
        free_bars = request.bars is not None and request.bpm is None  # the model checks its own length
        if (
            request.bars is not None
            and not free_bars
            and not info.min_length_s <= request.length <= info.max_length_s
        ):
            raise UnsupportedRequestError(
                f"bars: {request.bars:g} bars at {request.bpm:g} bpm last {request.length:.2f} s, out of "
                f"range for {who}; valid is {info.min_length_s:g}..{info.max_length_s:g} s"
            )
        if not free_bars and not info.min_length_s <= request.length <= info.max_length_s:
            raise UnsupportedRequestError(
                f"length: {request.length} s is out of range for {who}; "
                f"valid is {info.min_length_s:g}..{info.max_length_s:g} s"
            )

    @abstractmethod
    def _render(
        self,
        request: GenerationRequest,
        *,
        seed: int,
        steps: int,
        guidance: float | None,
        monitor: StepMonitor,
    ) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
        """Render (variations, channels, samples) float audio at info.native_sample_rate.

        May return more or fewer samples than asked; render() conforms the length.
        May return (audio, extra): extra lands in GenerationResult.extra (e.g. the default
        model's {"music": [per-variation tempo, key, bars, loop, bank hash]}).
        Must call monitor.step() once per denoising step.
        """


def split_input(input: Any) -> tuple[str | None, SeedClip | None]:
    """Accept a prompt, a seed clip source, or a (prompt, clip) pair in either order."""
    if input is None:
        return None, None
    if isinstance(input, str):
        # A string that names an existing audio file is a seed clip; anything else is a prompt.
        p = Path(input).expanduser()
        if p.suffix and p.is_file():
            return None, load_seed_clip(p)
        return input, None
    if isinstance(input, (SeedClip, Path)):
        return None, load_seed_clip(input)
    if isinstance(input, tuple) and len(input) == 2:
        a, b = input
        if isinstance(a, str) and not isinstance(b, (int, np.integer)):
            return a, load_seed_clip(b)
        if isinstance(b, str) and not isinstance(a, np.ndarray):
            return b, load_seed_clip(a)
        return None, load_seed_clip(input)  # (array, sample_rate)
    if isinstance(input, dict):
        clip = input.get("seed_clip") or input.get("audio")
        return input.get("prompt"), load_seed_clip(clip) if clip is not None else None
    raise ValueError(
        "input: expected a prompt, a seed clip (path, (array, sample_rate) or SeedClip) "
        f"or a (prompt, seed clip) pair, got {type(input).__name__}"
    )
