"""A kill at any moment leaves nothing unexplained: `diffhost serve` is killed with SIGKILL at random
moments of 16-variation batches, and after the next start every file on disk is accounted for by
the library (audio, sidecar, dry audio and row together) or sits in trash/, said so on stderr.
A refused render (a full disk) leaves nothing behind, not even an empty dry/ folder."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from diffhost.host.library import RenderLibrary
from diffhost.host.render.export import sidecar_path
from diffhost.osc.client import DiffhostClient

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(tmp_path: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), DIFFHOST_HOME=str(tmp_path / "home"))
    env["DIFFHOST_CONFIG_DIR"] = str(tmp_path / "config")
    cmd = [sys.executable, "-m", "diffhost.cli", "serve", "--no-audio", "--port", str(port)]
    cmd += ["--reply-port", str(_free_port()), "--renders", str(tmp_path / "renders")]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _ready(proc: subprocess.Popen, c: DiffhostClient) -> list[str]:
    """Wait until serve has loaded its model and says it serves; returns what it printed so far."""
    said = []
    while True:
        line = proc.stderr.readline()
        assert line, f"serve ended before it was ready: {said}"
        said.append(line.rstrip("\n"))
        if line.startswith("Ctrl-C stops."):
            break
    c.ping(timeout=10)
    return said


def _check_disk_against_library(renders: Path, home: Path) -> tuple[int, int]:
    """Every audio file, sidecar and dry file in the renders folder belongs to one listed render,
    and every listed render has all of them. Returns (renders listed, files in trash)."""
    with RenderLibrary.open_default(home / "library") as lib:
        assert lib.integrity_check() == "ok"
        rows = lib.list(limit=100000)
    by_path = {r.path: r for r in rows}
    audio = sorted(p.resolve() for p in renders.glob("*.wav"))
    sidecars = sorted(p.resolve() for p in renders.glob("*.wav.json"))
    dry = sorted(p.resolve() for p in (renders / "dry").glob("*.wav")) if (renders / "dry").is_dir() else []
    assert set(audio) == set(by_path), (sorted(set(audio) ^ set(by_path)))
    assert set(sidecars) == {sidecar_path(p) for p in audio}
    assert set(dry) == {r.dry_path for r in rows}
    for r in rows:
        body = json.loads(sidecar_path(r.path).read_text())
        assert (renders / body["dry"]["path"]).resolve() == r.dry_path
    assert not list(renders.glob(".pending/*")) and not list(renders.glob(".*.part*"))
    trash = renders / "trash"
    return len(rows), len([p for p in trash.rglob("*") if p.is_file()]) if trash.is_dir() else 0


def test_sigkill_at_random_moments_of_a_batch_leaves_nothing_unexplained(tmp_path):
    renders, home = tmp_path / "renders", tmp_path / "home"
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    print(f"kill moments drawn with random seed {seed}")
    told: list[str] = []
    for round_no in range(4):
        port = _free_port()
        proc = _serve(tmp_path, port)
        early: list[str] = []
        try:
            with DiffhostClient("127.0.0.1", port) as c:
                early = _ready(proc, c)
                c.request("/diffhost/param/set", "variations", 16, expect="/diffhost/param")
                c.send("/diffhost/render", f"kick {round_no}", 0.5, round_no + 1)
                c.wait_for(lambda m: m[0] == "/diffhost/job/accepted", timeout=30)
                # the batch renders in about a second here and saves for a few more:
                # a moment anywhere from the render to the end of saving
                time.sleep(rng.uniform(0.0, 5.0))
        finally:
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=30)
        told += [line for line in early + err.splitlines() if line.startswith("diffhost: renders:")]
    # the next start settles what the last kill left; then a clean quit
    port = _free_port()
    proc = _serve(tmp_path, port)
    early = []
    try:
        with DiffhostClient("127.0.0.1", port) as c:
            early = _ready(proc, c)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    told += [line for line in early + err.splitlines() if line.startswith("diffhost: renders:")]
    listed, trashed = _check_disk_against_library(renders, home)
    print(f"{listed} renders listed, {trashed} files moved to trash; said: {told}")
    assert listed > 0
    for line in told:  # each settled render is explained in words
        assert "adopted" in line or ("was interrupted" in line and "moved" in line), line


def test_an_interrupted_render_is_adopted_when_complete_and_trashed_when_not(tmp_path):
    """The four states a kill can leave, built with the real finisher, then settled."""
    from diffhost.engine.engine import Engine
    from diffhost.engine.request import GenerationRequest
    from diffhost.host.render.finisher import Finisher
    from diffhost.host.render.pending import PENDING_DIR, recover

    renders = tmp_path / "renders"
    with RenderLibrary.open_default(tmp_path / "lib") as lib, Engine(device="cpu") as engine:
        job = engine.submit(GenerationRequest(prompt="snare", length=0.3, variations=4, seed=3))
        events = engine.subscribe()
        while True:
            ev = events.get(timeout=120)
            if ev.job_id == job.id and ev.terminal:
                break
        # a finisher without a library writes the files (and markers) but no rows: a kill after the
        # sidecar and before the row; put the markers back as such a kill would have left them
        saved = Finisher().finish(ev.result, renders)
        assert len(saved) == 4
        markers = renders / PENDING_DIR
        markers.mkdir()
        for s in saved:
            rel = os.path.relpath(s.dry_path, renders)
            (markers / f"{s.path.name}.json").write_text(json.dumps({"file": s.path.name, "dry": rel, "pid": 0}))
        saved[1].path.unlink()  # killed before the audio file was published
        saved[2].sidecar.unlink()  # killed before the sidecar
        with open(saved[3].path, "r+b") as f:  # audio not matching its sidecar
            f.seek(100)
            f.write(np.zeros(8, np.float32).tobytes())
        lines = recover(renders, lib)
        assert lines[0].startswith(f"adopted {saved[0].path.name}")
        row = lib.find(saved[0].path)
        assert row is not None and row.dry_path == saved[0].dry_path and row.variation == 0
        assert row.params["seed"] == ev.result.seed and lib.request_of(row).seed == ev.result.seed
        assert sum("was interrupted" in x for x in lines) == 3
        for s in saved[1:]:
            assert lib.find(s.path) is None and not s.path.exists() and not s.dry_path.exists()
        trash = renders / "trash"
        for s in saved[1:]:  # each interrupted render in a folder of its own, nothing lost
            kept = {p.relative_to(trash / s.path.stem).as_posix() for p in (trash / s.path.stem).rglob("*") if p.is_file()}
            assert f"dry/{s.dry_path.name}" in kept, kept
        assert {"dry/" + saved[1].dry_path.name, saved[1].sidecar.name} == {
            p.relative_to(trash / saved[1].path.stem).as_posix() for p in (trash / saved[1].path.stem).rglob("*") if p.is_file()
        }
        assert not markers.exists()
        assert recover(renders, lib) == []  # settled once
