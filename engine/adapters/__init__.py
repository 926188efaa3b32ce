"""Family adapters, keyed by the diffusers pipeline class named in a folder's model_index.json."""

from __future__ import annotations

from engine.adapters.audioldm import AudioLDMModel
from engine.adapters.audioldm2 import AudioLDM2Model
from engine.adapters.base import DiffusersModel
from engine.adapters.dance_diffusion import DanceDiffusionModel
from engine.adapters.musicldm import MusicLDMModel
from engine.adapters.stable_audio import StableAudioModel
from engine.adapters.stable_audio_3 import (
    StableAudio3AudioToAudioModel,
    StableAudio3InpaintModel,
    StableAudio3Model,
)
from engine.default.pipeline import FAMILY as DEFAULT_FAMILY
from engine.default.pipeline import DefaultModel

ADAPTERS: dict[str, type[DiffusersModel] | type[DefaultModel]] = {
    cls.pipeline_class: cls
    for cls in (
        StableAudioModel,
        StableAudio3Model,
        StableAudio3AudioToAudioModel,
        StableAudio3InpaintModel,
        AudioLDM2Model,
        AudioLDMModel,
        MusicLDMModel,
        DanceDiffusionModel,
    )
}
# A folder written by `python -m engine.default.train --out DIR` loads like any diffusers folder.
ADAPTERS[DEFAULT_FAMILY] = DefaultModel

__all__ = ["ADAPTERS", "DiffusersModel"]
