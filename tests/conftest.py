"""Suite-wide: no test touches the real user folders (library, presets, audio settings)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_user_folders(tmp_path_factory):
    home = tmp_path_factory.mktemp("diffhost-home")
    saved = {k: os.environ.get(k) for k in ("DIFFHOST_HOME", "DIFFHOST_CONFIG_DIR")}
    os.environ["DIFFHOST_HOME"] = str(home)
    os.environ["DIFFHOST_CONFIG_DIR"] = str(home / "config")
    yield home
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
