"""The CLI's rough edges: the same limits as OSC, the output checked before the
render, errors that name the real problem, and quiet on a closed pipe. Real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "diffhost", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


def one_line(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr.strip().splitlines()[-1]


def test_prompt_longer_than_osc_allows_is_refused(tmp_path):
    proc = cli("render", "x" * 100_000, "--no-library", "-o", str(tmp_path))
    assert proc.returncode == 2
    assert one_line(proc) == (
        "diffhost: error: prompt: 100000 characters is too long; valid is up to 1000 characters"
    )
    assert list(tmp_path.iterdir()) == []


def test_output_that_is_not_writable_is_refused_before_rendering(tmp_path):
    proc = cli("render", "kick", "--no-library", "-o", "/dev/null")
    assert proc.returncode == 2
    assert "output: /dev/null is not a folder or a regular file (a device or a pipe?)" in one_line(proc)
    assert "rendering [" not in proc.stderr  # refused before the render started
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)]).returncode == 0
    if not mounted:  # not root: a folder without write permission says the same
        ro.chmod(0o555)
    try:
        proc = cli("render", "kick", "--no-library", "-o", str(ro / "kick.wav"))
        assert proc.returncode == 2
        reason = "Read-only file system" if mounted else "Permission denied"
        assert one_line(proc) == f"diffhost: error: output: cannot write to {ro} ({reason})"
        assert "rendering [" not in proc.stderr
    finally:
        if mounted:
            subprocess.run(["umount", str(ro)], check=True)
        ro.chmod(0o755)


def test_seed_audio_folder_and_fractional_rate_name_the_problem(tmp_path):
    proc = cli("render", "kick", "--seed-audio", str(tmp_path), "--no-library", "-o", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert one_line(proc) == (
        f"diffhost: error: {tmp_path}: is a folder; give an audio file (wav, flac, ogg, mp3, ...)"
    )
    proc = cli("render", "kick", "--sample-rate", "44100.5")
    assert proc.returncode == 2
    assert one_line(proc).endswith(
        "argument --sample-rate: 44100.5 must be a whole number of Hz (e.g. 44100 or 48000)"
    )


def test_long_seed_audio_is_read_only_as_far_as_the_render_uses(tmp_path):
    sr = 48000
    t = np.arange(60 * sr) / sr  # a minute; the render uses its first second
    sf.write(tmp_path / "long.wav", (0.3 * np.sin(2 * np.pi * 110 * t)).astype(np.float32), sr)
    out = tmp_path / "renders"
    proc = cli(
        "render",
        "kick",
        "--seed-audio",
        str(tmp_path / "long.wav"),
        "--length",
        "1",
        "--seed",
        "2",
        "--no-library",
        "-o",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    assert "seed clip trimmed to its first 1 s of 60 s" in proc.stderr
    seeds = list((out / "seeds").glob("*.wav"))
    assert len(seeds) == 1 and sf.info(seeds[0]).duration <= 1.0 + 1e-6  # not a copy of the minute


def test_closed_pipe_ends_quietly():
    # `diffhost presets list | head -0`: the reader is gone before the first line is written.
    r, w = os.pipe()
    os.close(r)
    proc = subprocess.run(
        [sys.executable, "-m", "diffhost", "presets", "list"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=w,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )
    os.close(w)
    assert proc.stderr == ""
    assert proc.returncode == 141  # as a Unix tool ended by SIGPIPE reports it
