"""Device and dtype resolution: explicit, CPU float32 unless asked otherwise."""

from __future__ import annotations

import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = {"auto": None, "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(device: str = "auto") -> torch.device:
    """auto = cuda > mps > cpu."""
    name = str(device)
    base = name.split(":")[0]
    if base not in DEVICES:
        raise ValueError(f"device: {device!r} is not valid; choose one of {', '.join(DEVICES)}")
    if base == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' was asked for but no CUDA GPU is available; use 'cpu' or 'auto'")
    return torch.device(name)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """auto = float16 on CUDA, float32 elsewhere."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype: {dtype!r} is not valid; choose one of {', '.join(DTYPES)}")
    chosen = DTYPES[dtype]
    if chosen is None:
        return torch.float16 if device.type == "cuda" else torch.float32
    return chosen
