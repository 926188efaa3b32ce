"""Real components for OSC tests: an Engine with the embedded default model, a Session
writing to a temp renders folder, an OscServer on an ephemeral loopback port, and
clients talking real UDP to it. Tests of the pads and kits also get the real JACK server with
diffhost's audio and a test peer (tests/jack_fixtures.py), one server per test module."""

from __future__ import annotations

from pathlib import Path

import pytest

from diffhost.engine.engine import Engine
from diffhost.host.session import Session
from diffhost.osc.client import DiffhostClient
from diffhost.osc.server import OscConfig, OscServer
from tests.jack_fixtures import audio, jack_server_fixture, peer  # noqa: F401  (fixtures, by name)

# Per module: this folder is not a package, and its server must not outlive the tests that use it.
jack_server = jack_server_fixture("module", tag="osc")


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    d = {"renders": tmp_path / "renders", "audio": tmp_path / "audio", "outside": tmp_path / "outside"}
    for p in d.values():
        p.mkdir()
    return d


@pytest.fixture(scope="session")
def engine():
    """One engine for the whole run: the default model loads once (on the first render)."""
    with Engine(device="cpu", max_queue=8) as e:
        yield e


@pytest.fixture
def session(engine, dirs):
    s = Session(engine, renders_dir=dirs["renders"])
    yield s
    s.close()


@pytest.fixture
def server(session, dirs):
    with OscServer(session, OscConfig(port=0, folders=(dirs["audio"],))) as srv:
        yield srv


@pytest.fixture
def client(server):
    with DiffhostClient("127.0.0.1", server.address[1]) as c:
        yield c
