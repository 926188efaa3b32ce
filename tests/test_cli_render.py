"""`diffhost render` end to end in a subprocess, on a tiny StableAudio3 pipeline folder."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "engine"))
import tiny  # noqa: E402


@pytest.fixture(scope="module")
def tiny_sa3(request, tmp_path_factory) -> Path:
    cache = getattr(request.config, "cache", None)
    key = hashlib.sha256(Path(tiny.__file__).read_bytes()).hexdigest()[:16]
    root = Path(cache.mkdir(f"diffhost-cli-tiny-{key}")) if cache else tmp_path_factory.mktemp("tiny")
    folder = root / "sa3"
    if not (folder / ".complete").exists():
        tiny.build("StableAudio3Pipeline", folder)
        (folder / ".complete").write_text("ok")
    return folder


def cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(
        os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1"
    )  # tiny model: see tests/engine/conftest.py
    return subprocess.run(
        [sys.executable, "-m", "diffhost.cli", "render", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_render_writes_wav_and_a_sidecar_that_rerenders_identically(tiny_sa3, tmp_path):
    out = tmp_path / "snare.wav"
    proc = cli(
        "tight snare",
        "--model",
        str(tiny_sa3),
        "--seed",
        "1",
        "--length",
        "0.5",
        "--steps",
        "3",
        "-o",
        str(out),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["files"] == [str(out)] and result["seed"] == 1
    audio, sr = sf.read(out, dtype="float32", always_2d=True)
    assert sr == 44100 and audio.shape == (22050, 2)
    assert 20 * np.log10(np.abs(audio).max()) == pytest.approx(-1.0, abs=0.01)  # peak-normalized

    side = json.loads(Path(result["sidecars"][0]).read_text())
    p, m = side["params"], side["model"]
    assert m["family"] == "StableAudio3Pipeline" and m["revision"].startswith("sha256:")
    again = tmp_path / "again.wav"
    proc2 = cli(
        p["prompt"],
        "--model",
        m["name"],
        "--seed",
        str(p["seed"]),
        "--length",
        str(p["length"]),
        "--steps",
        str(p["steps"]),
        "--guidance",
        str(p["guidance"]),
        "--temperature",
        str(p["temperature"]),
        "--sample-rate",
        str(p["sample_rate"]),
        "-o",
        str(again),
        "--json",
    )
    assert proc2.returncode == 0, proc2.stderr
    assert (
        json.loads(Path(json.loads(proc2.stdout)["sidecars"][0]).read_text())["model"]["revision"]
        == m["revision"]
    )
    audio2, _ = sf.read(again, dtype="float32", always_2d=True)
    assert np.array_equal(audio, audio2)


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["--length", "900"], "length"),
        (["--steps", "0"], "steps"),
        (["--sample-rate", "100"], "sample_rate"),
    ],
)
def test_bad_arguments_give_one_clean_line_and_exit_2(tiny_sa3, tmp_path, args, name):
    proc = cli("kick", "--model", str(tiny_sa3), "-o", str(tmp_path / "x.wav"), *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"diffhost: error: {name}: ")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x.wav").exists()


def test_request_the_model_cannot_do_fails_cleanly(tiny_sa3, tmp_path):
    proc = cli("kick", "--model", str(tiny_sa3), "--length", "60", "-o", str(tmp_path / "x.wav"))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "length: 60.0 s is out of range" in proc.stderr and "valid is" in proc.stderr
    assert not (tmp_path / "x.wav").exists()


def test_bpm_and_key_flags_make_a_loop_of_whole_bars(tmp_path):
    """The embedded default at `--bpm 100 --key "D minor"`: 2 bars (4.8 s) that loop, recorded."""
    import json

    import soundfile as sf

    out = tmp_path / "groove.wav"
    proc = cli(
        "house drum loop",
        "--bpm",
        "100",
        "--key",
        "D minor",
        "--length",
        "4.8",
        "--seed",
        "3",
        "--no-library",
        "-o",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    info = sf.info(str(out))
    assert info.samplerate == 44100 and info.frames == round(4.8 * 44100)
    music = json.loads(out.with_name(out.name + ".json").read_text())["music"]
    assert music["bpm"] == 100.0 and music["key"] == "D minor" and music["bars"] == 2.0 and music["loop"]
    bad = cli("house drum loop", "--bpm", "500", "-o", str(tmp_path / "x.wav"))
    assert bad.returncode == 2 and "bpm: 500.0 is out of range; valid is 40.0..300.0" in bad.stderr


def test_a_one_shot_render_starts_no_live_threads(tmp_path):
    """`diffhost render` builds its runtime without the live parts: no fresh-pad, MIDI or Link
    thread runs while it renders. The same options with the live parts on start the fresh-pad
    thread, so the check can fail."""
    import dataclasses
    import threading

    from diffhost.cli import build_parser
    from diffhost.commands import render
    from diffhost.runtime import build_runtime

    args = build_parser().parse_args(["render", "kick", "-o", str(tmp_path / "out"), "--no-library"])
    opts = render.options(args)
    live_threads = ("diffhost-fresh", "diffhost-midi", "diffhost-midi-in", "diffhost-link")

    def running() -> set[str]:
        return {t.name for t in threading.enumerate() if t.name in live_threads}

    assert not running()
    with build_runtime(opts) as runtime:
        assert runtime.live is None and not running()
    with build_runtime(dataclasses.replace(opts, live=True)) as runtime:
        assert runtime.live is not None and "diffhost-fresh" in running()


def test_bars_flag_renders_exactly_n_bars_and_says_what_it_rendered(tmp_path):
    """`--bars 4 --bpm 97`: 4 bars at 97 bpm are exactly round(4 x 240/97 x 48000) samples, and the
    line under the file name says the tempo, key, bars and loop, and who chose them."""
    out = tmp_path / "groove.wav"
    proc = cli(
        "boom bap drum loop in F minor",
        "--bars",
        "4",
        "--bpm",
        "97",
        "--sample-rate",
        "48000",
        "--seed",
        "3",
        "--no-library",
        "-o",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    assert sf.info(str(out)).frames == round(4 * 240 / 97 * 48000)
    assert "97 bpm · F minor · 4 bars · loop (tempo: bpm setting, key: prompt)" in proc.stdout
    music = json.loads(out.with_name(out.name + ".json").read_text())["music"]
    assert music["bars"] == 4 and music["loop"] and music["bpm"] == 97.0


def test_bars_without_a_tempo_on_a_model_without_one_is_refused(tiny_sa3, tmp_path):
    proc = cli("kick", "--model", str(tiny_sa3), "--bars", "2", "-o", str(tmp_path / "x.wav"))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "bars: model" in proc.stderr and "has no sense of tempo; give a bpm" in proc.stderr
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize("flag", ["--stems", "--midi"])
def test_a_diffusers_model_says_plainly_it_has_no_stems_or_midi(tiny_sa3, tmp_path, flag):
    proc = cli("kick", "--model", str(tiny_sa3), "--length", "0.5", flag, "-o", str(tmp_path / "x.wav"))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    name = flag.removeprefix("--")
    assert f"{name}: model" in proc.stderr and "renders audio, not a score: it has no stems or MIDI" in proc.stderr
    assert not (tmp_path / "x.wav").exists()
