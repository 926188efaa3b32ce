"""Fixtures: tiny random-weight pipelines for every family, saved once and loaded through load_model.

The folders are cached in pytest's cache directory, keyed by the builder source and the
diffusers/transformers versions, so a second run skips building; nothing downloads.
"""

from __future__ import annotations

import hashlib
import shutil
import warnings
from pathlib import Path

import pytest
import torch

from tests.engine import tiny

# One intra-op thread: the tiny models' ops are microseconds long, and on a shared 2-core machine
# a second OpenMP thread that is descheduled stalls every op (measured: 5.5 s vs 0.06 s per render).
# Threads started later (the engine worker) inherit it.
torch.set_num_threads(1)


def _cache_key() -> str:
    import diffusers
    import transformers

    src = Path(tiny.__file__).read_bytes()
    return hashlib.sha256(
        src + diffusers.__version__.encode() + transformers.__version__.encode()
    ).hexdigest()[:16]


@pytest.fixture(scope="session")
def tiny_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """family -> folder holding its tiny pipeline (built on first use, then cached)."""
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    name = f"diffhost-tiny-{_cache_key()}"
    root = Path(cache.mkdir(name)) if cache is not None else tmp_path_factory.mktemp(name)

    def get(family: str) -> Path:
        folder = root / family
        if not (folder / ".complete").exists():
            shutil.rmtree(folder, ignore_errors=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tiny.build(family, folder)
            (folder / ".complete").write_text("ok")
        return folder

    return get


@pytest.fixture(scope="session")
def tiny_model(tiny_dir):
    """family -> a Model loaded from its tiny folder through engine.load_model (once per session)."""
    from diffhost.engine import load_model

    models = {}

    def get(family: str):
        if family not in models:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                models[family] = load_model(str(tiny_dir(family)), device="cpu")
        return models[family]

    return get


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir(tmp_path_factory):
    """The engine's caches (weights hashes, step times) go to a fresh folder, never the user's."""
    import os

    saved = os.environ.get("DIFFHOST_CACHE_DIR")
    os.environ["DIFFHOST_CACHE_DIR"] = str(tmp_path_factory.mktemp("diffhost-cache"))
    yield
    if saved is None:
        os.environ.pop("DIFFHOST_CACHE_DIR", None)
    else:
        os.environ["DIFFHOST_CACHE_DIR"] = saved
