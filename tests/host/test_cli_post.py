"""`diffhost render --preset`, `diffhost presets ...` and `diffhost library ...` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from diffhost.cli import main
from diffhost.engine.audio import read_audio
from diffhost.host.library import RenderLibrary
from diffhost.host.presets import PresetStore
from diffhost.host.render.finisher import Finisher


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_presets_list_and_show(capsys, home):
    code, out, _ = run(capsys, "presets", "list", "--json")
    assert code == 0
    names = [p["name"] for p in json.loads(out)]
    assert "808 kick" in names and len(names) >= 8
    code, out, _ = run(capsys, "presets", "show", "vinyl texture")
    assert code == 0 and json.loads(out.split("\n", 1)[1])["finishing"]["loop"]["bpm"] == 90.0
    code, _, err = run(capsys, "presets", "show", "polka")
    assert code == 2 and "preset 'polka': not found; available are 808 kick" in err
    code, out, _ = run(capsys, "presets", "effects")
    assert code == 0 and "Reverb(room_size=0.5" in out


def test_render_with_a_preset_and_format(capsys, home, tmp_path):
    code, out, err = run(
        capsys,
        "render",
        "--preset",
        "tight snare",
        "--seed",
        "4",
        "--format",
        "flac",
        "--bit-depth",
        "16",
        "--device",
        "cpu",
        "-o",
        str(tmp_path / "out"),
        "--json",
        "--tag",
        "cli",
    )
    assert code == 0, err
    info = json.loads(out)
    path = info["files"][0]
    assert path.endswith(".flac") and info["preset"] == "tight snare"
    audio, sr = read_audio(path)
    assert sr == 44100 and 0.05 * sr < audio.shape[-1] <= 0.5 * sr  # gated and trimmed: a tight snare
    assert 20 * np.log10(np.max(np.abs(audio))) == pytest.approx(-1.0, abs=0.01)
    with RenderLibrary.open_default() as lib:
        row = lib.get(info["render_ids"][0])
        assert row.format == "flac" and "cli" in row.tags and row.params["seed"] == 4
    code, _, err = run(capsys, "render", "--preset", "tight snare", "--format", "wma", "--device", "cpu")
    assert code == 2 and "'wma' is not supported; choose wav, flac, ogg, mp3" in err


def test_library_commands(capsys, home, tmp_path, model):
    with RenderLibrary.open_default() as lib:
        p = PresetStore().load("lo-fi hats")
        saved = Finisher(p.recipe(), library=lib).finish(
            model.render(p.request(seed=2)), tmp_path / "r", tags=("lofi",)
        )[0]
        # The preset's own tags (drums, hihat, lofi) describe the preset, not the render's row.
        assert lib.get(saved.render_id).tags == ("lofi",)
    rid = str(saved.render_id)
    code, out, _ = run(capsys, "library", "--json", "list")
    assert code == 0 and [r["id"] for r in json.loads(out)] == [saved.render_id]
    code, out, _ = run(capsys, "library", "--json", "search", "hihat", "--tag", "lofi")
    assert [r["id"] for r in json.loads(out)] == [saved.render_id]
    code, out, _ = run(capsys, "library", "--json", "search", "trombone")
    assert json.loads(out) == []
    code, out, _ = run(capsys, "library", "show", rid)
    assert json.loads(out)["sidecar"]["preset"] == "lo-fi hats"
    code, out, _ = run(capsys, "library", "tag", rid, "keeper", "hats")
    assert code == 0 and "keeper, hats" in out
    code, out, _ = run(capsys, "library", "favorite", rid)
    code, out, _ = run(capsys, "library", "list", "--favorites")
    assert f"{saved.render_id:5d}*" in out
    code, out, _ = run(capsys, "library", "--json", "export", rid, "--format", "mp3")
    exported = json.loads(out)
    assert code == 0 and exported["path"].endswith(".mp3") and read_audio(exported["path"])[1] == 44100
    code, out, _ = run(capsys, "library", "--json", "delete", rid)
    assert code == 0 and not saved.path.exists() and json.loads(out)["trash"].endswith(saved.path.name)
    code, _, err = run(capsys, "library", "show", rid)
    assert code == 2 and f"render {rid}: no such render in the library" in err and "Traceback" not in err


def test_presets_save_validates_and_stores(capsys, home, tmp_path):
    f = tmp_path / "mine.json"
    f.write_text(json.dumps({"version": 1, "name": "x", "prompt": "zap", "length": 0.5, "chain": []}))
    code, out, err = run(capsys, "presets", "save", "my zap", str(f))
    assert code == 0 and (home / "presets" / "my-zap.json").is_file()
    assert json.loads((home / "presets" / "my-zap.json").read_text())["version"] == 2
    code, _, err = run(capsys, "presets", "save", "my zap", str(f))
    assert code == 2 and "a user preset with that name exists" in err
    f.write_text(json.dumps({"name": "x", "params": {"length": 0.5}, "finish": {}}))
    code, _, err = run(capsys, "presets", "save", "other", str(f))
    assert code == 2 and "unknown key 'finish'" in err


def test_render_format_follows_the_output_extension(capsys, home, tmp_path):
    import soundfile as sf

    out = tmp_path / "x.mp3"
    code, _, err = run(capsys, "render", "soft rimshot", "--device", "cpu", "-o", str(out), "--seed", "3")
    assert code == 0, err
    assert out.is_file() and not out.with_suffix(".wav").exists()
    info = sf.info(str(out))
    assert info.format == "MP3" and info.samplerate == 44100 and info.frames > 0
    audio, sr = sf.read(str(out), dtype="float32", always_2d=True)
    assert np.max(np.abs(audio)) > 0.1
    side = json.loads(out.with_name("x.mp3.json").read_text())
    assert side["export"]["format"] == "mp3" and side["encoding"]["mp3_gapless"]["encoder_delay_samples"] > 0
    assert (tmp_path / side["dry"]["path"]).is_file()  # the dry audio is kept beside it

    for name in ("y.flac", "y.ogg", "y.wav"):
        code, _, err = run(capsys, "render", "rim", "--device", "cpu", "-o", str(tmp_path / name))
        assert code == 0, err
        assert sf.info(str(tmp_path / name)).format == name.split(".")[1].upper().replace("WAV", "WAVEX")

    code, _, err = run(capsys, "render", "kick", "--device", "cpu", "-o", str(tmp_path / "k.wav"), "--format", "mp3")
    assert code == 2 and "--format mp3 conflicts with -o k.wav (.wav)" in err
    code, _, err = run(capsys, "render", "kick", "--device", "cpu", "-o", str(tmp_path / "k.aiff"))
    assert code == 2 and ".aiff is not a format diffhost writes; use .wav, .flac, .ogg, .mp3" in err
    assert not list(tmp_path.glob("k*"))  # refused up front: nothing written
