"""From an engine result to a finished file: post-processing (effects, finishing, normalizing),
export and sidecars, the finisher that writes each variation, re-processing from dry audio, and
the atomic writes and disk checks every file goes through."""
