"""The runtime the link tests start: diffhost as `serve --no-audio` builds it (engine with the
embedded default model, session, live rig with the plugin link, OSC on an ephemeral loopback port),
without presets, library or kits, under a folder of the test's own."""

from __future__ import annotations

from pathlib import Path

from diffhost.engine.engine import Engine
from diffhost.osc.server import OscConfig
from diffhost.runtime import Runtime, RuntimeOptions, build_runtime


def link_runtime(root: Path, max_queue: int = 8) -> Runtime:
    """max_queue: the engine's queue (the tests keep it small; the benches pass the engine's own 16)."""
    options = RuntimeOptions(
        renders_dir=root / "renders",
        audio=False,
        presets=False,
        library=False,
        kits=False,
        audio_config_dir=root / "config",
        osc=OscConfig(port=0),
    )
    return build_runtime(options, engine=Engine(device="cpu", max_queue=max_queue))
