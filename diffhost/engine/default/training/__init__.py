"""Training and evaluation of the default model (`python -m diffhost.engine.default.training.train`).
Not needed to render; the loop evaluation needs the `dev` extra (librosa)."""
