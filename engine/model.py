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
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from diffhost.engine.audio import conform, load_seed_clip
from diffhost.engine.errors import Cancelled, UnsupportedRequestError
from diffhost.engine.request import GenerationRequest, GenerationResult, ModelInfo, SeedClip

ProgressFn = Callable[[float], None]


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


class StepMonitor:
    """Called once per denoising step: reports progress and raises Cancelled when asked."""

    def __init__(self, total: int, progress: ProgressFn | None, cancel: CancelFlag | None):
        self.total = max(1, int(total))
        self.done = 0
        self._progress = progress
        self._cancel = cancel

    def check(self) -> None:
        if self._cancel is not None and self._cancel.is_set():
            raise Cancelled()

    def step(self) -> None:
        self.check()
        self.done = min(self.done + 1, self.total)
        if self._progress is not None:
            self._progress(self.done / self.total)

    def finish(self) -> None:
        if self._progress is not None and self.done < self.total:
            self.done = self.total
            self._progress(1.0)


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
        )
        audio = self.render(request, progress=progress, cancel=cancel).audio
        return audio[0] if variations == 1 else audio

    def render(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelFlag | None = None,
    ) -> GenerationResult:
        """Validate, render at the native rate, conform to the requested rate and length."""
        self.check(request)
        seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
        steps = request.steps if request.steps is not None else self.info.default_steps
        guidance = request.guidance if request.guidance is not None else self.info.default_guidance
        monitor = StepMonitor(steps, progress, cancel)
        monitor.check()
        t0 = time.perf_counter()
        native = self._render(request, seed=seed, steps=steps, guidance=guidance, monitor=monitor)
        extra: dict[str, Any] = {}
        if isinstance(native, tuple):  # (audio, what the model decided: tempo, key, bars, ...)
            native, extra = native
        native = np.asarray(native, dtype=np.float32)
        if native.ndim == 2:
            native = native[None]
        # A model may hand back audio already at another rate (the default model resamples its loops
        # circularly so the seam survives); it says so in extra.
        native_sr = int(extra.pop("native_sample_rate", self.info.native_sample_rate))
        audio = conform(native, native_sr, request.sample_rate, request.num_samples)
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
        if not info.min_length_s <= request.length <= info.max_length_s:
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
