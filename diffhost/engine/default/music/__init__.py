"""The music the default model renders: the parametric score, per-style patterns, the arranger
that turns a score into audio, the one-shot synth, the recorded banks and procedural voices, and
what a seed clip says about rhythm and melody."""
