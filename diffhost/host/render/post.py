"""Post-processing of rendered audio (float32, (channels, samples)).

`normalize_audio` is the one-liner for scripts. `Recipe` bundles what a preset says
should happen after generation (effects chain, finishing, export format) and
`postprocess` runs it, returning the audio plus a log of every step for the sidecar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from diffhost.engine.audio import resample, resample_loop, set_channels
from diffhost.engine.request import loop_samples
from diffhost.host.render import finishing as fin
from diffhost.host.render.effects import EffectChain, parse_chain
from diffhost.host.render.export import ExportSpec, parse_export


def normalize_audio(audio: np.ndarray, peak_db: float = -1.0) -> np.ndarray:
    """Scale so the highest absolute sample sits at peak_db dBFS. Silence is returned unchanged."""
    if not -60.0 <= peak_db <= 0.0:
        raise ValueError(f"peak_db: {peak_db} dBFS is out of range; valid is -60..0 dBFS")
    audio = np.asarray(audio, dtype=np.float32)
    peak = _peak(audio)
    if peak == 0.0 or not np.isfinite(peak):
        return audio.copy()
    return np.multiply(audio, _gain(peak_db, peak))


def _gain(peak_db: float, peak: float) -> np.float32:
    """The float32 gain that moves a clip whose largest absolute sample is `peak` to peak_db dBFS."""
    return np.float32(10.0 ** (peak_db / 20.0) / peak)


def _dbfs(peak: float) -> float:
    return 20 * math.log10(peak) if peak > 0 else float("-inf")


def _peak(audio: np.ndarray) -> float:
    """The largest absolute sample (NaN if any is NaN), without an array of absolute values: a
    30 s clip is 11 MB, and every pass over it counts when a playing pad waits for it."""
    return float(max(audio.max(), -audio.min())) if audio.size else 0.0


def peak_dbfs(audio: np.ndarray) -> float:
    return _dbfs(_peak(audio))


@dataclass(frozen=True)
class Recipe:
    """Everything applied after generation: chain + finishing + export (+ the preset it came from)."""

    chain: EffectChain = field(default_factory=EffectChain)
    finishing: fin.Finishing = field(default_factory=fin.Finishing)
    export: ExportSpec = field(default_factory=ExportSpec)
    preset: str | None = None
    tags: tuple[str, ...] = ()  # the preset's tags, given to each library row

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: Path | None = None) -> Recipe:
        """From {"effects": [...], "finishing": {...}, "export": {...}} (a preset or a sidecar)."""
        return cls(
            chain=EffectChain(parse_chain(data.get("effects"), base_dir=base_dir)),
            finishing=fin.parse_finishing(data.get("finishing")),
            export=parse_export(data.get("export")),
            preset=data.get("preset"),
            tags=tuple(data.get("tags") or ()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "effects": [s.to_dict() for s in self.chain.specs],
            "finishing": self.finishing.to_dict(),
            "export": self.export.to_dict(),
            "preset": self.preset,
            "tags": list(self.tags),
        }


@dataclass(frozen=True)
class PostResult:
    audio: np.ndarray
    sample_rate: int
    steps: list[dict[str, Any]]
    loudness_lufs: float | None
    peak_dbfs: float
    # The music the processed audio has (bpm, bars, loop, ...), which finishing may change: a loop
    # step makes a loop of its bars at its bpm, a tempo fit moves the tempo. None: no music known.
    music: dict[str, Any] | None = None


def file_music(sidecar: Mapping[str, Any]) -> dict[str, Any] | None:
    """The music of a sidecar's processed file: finishing's (post.music) where it changed the
    render's, else the render's own ("music", which describes the dry audio)."""
    post = sidecar.get("post") or {}
    return post.get("music") or sidecar.get("music")


def loop_length(music: Mapping[str, Any] | None, sample_rate: int) -> int | None:
    """Samples in the loop a render's music describes at sample_rate; None when it is no loop."""
    if not music or not music.get("loop") or not music.get("bpm") or not music.get("bars"):
        return None
    return loop_samples(float(music["bars"]), float(music["bpm"]), sample_rate)


