"""Stable Audio 3 (diffusers StableAudio3Pipeline, StableAudio3AudioToAudioPipeline, StableAudio3InpaintPipeline).

Rectified-flow DiT over a SAME VAE latent, T5Gemma text conditioning. The three
pipelines share one set of components; each has its own adapter so a folder whose
model_index.json names any of them loads.

- StableAudio3Pipeline: text-to-audio. A seed clip is handed to an
  StableAudio3AudioToAudioPipeline built from the same components, with
  `init_noise_level = strength` (the pipeline's own audio-to-audio path, which starts
  the flow at that noise level). Guidance and negative prompts apply to text-to-audio only.
- StableAudio3AudioToAudioPipeline: needs a seed clip; strength -> init_noise_level.
- StableAudio3InpaintPipeline: needs a seed clip; the clip is kept and the model fills
  in the rest: the region from `min(clip length, length * (1 - strength))` to `length`
  is regenerated (so strength is how much of the output is re-imagined).

strength 0 maps to the smallest noise level the pipeline accepts (0.001).
"""

from __future__ import annotations

from typing import Any

from diffhost.engine.adapters.base import DiffusersModel
from diffhost.engine.errors import UnsupportedRequestError
from diffhost.engine.request import GenerationRequest, ModelInfo

_MIN_NOISE_LEVEL = 1e-3


class _StableAudio3Base(DiffusersModel):
    text_to_audio: bool = False
    requires_seed_clip: bool = True

    @classmethod
    def describe(cls, pipe: Any, **common: Any) -> ModelInfo:
        sr = int(pipe.vae.config.sampling_rate)
        stochastic = bool(pipe.scheduler.config.get("stochastic_sampling", False))
        return ModelInfo(
            family=cls.pipeline_class,
            native_sample_rate=sr,
            channels=int(pipe.vae.config.audio_channels),
            min_length_s=pipe.vae.downsampling_ratio / sr,
            max_length_s=float(pipe.duration_embedder.config.max_val),
            supports_prompt=True,
            supports_negative_prompt=cls.text_to_audio,
            supports_seed_clip=True,
            supports_guidance=cls.text_to_audio,
            requires_seed_clip=cls.requires_seed_clip,
            default_steps=8 if stochastic else 100,  # the pipelines' own default rule
            default_guidance=1.0 if cls.text_to_audio else None,
            **common,
        )

    def strength_plan(self, request, clip):
        return None  # these pipelines take the seed audio themselves

    def steps_run(self, request: GenerationRequest, steps: int) -> int:
        return steps

    def _call(self, request, *, clip, generator, steps, guidance):
        pipe = self.pipeline_for(request)
        args: dict[str, Any] = {
            "prompt": request.prompt or "",
            "duration": request.length,
            "num_inference_steps": steps,
            "num_waveforms_per_prompt": 1,
            "generator": generator,
            "output_type": "np",
        }
        if clip is None:
            args["guidance_scale"] = self.info.default_guidance if guidance is None else guidance
            args["negative_prompt"] = request.negative_prompt
        else:
            args.update(self.clip_args(request, clip))
        return pipe(**args).audios[0]

    def clip_args(self, request: GenerationRequest, clip: Any) -> dict[str, Any]:
        return {"audio": clip, "init_noise_level": max(request.strength, _MIN_NOISE_LEVEL)}


class StableAudio3Model(_StableAudio3Base):
    pipeline_class = "StableAudio3Pipeline"
    text_to_audio = True
    requires_seed_clip = False

    def __init__(self, pipe: Any, info: ModelInfo):
        super().__init__(pipe, info)
        self._audio_to_audio: Any = None

    def check(self, request: GenerationRequest) -> None:
        super().check(request)
        who = f"model {self.info.name} ({self.info.family})"
        if request.seed_clip is not None and request.guidance is not None and request.guidance != 1.0:
            raise UnsupportedRequestError(
                f"guidance: {who} renders seed clips with its audio-to-audio pipeline, which has no "
                f"classifier-free guidance (got {request.guidance}); leave guidance unset"
            )
        if request.seed_clip is not None and request.negative_prompt:
            raise UnsupportedRequestError(
                f"negative_prompt: {who} takes no negative prompt with a seed clip (got {request.negative_prompt!r})"
            )

    def pipeline_for(self, request: GenerationRequest) -> Any:
        if request.seed_clip is None:
            return self.pipe
        if self._audio_to_audio is None:
            from diffusers import StableAudio3AudioToAudioPipeline

            self._audio_to_audio = StableAudio3AudioToAudioPipeline(**self.pipe.components)
            self._audio_to_audio.set_progress_bar_config(disable=True)
        return self._audio_to_audio


class StableAudio3AudioToAudioModel(_StableAudio3Base):
    pipeline_class = "StableAudio3AudioToAudioPipeline"


class StableAudio3InpaintModel(_StableAudio3Base):
    pipeline_class = "StableAudio3InpaintPipeline"

    def clip_args(self, request: GenerationRequest, clip: Any) -> dict[str, Any]:
        assert request.seed_clip is not None
        keep_s = min(request.seed_clip.duration_s, request.length * (1.0 - request.strength))
        return {"audio": clip, "mask_start_seconds": keep_s, "mask_end_seconds": request.length}
