"""The shipped REAPER script (daw/reaper/diffhost_render.lua) run by real Lua 5.4 against a real
server: REAPER's own API is the only stand-in (tests/osc/reaper_harness.lua records the calls)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The script as shipped: daw/ in a checkout, diffhost/daw in an installed wheel (a data-only package).
SCRIPT = (
    Path(next(iter(importlib.util.find_spec("diffhost.daw").submodule_search_locations)))
    / "reaper"
    / "diffhost_render.lua"
)
HARNESS = Path(__file__).with_name("reaper_harness.lua")
LUA = shutil.which("lua5.4") or shutil.which("lua")

pytestmark = pytest.mark.skipif(
    LUA is None and not os.environ.get("DIFFHOST_REQUIRE_DEVICES"),
    reason="needs Lua 5.4 (apt package lua5.4, installed by scripts/setup.sh)",
)


def run_script(
    track: str,
    cursor: float,
    port: int,
    tmp: Path,
    timeout_s: int = 60,
    *,
    script: Path = SCRIPT,
    python: str | None = sys.executable,
    pythonpath: str = str(ROOT),
) -> list[list[str]]:
    env = dict(os.environ)
    env.pop("DIFFHOST_PYTHON", None)
    env.pop("DIFFHOST_HOME", None)
    if python is not None:
        env["DIFFHOST_PYTHON"] = python
    env = dict(
        env,
        DIFFHOST_OSC_PORT=str(port),
        DIFFHOST_TIMEOUT_S=str(timeout_s),
        HARNESS_RESOURCE=str(tmp),
        PYTHONPATH=pythonpath,
    )
    proc = subprocess.run(
        [LUA or "lua5.4", str(HARNESS), str(script), track, str(cursor)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s + 30,
    )
    assert proc.returncode == 0, proc.stderr
    return [line.split("\t") for line in proc.stdout.splitlines()]


def test_renders_from_track_name_and_inserts_at_the_cursor(server, session, tmp_path):
    calls = run_script("punchy analog kick", 12.5, server.address[1], tmp_path)
    calls = [c for c in calls if c[0] != "CHECK"]  # the once-per-interpreter "has it diffhost?" check
    names = [c[0] for c in calls]
    assert names[0] == "EXEC" and calls[0][1] == "-2"  # REAPER does not wait for the client
    assert ["SELECT", "TRACK"] in calls and ["COMMAND", "40914"] in calls and ["CURSOR", "12.5"] in calls
    insert = next(c for c in calls if c[0] == "INSERT")
    path = Path(insert[1])
    assert insert[2] == "0" and path.is_file() and path.parent == session.renders_dir
    assert "punchy-analog-kick" in path.name
    assert names.index("CURSOR") < names.index("INSERT")
    assert not list((tmp_path / "diffhost").iterdir())  # prompt and result files cleaned up


def test_unnamed_track_asks_for_the_prompt(server, session, tmp_path):
    calls = run_script("Track 3", 0.0, server.address[1], tmp_path)
    assert calls[0][0] == "DIALOG"
    insert = next(c for c in calls if c[0] == "INSERT")
    assert "closed-hihat" in insert[1]


def test_no_server_tells_the_user(tmp_path):
    calls = run_script("tight snare", 0.0, 9, tmp_path, timeout_s=2)  # nothing listens on port 9
    message = next(c for c in calls if c[0] == "MESSAGE")[1]
    assert 'could not render "tight snare"' in message and "diffhost serve" in message
    assert not [c for c in calls if c[0] == "INSERT"]


def test_no_selected_track_tells_the_user(tmp_path):
    calls = run_script("", 0.0, 9, tmp_path)
    assert calls[0] == ["MESSAGE", "Select the track the sound should go on first."]


def test_finds_the_venv_of_its_diffhost_folder(server, session, tmp_path):
    # A diffhost folder as scripts/setup.sh leaves it: the script in daw/reaper/, Python in .venv/.
    repo = tmp_path / "diffhost"
    (repo / "daw" / "reaper").mkdir(parents=True)
    (repo / ".venv" / "bin").mkdir(parents=True)
    script = shutil.copy(SCRIPT, repo / "daw" / "reaper" / SCRIPT.name)
    python = repo / ".venv" / "bin" / "python"  # stands for the venv's interpreter: runs this one
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    calls = run_script("tight snare", 1.0, server.address[1], tmp_path, script=Path(script), python=None)
    check = next(c for c in calls if c[0] == "CHECK")
    assert str(repo / ".venv" / "bin" / "python") in check[1]
    insert = next(c for c in calls if c[0] == "INSERT")
    assert Path(insert[1]).is_file() and "tight-snare" in insert[1]


def test_no_python_found_says_where_it_looked(tmp_path):
    script = shutil.copy(SCRIPT, tmp_path / SCRIPT.name)  # not inside a diffhost folder
    calls = run_script("tight snare", 0.0, 9, tmp_path, script=Path(script), python=None)
    message = next(c for c in calls if c[0] == "MESSAGE")[1]
    assert "Cannot find diffhost's Python" in message and "DIFFHOST_PYTHON" in message
    assert "set PYTHON at the top" in message
    assert not [c for c in calls if c[0] in ("EXEC", "INSERT")]


def test_a_python_without_diffhost_is_named_at_once(tmp_path):
    bare = shutil.which("python3") or "/usr/bin/python3"
    calls = run_script("tight snare", 0.0, 9, tmp_path, python=bare, pythonpath=str(tmp_path))
    message = next(c for c in calls if c[0] == "MESSAGE")[1]
    assert f"{bare} cannot run diffhost's client" in message and "No module named" in message
    assert not [c for c in calls if c[0] in ("EXEC", "INSERT")]
