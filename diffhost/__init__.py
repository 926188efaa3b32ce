"""diffhost: generate audio with diffusion models and bridge it into DAWs and live performance.

The installed distribution claims one top-level name, `diffhost`. The card's folders stay at the
top of the repository (engine/, host/, osc/, gui/) and pyproject's package-dir maps them to
`diffhost.engine`, `diffhost.host`, `diffhost.osc` and `diffhost.gui` in the wheel.

In a source checkout those folders sit beside this package instead of inside it, so the checkout's
root is appended to `__path__`: `diffhost.engine` then resolves to `<checkout>/engine` with nothing
installed, in any clone or worktree. The root is recognised by its pyproject.toml and engine/, so
an installed wheel (whose parent is site-packages) is never extended.
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.2.0"

_checkout = Path(__file__).resolve().parent.parent
if (_checkout / "pyproject.toml").is_file() and (_checkout / "engine" / "__init__.py").is_file():
    __path__.append(str(_checkout))  # noqa: F821 - a package's __path__ is set by the import system
