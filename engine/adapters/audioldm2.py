"""AudioLDM2Pipeline (cvssp/audioldm2*): text-to-audio/music, 16 kHz mono, CLAP + T5 + GPT-2 conditioning.

Variations are rendered one generator each (not num_waveforms_per_prompt), because the
pipeline re-orders batched waveforms by CLAP score, which would break seed -> variation.
Speech checkpoints (audioldm2-speech, which need a transcription) are not supported.
"""

from __future__ import annotations

from engine.adapters.mel_ldm import MelLDMModel


class AudioLDM2Model(MelLDMModel):
    pipeline_class = "AudioLDM2Pipeline"
    default_guidance = 3.5  # AudioLDM2Pipeline.__call__ default
    default_steps = 200  # AudioLDM2Pipeline.__call__ default
