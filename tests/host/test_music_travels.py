"""A render's music (bpm, key, bars, loop) travels with it: first save, Keep, Replace and export
carry it in the sidecar, the library row and the WAV's acid chunk; History filters on it."""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path

import pytest

from diffhost.engine.request import GenerationRequest
from diffhost.host.library import LibraryError, RenderLibrary, export_row
from diffhost.host.render.finisher import Finisher
from diffhost.host.render.post import Recipe
from diffhost.host.render.reprocess import keep, load_source, reprocess

REVERB = Recipe.from_dict({"effects": [{"effect": "Reverb", "params": {"room_size": 0.4}}]})


def acid_tempo(path: Path) -> float | None:
    """The acid chunk's tempo, walking the RIFF chunks by hand."""
    data = Path(path).read_bytes()
    i = 12
    while i + 8 <= len(data):
        cid, size = data[i : i + 4], struct.unpack("<I", data[i + 4 : i + 8])[0]
        if cid == b"acid":
            return struct.unpack("<f", data[i + 28 : i + 32])[0]
        i += 8 + size + (size & 1)
    return None


@pytest.fixture(scope="module")
def renders(model):
    """Three real default-model loops: 4 bars at 90 in F minor, 2 at 128 in A minor, 1 at 140 in F major."""
    out = []
    for prompt, bars, bpm, key in (
        ("boom bap drum loop", 4, 90.0, "F minor"),
        ("house groove with bass", 2, 128.0, "A minor"),
        ("piano chords", 1, 140.0, "F major"),
    ):
        out.append(model.render(GenerationRequest(prompt=prompt, bars=bars, bpm=bpm, key=key, seed=1)))
    return out


@pytest.fixture
def lib(tmp_path):
    with RenderLibrary(tmp_path / "lib" / "library.sqlite3") as library:
        yield library


def test_keep_replace_and_export_keep_the_music(lib, renders, tmp_path):
    (saved,) = Finisher(Recipe(), library=lib).finish(renders[0], tmp_path / "r")
    row = lib.get(saved.render_id)
    assert (row.bpm, row.key, row.bars, row.loop) == (90.0, "F minor", 4.0, True)
    kept = keep(reprocess(load_source(row, lib), REVERB), lib)
    side = json.loads(kept.sidecar.read_text())
    assert side["music"]["bpm"] == 90.0 and side["music"]["key"] == "F minor" and side["music"]["bars"] == 4
    assert lib.get(kept.render_id).bpm == 90.0 and acid_tempo(kept.path) == pytest.approx(90.0)
    replaced = keep(reprocess(load_source(kept.render_id, lib), Recipe()), lib, replace=True)
    assert json.loads(replaced.sidecar.read_text())["music"]["loop"] is True
    assert lib.get(replaced.render_id).key == "F minor"
    written, new_id = export_row(lib, replaced.render_id, {"format": "wav", "bit_depth": 16})
    assert acid_tempo(written.path) == pytest.approx(90.0) and lib.get(new_id).bars == 4.0


def test_history_filters_by_key_tempo_bars_loop_and_words(lib, renders, tmp_path):
    for r in renders:
        Finisher(Recipe(), library=lib).finish(r, tmp_path / "r")

    def prompts(**kw):
        return sorted(r.prompt for r in lib.search(**kw))

    assert prompts(key="F minor") == ["boom bap drum loop"]
    assert prompts(key="F") == ["boom bap drum loop", "piano chords"]  # either mode
    assert prompts(bpm_min=100, bpm_max=130) == ["house groove with bass"]
    assert prompts(bars=1) == ["piano chords"] and len(prompts(loop=True)) == 3
    assert prompts(text="F minor") == ["boom bap drum loop"]  # the words find the music, not the prompt
    assert prompts(text="128") == ["house groove with bass"]
    assert prompts(text="Am house") == ["house groove with bass"]
    assert prompts(text="140 bpm") == ["piano chords"]
    assert prompts(text="4 drum") == ["boom bap drum loop"]  # 4 bars
    assert prompts(text="A beat") == []  # "A" alone is a word, not a key
    with pytest.raises(LibraryError, match=r"key: 'H minor' is not a key"):
        lib.search(key="H minor")
    with pytest.raises(LibraryError, match=r"bpm_min: expected a number"):
        lib.search(bpm_min="fast")


