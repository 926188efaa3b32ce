"""diffhost engine: model loading and the render worker. The only package that imports torch.

Imports are lazy so that `engine.request` and `engine.audio` stay torch-free
for host/, osc/ and gui/.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from diffhost.engine.engine import Engine, Job, JobEvent
    from diffhost.engine.errors import Cancelled, ModelLoadError, QueueFullError, UnsupportedRequestError
    from diffhost.engine.loader import load_model
    from diffhost.engine.model import Model, Progress
    from diffhost.engine.request import GenerationRequest, GenerationResult, ModelInfo, SeedClip

_EXPORTS = {
    "load_model": "diffhost.engine.loader",
    "Engine": "diffhost.engine.engine",
    "Job": "diffhost.engine.engine",
    "JobEvent": "diffhost.engine.engine",
    "Model": "diffhost.engine.model",
    "Progress": "diffhost.engine.model",
    "GenerationRequest": "diffhost.engine.request",
    "GenerationResult": "diffhost.engine.request",
    "ModelInfo": "diffhost.engine.request",
    "SeedClip": "diffhost.engine.request",
    "Cancelled": "diffhost.engine.errors",
    "ModelLoadError": "diffhost.engine.errors",
    "QueueFullError": "diffhost.engine.errors",
    "UnsupportedRequestError": "diffhost.engine.errors",
}
__all__ = [  # noqa: F822 - resolved lazily by __getattr__
    "Cancelled",
    "Engine",
    "GenerationRequest",
    "GenerationResult",
    "Job",
    "JobEvent",
    "Model",
    "ModelInfo",
    "ModelLoadError",
    "Progress",
    "QueueFullError",
    "SeedClip",
    "UnsupportedRequestError",
    "load_model",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
