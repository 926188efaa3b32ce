"""Event-loop stall while the engine renders: the GUI must never freeze.

A 1 ms QTimer stamps every tick on the GUI thread; the longest gap between
ticks is how long the window was frozen. Measured idle (baseline) and while
the real window renders with the embedded default model, clicking Render
back to back (each render is shown: file read, waveform and spectrogram drawn).

    QT_QPA_PLATFORM=offscreen python bench/gui_stall.py [--renders 6] [--length 4]

Target: max gap during renders <= 30 ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PyQt6.QtCore import QSettings, Qt, QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

TARGET_MS = 30.0


def gaps_ms(stamps: list[float]) -> np.ndarray:
    return np.diff(np.asarray(stamps)) * 1000.0 if len(stamps) > 1 else np.zeros(1)


def describe(name: str, g: np.ndarray) -> str:
    return (
        f"{name:<10} ticks {len(g) + 1:6d}  median {np.median(g):6.2f} ms  p99 {np.percentile(g, 99):6.2f} ms"
        f"  p99.9 {np.percentile(g, 99.9):6.2f} ms  max {g.max():6.2f} ms"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--renders", type=int, default=8)
    ap.add_argument("--length", type=float, default=4.0, help="seconds of audio per render")
    ap.add_argument("--idle", type=float, default=1.0, help="seconds of idle baseline before each render")
    args = ap.parse_args()

    app = QApplication(sys.argv[:1])
    from diffhost.gui.main_window import MainWindow
    from diffhost.gui.theme import apply_theme
    from diffhost.runtime import COMPONENTS, RuntimeOptions, build_runtime

    apply_theme(app)
    tmp = Path(tempfile.mkdtemp(prefix="diffhost-gui-stall-"))
    # The app's own runtime (post-processing finisher and render library when present), no devices.
    runtime = build_runtime(
        RuntimeOptions(
            renders_dir=tmp / "renders",
            library_dir=tmp,
            device="cpu",
            audio=False,
            optional=frozenset(COMPONENTS),
            lower_engine_priority=True,
        )
    )
    session = runtime.session
    t0 = time.perf_counter()
    runtime.engine.load(None)
    print(
        f"model loaded in {time.perf_counter() - t0:.2f} s; components off: {', '.join(sorted(runtime.unavailable))}"
    )
    window = MainWindow(session, settings=QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat))
    window.autoplay.setChecked(False)
    window.show()
    window.params.prompt.setText("punchy analog kick, long")
    window.params.length.setValue(args.length)

    stamps: list[float] = []
    # Idle windows alternate with renders, so the baseline sees the same background load
    # (other processes on this machine) as the renders do; the ratio is what the app adds.
    phase = {"name": "idle", "idle": [], "render": [], "renders_done": 0, "render_s": [], "t": 0.0}
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(1)
    probe.timeout.connect(lambda: stamps.append(time.perf_counter()))

    def restart_stamps() -> None:
        stamps.clear()
        stamps.append(time.perf_counter())
        phase["t"] = time.perf_counter()

    def watch() -> None:
        if phase["name"] == "idle":
            if stamps[-1] - phase["t"] >= args.idle:
                phase["idle"].append(gaps_ms(stamps))
                phase["name"] = "render"
                restart_stamps()
                window.render()
        elif not window.jobs and window.current is not None and window.tasks.pending == 0:
            # this render is finished and shown: its whole life counts
            phase["render"].append(gaps_ms(stamps))
            phase["render_s"].append(time.perf_counter() - phase["t"])
            phase["renders_done"] += 1
            window.current = None
            if phase["renders_done"] >= args.renders:
                app.quit()
                return
            phase["name"] = "idle"
            restart_stamps()
        QTimer.singleShot(5, watch)

    def begin() -> None:  # after the window's first layout and paint
        probe.start()
        restart_stamps()
        QTimer.singleShot(5, watch)

    QTimer.singleShot(1000, begin)
    QTimer.singleShot(300_000, app.quit)  # safety net
    app.exec()
    probe.stop()
    window.close()
    runtime.close()

    idle = np.concatenate(phase["idle"])
    render = np.concatenate(phase["render"]) if phase["render"] else np.zeros(1)
    print(
        f"{phase['renders_done']} renders of {args.length:g} s, {np.mean(phase['render_s']):.2f} s each on average (render + save + display)"
    )
    print(f"machine load average (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(describe("idle", idle))
    print(describe("rendering", render))
    print(f"max-gap ratio rendering/idle: {render.max() / idle.max():.2f}")
    ok = render.max() <= TARGET_MS
    print(f"target max gap <= {TARGET_MS:g} ms during renders: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
