"""diffhost host: session, audio I/O, post-processing, presets, render library, CLI. No Qt, no torch."""

__version__ = "0.1.0"
