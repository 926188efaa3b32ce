"""Make docs/screenshot.png from the real window after real renders (under Xvfb).

    python scripts/screenshot.py [-o docs/screenshot.png]

Without a display it re-runs itself under xvfb-run (Debian xvfb) with Qt's xcb
platform, renders a few one-shots with the embedded default model through the
window's own Render path, and grabs the window.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPTS = [
    "punchy analog kick",
    "tight snare, bright",
    "closed hihat, short",
    "808 bass, dirty",
    "pad swell, wide",
]
SIZE = (1600, 960)


def under_xvfb(argv: list[str]) -> int:
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        print("screenshot: needs a display or xvfb-run (Debian package xvfb)", file=sys.stderr)
        return 2
    env = {**os.environ, "DIFFHOST_SCREENSHOT_XVFB": "1", "QT_QPA_PLATFORM": "xcb"}
    cmd = [xvfb, "-a", "-s", f"-screen 0 {SIZE[0] + 40}x{SIZE[1] + 80}x24", sys.executable, *argv]
    return subprocess.call(cmd, env=env)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "screenshot.png")
    args = ap.parse_args()
    if not os.environ.get("DISPLAY") and not os.environ.get("DIFFHOST_SCREENSHOT_XVFB"):
        return under_xvfb([str(Path(__file__).resolve()), *sys.argv[1:]])

    from PyQt6.QtCore import QSettings, QTimer
    from PyQt6.QtWidgets import QApplication

    from gui.app import build_runtime, run

    app = QApplication(sys.argv[:1])
    tmp = Path(tempfile.mkdtemp(prefix="diffhost-shot-"))
    runtime = build_runtime(renders_dir=tmp / "renders", library_dir=tmp, osc_port=None, audio=False)
    runtime.unavailable["audio"] = "no audio device on the screenshot machine"
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    queue = list(PROMPTS)
    status = {"rc": 1}

    def next_render(window) -> None:
        if window.jobs or window.tasks.pending:
            QTimer.singleShot(50, lambda: next_render(window))
            return
        if not queue:
            QTimer.singleShot(600, lambda: shoot(window))  # let the last draw and the history settle
            return
        prompt = queue.pop(0)
        window.params.prompt.setText(prompt)
        window.params.length.setValue(3.0 if "pad" in prompt else 1.0)
        if window.render() is None:
            print(f"screenshot: render refused: {window.status_message.text()}", file=sys.stderr)
            window.close()
            return
        QTimer.singleShot(50, lambda: next_render(window))

    def shoot(window) -> None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        if window.grab().save(str(args.output)):
            status["rc"] = 0
            print(f"screenshot: wrote {args.output} ({window.width()}x{window.height()})")
        window.close()

    def ready(window) -> None:
        window.resize(*SIZE)
        window.autoplay.setChecked(False)
        for name in ("HighpassFilter", "Compressor", "Reverb"):
            window.effects.add_effect(name)
        window.params.temperature.setValue(0.8)
        next_render(window)

    try:
        run(runtime, settings, on_ready=ready)
    finally:
        runtime.close()
        del app
    return status["rc"]


if __name__ == "__main__":
    sys.exit(main())
