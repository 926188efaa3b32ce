"""The `diffhost` command. Each command group lives in diffhost/commands/<group>.py with a register()."""

from __future__ import annotations

import argparse
import contextlib
import sys

from diffhost import __version__
from diffhost.commands import audio, engine_serve, gui, library, plugin, presets, render, serve

# One module per command group; each exposes register(subparsers). The modules import their heavy
# parts (torch, Qt, Ray) inside their run functions, so building the parser stays fast.
COMMAND_MODULES = (render, presets, library, audio, serve, gui, engine_serve, plugin)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diffhost", description="Generate audio with diffusion models.")
    parser.add_argument("--version", action="version", version=f"diffhost {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        if "gui" in parser._subparsers._group_actions[0].choices:  # type: ignore[union-attr, operator]
            return main(["gui"])
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `diffhost presets list | head -1`: the reader is gone; end quietly
        return _closed_pipe()
    except (ValueError, OSError) as exc:  # user-facing: a message, never a traceback
        print(f"diffhost: error: {exc}", file=sys.stderr)
        return 2


def _closed_pipe() -> int:
    """Like a Unix tool killed by SIGPIPE: no message, status 141, and no second error when
    Python flushes stdout at exit (stdout now points at devnull)."""
    import os

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 141


if __name__ == "__main__":
    sys.exit(main())
