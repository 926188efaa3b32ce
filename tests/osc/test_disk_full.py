"""A full disk is named ("disk full: N MB free in /path") over OSC and on the
CLI, without a traceback, and leaves nothing partial. The disk is a real, tiny tmpfs (mounting
needs root, which the test machines and CI have); a file-size limit (RLIMIT_FSIZE) covers the
same path for anyone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from diffhost.host.session import Session
from diffhost.osc.client import DiffhostClient
from diffhost.osc.server import OscConfig, OscServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "tiny"
    mount.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip()}); the RLIMIT_FSIZE test covers it")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_full_disk_over_osc_names_the_cause_and_leaves_nothing(engine, tiny_disk):
    renders = tiny_disk / "renders"
    session = Session(engine, renders_dir=renders)
    try:
        with (
            OscServer(session, OscConfig(port=0)) as server,
            DiffhostClient("127.0.0.1", server.address[1]) as c,
        ):
            res = c.render("long riser", 2.0, 1)  # 2 s of float stereo: more than 160 kB
            assert res.status == "error"
            m = re.fullmatch(r"saving failed: disk full: ([\d.]+) (MB|bytes) free in (.+)", res.message)
            assert m, res.message
            assert Path(m.group(3)) == renders
            assert c.ping()  # still serving
    finally:
        session.close()
    assert leftovers(tiny_disk) == []


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "diffhost", "render", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


def test_full_disk_on_the_cli_is_one_line(tiny_disk):
    proc = cli("long riser", "--length", "2", "--seed", "1", "--no-library", "-o", str(tiny_disk / "out"))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert re.search(
        r"render error: saving failed: disk full: [\d.]+ (MB|bytes) free in .*/out$", proc.stderr.strip()
    )
    assert leftovers(tiny_disk) == []
    assert list((tiny_disk / "out").rglob("*")) == []  # not even an empty dry/ or .pending/ folder


def test_file_size_limit_on_the_cli_is_one_line(tmp_path):
    import resource
    import signal

    def limit() -> None:  # in the child: writes past 100 kB fail with EFBIG instead of SIGXFSZ
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    out = tmp_path / "out"
    proc = cli("long riser", "--length", "2", "--seed", "1", "--no-library", "-o", str(out), preexec_fn=limit)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"file too large: a file-size limit (0.1 MB) stopped the write into {out}" in proc.stderr
    assert leftovers(tmp_path) == []
    assert list(out.rglob("*")) == []  # not even an empty dry/ or .pending/ folder
