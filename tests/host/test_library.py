"""Render library on a real SQLite file: rows, search, trash, re-render, export, kill -9."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from diffhost.engine.audio import read_audio
from diffhost.engine.engine import Engine
from diffhost.host.library import DB_NAME, LibraryError, RenderLibrary, compare_rerender, export_row
from diffhost.host.presets import PresetStore
from diffhost.host.render.effects import file_sha256
from diffhost.host.render.export import sweep_partials
from diffhost.host.render.finisher import Finisher
from diffhost.host.session import Session

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lib(tmp_path):
    library = RenderLibrary.open_default(tmp_path / "lib")
    yield library
    library.close()


def _render(model, preset: str, seed: int, **over):
    p = PresetStore().load(preset)
    return p, model.render(p.request(seed=seed, **over))


def test_finisher_writes_file_sidecar_and_row(lib, model, tmp_path, home):
    preset, result = _render(model, "tight snare", 11)
    saved = Finisher(preset.recipe(), library=lib).finish(result, tmp_path / "renders", tags=("mine",))
    assert len(saved) == 1
    s = saved[0]
    row = lib.get(s.render_id)
    assert row.path == s.path and row.path.is_file() and row.preset == "tight snare"
    assert row.prompt == preset.params["prompt"] and row.params["seed"] == 11
    assert row.tags == ("mine",)  # the preset's tags describe the preset, not the render
    audio, sr = read_audio(row.path)
    assert sr == row.sample_rate and audio.shape[-1] / sr == pytest.approx(row.length_s)
    assert 20 * np.log10(np.max(np.abs(audio))) == pytest.approx(-1.0, abs=0.01)  # the preset's peak
    side = json.loads(s.sidecar.read_text())
    assert side["params"]["seed"] == 11 and side["model"]["name"] == result.model.name
    assert side["effects"][0]["effect"] == "HighpassFilter"
    assert side["audio_sha256"] == file_sha256(row.path)
    assert [st["step"] for st in side["post"]["steps"]][-1] == "normalize_peak"
    assert side["preset_tags"] == ["drums", "snare"] and side["tags"] == ["mine"]
    # The dry audio: the engine's output, untouched, beside the file and named by sidecar and row.
    dry, dry_sr = read_audio(row.dry_path)
    assert row.dry_path == (s.sidecar.parent / side["dry"]["path"]).resolve() and dry_sr == result.sample_rate
    assert np.array_equal(dry, result.audio[0]) and side["dry"]["sha256"] == file_sha256(row.dry_path)


def test_list_search_tag_favorite(lib, tmp_path):
    f = tmp_path / "a.wav"
    f.write_bytes(b"RIFF")
    old = dt.datetime(2025, 1, 2, 12, 0, tzinfo=dt.UTC)
    a = lib.add(
        prompt="punchy analog kick",
        params={},
        model="diffhost-default",
        path=f,
        length_s=1,
        sample_rate=44100,
        tags=["Drums", "kick"],
        created=old,
    )
    g = tmp_path / "b.wav"
    g.write_bytes(b"RIFF")
    b = lib.add(
        prompt="pad swell, dark",
        params={},
        model="org/stable-audio",
        path=g,
        length_s=4,
        sample_rate=48000,
        loudness_lufs=-18.0,
    )
    assert [r.id for r in lib.list()] == [b, a]  # newest first
    assert [r.id for r in lib.search("kick")] == [a]
    assert [r.id for r in lib.search("DARK pad")] == [b]  # all words, any order, any case
    assert [r.id for r in lib.search(tags=["drums"])] == [a]
    assert lib.search(tags=["drums", "snare"]) == []
    assert [r.id for r in lib.search(model="stable")] == [b]
    assert [r.id for r in lib.search(until="2025-01-02")] == [a]  # a bare date's until is inclusive
    assert [r.id for r in lib.search(since="2025-01-03")] == [b]
    assert lib.search("100%") == []  # LIKE wildcards are literal
    lib.set_favorite(b, True)
    assert [r.id for r in lib.list(favorites_only=True)] == [b]
    assert lib.set_tags(a, ["one-shot", " Kick "]) == ("one-shot", "kick")
    with pytest.raises(LibraryError, match=r"render 999: no such render"):
        lib.get(999)
    with pytest.raises(LibraryError, match=r"until: 'yesterday' is not a date; use YYYY-MM-DD"):
        lib.search(until="yesterday")
    with pytest.raises(LibraryError, match="no such file; the library only lists finished renders"):
        lib.add(prompt="x", params={}, model=None, path=tmp_path / "missing.wav", length_s=1, sample_rate=1)


def test_delete_moves_to_trash_and_restore_brings_it_back(lib, model, tmp_path, home):
    preset, result = _render(model, "lo-fi hats", 3)
    s = Finisher(preset.recipe(), library=lib).finish(result, tmp_path / "r")[0]
    content = s.path.read_bytes()
    trash = lib.delete(s.render_id)
    assert trash.parent == lib.trash_dir and trash.read_bytes() == content
    assert Path(str(trash) + ".json").is_file() and not s.path.exists() and not s.sidecar.exists()
    assert lib.list() == [] and lib.count() == 0
    with pytest.raises(LibraryError):
        lib.get(s.render_id)
    back = lib.restore(s.render_id)
    assert back == s.path and back.read_bytes() == content and lib.get(s.render_id).state == "ok"


def test_a_delete_interrupted_by_a_crash_is_finished_on_open(tmp_path):
    folder = tmp_path / "lib"
    f = tmp_path / "x.wav"
    f.write_bytes(b"data")
    with RenderLibrary.open_default(folder) as lib:
        rid = lib.add(prompt="x", params={}, model=None, path=f, length_s=1, sample_rate=8000)
    # The state a crash leaves between step 1 (journal) and step 2 (move): a real SQLite edit.
    db = sqlite3.connect(folder / DB_NAME)
    db.execute(
        "UPDATE renders SET state='trashing', trash_path=? WHERE id=?",
        (str(folder / "trash" / "1-x.wav"), rid),
    )
    db.commit()
    db.close()
    with RenderLibrary.open_default(folder) as lib:
        assert lib.count() == 0
        assert (folder / "trash" / "1-x.wav").read_bytes() == b"data" and not f.exists()


def test_rerender_is_bit_identical_and_export_converts(lib, model, tmp_path, home):
    preset, result = _render(model, "big room clap", 21)
    original = Finisher(preset.recipe(), library=lib).finish(result, tmp_path / "r")[0]
    engine = Engine(loader=lambda spec: model).start()
    session = Session(engine, renders_dir=tmp_path / "elsewhere", finish=Finisher(library=lib), library=lib)
    try:
        job, ev = session.wait_for(lambda: session.rerender(original.render_id), timeout=60)
    finally:
        session.close()
        engine.stop()
    assert ev.kind == "done", ev.message
    assert ev.paths[0].parent == original.path.parent  # beside the original, not in the renders folder
    done = compare_rerender(lib, original.render_id, session.renders[job.id][0], ev.result.model.revision)
    assert done.identical is True, done.message
    assert done.saved.path != original.path and lib.get(done.saved.render_id).parent_id == original.render_id
    a, _ = read_audio(original.path)
    b, _ = read_audio(done.saved.path)
    assert np.array_equal(a, b)
    written, new_id = export_row(lib, original.render_id, {"format": "mp3", "quality": "V2"})
    assert written.path.suffix == ".mp3" and lib.get(new_id).format == "mp3"
    mp3, sr = read_audio(written.path)
    assert sr == original.sample_rate and mp3.shape[0] == a.shape[0]
    side = json.loads(Path(str(written.path) + ".json").read_text())
    assert side["derived_from"]["render_id"] == original.render_id and side["export"]["format"] == "mp3"


def test_session_presets_library_and_rerender(tmp_path, model, home):
    lib = RenderLibrary.open_default(tmp_path / "lib")
    engine = Engine(loader=lambda spec: model).start()
    session = Session(
        engine,
        renders_dir=tmp_path / "renders",
        finish=Finisher(library=lib),
        presets=PresetStore(),
        library=lib,
    )
    events = session.subscribe()
    try:
        session.load_preset("trap hat roll")
        assert session.params.prompt == PresetStore().load("trap hat roll").params["prompt"]
        job = session.render(seed=9)
        done = _wait(events, job.id)
        assert done.kind == "done", done.message
        (rid,) = done.render_ids
        row = lib.get(rid)
        assert row.preset == "trap hat roll" and row.path == done.paths[0]
        # Another preset now, but a re-render uses the row's own recipe.
        session.load_preset("lo-fi hats")
        again = _wait(events, session.rerender(rid).id)
        assert again.kind == "done", again.message
        a, _ = read_audio(row.path)
        b, _ = read_audio(again.paths[0])
        assert np.array_equal(a, b)
        # A preset that cannot load changes nothing.
        PresetStore().save("broken fx", {"params": {"length": 0.5, "prompt": "zap"}, "effects": []})
        bad = home / "presets" / "broken-fx.json"
        data = json.loads(bad.read_text())
        data["effects"] = [{"effect": "plugin", "path": str(tmp_path / "gone.vst3")}]
        bad.write_text(json.dumps(data))
        with pytest.raises(ValueError, match="gone.vst3 does not exist"):
            session.load_preset("broken fx")
        assert session.params.prompt == PresetStore().load("lo-fi hats").params["prompt"]
        # A render that names a preset uses it for that job alone: the shared params stay.
        before = session.params
        job, one = session.wait_for(lambda: session.render(preset="808 kick", seed=3), timeout=60)
        assert one.kind == "done", one.message
        assert session.params == before and session._finish.recipe.preset == "lo-fi hats"
        (rid808,) = one.render_ids
        assert lib.get(rid808).preset == "808 kick"
        assert lib.get(rid808).prompt == PresetStore().load("808 kick").params["prompt"]
    finally:
        session.close()
        engine.stop()
        lib.close()


def _wait(events, job_id, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ev = events.get(timeout=end - time.monotonic())
        if ev.job_id == job_id and ev.kind in ("done", "error", "cancelled"):
            return ev
    raise TimeoutError(job_id)


_CHILD = r"""
import sys, numpy as np
sys.path[:0] = [{root!r}, {tests!r}]
from pathlib import Path
from conftest import _default_model
from diffhost.host.library import RenderLibrary
from diffhost.host.render.post import Recipe
from diffhost.host.render.export import parse_export
from diffhost.host.render.finisher import Finisher
from dataclasses import replace
model = _default_model()
lib = RenderLibrary.open_default(Path({folder!r}))
recipe = replace(Recipe(), export=parse_export({{"format": "flac", "bit_depth": 24}}))
fin = Finisher(recipe, library=lib)
import diffhost.host.render.finisher
real_write = diffhost.host.render.finisher.write_audio
def announced_write(*a, **k):  # tells the parent a file write is starting, so the kill lands inside it
    print("writing", flush=True)
    return real_write(*a, **k)
