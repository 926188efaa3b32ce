"""Suite-wide: no test touches the real user folders (library, presets, audio settings)."""

from __future__ import annotations

import os
import signal

import pytest

# A suite started in the background (nohup, `cmd &` in a script) inherits an ignored SIGINT, and so
# would every process the tests start: `diffhost serve` would then never see the Ctrl-C its test
# sends. A handler here is reset to the default on exec, so the children get a working Ctrl-C.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


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
