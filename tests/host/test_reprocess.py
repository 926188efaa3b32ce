"""Non-destructive post: dry audio kept with every render, re-processed with another recipe, kept
as a new version or in place of the processed file; effect tails past the clip's end."""

from __future__ import annotations

import json
import queue
import sqlite3
from dataclasses import replace

import numpy as np
import pytest

from diffhost.engine.audio import read_audio
from diffhost.engine.engine import Engine
from diffhost.host.library import RenderLibrary
from diffhost.host.presets import PresetStore
from diffhost.host.render.effects import file_sha256
from diffhost.host.render.finisher import Finisher
from diffhost.host.render.post import Recipe
from diffhost.host.render.reprocess import ReprocessError, keep, load_source, reprocess
from diffhost.host.session import Session

REVERB = Recipe.from_dict(
    {"effects": [{"effect": "Reverb", "params": {"room_size": 0.9, "wet_level": 0.6}}], "finishing": {}}
)


@pytest.fixture
def lib(tmp_path):
    library = RenderLibrary.open_default(tmp_path / "lib")
    yield library
    library.close()


@pytest.fixture
def rendered(model, lib, tmp_path):
    """A 'tight snare' render (preset recipe) with its library row."""
    preset = PresetStore().load("tight snare")
    result = model.render(preset.request(seed=5))
    saved = Finisher(preset.recipe(), library=lib).finish(result, tmp_path / "renders")[0]
    return result, saved


def test_reprocess_equals_rendering_with_that_recipe_and_needs_no_engine(model, lib, tmp_path, rendered):
    result, saved = rendered
    engine = Engine()  # never started: a job submitted by mistake would never finish
    events = engine.subscribe()
    finisher = Finisher(library=lib)
    session = Session(engine, renders_dir=tmp_path / "renders", finish=finisher, library=lib)
    try:
        finisher.configure(REVERB)
        rep = session.reprocess(saved.render_id)  # the session's current recipe
        assert events.empty() and engine.pending() == 0
        # What re-processing gives is exactly what rendering with that recipe would have written.
        direct = Finisher(REVERB).finish(result, tmp_path / "direct")[0]
        kept = session.keep_reprocessed(rep)
        a, _ = read_audio(kept.path)
        b, _ = read_audio(direct.path)
        assert np.array_equal(a, b)
        old, _ = read_audio(saved.path)
        assert old.shape != a.shape or not np.allclose(old, a, atol=1e-3)  # the snare's gate/trim are gone
    finally:
        session.close()
    with pytest.raises(queue.Empty):
        events.get_nowait()


def test_keep_new_version_and_replace_never_lose_the_dry_audio(lib, rendered):
    _, saved = rendered
    row = lib.get(saved.render_id)
    dry_hash = file_sha256(row.dry_path)
    source = load_source(row, lib)
    version = keep(reprocess(source, REVERB), lib)
    assert saved.path.is_file() and version.path != saved.path and version.path.parent == saved.path.parent
    child = lib.get(version.render_id)
    assert child.parent_id == row.id and child.dry_path == row.dry_path and child.prompt == row.prompt
    side = json.loads(version.sidecar.read_text())
    assert side["effects"][0]["effect"] == "Reverb" and side["reprocessed_from"]["render_id"] == row.id

    # Replace: the old processed file and sidecar go to the trash, the new one takes its name.
    old_bytes = saved.path.read_bytes()
    replaced = keep(reprocess(load_source(child, lib), Recipe()), lib, replace=True)
    assert replaced.path == version.path and not any(r.id == child.id for r in lib.list())
    trashed = lib._row(child.id, include_trashed=True)
    assert trashed.state == "trashed" and trashed.trash_path.is_file()
    assert saved.path.read_bytes() == old_bytes  # the first render is untouched
    assert file_sha256(row.dry_path) == dry_hash  # and the dry audio never moved or changed
    again = load_source(replaced.render_id, lib)
    assert again.dry_path == row.dry_path


def test_effect_tail_renders_reverb_past_the_clip_end(lib, rendered):
    _, saved = rendered
    source = load_source(saved.render_id, lib)
    n, sr = source.audio.shape[-1], source.sample_rate
    cut = reprocess(source, replace(REVERB, finishing=replace(REVERB.finishing, normalize=None)))
    tail = reprocess(
        source, replace(REVERB, finishing=replace(REVERB.finishing, normalize=None, tail_s=1.5))
    )
    assert cut.audio.shape[-1] == n
    assert tail.audio.shape[-1] == n + int(round(1.5 * sr))
    ring = tail.audio[:, n : n + sr // 2]
    assert 20 * np.log10(np.sqrt(np.mean(ring**2))) > -60  # the reverb rings on past the end
    assert np.allclose(tail.audio[:, :n], cut.audio, atol=1e-6)  # and the clip itself is the same


def test_a_render_without_dry_audio_says_so(tmp_path, lib, rendered):
    _, saved = rendered
    side = json.loads(saved.sidecar.read_text())
    side.pop("dry")
    saved.sidecar.write_text(json.dumps(side))
    with pytest.raises(ReprocessError, match="made before diffhost kept dry audio.*re-render it"):
        load_source(saved.path)


def test_a_version_1_library_gains_the_dry_path_column(tmp_path):
    db = tmp_path / "old.sqlite3"
    con = sqlite3.connect(db)
    con.executescript(
        "CREATE TABLE renders (id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, prompt TEXT,"
        " params TEXT NOT NULL, model TEXT, path TEXT NOT NULL, sidecar TEXT, length_s REAL,"
        " sample_rate INTEGER, channels INTEGER, loudness_lufs REAL, peak_dbfs REAL, format TEXT,"
        " variation INTEGER NOT NULL DEFAULT 0, preset TEXT, parent_id INTEGER,"
        " favorite INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'ok', trash_path TEXT);"
        "INSERT INTO renders (created, prompt, params, path) VALUES"
        " ('2025-01-01T00:00:00.000000+00:00', 'old kick', '{}', '/x.wav');"
        "PRAGMA user_version=1;"
    )
    con.close()
    with RenderLibrary(db) as library:
        (row,) = library.list()
        assert row.prompt == "old kick" and row.dry_path is None
        f = tmp_path / "new.wav"
        f.write_bytes(b"RIFF")
        rid = library.add(prompt="new", params={}, model=None, path=f, length_s=1, sample_rate=44100, dry_path=f)
        assert library.get(rid).dry_path == f.resolve()


def test_an_export_elsewhere_still_finds_the_dry_audio(lib, rendered, tmp_path):
    from diffhost.host.library import export_row

    _, saved = rendered
    written, new_id = export_row(lib, saved.render_id, "flac", out=tmp_path / "elsewhere" / "take.flac")
    source = load_source(new_id, lib)
    assert written.path.parent == tmp_path / "elsewhere"
    assert source.dry_path == lib.get(saved.render_id).dry_path and source.render_id == new_id
