"""A real runtime (engine with the embedded default model, session, live rig with the plugin link,
OSC server on an ephemeral loopback port) and a private clip cache, shared by the module's tests;
each test's plugin peers have their own random instance ids."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from diffhost.osc.client import DiffhostClient
from tests.runtimes import link_runtime

from .plugin_peer import PluginPeer


@pytest.fixture(scope="module")
def clip_cache(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("clips")
    saved = os.environ.get("DIFFHOST_CLIP_CACHE")
    os.environ["DIFFHOST_CLIP_CACHE"] = str(cache)
    yield cache
    if saved is None:
        os.environ.pop("DIFFHOST_CLIP_CACHE", None)
    else:
        os.environ["DIFFHOST_CLIP_CACHE"] = saved


@pytest.fixture(scope="module")
def runtime(clip_cache, tmp_path_factory):
    root = tmp_path_factory.mktemp("bridge")
    rt = link_runtime(root)
    yield rt
    rt.close()


@pytest.fixture
def port(runtime) -> int:
    return runtime.osc.address[1]


@pytest.fixture
def client(port):
    with DiffhostClient("127.0.0.1", port) as c:
        yield c


@pytest.fixture
def make_peer(port, clip_cache):
    peers: list[PluginPeer] = []

    def make(**kw) -> PluginPeer:
        p = PluginPeer(port, clip_cache, **kw)
        peers.append(p)
        return p

    yield make
    for p in peers:
        p.bye()
        p.close()
