"""What every diffusers family adapter shares: safe loading, seeding, temperature, strength, progress.

An adapter is a `Model` around one diffusers pipeline. It calls the pipeline's own
`__call__` and steers it through three small, temporary hooks on the pipeline
instance (installed for one render, always removed afterwards):

- `scheduler.step` is wrapped to call `StepMonitor.step()` after every denoising
  step: progress and cancel work for every family, callback or not.
- the pipeline's initial latents (its own seeded `prepare_latents`, or the first
  sample its loop denoises) are replaced by `initial_latents(...)`: the seeded
  noise times `temperature`, or a seed clip's encoding noised to the level that
  `strength` asks for.
- `scheduler.set_timesteps` is wrapped, when a seed clip is given, to keep only
  the last `strength` fraction of the schedule (img2img-style), so the denoiser
  starts from the noised clip instead of pure noise.

Semantics shared by all families (see `Model.generate`):
- seed: one `torch.Generator` per variation, seeded with `seed + variation`, on
  the model's device; the same request on the same device gives bit-identical audio.
- temperature: scale of the initial noise. 1.0 is the model's own sampling; lower
  is tamer (closer to the model's mean output / to the seed clip), higher is wilder.
- strength (0..1, with a seed clip): the clip is converted to the model's rate and
  channels (soxr VHQ), encoded (VAE, mel + VAE, or raw waveform per family), noised
  to the schedule's level at `1 - strength` of the way through, and only the
  remaining `round(steps * strength)` steps (at least one) are denoised.
  0 keeps the clip nearly intact, 1 starts from (almost) pure noise.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from diffhost.engine.audio import fit_length, resample, set_channels
from diffhost.engine.errors import ModelLoadError
from diffhost.engine.identity import weights_hash
from diffhost.engine.model import Model, StepMonitor
from diffhost.engine.request import GenerationRequest, ModelInfo

# Weight files that are pickles: never loaded.
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


@dataclass
class StrengthPlan:
    """Where a seed-clip render enters the schedule; filled in when the pipeline sets its timesteps."""

    strength: float
    clip: torch.Tensor  # (1, channels, samples) at the native rate, on the model's device
    t_start: int | None = None  # index into the full schedule where denoising starts
    t0: torch.Tensor | None = None  # the timestep at t_start
    full: torch.Tensor | None = None  # the whole schedule, handed back to the scheduler once the loop starts

    def keep(self, steps: int) -> int:
        """Denoising steps run for this strength: round(steps * strength), at least one."""
        return max(1, min(steps, int(round(steps * self.strength))))


class DiffusersModel(Model):
    """Base for adapters. Subclasses set the class attributes and implement `describe` and `_call`."""

    pipeline_class: ClassVar[str]  # the diffusers class named in model_index.json
    latent_hook: ClassVar[str] = "prepare_latents"  # or "first_sample" (pipelines without prepare_latents)

    def __init__(self, pipe: Any, info: ModelInfo):
        self.pipe = pipe
        self.info = info
        self.device = torch.device(info.device)

    # -- loading ---------------------------------------------------------------------
    @classmethod
    def from_folder(
        cls,
        folder: Path,
        *,
        name: str,
        revision: str | None,
        device: torch.device,
        dtype: torch.dtype,
    ) -> DiffusersModel:
        """Load a diffusers pipeline folder (safetensors only) onto device/dtype."""
        folder = Path(folder)
        check_safetensors_only(folder, name)
        import diffusers

        pipe_cls = getattr(diffusers, cls.pipeline_class)
        try:
            with quiet_loading():
                pipe = pipe_cls.from_pretrained(folder, dtype=dtype, use_safetensors=True)
        except Exception as exc:  # diffusers/transformers say what is missing or malformed
            raise ModelLoadError(f"model {name}: cannot load {cls.pipeline_class} ({exc})") from None
        cls.adapt_pipeline(pipe)
        pipe = pipe.to(device)
        pipe.set_progress_bar_config(disable=True)
        info = cls.describe(
            pipe,
            name=name,
            revision=revision or weights_hash(folder),
            device=str(device),
            dtype=str(dtype).removeprefix("torch."),
        )
        return cls(pipe, info)

    @classmethod
    def adapt_pipeline(cls, pipe: Any) -> None:
        """Fix known mismatches between published checkpoints and the installed diffusers (default: none)."""

    @classmethod
    def describe(cls, pipe: Any, **common: Any) -> ModelInfo:
        """Native rate, channels, length limits, defaults and features, read from the pipeline's configs."""
        raise NotImplementedError

    # -- rendering -------------------------------------------------------------------
    def steps_run(self, request: GenerationRequest, steps: int) -> int:
        """Denoising steps one variation runs (fewer than `steps` for an img2img-style seed clip)."""
        if request.seed_clip is not None:
            return StrengthPlan(request.strength, torch.empty(0)).keep(steps)
        return steps

    def planned_steps(self, request: GenerationRequest, steps: int) -> int:
        return self.steps_run(request, steps) * request.variations

    def _render(
        self,
        request: GenerationRequest,
        *,
        seed: int,
        steps: int,
        guidance: float | None,
        monitor: StepMonitor,
    ) -> np.ndarray:
        clip = self.native_clip(request)
        monitor.total = self.steps_run(request, steps) * request.variations
        outputs = []
        pipe = self.pipeline_for(request)
        for v in range(request.variations):
            generator = self.generator(seed + v)
            plan = self.strength_plan(request, clip)
            with self.hooks(pipe, monitor, request.temperature, plan):
                audio = self._call(request, clip=clip, generator=generator, steps=steps, guidance=guidance)
            audio = np.asarray(audio, dtype=np.float32)
            outputs.append(audio if audio.ndim == 2 else audio.reshape(1, -1))
        return np.stack(outputs)

    def _call(
        self,
        request: GenerationRequest,
        *,
        clip: torch.Tensor | None,
        generator: torch.Generator,
        steps: int,
        guidance: float | None,
    ) -> np.ndarray:
        """Call the pipeline once; return (channels, samples) float audio at the native rate."""
        raise NotImplementedError

    def pipeline_for(self, request: GenerationRequest) -> Any:
        """The pipeline instance that renders this request (families with a separate audio-to-audio pipeline)."""
        return self.pipe

    def strength_plan(self, request: GenerationRequest, clip: torch.Tensor | None) -> StrengthPlan | None:
        """Families whose pipeline handles seed audio itself return None here."""
        return None if clip is None else StrengthPlan(request.strength, clip)

    def generator(self, seed: int) -> torch.Generator:
        # MPS generators are not reproducible; diffusers draws on the CPU and moves the noise.
        dev = self.device if self.device.type == "cuda" else torch.device("cpu")
        return torch.Generator(device=dev).manual_seed(int(seed))

    def native_clip(self, request: GenerationRequest) -> torch.Tensor | None:
        """The seed clip at the model's rate and channel count, as long as the request, on device."""
        if request.seed_clip is None:
            return None
        info = self.info
        audio = resample(request.seed_clip.audio, request.seed_clip.sample_rate, info.native_sample_rate)
        audio = fit_length(
            set_channels(audio, info.channels), int(round(request.length * info.native_sample_rate))
        )
        return torch.from_numpy(np.ascontiguousarray(audio))[None].to(self.device, self.pipe.dtype)

    # -- the seed clip, in the denoiser's space (per family) ------------------------
    def encode_clip(self, clip: torch.Tensor) -> torch.Tensor:
        """Encode (1, channels, samples) native audio into the denoiser's latent space."""
        raise NotImplementedError

    def noise_to(self, z0: torch.Tensor, noise: torch.Tensor, plan: StrengthPlan) -> torch.Tensor:
        """z0 noised to the level of the schedule at plan.t_start (the scheduler's own forward process)."""
        if plan.t0 is None:  # set when the pipeline's timesteps are known (see the step hook below)
            raise RuntimeError("noise_to: the schedule's start timestep is not known yet")
        t = plan.t0.reshape(1).expand(z0.shape[0]).to(z0.device)
        return self.pipe.scheduler.add_noise(z0, noise, t)

    def initial_latents(
        self, latents: torch.Tensor, temperature: float, plan: StrengthPlan | None
    ) -> torch.Tensor:
        """Replace the pipeline's own seeded initial latents (noise * init_noise_sigma)."""
        if plan is None:
            return latents * temperature
        sigma = float(getattr(self.pipe.scheduler, "init_noise_sigma", 1.0))
        noise = latents / sigma
        with torch.no_grad():
            z0 = fit_latents(self.encode_clip(plan.clip).to(latents.dtype), latents.shape)
        if plan.t0 is None:  # the pipeline set no timesteps before this point: keep the clip as is
            return z0
        return self.noise_to(z0, noise * temperature, plan)

    # -- hooks ------------------------------------------------------------------------
    @contextmanager
    def hooks(
        self, pipe: Any, monitor: StepMonitor, temperature: float, plan: StrengthPlan | None
    ) -> Iterator[None]:
        """Install the step, timestep and initial-latent hooks on pipe for one call."""
        sched = pipe.scheduler
        patches: list[tuple[Any, str, Callable]] = []
        first: dict[str, torch.Tensor] = {}

        orig_step = sched.step

        @functools.wraps(orig_step)
        def step(model_output: Any, timestep: Any, sample: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            if "out" in first and sample is first["in"]:  # the loop's own variable still holds raw noise
                sample = first["out"]
            if plan is not None and plan.full is not None:
                # The loop iterates its own (shortened) copy; multistep solvers index the full schedule
                # from begin_index and must see its true end to take their lower-order final step.
                sched.timesteps, plan.full = plan.full, None
            out = orig_step(model_output, timestep, sample, *args, **kwargs)
            monitor.step()  # progress, and Cancelled when asked: at most one step late
            return out

        patches.append((sched, "step", step))

        if plan is not None:
            orig_set = sched.set_timesteps
            orig_begin_index = getattr(sched, "set_begin_index", None)

            @functools.wraps(orig_set)
            def set_timesteps(*args: Any, **kwargs: Any) -> Any:
                out = orig_set(*args, **kwargs)
                order = int(getattr(sched, "order", 1))
                total = len(sched.timesteps) // order
                plan.t_start = (total - plan.keep(total)) * order
                plan.t0 = sched.timesteps[plan.t_start]
                plan.full = sched.timesteps
                sched.timesteps = sched.timesteps[plan.t_start :]
                if orig_begin_index is not None:
                    orig_begin_index(plan.t_start)
                return out

            patches.append((sched, "set_timesteps", set_timesteps))

            if orig_begin_index is not None:

                @functools.wraps(orig_begin_index)
                def set_begin_index(begin_index: int = 0) -> None:
                    # Pipelines that reset the begin index after set_timesteps (LongCat) would make the
                    # solver index the schedule from its start while the loop runs the shortened tail.
                    orig_begin_index(plan.t_start if plan.t_start is not None else begin_index)

                patches.append((sched, "set_begin_index", set_begin_index))

        if self.latent_hook == "prepare_latents":
            orig_prep = pipe.prepare_latents

            @functools.wraps(orig_prep)
            def prepare_latents(*args: Any, **kwargs: Any) -> torch.Tensor:
                return self.initial_latents(orig_prep(*args, **kwargs), temperature, plan)

            patches.append((pipe, "prepare_latents", prepare_latents))
        else:  # the pipeline draws its noise inline: swap it where the denoiser first sees it
            denoiser = pipe.unet if hasattr(pipe, "unet") else pipe.transformer
            orig_fwd = denoiser.forward

            @functools.wraps(orig_fwd)
            def forward(*args: Any, **kwargs: Any) -> Any:
                key = next((k for k in _SAMPLE_KWARGS if k in kwargs), None)
                sample = kwargs[key] if key is not None else args[0]
                if "in" not in first:
                    first["in"] = sample
                    first["out"] = self.initial_latents(sample, temperature, plan)
                if sample is first["in"]:
                    if key is not None:
                        kwargs[key] = first["out"]
                    else:
                        args = (first["out"], *args[1:])
                return orig_fwd(*args, **kwargs)

            patches.append((denoiser, "forward", forward))

        saved = [(obj, name, obj.__dict__.get(name, _MISSING)) for obj, name, _ in patches]
        try:
            for obj, name, fn in patches:
                setattr(obj, name, fn)
            yield
        finally:
            for obj, name, old in saved:
                if old is _MISSING:
                    obj.__dict__.pop(name, None)
                else:
                    setattr(obj, name, old)

    # -- helpers for describe() -------------------------------------------------------
    @staticmethod
    def length_limits(trained_s: float, minimum_s: float = 0.0) -> tuple[float, float]:
        """Convolutional families render any length; past 4x the trained length quality falls apart."""
        return minimum_s, round(max(4.0 * trained_s, minimum_s), 3)


_MISSING = object()
_SAMPLE_KWARGS = ("sample", "hidden_states")  # what denoisers call the noisy sample when passed by name


@contextmanager
def quiet_loading() -> Iterator[None]:
    """No library progress bars or deprecation chatter on the user's terminal while loading."""
    import warnings

    import diffusers.utils.logging as dlog
    import transformers.utils.logging as tlog

    bars = [(lib, lib.is_progress_bar_enabled()) for lib in (dlog, tlog)]
    levels = [(lib, lib.get_verbosity()) for lib in (dlog, tlog)]
    try:
        for lib, _ in bars:
            lib.disable_progress_bar()
        for lib, _ in levels:
            lib.set_verbosity_error()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        for lib, enabled in bars:
            if enabled:
                lib.enable_progress_bar()
        for lib, level in levels:
            lib.set_verbosity(level)


def fit_latents(z: torch.Tensor, shape: tuple[int, ...] | torch.Size) -> torch.Tensor:
    """Crop or zero-pad every axis after the batch axis to shape, and repeat over the batch."""
    for axis in range(1, len(shape)):
        n = z.shape[axis]
        if n > shape[axis]:
            z = z.narrow(axis, 0, shape[axis])
        elif n < shape[axis]:
            pad_shape = list(z.shape)
            pad_shape[axis] = shape[axis] - n
            z = torch.cat([z, z.new_zeros(pad_shape)], dim=axis)
    if z.shape[0] != shape[0]:
        z = z[:1].expand(shape[0], *z.shape[1:]).contiguous()
    return z


def check_safetensors_only(folder: Path, name: str) -> None:
    """Refuse a folder whose weights exist only as pickles (.bin/.pt/.ckpt): we never unpickle."""
    for sub in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]:
        files = [p for p in sub.iterdir() if p.is_file()]
        pickles = [p.name for p in files if p.suffix in _PICKLE_SUFFIXES]
        if pickles and not any(p.suffix == ".safetensors" for p in files):
            where = "the folder" if sub == folder else f"component {sub.name}/"
            raise ModelLoadError(
                f"model {name}: {where} has only pickled weights ({', '.join(sorted(pickles))}); "
                "diffhost loads safetensors only and never unpickles. Convert the weights to "
                ".safetensors (e.g. save_pretrained(..., safe_serialization=True)) or use a model that ships them."
            )


def mel_frames_per_second(vocoder_config: Any) -> float:
    return vocoder_config.sampling_rate / float(np.prod(vocoder_config.upsample_rates))


def ceil_to(x: float, multiple: int) -> int:
    return int(math.ceil(x / multiple)) * multiple
