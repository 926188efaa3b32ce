"""AudioLDM2Pipeline (cvssp/audioldm2*): text-to-audio/music, 16 kHz mono, CLAP + T5 + GPT-2 conditioning.

Variations are rendered one generator each (not num_waveforms_per_prompt), because the
pipeline re-orders batched waveforms by CLAP score, which would break seed -> variation.
Speech checkpoints (audioldm2-speech, which need a transcription) are not supported.
"""

from __future__ import annotations

from typing import Any

import torch

from diffhost.engine.adapters.mel_ldm import MelLDMModel


class AudioLDM2Model(MelLDMModel):
    pipeline_class = "AudioLDM2Pipeline"
    default_guidance = 3.5  # AudioLDM2Pipeline.__call__ default
    default_steps = 200  # AudioLDM2Pipeline.__call__ default

    @classmethod
    def adapt_pipeline(cls, pipe: Any) -> None:
        """The published cvssp/audioldm2* folders name a GPT2Model as language_model, but diffusers
        0.42.1 drives it with GenerationMixin methods only GPT2LMHeadModel has. Wrap the loaded
        GPT2Model (weights untouched, no copy) in a GPT2LMHeadModel whose head is tied to its
        embeddings; the pipeline only reads hidden states, never the head's logits."""
        from transformers import GPT2LMHeadModel, GPT2Model

        lm = pipe.language_model
        if not isinstance(lm, GPT2Model):
            return
        with torch.device("meta"):  # build the wrapper without allocating a second transformer
            head = GPT2LMHeadModel(lm.config)
        head.transformer = lm
        head.lm_head.weight = lm.wte.weight
        head.eval()
        pipe.language_model = head
