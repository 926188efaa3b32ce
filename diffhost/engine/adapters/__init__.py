"""Family adapters, keyed by the diffusers pipeline class named in a folder's model_index.json."""

from __future__ import annotations

from diffhost.engine.adapters.ace_step import AceStepModel
from diffhost.engine.adapters.audioldm import AudioLDMModel
from diffhost.engine.adapters.audioldm2 import AudioLDM2Model
from diffhost.engine.adapters.base import DiffusersModel
from diffhost.engine.adapters.dance_diffusion import DanceDiffusionModel
from diffhost.engine.adapters.longcat_audio_dit import LongCatAudioDiTModel
from diffhost.engine.adapters.musicldm import MusicLDMModel
from diffhost.engine.adapters.stable_audio import StableAudioModel
from diffhost.engine.adapters.stable_audio_3 import (
    StableAudio3AudioToAudioModel,
    StableAudio3InpaintModel,
    StableAudio3Model,
)
from diffhost.engine.default.model.pipeline import FAMILY as DEFAULT_FAMILY
from diffhost.engine.default.model.pipeline import OLD_FAMILY_NAMES, DefaultModel

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
        LongCatAudioDiTModel,
        AceStepModel,
    )
}
# A folder written by `python -m diffhost.engine.default.training.train --out DIR` loads like any diffusers folder.
ADAPTERS[DEFAULT_FAMILY] = DefaultModel
# Earlier names of a family -> its name now: a folder that still says the old one loads as before.
ALIASES: dict[str, str] = dict.fromkeys(OLD_FAMILY_NAMES, DEFAULT_FAMILY)

__all__ = ["ADAPTERS", "ALIASES", "DiffusersModel"]
