"""diffhost: generate audio with diffusion models and bridge it into DAWs and live performance.

One package folder holds everything that installs: the rooms `engine/` (models, torch), `host/`
(session, post-processing, live), `osc/` and `gui/` (Qt), plus the composition root
(`runtime.py`) and the command line (`cli.py`, `commands/`). Shipped presets and the DAW bridge
scripts are package data beside them (`presets/`, `daw/`).
"""

from __future__ import annotations

__version__ = "0.2.0"
