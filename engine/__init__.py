"""diffhost engine: model loading and the render worker. The only package that imports torch.

Imports are lazy so that `engine.request` and `engine.audio` stay torch-free
for host/, osc/ and gui/.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.engine import Engine, Job, JobEvent
    from engine.errors import Cancelled, ModelLoadError, QueueFullError, UnsupportedRequestError
    from engine.loader import load_model
    from engine.model import Model
    from engine.request import GenerationRequest, GenerationResult, ModelInfo, SeedClip

_EXPORTS = {
    "load_model": "engine.loader",
    "Engine": "engine.engine",
    "Job": "engine.engine",
    "JobEvent": "engine.engine",
    "Model": "engine.model",
    "GenerationRequest": "engine.request",
    "GenerationResult": "engine.request",
    "ModelInfo": "engine.request",
    "SeedClip": "engine.request",
    "Cancelled": "engine.errors",
    "ModelLoadError": "engine.errors",
    "QueueFullError": "engine.errors",
    "UnsupportedRequestError": "engine.errors",
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
