"""Make a pad's clip again from the recipe the DAW project kept, when the cache has lost it.

The recipe holds the render's sidecar (model, exact params with the resolved seed, effects,
finishing, export, and the sha256 of the processed file) and the clip spec (plugin rate, bars,
tempo). The render is repeated with exactly those params into a scratch folder, its processed file
is checked against the kept hash, and the clip is made from it as it was the first time: the same
bytes, so the same hash the project asks for.
"""

from __future__ import annotations

import hashlib
import queue
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffhost.engine.audio import read_audio
from diffhost.engine.request import GenerationRequest
from diffhost.host.library import request_from_params
from diffhost.host.live.bridge.cache import ClipCache
from diffhost.host.live.bridge.clips import make_clip, parse_recipe

DEFAULT_MODELS = (None, "", "default", "diffhost-default")


@dataclass(frozen=True)
class Restored:
    hash: str
    path: Path
    # The repeated render's processed file has the sha256 the recipe kept (None: a re-fitted loop,
    # rendered again in memory, has no file to compare; its clip's hash is the check).
    render_matches: bool | None


def request_from(sidecar: dict[str, Any]) -> tuple[GenerationRequest, str | None, int]:
    """(request, model spec, variation) behind a sidecar, exactly."""
    request = request_from_params(sidecar.get("params") or {}, where="recipe", music=sidecar.get("music"))
    name = (sidecar.get("model") or {}).get("name")
    model = None if name in DEFAULT_MODELS else str(name)
    return request, model, int(sidecar.get("variation") or 0)


def finishing_recipe(sidecar: dict[str, Any]) -> Any:
    from diffhost.host.render.effects import recipe_effects
    from diffhost.host.render.post import Recipe

    return Recipe.from_dict(
        {
            "effects": recipe_effects(sidecar.get("effects") or [], where="recipe: effects"),
            "finishing": sidecar.get("finishing"),
            "export": sidecar.get("export"),
            "preset": sidecar.get("preset"),
            "tags": sidecar.get("preset_tags"),
        }
    )


def render_again(
    session: Any, sidecar: dict[str, Any], changes: dict[str, Any] | None = None, *, timeout: float = 600.0
) -> tuple[Any, int]:
    """The processed audio (float, before any export) of a sidecar's render made again with
    `changes` (a loop's new tempo and length), rendered at live priority and kept in memory:
    nothing is written, announced or added to the library (a tempo ramp re-fits many times)."""
    from diffhost.host.render.finisher import music_info
    from diffhost.host.render.post import postprocess

    request, model, variation = request_from(sidecar)
    if changes:
        request = request.with_(**changes)
    recipe = finishing_recipe(sidecar)
    events = session.engine.subscribe()
    try:
        job = session.submit_internal(request, model=model, priority="live", tag="plugin:refit")
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                session.cancel(job.id)
                raise TimeoutError(f"render: job {job.id} did not finish within {timeout:g} s")
            try:
                ev = events.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if ev.job_id == job.id and ev.terminal:
                break
    finally:
        session.engine.unsubscribe(events)
    if ev.kind != "done" or ev.result is None:
        raise ValueError(f"render: {ev.kind}: {ev.message}")
    v = min(variation, ev.result.audio.shape[0] - 1)
    # As the finisher does it (its music info makes a loop's effects run as a circle), so a clip
    # first made from the finisher's audio in memory comes back with the same bytes.
    music = music_info(ev.result, v).get("music")
    post = postprocess(ev.result.audio[v], ev.result.sample_rate, recipe, measure_loudness=False, music=music)
    return post.audio, int(post.sample_rate)


def restore_clip(
    session: Any, recipe_text: str, cache: ClipCache, *, expect: str | None = None, timeout: float = 600.0
) -> Restored:
    """Render the recipe again and put its clip in the cache; `expect` (the hash the project
    asks for) must then match, else ValueError says the render was not reproduced."""
    sidecar, spec, again = parse_recipe(recipe_text)
    if again is not None:  # made from audio in memory: rendered again in memory, as then
        audio, sr = render_again(session, sidecar, again, timeout=timeout)
        h = cache.put(make_clip(audio, sr, spec), spec.sample_rate)
        if expect is not None and h != expect:
            raise ValueError(f"restore: the clip rendered again has hash {h}, not {expect}")
        return Restored(h, cache.path_of(h), None)
    request, model, variation = request_from(sidecar)
    recipe = finishing_recipe(sidecar)
    scratch = Path(tempfile.mkdtemp(prefix="diffhost-restore-"))
    try:
        _, ev = session.wait_for(
            lambda: session.render_exact(
                request,
                model=model,
                recipe=recipe,
                out=scratch,
                variations=(variation,),
                tag="plugin:restore",
            ),
            timeout=timeout,
        )
        if ev.kind != "done" or not ev.paths:
            raise ValueError(f"restore: the render did not finish ({ev.kind}: {ev.message})")
        path = Path(ev.paths[0])
        matches = hashlib.sha256(path.read_bytes()).hexdigest() == sidecar.get("audio_sha256")
        audio, sr = read_audio(path)
        h = cache.put(make_clip(audio, sr, spec), spec.sample_rate)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if expect is not None and h != expect:
        raise ValueError(
            f"restore: the clip rendered again has hash {h}, not {expect}"
            + ("" if matches else " (the render itself differs from the one the recipe describes)")
        )
    return Restored(h, cache.path_of(h), matches)