def test_a_version_2_library_gains_the_music_columns(tmp_path, renders):
    db = tmp_path / "old.sqlite3"
    with RenderLibrary(db):
        pass
    con = sqlite3.connect(db)  # make it the previous schema: no music columns
    con.executescript(
        "ALTER TABLE renders DROP COLUMN bpm; ALTER TABLE renders DROP COLUMN music_key;"
        "ALTER TABLE renders DROP COLUMN bars; ALTER TABLE renders DROP COLUMN loop; PRAGMA user_version=2;"
    )
    con.close()
    with RenderLibrary(db) as library:
        (saved,) = Finisher(Recipe(), library=library).finish(renders[1], tmp_path / "r")
        assert library.get(saved.render_id).bpm == 128.0


def test_library_search_on_the_command_line(capsys, home, renders, tmp_path):
    from diffhost.cli import main

    with RenderLibrary.open_default() as library:
        for r in renders:
            Finisher(Recipe(), library=library).finish(r, tmp_path / "r")

    def search(*argv: str) -> list[str]:
        assert main(["library", "--json", "search", *argv]) == 0
        return sorted(r["prompt"] for r in json.loads(capsys.readouterr().out))

    assert search("--key", "A minor") == ["house groove with bass"]
    assert search("--bpm", "85-100", "--loop") == ["boom bap drum loop"]
    assert search("--bpm", "140") == ["piano chords"] and search("--bars", "2") == ["house groove with bass"]
    assert main(["library", "search", "--bpm", "fast"]) == 2
    assert "--bpm: 'fast' is not a tempo or a range like 120-130" in capsys.readouterr().err


def test_taps_get_the_processed_audio_before_the_files_are_written(lib, renders, tmp_path):
    """A live part (the DAW plugin link) is handed each variation's processed audio and the
    sidecar's content before anything is on disk, so a pad need not wait for the writes; what it
    was handed is exactly what the file holds and what its sidecar says."""
    import numpy as np
    import soundfile as sf

    seen = []

    def tap(p) -> None:
        seen.append((p, p.path.exists(), Path(str(p.path) + ".json").exists()))

    finisher = Finisher(REVERB, library=lib)
    finisher.add_tap(tap)
    (saved,) = finisher.finish(renders[1], tmp_path / "r", job=(7, "gui"))
    (p, file_there, sidecar_there) = seen[0]
    assert len(seen) == 1 and not file_there and not sidecar_there
    assert p.path == saved.path and (p.job_id, p.job_tag) == (7, "gui") and p.sample_rate == saved.sample_rate
    side = json.loads(saved.sidecar.read_text())
    for key in ("params", "model", "music", "effects", "finishing", "export", "variation"):
        assert p.sidecar[key] == side[key], key
    written, rate = sf.read(saved.path, dtype="float32", always_2d=True)
    assert rate == p.sample_rate and written.shape == p.audio.T.shape
    assert float(np.abs(written - p.audio.T).max()) < 2.0**-22  # 24-bit export of the same samples
    assert side["post"]["loudness_lufs"] is not None  # measured after the taps, still in the sidecar
    finisher.remove_tap(tap)
    finisher.finish(renders[2], tmp_path / "r")
    assert len(seen) == 1


def test_the_files_wait_for_a_taps_hand_over(lib, renders, tmp_path):
    """A tap may hand back something to wait on (the plugin link: its clip is in the cache and the
    load is sent); the files are written only after the finisher has waited on it (so on a small
    machine they do not compete with the clip for the CPU), and written all the same when the
    hand-over never comes."""
    from diffhost.host.render.finisher import TAP_WAIT_S

    waits = []

    class Handover:
        def __init__(self, path: Path, given: bool):
            self.path, self.given = path, given

        def wait(self, timeout: float | None = None) -> bool:
            waits.append((self.path.exists(), timeout))
            return self.given

    for given in (True, False, None):
        finisher = Finisher(REVERB, library=lib)
        if given is None:  # a tap that returns something else (here a number): nothing to wait on
            finisher.add_tap(lambda p: 1.5)
            (saved,) = finisher.finish(renders[1], tmp_path / "rnone")
            assert saved.path.is_file() and not waits
            continue
        finisher.add_tap(lambda p, given=given: Handover(p.path, given))
        (saved,) = finisher.finish(renders[1], tmp_path / f"r{given}")
        file_there, timeout = waits.pop()
        assert not file_there and timeout is not None and 0 < timeout <= TAP_WAIT_S
        assert saved.path.is_file() and saved.sidecar.is_file()
    assert not waits
