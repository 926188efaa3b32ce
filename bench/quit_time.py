"""Quitting during a model load: seconds from the window closing to the process ending (bar: 3 s).

Runs tests/gui/slow_load_app.py (the real `diffhost gui`, offscreen, with an engine whose load
lasts two minutes) several times, and as a baseline the same window quitting with the model
already loaded, interleaved so machine load hits both alike. Prints each run and the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "tests" / "gui" / "slow_load_app.py"


def quit_once(slow: bool) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "PYTHONPATH": str(ROOT),
            "DIFFHOST_HOME": tmp,
            "DIFFHOST_CONFIG_DIR": tmp,
        }
        args = [
            "gui",
            "--renders-dir",
            f"{tmp}/renders",
            "--no-audio",
            "--no-osc",
            "--library",
            f"{tmp}/lib",
            "--settings",
            f"{tmp}/s.ini",
            "--quit-after",
            "2500",
        ]
        if slow:
            cmd = [sys.executable, str(APP), *args]
        else:  # baseline: the plain command, whose default model loads in about a second
            cmd = [
                sys.executable,
                "-c",
                "import sys, time, diffhost.gui.app as g\n"
                "r = g.run_window\n"
                "def w(*a, **k):\n    c = r(*a, **k); print(f'window-closed {time.time():.3f}', flush=True); return c\n"
                "g.run_window = w\nfrom diffhost.cli import main\nsys.exit(main(sys.argv[1:]))",
                *args,
            ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=200)
        ended = time.time()
        closed = float(proc.stdout.split("window-closed ")[1].split()[0])
        return ended - closed, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    slow, base = [], []
    for i in range(a.runs):
        for label, is_slow, out in (("loading", True, slow), ("loaded ", False, base)):
            dt, rc = quit_once(is_slow)
            out.append(dt)
            print(
                f"run {i + 1} model {label}: exit {rc}, {dt:.2f} s from window close to process end",
                flush=True,
            )
    print(
        f"median quit time while the model loads: {statistics.median(slow):.2f} s (max {max(slow):.2f} s; bar 3 s)"
    )
    print(
        f"median quit time with the model loaded: {statistics.median(base):.2f} s; "
        f"ratio {statistics.median(slow) / max(1e-3, statistics.median(base)):.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
