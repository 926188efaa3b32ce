"""Non-destructive post: re-process a render from its dry audio with another recipe.

Every render keeps the engine's output (host.save writes it to `dry/` beside the processed file and
names it in the sidecar and the library row). Effects, finishing and export are a Recipe applied to
that dry audio, so changing them is a re-process, never a new engine job:

    source = load_source(path_or_row)            # reads the dry audio once (disk)
    preview = reprocess(source, recipe)          # in memory: what Play plays (milliseconds)
    saved = keep(preview, library, replace=False)  # a new version beside it, or replace the file

Replacing moves the old processed file and its sidecar to the trash (through the library when there
is one); the dry audio is never moved or overwritten. Front ends reach this through
Session.reprocess / Session.keep_reprocessed, so OSC can use it as the window does.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from diffhost.engine.audio import read_audio
from diffhost.host.render.export import sidecar_path, unique_path
from diffhost.host.render.finisher import SavedRender, dither_seed, write_render
from diffhost.host.render.finishing import loudness_lufs
from diffhost.host.render.post import PostResult, Recipe, postprocess


class ReprocessError(ValueError):
    """A render that cannot be re-processed (no dry audio, changed file): says which and why."""


@dataclass(frozen=True)
class DrySource:
    """A render's dry audio and what it belongs to."""

    path: Path  # the processed file
    dry_path: Path
    audio: np.ndarray  # float32 (channels, samples), exactly as the engine returned it
    sample_rate: int
    sidecar: dict[str, Any]
    render_id: int | None = None

    @property
    def variation(self) -> int:
        return int(self.sidecar.get("variation") or 0)

    @property
    def seed(self) -> int:
        return int((self.sidecar.get("params") or {}).get("seed") or 0)


@dataclass(frozen=True)
class Reprocessed:
    """The dry audio through a recipe, in memory (nothing written yet)."""

    source: DrySource
    recipe: Recipe
    post: PostResult
    seconds: float  # how long the re-process took

    @property
    def audio(self) -> np.ndarray:
        return self.post.audio

    @property
    def sample_rate(self) -> int:
        return self.post.sample_rate


def load_source(render: Any, library: Any = None) -> DrySource:
    """A render's dry audio, from a processed file's path, a library row, or a row id (with library)."""
    render_id = None
    if isinstance(render, (int, np.integer)) and not isinstance(render, bool):
        if library is None:
            raise ReprocessError(f"render {render}: re-processing by id needs the render library")
        render = library.get(int(render))
    if hasattr(render, "path") and hasattr(render, "id"):  # a library row
        render_id = int(render.id)
        path = Path(render.path)
        side_file = Path(render.sidecar) if getattr(render, "sidecar", None) else sidecar_path(path)
    else:
        path = Path(render)
        side_file = sidecar_path(path)
        row = library.find(path) if library is not None else None
        if row is not None:  # listed: keep its id, so a replace goes through the library's trash
            render_id = row.id
            side_file = Path(row.sidecar) if row.sidecar else side_file
    try:
        side = json.loads(side_file.read_text())
    except FileNotFoundError:
        raise ReprocessError(f"{path.name}: its sidecar {side_file} is missing; cannot find the dry audio") from None
    except ValueError as exc:
        raise ReprocessError(f"{path.name}: sidecar {side_file} is not valid JSON ({exc})") from None
    dry = side.get("dry")
    if not dry:
        raise ReprocessError(
            f"{path.name}: made before diffhost kept dry audio, so there is nothing to re-process; "
            "re-render it (History → Re-render) to get one"
        )
    dry_path = (side_file.parent / dry["path"]).resolve()
    if not dry_path.is_file():
        raise ReprocessError(f"{path.name}: its dry audio {dry_path} is missing")
    audio, sr = read_audio(dry_path)
    if sr != int(dry["sample_rate"]) or audio.shape[-1] != int(dry["samples"]):
        raise ReprocessError(f"{path.name}: dry audio {dry_path} does not match its sidecar (changed on disk?)")
    return DrySource(path, dry_path, np.ascontiguousarray(audio, dtype=np.float32), sr, side, render_id)


def reprocess(source: DrySource, recipe: Recipe) -> Reprocessed:
    """Run the recipe's effects and finishing on the dry audio (no engine, no disk)."""
    t0 = time.perf_counter()
    # Loudness is measured when the result is kept (for the sidecar and the row), not per preview.
    post = postprocess(
        source.audio, source.sample_rate, recipe, measure_loudness=False, music=source.sidecar.get("music")
    )
    return Reprocessed(source, recipe, post, time.perf_counter() - t0)


def keep(rep: Reprocessed, library: Any = None, *, replace: bool = False) -> SavedRender:
    """Write a re-processed render: as a new version beside the old one (a child row), or in place
    of the processed file (the old file and sidecar go to the trash). The dry audio stays put."""
    src, side = rep.source, rep.source.sidecar
    post = rep.post
    if post.loudness_lufs is None:  # skipped for the preview; the sidecar and the row want it
        post = dataclasses.replace(post, loudness_lufs=loudness_lufs(post.audio, post.sample_rate))
    row = _row_fields(src, library)  # before a replace hides the row
    if replace:
        _trash(src, library)
    # Same folder as the old file, so the sidecar's relative dry path still points at the dry audio.
    target = unique_path(src.path.with_suffix(rep.recipe.export.suffix))
    info = {
        "model": side.get("model"),
        "params": side.get("params"),
        "variation": src.variation,
        "dry": side["dry"],
        "parent_id": src.render_id,
        "reprocessed_from": {"path": str(src.path), "render_id": src.render_id, "replaced": replace},
        "render_s": side.get("render_s"),
    }
    if side.get("music"):  # the tempo, key, bars and loop travel with every version of the render
        info["music"] = side["music"]
    return write_render(
        target,
        post,
        rep.recipe,
        info,
        library=library,
        dither_seed=dither_seed(src.seed, src.variation),
        row={**row, "parent_id": src.render_id, "dry_path": src.dry_path},
        effects_rate=src.sample_rate,
    )


def _row_fields(src: DrySource, library: Any) -> dict[str, Any]:
    side = src.sidecar
    params = dict(side.get("params") or {})
    if library is not None and src.render_id is not None:
        r = library.get(src.render_id)
        return {"prompt": r.prompt, "params": r.params, "model": r.model, "variation": r.variation, "tags": r.tags}
    model = (side.get("model") or {}).get("name")
    return {
        "prompt": params.get("prompt"),
        "params": params,
        "model": model,
        "variation": src.variation,
        "tags": tuple(side.get("tags") or ()),
    }


def _trash(src: DrySource, library: Any) -> None:
    """The old processed file and sidecar to the trash: the library's (journaled) when the render is
    in it, else a `trash/` folder beside the file. Nothing is deleted."""
    if library is not None and src.render_id is not None:
        library.delete(src.render_id)
        return
    trash = src.path.parent / "trash"
    trash.mkdir(exist_ok=True)
    dest = unique_path(trash / src.path.name)
    shutil.move(str(src.path), str(dest))
    side = sidecar_path(src.path)
    if side.exists():
        shutil.move(str(side), str(sidecar_path(dest)))
