"""Decoding long latents in overlapping tiles, so a decoder's peak memory follows the tile, not the length.

The waveform decoders here (Oobleck, LongCat's VAE) are convolutional: an output sample depends
only on latent frames within a short reach (measured for Oobleck at the published size: about
10 frames each side). Each tile is decoded with `overlap` extra frames on both sides and trimmed
back to its core, so the joined audio matches a single decode to float rounding while the
largest activation is a tile's, not the whole render's.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def decode_in_tiles(
    decode: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, tile: int, overlap: int
) -> torch.Tensor:
    """decode(z[..., a:b]) for overlapping windows of at most `tile` frames, joined along the last axis."""
    frames = z.shape[-1]
    if frames <= tile:
        return decode(z)
    stride = tile - 2 * overlap
    if stride <= 0:
        raise ValueError(f"decode tile: {tile} frames must exceed twice the overlap ({overlap})")
    parts = []
    for core_start in range(0, frames, stride):
        core_end = min(core_start + stride, frames)
        start, end = max(0, core_start - overlap), min(frames, core_end + overlap)
        audio = decode(z[..., start:end])
        up = audio.shape[-1] // (end - start)  # samples per latent frame
        parts.append(audio[..., (core_start - start) * up : (core_end - start) * up])
    return torch.cat(parts, dim=-1)
