"""From an engine result to files on disk: post-processing, audio + sidecar per variation,
and a render-library row.

`save_result` is the simple path (peak-normalize, float WAV). `Finisher` is what a
Session plugs in: it holds the current Recipe (effects, finishing, export; a preset
swaps it), writes every variation atomically with a sidecar that reproduces it
exactly, and records each file in the RenderLibrary when one is attached.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import importlib.metadata
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from diffhost import __version__
from diffhost.engine.request import GenerationResult
from diffhost.host.render.atomic import atomic_write_bytes
from diffhost.host.render.effects import file_sha256
from diffhost.host.render.export import (
    atomic_write_wav,
    pack_name,
    slug,
    sweep_partials,
    unique_path,
    write_audio,
    write_sidecar,
)
from diffhost.host.render.finishing import loudness_lufs
from diffhost.host.render.midifile import result_midi
from diffhost.host.render.pending import begin, recover
from diffhost.host.render.post import PostResult, Recipe, normalize_audio, postprocess

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


@dataclass(frozen=True)
class Processed:
    """One variation's processed audio, handed to taps (Finisher.add_tap) BEFORE its files are
    written: a live part that plays renders (the DAW plugin link) takes it at once, so a pad gets
    its clip within milliseconds of the render's end instead of after the WAV, the dry copy, the
    stems, the sidecar and the library row are written and synced (most of a second for 30 s).

    path: where the processed file is going (not there yet); sidecar: its sidecar's content as far
    as it is known before writing (params, model, music, effects, finishing, export: all a re-render
    needs); audio: float32 (channels, samples) before the export's encoding; job_id/job_tag: the
    engine job it came from (None when the caller did not say)."""

    path: Path
    variation: int
    audio: np.ndarray
    sample_rate: int
    sidecar: dict[str, Any]
    job_id: int | None = None
    job_tag: str | None = None


class Handover(Protocol):
    """What a tap may return: something to wait on (a threading.Event) that is set once the tap's
    urgent work with the audio is done (the plugin link: the clip is in the cache and its load is
    sent)."""

    def wait(self, timeout: float | None = None) -> bool: ...


# A tap returns None, or a Handover the finisher waits for (at most TAP_WAIT_S) before it writes
# the files: on a machine with few cores, the files' writing and hashing would otherwise compete
# with the tap's own work for the CPU and slow the very clip that is waited for in the DAW.
Tap = Callable[[Processed], "Handover | None"]
TAP_WAIT_S = 1.0


@dataclass(frozen=True)
class SavedRender:
    path: Path
    sidecar: Path
    variation: int
    length_s: float
    sample_rate: int
    channels: int
    peak_dbfs: float
    loudness_lufs: float | None = None
    render_id: int | None = None  # render-library row, when a library is attached
    dry_path: Path | None = None  # the unprocessed audio it can be re-processed from


def default_name(result: GenerationResult, suffix: str = ".wav") -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{slug(result.request.prompt)}-s{result.seed}{suffix}"


def save_result(
    result: GenerationResult,
    out: Path,
    *,
    peak_db: float | None = -1.0,
    extra: dict[str, Any] | None = None,
) -> list[SavedRender]:
    """Write every variation of result. out is a folder or a file path (.wav).

    Never overwrites: a taken name gets a numeric suffix.
    """
    out = Path(out).expanduser()
    base = out if out.suffix.lower() == ".wav" else out / default_name(result)
    n = result.audio.shape[0]
    saved = []
    for v in range(n):
        audio = result.audio[v]
        gain = 1.0
        if peak_db is not None:
            before = float(np.max(np.abs(audio))) if audio.size else 0.0
            audio = normalize_audio(audio, peak_db=peak_db)
            gain = float(np.max(np.abs(audio))) / before if before > 0 else 1.0
        target = base if n == 1 else base.with_name(f"{base.stem}-v{v + 1}{base.suffix}")
        target = unique_path(target)
        atomic_write_wav(target, audio, result.sample_rate)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        info = {
            "diffhost_version": __version__,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            **result.reproduce_dict(),
            "variation": v,
            "finishing": [{"step": "normalize_peak", "peak_db": peak_db}] if peak_db is not None else [],
            "render_s": round(result.render_s, 4),
            **music_info(result, v),
            **write_parts(target, result, v, gain=gain, sum_of="file"),
            **(extra or {}),
        }
        side = write_sidecar(target, info)
        saved.append(
            SavedRender(
                path=target.resolve(),
                sidecar=side.resolve(),
                variation=v,
                length_s=audio.shape[-1] / result.sample_rate,
                sample_rate=result.sample_rate,
                channels=int(audio.shape[0]),
                peak_dbfs=20 * np.log10(peak) if peak > 0 else float("-inf"),
            )
        )
    return saved


def music_info(result: GenerationResult, variation: int) -> dict[str, Any]:
    """{"music": {bpm, key, bars, loop, bank, ...}} when the model reported them (the default model's loops)."""
    music = result.extra.get("music") if result.extra else None
    if not music:
        return {}
    return {"music": music[min(variation, len(music) - 1)]}


def _versions() -> dict[str, str]:
    out = {"diffhost": __version__}
    for pkg in ("pedalboard", "soxr", "pyloudnorm", "numpy", "soundfile"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[pkg] = importlib.metadata.version(pkg)
    return out


def save_seed_clip(result: GenerationResult, folder: Path) -> dict[str, Any] | None:
    """Keep the seed clip a render started from (content-addressed float WAV) so it can be re-rendered."""
    clip = result.request.seed_clip
    if clip is None:
        return None
    audio = np.ascontiguousarray(clip.audio, dtype=np.float32)
    h = hashlib.sha256(audio.tobytes() + str(clip.sample_rate).encode()).hexdigest()
    path = folder / "seeds" / f"{h[:32]}.wav"
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # written meanwhile: same content, same name
            atomic_write_wav(path, audio, clip.sample_rate)
    return {"path": str(path.resolve()), "sha256": h}


class Finisher:
    """Session finisher: `finisher(result, out_dir, job)` -> list[SavedRender].

    Holds the session's current Recipe; `configure` swaps it atomically (validated first, so a bad
    preset changes nothing). A job with its own recipe (a preset for one render, a re-rendered
    row) goes through `finish` with that recipe; the Session carries it beside the job.
    """

    def __init__(self, recipe: Recipe | None = None, *, library: Any = None):
        self._recipe = recipe or Recipe()
        self._lock = threading.Lock()
        self.library = library
        self._swept: set[Path] = set()
        self._taps: list[Tap] = []

    def add_tap(self, tap: Tap) -> None:
        """Call `tap(processed)` on the finishing thread as soon as each variation is processed,
        before its files are written (Processed says why): a live part that sends the render on
        (the plugin link) uses the audio at once instead of reading the file back. A tap must only
        keep what it needs and return quickly; its failure never fails the render. It may return
        a Handover (e.g. a threading.Event) that it sets when its urgent work is done: the files
        are written after that, or after TAP_WAIT_S, whichever comes first."""
        self._taps.append(tap)

    def remove_tap(self, tap: Tap) -> None:
        with contextlib.suppress(ValueError):
            self._taps.remove(tap)

    @property
    def recipe(self) -> Recipe:
        return self._recipe

    def configure(self, recipe: Recipe) -> None:
        with self._lock:
            self._recipe = recipe

    def __call__(self, result: GenerationResult, out: Path, job: Any = None) -> list[SavedRender]:
        return self.finish(result, out, self._recipe)

    def finish(
        self,
        result: GenerationResult,
        out: Path,
        recipe: Recipe | None = None,
        *,
        variations: tuple[int, ...] | None = None,
        parent_id: int | None = None,
        tags: tuple[str, ...] = (),
        progress: Callable[[int, int], None] | None = None,
        stop: threading.Event | None = None,
        job: tuple[int, str | None] | None = None,
    ) -> list[SavedRender]:
        """Post-process and write the given variations (default all). out: folder or file path.
        job: (id, tag) of the engine job, passed on to taps (add_tap).

        Each variation keeps its dry audio (the engine's output, float WAV in `dry/` beside the
        file) so effects, finishing and export can be changed later without rendering again
        (host.reprocess). progress(done, total) is called as files are written. `stop` (the app
        is quitting) ends the loop between files: each file already written is whole, with its
        sidecar and row, and no file is left half-written.
        """
        recipe = recipe or self._recipe
        out = Path(out).expanduser()
        suffix = recipe.export.suffix
        if out.suffix.lower() in AUDIO_SUFFIXES:  # a file name: with the export format's suffix
            base = out.with_suffix(suffix)
        elif recipe.export.pack_names:
            base = out / pack_name(
                result.request.prompt, music_info(result, 0).get("music"), result.seed, suffix
            )
        else:
            base = out / default_name(result, suffix)
        n = result.audio.shape[0]
        chosen = variations if variations is not None else tuple(range(n))
        if base.parent not in self._swept:  # once per folder: leftovers of a crash mid-write
            self._swept.add(base.parent)
            sweep_partials(base.parent)
            for line in recover(base.parent, self.library):  # renders a killed run left half-written
                print(f"diffhost: renders: {line}", file=sys.stderr)
        seed_clip = save_seed_clip(result, base.parent)
        repro = result.reproduce_dict()
        if seed_clip is not None:
            repro["params"]["seed_clip"] = {**repro["params"].get("seed_clip", {}), **seed_clip}
        saved = []
        for done, v in enumerate(chosen):
            if stop is not None and stop.is_set():
                break
            if progress is not None:
                progress(done, len(chosen))
            dry = result.audio[v]
            # The loudness figure (BS.1770, a good part of a light recipe's time) is measured after
            # the taps have the audio: a pad waiting for this render does not wait for a number.
            post = postprocess(
                dry, result.sample_rate, recipe, music=music_info(result, v).get("music"), measure_loudness=False
            )
            target = base if n == 1 else base.with_name(f"{base.stem}-v{v + 1}{base.suffix}")
            target = unique_path(target)
            self._tell_taps(result, recipe, target, post, v, repro, tags, job)
            if post.loudness_lufs is None:
                post = dataclasses.replace(post, loudness_lufs=loudness_lufs(post.audio, post.sample_rate))
            # Dry audio, processed file, sidecar and row appear together or not at all: a marker
            # names them until the row is in (host.render.pending), so a kill mid-way is settled
            # on the next start and a failure here is rolled back at once.
            pending = begin(target, unique_path(dry_path_for(target)))
            try:
                written = self._write_variation(
                    result, recipe, target, post, dry, v, pending.dry, repro, parent_id, tags
                )
            except BaseException:
                pending.roll_back()
                raise
            pending.done()
            saved.append(written)
        if progress is not None:
            progress(len(saved), len(chosen))
        return saved

    def _tell_taps(
        self,
        result: GenerationResult,
        recipe: Recipe,
        target: Path,
        post: PostResult,
        v: int,
        repro: dict[str, Any],
        tags: tuple[str, ...],
        job: tuple[int, str | None] | None,
    ) -> None:
        if not self._taps:
            return
        info = {**repro, "variation": v, "render_s": round(result.render_s, 4), **music_info(result, v)}
        processed = Processed(
            path=target.resolve(),
            variation=v,
            audio=post.audio,
            sample_rate=int(post.sample_rate),
            sidecar=sidecar_body(info, recipe, tags, result.sample_rate),
            job_id=job[0] if job is not None else None,
            job_tag=job[1] if job is not None else None,
        )
        handovers: list[Handover] = []
        for tap in list(self._taps):
            try:
                handover = tap(processed)
            except Exception as exc:  # the render is still saved; the tap's part just misses it
                print(f"diffhost: renders: a live part could not take {target.name}: {exc}", file=sys.stderr)
                continue
            if handover is not None and callable(getattr(handover, "wait", None)):  # else ignored
                handovers.append(handover)
        deadline = time.monotonic() + TAP_WAIT_S
        for handover in handovers:  # a tap that is slower than this loses only the head start
            try:
                handover.wait(max(0.0, deadline - time.monotonic()))
            except Exception as exc:  # the files are written all the same
                print(f"diffhost: renders: a live part's hand-over failed for {target.name}: {exc}", file=sys.stderr)

    def recover(self, folder: Path) -> list[str]:
        """Settle renders a killed process left half-written in `folder` (host.render.pending):
        complete ones are adopted into the library, the rest go to its trash/. One line each."""
        return recover(Path(folder), self.library)

    def _write_variation(
        self,
        result: GenerationResult,
        recipe: Recipe,
        target: Path,
        post: PostResult,
        dry: np.ndarray,
        v: int,
        dry_target: Path,
        repro: dict[str, Any],
        parent_id: int | None,
        tags: tuple[str, ...],
    ) -> SavedRender:
        dry_info = write_dry(target, dry, result.sample_rate, path=dry_target)
        info = {
            **repro,
            "variation": v,
            "dry": dry_info,
            "parent_id": parent_id,
            "render_s": round(result.render_s, 4),
            **music_info(result, v),
            **write_parts(target, result, v),
        }
        return write_render(
            target,
            post,
            recipe,
            info,
            library=self.library,
            dither_seed=dither_seed(result.seed, v),
            row={
                "prompt": result.request.prompt,
                "params": repro["params"],
                "model": result.model.name,
                "variation": v,
                "parent_id": parent_id,
                "tags": tuple(tags),
                "dry_path": target.parent / dry_info["path"],
            },
            effects_rate=result.sample_rate,
        )


DRY_DIR = "dry"


def write_parts(
    target: Path, result: GenerationResult, variation: int, *, gain: float = 1.0, sum_of: str = "dry"
) -> dict[str, Any]:
    """A score model's stems (float WAV per part in `<name>.stems/`) and its MIDI (`<name>.mid`)
    beside target. The stems sum to `sum_of`: the dry audio (the finisher keeps it in dry/; effects
    and finishing shape only the mix), or the file itself when it is the engine's audio times `gain`.
    Returns the sidecar's entries (paths relative to the sidecar's folder); {} when there are none,
    or {"no_parts": why} when the model said why it has none (a one-shot)."""
    out: dict[str, Any] = {}
    if (result.extra or {}).get("no_parts"):
        out["no_parts"] = str(result.extra["no_parts"])
    stems = (result.extra or {}).get("stems")
    if stems:
        parts = stems[min(variation, len(stems) - 1)]
        folder = target.parent / f"{target.stem}.stems"
        for i in range(2, 100000):
            if not folder.exists():
                break
            folder = target.parent / f"{target.stem}-{i}.stems"
        folder.mkdir(parents=True)
        written = {}
        for role, audio in parts.items():
            path = folder / f"{target.stem}_{role}.wav"
            atomic_write_wav(path, np.asarray(audio, dtype=np.float32) * np.float32(gain), result.sample_rate)
            written[role] = str(path.relative_to(target.parent))
        out["stems"] = {"sum_of": sum_of, "sample_rate": int(result.sample_rate), "files": written}
    midi = result_midi(result, variation)
    if midi:
        path = unique_path(target.with_suffix(".mid"))
        atomic_write_bytes(path, midi)
        out["midi"] = str(path.relative_to(target.parent))
    return out


def dry_path_for(target: Path) -> Path:
    """Where a processed file's dry audio goes: `dry/<stem>.wav` beside it (never overwritten)."""
    return target.parent / DRY_DIR / f"{target.stem}.wav"


def write_dry(target: Path, audio: np.ndarray, sample_rate: int, *, path: Path | None = None) -> dict[str, Any]:
    """Keep the engine's output as float WAV (lossless, unnormalized, any level) next to target
    (at `path` when the caller chose the name). Returns the sidecar's "dry" entry; its path is
    relative to the sidecar's folder."""
    path = path or unique_path(dry_path_for(target))
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    atomic_write_wav(path, audio, sample_rate)
    return {
        "path": str(path.relative_to(target.parent)),
        "sample_rate": int(sample_rate),
        "channels": int(audio.shape[0]),
        "samples": int(audio.shape[-1]),
        "sha256": file_sha256(path),
    }


def write_render(
    target: Path,
    post: PostResult,
    recipe: Recipe,
    info: dict[str, Any],
    *,
    library: Any,
    dither_seed: int,
    row: dict[str, Any],
    effects_rate: int,
) -> SavedRender:
    """Write processed audio in the recipe's export format, its sidecar (info + the recipe + what
    post-processing did) and, with a library, its row. Shared by first saves and re-processing."""
    music = post.music or info.get("music")  # the processed file's: finishing may have re-looped it
    written = write_audio(
        target, post.audio, post.sample_rate, recipe.export, dither_seed=dither_seed, music=music
    )
    length_s = post.audio.shape[-1] / post.sample_rate
    body = {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **sidecar_body(info, recipe, tuple(row.get("tags") or ()), effects_rate),
        "post": {
            "steps": post.steps,
            "sample_rate": written.sample_rate,
            "channels": int(post.audio.shape[0]),
            "samples": int(post.audio.shape[-1]),
            "length_s": round(length_s, 6),
            "peak_dbfs": round(post.peak_dbfs, 4),
            "loudness_lufs": None if post.loudness_lufs is None else round(post.loudness_lufs, 3),
            "notes": list(written.notes),
            **({"music": music} if music and music != info.get("music") else {}),
        },
        "audio_sha256": file_sha256(target),
        "versions": _versions(),
    }
    if written.encoding:
        body["encoding"] = written.encoding  # dither only when applied; MP3 encoder delay
    side = write_sidecar(target, body)
    render_id = None
    if library is not None:
        render_id = library.add(
            prompt=row["prompt"],
            params=row["params"],
            model=row["model"],
            path=target.resolve(),
            sidecar=side.resolve(),
            length_s=length_s,
            sample_rate=written.sample_rate,
            channels=int(post.audio.shape[0]),
            loudness_lufs=post.loudness_lufs,
            peak_dbfs=post.peak_dbfs,
            file_format=recipe.export.format,
            variation=row["variation"],
            preset=recipe.preset,
            parent_id=row.get("parent_id"),
            tags=tuple(row.get("tags") or ()),
            dry_path=row.get("dry_path"),
            music=music,
        )
    return SavedRender(
        path=target.resolve(),
        sidecar=side.resolve(),
        variation=int(row["variation"]),
        length_s=length_s,
        sample_rate=written.sample_rate,
        channels=int(post.audio.shape[0]),
        peak_dbfs=post.peak_dbfs,
        loudness_lufs=post.loudness_lufs,
        render_id=render_id,
        dry_path=None if row.get("dry_path") is None else Path(row["dry_path"]).resolve(),
    )


def sidecar_body(info: dict[str, Any], recipe: Recipe, tags: tuple[str, ...], effects_rate: int) -> dict[str, Any]:
    """A sidecar's content that is known before anything is written: the render's info (params,
    model, music...) and the recipe that processed it. write_render adds what writing learns."""
    return {
        **info,
        "preset": recipe.preset,
        "preset_tags": list(recipe.tags),  # they describe the preset, not this render
        "tags": list(tags),
        "effects": recipe.chain.describe(effects_rate),
        "finishing": recipe.finishing.to_dict(),
        "export": recipe.export.to_dict(),
    }


def dither_seed(seed: int, variation: int) -> int:
    return (int(seed) * 1_000_003 + variation) % 2**63
