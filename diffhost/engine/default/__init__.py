"""The embedded default model: a text-conditioned diffusion model over a procedural synth's parameters.

See engine/default/weights/MODEL_CARD.md for how it was trained and what it measures.
"""

from diffhost.engine.default.model.pipeline import DefaultModel, load_default

__all__ = ["DefaultModel", "load_default"]
