"""diffhost host: session, audio I/O, post-processing, presets, export, render library. No Qt, no torch."""
