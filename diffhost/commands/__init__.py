"""CLI command groups.

Every flag name means one thing in every command: `-o/--output` is the file or folder a command
writes, `--output-device` / `--input-device` an audio device, `--osc-port` the OSC port,
`--renders-dir` where renders are saved (`--port` is left to `engine-serve`'s HTTP port). Earlier
spellings still parse for a release, hidden from --help (`old_spelling`).
"""

from __future__ import annotations

import argparse
from typing import Any


def old_spelling(parser: argparse.ArgumentParser, flag: str, dest: str, **kwargs: Any) -> None:
    """Accept `flag`, a flag's earlier spelling, as the current flag (`dest`); not listed in --help.
    Its default is left to the current flag, so giving neither keeps the documented default."""
    parser.add_argument(flag, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)
