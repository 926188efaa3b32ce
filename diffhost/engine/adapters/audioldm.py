"""AudioLDMPipeline (cvssp/audioldm-*): text-to-audio, 16 kHz mono, CLAP text conditioning. Deprecated in diffusers, widely used."""

from __future__ import annotations

from diffhost.engine.adapters.mel_ldm import MelLDMModel


class AudioLDMModel(MelLDMModel):
    pipeline_class = "AudioLDMPipeline"
    default_guidance = 2.5  # AudioLDMPipeline.__call__ default
    default_steps = 10  # AudioLDMPipeline.__call__ default
