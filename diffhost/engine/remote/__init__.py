"""The remote engine: diffhost's Engine served by Ray Serve, and the client that uses it.

- `client.RemoteEngine`: the Engine interface over the network (numpy + websockets; no torch,
  no Ray), what `--engine http://HOST:8450` builds.
- `wire`: the JSON + raw float32 message format (never pickle).
- `access`: the bind rule and the token.
- `replica.ReplicaCore`: one replica, a local Engine behind a WebSocket per job.
- `serve_app`: the Ray Serve application (needs the `cluster` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from diffhost.engine.remote.client import RemoteEngine

__all__ = ["RemoteEngine"]


def __getattr__(name: str) -> Any:
    if name == "RemoteEngine":
        from diffhost.engine.remote.client import RemoteEngine

        return RemoteEngine
    raise AttributeError(f"module 'diffhost.engine.remote' has no attribute {name!r}")
