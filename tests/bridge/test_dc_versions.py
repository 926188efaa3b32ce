"""A pad's recipe says how its loop's DC was removed, so a DAW project opened later gets the very
clip it saved: a recipe from before DC modes (`"dc_remove": true`, or no key) is rendered again
with the 5 Hz high-pass run as a circle, a new one (`"loop_mean"`) with the loop's mean taken off.
Real runtime, real renders of the embedded default model, the Python plugin peer over UDP."""

from __future__ import annotations

import json

import numpy as np

from diffhost.host.live.bridge import ClipCache
from diffhost.host.live.bridge.clips import make_clip, parse_recipe, recipe_json
from diffhost.host.live.bridge.restore import render_again, restore_clip
from diffhost.host.render import finishing as fin
from diffhost.host.render.post import normalize_audio


def with_dc(recipe_text: str, dc: object) -> str:
    """The recipe with its sidecar's DC mode set to `dc` (the key dropped when dc is ...)."""
    sidecar, spec, again = parse_recipe(recipe_text)
    finishing = dict(sidecar["finishing"])
    if dc is ...:
        finishing.pop("dc_remove")
    else:
        finishing["dc_remove"] = dc
    return recipe_json({**sidecar, "finishing": finishing}, spec, again)


def test_old_recipes_restore_with_the_filter_and_new_ones_with_the_loops_mean(make_peer, client, runtime, clip_cache):
    peer = make_peer(track="DC", sample_rate=48000.0)
    peer.hello()
    peer.transport(100.0)
    client.send("/diffhost/plugin/render", peer.id, 1, "deep house loop", 1.0, 1, 5)
    new = peer.receive_load()
    sidecar, spec, again = parse_recipe(new["recipe"])
    assert sidecar["finishing"]["dc_remove"] == fin.DC_LOOP_MEAN and spec.loop and again == {}
    # The new clip has no DC: each channel's mean is below 1e-7 of its peak.
    clip = new["audio"].astype(np.float64)
    assert np.all(np.abs(clip.mean(axis=-1)) < 1e-7 * np.abs(clip).max())

    # The render itself, untouched (no DC step, no normalization), to compute both answers from.
    dry_side = {**sidecar, "finishing": {**sidecar["finishing"], "dc_remove": False, "normalize": None}}
    dry, sr = render_again(runtime.session, dry_side, again)
    assert sr == 48000 and dry.shape[-1] == spec.samples
    mean = dry.astype(np.float64).mean(axis=-1, keepdims=True).astype(np.float32)
    centred = make_clip(normalize_audio(dry - mean, -1.0), sr, spec)
    filtered = make_clip(normalize_audio(fin.remove_dc_circular(dry, sr), -1.0), sr, spec)
    assert not np.array_equal(centred, filtered)
    np.testing.assert_array_equal(new["audio"], centred)

    cache = ClipCache(clip_cache)
    # A recipe from before modes, with the key or without it: rendered again with the filter.
    old = restore_clip(runtime.session, with_dc(new["recipe"], True), cache)
    assert old.hash != new["hash"]
    assert old.hash == cache.put(filtered, sr)
    assert restore_clip(runtime.session, with_dc(new["recipe"], ...), cache).hash == old.hash
    # The new recipe, once its clip is lost, comes back bit for bit.
    new["path"].unlink()
    assert restore_clip(runtime.session, new["recipe"], cache, expect=new["hash"]).hash == new["hash"]
    assert json.loads(new["recipe"])["sidecar"]["finishing"]["dc_remove"] == "loop_mean"