def _circular(fn: Any, a: np.ndarray) -> np.ndarray:
    """Run a filter on a loop as the loop is heard: twice in a row, keeping the second pass, so
    its state at the seam is the state of a loop that has been playing (no start-up step)."""
    n = a.shape[-1]
    return np.ascontiguousarray(fn(np.concatenate([a, a], axis=-1))[..., n : 2 * n])


def postprocess(
    audio: np.ndarray,
    sample_rate: int,
    recipe: Recipe,
    *,
    measure_loudness: bool = True,
    music: Mapping[str, Any] | None = None,
) -> PostResult:
    """Run finishing and effects in the documented order (see host.finishing).

    music: the render's music (bpm, bars, loop). A loop that still has its length when a step
    runs is treated as a circle: the DC filter and effects run on it as it plays on repeat, and a
    sample-rate change keeps it exactly round(bars x bar x rate) samples.

    measure_loudness=False skips the final BS.1770 measurement (a third of the time of a light
    recipe) where only the audio is wanted now, as in a re-process preview; loudness_lufs is then
    None unless LUFS normalization measured it anyway."""
    f = recipe.finishing
    a = np.ascontiguousarray(audio, dtype=np.float32)
    sr = int(sample_rate)
    steps: list[dict[str, Any]] = []

    def log(step: str, **info: Any) -> None:
        steps.append({"step": step, **info, "samples": int(a.shape[-1]), "channels": int(a.shape[0])})

    now: dict[str, Any] | None = dict(music) if music else None  # what the audio is, step by step

    def looping() -> bool:
        return loop_length(now, sr) == a.shape[-1]

    def retimed(**changes: Any) -> dict[str, Any]:
        m = {**(now or {}), **changes}
        if m.get("bpm") and m.get("bars"):
            m["length_s"] = round(float(m["bars"]) * 240.0 / float(m["bpm"]), 6)
            m["beats"] = round(float(m["bars"]) * 4, 4)
        return m

    # (array, its peak) when a step learned the peak on its way. While `a` is still that array, a
    # peak normalization, the NaN check and the final level need no pass over the audio of their
    # own: every step returns a new array when it changes the audio (none changes one in place).
    known: tuple[np.ndarray, float] | None = None
    if f.dc_remove == fin.DC_LOOP_MEAN and looping():
        # The exact DC removal of a loop (its mean), which also finds the peak and checks the values.
        a, loop_peak = fin.remove_loop_mean(a)
        known = (a, loop_peak)
        log("dc_remove", mode=fin.DC_LOOP_MEAN)
    elif f.dc_remove:
        # a loop as a circle (the same samples as _circular, without filtering the first copy whole)
        a = fin.remove_dc_circular(a, sr) if looping() else fin.remove_dc(a, sr)
        log("dc_remove", cutoff_hz=5.0)
    if f.channels is not None and f.channels != a.shape[0]:
        a = set_channels(a, f.channels)
        log("channels", channels=f.channels)
    if f.tail_s and looping():
        # A loop's tails already ring into its start (effects run on it as a circle); silence added
        # after it would put a gap in every repeat.
        log("tail", tail_s=f.tail_s, note="skipped: a loop's tails wrap into its start")
    elif f.tail_s:
        a = np.pad(a, ((0, 0), (0, int(round(f.tail_s * sr)))))
        log("tail", tail_s=f.tail_s)
    if recipe.chain.active:
        a = _circular(lambda x: recipe.chain.process(x, sr), a) if looping() else recipe.chain.process(a, sr)
        log("effects", effects=[s.effect for _, s in recipe.chain.active])
    if f.trim_silence and looping():
        # A rest at a loop's start or end is part of its groove: cutting it would move every beat.
        log("trim_silence", **f.trim_silence, note="skipped: a loop keeps its whole bars")
    elif f.trim_silence:
        a = fin.trim_silence(a, sr, **f.trim_silence)
        log("trim_silence", **f.trim_silence)
    if f.tempo_fit:
        was_loop = looping()
        a = fin.tempo_fit(a, sr, **f.tempo_fit)
        if now and now.get("bpm"):
            factor = float(f.tempo_fit["target_bpm"]) / float(f.tempo_fit["source_bpm"])
            now = retimed(bpm=round(float(now["bpm"]) * factor, 3))
            want = loop_length(now, sr)
            if was_loop and want and a.shape[-1] != want:
                # The stretch lands within a few samples of the new whole bars; fit it exactly, as a circle.
                a = resample_loop(a, want)
        log("tempo_fit", **f.tempo_fit)
    if f.loop:
        a, note = fin.make_loop(a, sr, **f.loop)
        # Now a loop of exactly these bars at this tempo, whatever it was before (its key stays).
        bars = float(f.loop["bars"]) * float(f.loop.get("beats_per_bar", 4.0)) / 4.0  # in bars of 4/4
        now = retimed(bpm=float(f.loop["bpm"]), bars=bars, loop=True)
        log("loop", **f.loop, **note)
    if f.fade_in_ms or f.fade_out_ms:
        a = fin.fade(a, sr, f.fade_in_ms, f.fade_out_ms, f.fade_shape)
        log("fade", in_ms=f.fade_in_ms, out_ms=f.fade_out_ms, shape=f.fade_shape)
    if f.sample_rate is not None and f.sample_rate != sr and looping():
        a = resample_loop(a, loop_length(now, f.sample_rate) or 0)
        log("resample", from_hz=sr, to_hz=f.sample_rate, quality="circular (FFT): the loop stays whole bars")
        sr = f.sample_rate
    elif f.sample_rate is not None and f.sample_rate != sr:
        a = resample(a, sr, f.sample_rate)
        log("resample", from_hz=sr, to_hz=f.sample_rate, quality="soxr VHQ")
        sr = f.sample_rate
    norm = f.normalize
    loudness: float | None = None
    measured = False
    if norm and norm["mode"] == "peak" and known is not None and known[0] is a and known[1] > 0:
        # the same samples as normalize_audio gives, scaled in place (`a` is this function's own array)
        gain = _gain(norm["peak_db"], known[1])
        np.multiply(a, gain, out=a)
        known = (a, float(np.float32(known[1]) * gain))  # float32 scaling keeps the samples' order
        log("normalize_peak", peak_db=norm["peak_db"])
    elif norm and norm["mode"] == "peak":
        a = normalize_audio(a, norm["peak_db"])
        log("normalize_peak", peak_db=norm["peak_db"])
    elif norm and norm["mode"] == "lufs" and a.shape[-1] < fin.LUFS_MIN_S * sr:
        # Too short for BS.1770 gating; failing here would throw the render away, so peak-normalize.
        fallback_db = norm["ceiling_db"] if norm["ceiling_db"] is not None else -1.0
        a = normalize_audio(a, fallback_db)
        log(
            "normalize_peak",
            peak_db=fallback_db,
            note=f"shorter than {fin.LUFS_MIN_S} s: no LUFS; peak-normalized instead",
        )
    elif norm and norm["mode"] == "lufs":
        a, info = fin.normalize_lufs(a, sr, norm["lufs"], norm["ceiling_db"])
        log("normalize_lufs", target_lufs=norm["lufs"], ceiling_db=norm["ceiling_db"], **info)
        loudness, measured = info.get("achieved_lufs"), True  # loudness moves by exactly the gain
    peak = known[1] if known is not None and known[0] is a else None  # values checked when found
    if peak is None and not np.all(np.isfinite(a)):
        raise ValueError("post-processing produced NaN or infinite samples")
    if not measured and measure_loudness:
        loudness = fin.loudness_lufs(a, sr)
    return PostResult(a, sr, steps, loudness, peak_dbfs(a) if peak is None else _dbfs(peak), now)