diffhost.host.render.finisher.write_audio = announced_write
i = 0
while True:
    # long stereo renders so the kill lands inside file writing as often as not
    res = model.render(__import__("diffhost.engine.request", fromlist=["x"]).GenerationRequest(
        prompt="noise sweep", length=min(4.0, model.info.max_length_s), seed=i, sample_rate=48000))
    res = replace(res, audio=np.tile(res.audio, (1, 1, 4)))
    fin.finish(res, Path({out!r}))
    i += 1
    print("row", i, flush=True)
"""


def test_kill_9_mid_render_leaves_a_consistent_library(tmp_path):
    folder, out = tmp_path / "lib", tmp_path / "renders"
    script = tmp_path / "child.py"
    script.write_text(
        _CHILD.format(root=str(ROOT), tests=str(Path(__file__).parent), folder=str(folder), out=str(out))
    )
    partial_seen = 0
    for _ in range(1):
        proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
        try:
            lines = []
            while len([x for x in lines if x.startswith("writing")]) < 2:  # the second write: rows exist
                line = proc.stdout.readline()
                assert line, f"child ended early: {lines}"
                lines.append(line)
            # Kill the moment a FLAC is half-written (its .part file exists; encoding a 16 s FLAC takes
            # tens of ms, polling takes microseconds): a fixed delay missed it on a loaded machine.
            deadline = time.monotonic() + 60
            while not any(p.name.endswith(".part.flac") for p in out.iterdir()):
                assert time.monotonic() < deadline and proc.poll() is None, "never saw a FLAC being written"
                time.sleep(0.0005)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
        partial_seen += any(p.name.endswith(".part.flac") for p in out.iterdir())
        with RenderLibrary.open_default(folder) as lib:
            assert lib.integrity_check() == "ok"
            rows = lib.list(limit=1000)
            assert rows
            for row in rows:
                audio, sr = read_audio(row.path)  # complete and decodable, every one
                assert audio.shape[-1] == round(row.length_s * sr)
                side = json.loads(row.sidecar.read_text())
                assert side["audio_sha256"] == file_sha256(row.path)
            listed = {r.path.name for r in rows}
            on_disk = {p.name for p in out.glob("*.flac")}
            assert listed <= on_disk  # at worst an unlisted finished file; never a listed partial one
            assert not any(n.endswith(".part.flac") for n in listed)
    assert partial_seen  # the kill really landed inside a file write at least once
    partials = [p for p in out.iterdir() if ".part" in p.name]
    assert sweep_partials(out, older_than_s=3600) == []  # fresh ones may be another process's
    assert sorted(sweep_partials(out, older_than_s=0)) == sorted(partials)
    assert not any(".part" in p.name for p in out.iterdir())


def test_seed_clip_is_kept_so_the_row_can_be_reproduced(lib, model, tmp_path):
    from diffhost.engine.request import SeedClip

    rng = np.random.default_rng(4)
    clip = SeedClip((rng.standard_normal((1, 22050)) * 0.1).astype(np.float32), 22050)
    request = _render(model, "tight snare", 5)[0].request(seed=5)
    result = (
        model.render(request.with_(seed_clip=clip, strength=0.5)) if model.info.supports_seed_clip else None
    )
    if result is None:  # a model without seed audio cannot make such a row; the reproduction path is the same
        pytest.fail(f"{model.info.name} must support seed clips for this test")
    s = Finisher(library=lib).finish(result, tmp_path / "r")[0]
    side = json.loads(s.sidecar.read_text())
    kept = Path(side["params"]["seed_clip"]["path"])
    assert kept.is_file() and side["params"]["seed_clip"]["sample_rate"] == 22050
    again = lib.request_of(lib.get(s.render_id))
    assert again.seed_clip is not None and np.array_equal(again.seed_clip.audio, clip.audio)
    assert again.strength == 0.5 and again.seed == 5
    kept.unlink()
    with pytest.raises(LibraryError, match="its seed clip .* is missing; cannot reproduce it"):
        lib.request_of(lib.get(s.render_id))
