"""MusicLDMPipeline (ucsd-reach/musicldm): text-to-music, 16 kHz mono, CLAP conditioning. Deprecated in diffusers.

diffusers 0.42.1's MusicLDMPipeline._encode_prompt expects `ClapModel.get_text_features`
to return a tensor; transformers 5 returns a model output. The adapter therefore encodes
the prompt (and the negative / empty prompt for guidance) itself and passes the
pipeline's own `prompt_embeds` / `negative_prompt_embeds` arguments.
"""

from __future__ import annotations

from typing import Any

import torch

from diffhost.engine.adapters.mel_ldm import MelLDMModel
from diffhost.engine.request import GenerationRequest


class MusicLDMModel(MelLDMModel):
    pipeline_class = "MusicLDMPipeline"
    default_guidance = 2.0  # MusicLDMPipeline.__call__ default
    default_steps = 200  # MusicLDMPipeline.__call__ default

    def pipeline_args(self, request: GenerationRequest, steps: int, guidance: float | None) -> dict[str, Any]:
        args = super().pipeline_args(request, steps, guidance)
        prompt, negative = args.pop("prompt"), args.pop("negative_prompt")
        args["prompt_embeds"] = self.embed(prompt)
        if args["guidance_scale"] > 1.0:
            args["negative_prompt_embeds"] = self.embed(negative or "")
        return args

    @torch.no_grad()
    def embed(self, text: str) -> torch.Tensor:
        tok = self.pipe.tokenizer(
            [text],
            padding="max_length",
            max_length=self.pipe.tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        )
        out = self.pipe.text_encoder.get_text_features(
            tok.input_ids.to(self.device), attention_mask=tok.attention_mask.to(self.device)
        )
        return out if isinstance(out, torch.Tensor) else out.pooler_output
