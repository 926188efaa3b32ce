from __future__ import annotations

import pytest

from tests.plugin.bridge_host import FakeDiffhost, build


@pytest.fixture(scope="session")
def plugin_bin():
    return build()


@pytest.fixture
def link(tmp_path, monkeypatch, plugin_bin):
    """A clip cache in tmp_path and the test's diffhost stand-in, both set in the environment the
    plugin reads when an instance is made."""
    cache = tmp_path / "clips"
    cache.mkdir()
    monkeypatch.setenv("DIFFHOST_CLIP_CACHE", str(cache))
    fake = FakeDiffhost()
    monkeypatch.setenv("DIFFHOST_OSC_PORT", str(fake.port))
    fake.cache = cache
    yield fake
    fake.close()
