"""tests/audio: the real JACK server (one for the folder) with diffhost's audio and a test peer.

The fixtures and helpers are tests/jack_fixtures.py's, shared with tests/osc and tests/gui; the
names below are re-exported for this folder's `from .conftest import ...`.
"""

from __future__ import annotations

from tests.jack_fixtures import (  # noqa: F401  (pytest finds fixtures by their names here)
    BLOCK,
    RATE,
    JackServer,
    audio,
    jack_offset,
    jack_server_fixture,
    peer,
    wait_frames,
)

# Package scope: the server ends with tests/audio (see jack_server_fixture).
jack_server = jack_server_fixture("package")
