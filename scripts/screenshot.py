"""Make docs/screenshot.png from the real window after real renders (under Xvfb).

    python scripts/screenshot.py [-o docs/screenshot.png] [--screen 1280x800] [--wm]

Without a display it re-runs itself under xvfb-run (Debian xvfb) with Qt's xcb
platform, renders a few one-shots with the embedded default model through the
window's own Render path, and grabs the window.

--screen sets the virtual screen's size; with --wm a window manager (Debian openbox) runs on it,
the window is maximized as a musician would on a laptop, and the whole screen is grabbed, title bar
included, to check that every control is on screen.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# (prompt, length in seconds): one-shots for the pads, then a two-bar loop for the waveform.
PROMPTS = [
    ("punchy analog kick", 1.0),
    ("tight snare, bright", 1.0),
    ("closed hihat, short", 1.0),
    ("808 bass, dirty", 1.0),
    ("pad swell, wide", 3.0),
    ("boom bap beat with bass and keys at 90 bpm", 2 * 240 / 90),
]
SIZE = (1366, 768)  # a common laptop screen: the window must fit it


def under_xvfb(argv: list[str], screen: tuple[int, int] | None) -> int:
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        print("screenshot: needs a display or xvfb-run (Debian package xvfb)", file=sys.stderr)
        return 2
    env = {**os.environ, "DIFFHOST_SCREENSHOT_XVFB": "1", "QT_QPA_PLATFORM": "xcb"}
    width, height = screen or (SIZE[0] + 40, SIZE[1] + 80)
    cmd = [xvfb, "-a", "-s", f"-screen 0 {width}x{height}x24", sys.executable, *argv]
    return subprocess.call(cmd, env=env)


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"screen: {text!r} is not WIDTHxHEIGHT, e.g. 1280x800") from None
    return width, height


def start_window_manager() -> subprocess.Popen | None:
    """openbox on the Xvfb display: title bars and maximizing work as on a desktop."""
    wm = shutil.which("openbox")
    if wm is None:
        print("screenshot: --wm needs openbox (Debian package openbox)", file=sys.stderr)
        return None
    proc = subprocess.Popen([wm, "--sm-disable"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # openbox takes the screen before the window maps
    return proc


def start_jack_audio() -> tuple[object, object] | tuple[None, None]:
    """A private JACK server (dummy driver) and real HostAudio on it, so the pads are live.

    Returns (audio, jackd process), or (None, None) where JACK or host.audio is not available.
    """
    jackd = shutil.which("jackd")
    try:
        import jack

        import diffhost.host.audio as host_audio
    except (ImportError, OSError):
        return None, None
    if jackd is None:
        return None, None
    name = f"diffhost-shot-{os.getpid()}"
    proc = subprocess.Popen(
        [jackd, "-n", name, "-S", "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "1024"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"},
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            jack.Client("diffhost-shot-probe", servername=name, no_start_server=True).close()
            break
        except jack.JackError:
            time.sleep(0.1)
    else:
        proc.kill()
        return None, None
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    host_audio.rescan_devices()
    try:
        return host_audio.open_host_audio(output="JACK", input=False, block_size=1024), proc
    except ValueError:
        proc.kill()
        return None, None


def free_port(preferred: int = 12000) -> int:
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
                return sock.getsockname()[1]
            except OSError:
                continue
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "screenshot.png")
    ap.add_argument("--screen", type=parse_size, default=None, help="virtual screen size, e.g. 1280x800")
    ap.add_argument("--wm", action="store_true", help="run openbox, maximize, grab the whole screen")
    args = ap.parse_args()
    if not os.environ.get("DISPLAY") and not os.environ.get("DIFFHOST_SCREENSHOT_XVFB"):
        return under_xvfb([str(Path(__file__).resolve()), *sys.argv[1:]], args.screen)
    wm = start_window_manager() if args.wm else None

    from PyQt6.QtCore import QSettings, QTimer
    from PyQt6.QtWidgets import QApplication

    from diffhost.gui.app import run
    from diffhost.osc.server import OscConfig
    from diffhost.runtime import COMPONENTS, RuntimeOptions, build_runtime

    app = QApplication(sys.argv[:1])
    tmp = Path(tempfile.mkdtemp(prefix="diffhost-shot-"))
    runtime = build_runtime(
        RuntimeOptions(
            renders_dir=tmp / "renders",
            library_dir=tmp,
            osc=OscConfig(port=free_port()),
            audio=False,
            optional=frozenset(COMPONENTS),
            background_load=True,
        )
    )
    audio, jackd = start_jack_audio()
    if audio is not None:
        runtime.session.audio = audio
        runtime.unavailable.pop("audio", None)
    else:
        runtime.unavailable["audio"] = "no audio device on the screenshot machine"
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    queue = list(PROMPTS)
    status = {"rc": 1}

    def next_render(window) -> None:
        if window.jobs or window.tasks.pending:
            QTimer.singleShot(50, lambda: next_render(window))
            return
        if not queue:
            QTimer.singleShot(300, lambda: finish(window))
            return
        prompt, length = queue.pop(0)
        window.params.prompt.setText(prompt)
        window.params.length.setValue(length)
        if window.render() is None:
            print(f"screenshot: render refused: {window.status_message.text()}", file=sys.stderr)
            window.close()
            return
        QTimer.singleShot(50, lambda: next_render(window))

    def finish(window) -> None:
        """Pads get the renders, the first take becomes the seed clip; one pad plays as we shoot."""
        paths = [row.path for row in reversed(window.history.rows)]
        if window.session.audio is not None:
            for slot, path in enumerate(paths, start=1):  # pads count from 1, as musicians do
                window.pad_control.assign(slot, path)
        if paths:
            window.load_seed(paths[0])
        QTimer.singleShot(800, lambda: trigger(window))

    def trigger(window) -> None:
        if window.session.audio is not None:
            window.pad_control.trigger(1)
        QTimer.singleShot(150, lambda: shoot(window))

    def shoot(window) -> None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        image = window.screen().grabWindow(0) if args.wm else window.grab()
        if image.save(str(args.output)):
            status["rc"] = 0
            frame, hint, free = window.frameGeometry(), window.minimumSizeHint(), window.screen().availableGeometry()
            print(
                f"screenshot: wrote {args.output} ({image.width()}x{image.height()}); window frame "
                f"{frame.width()}x{frame.height()} at {frame.x()},{frame.y()}, minimum {hint.width()}x"
                f"{hint.height()}, screen free area {free.width()}x{free.height()}"
            )
        window.close()

    def ready(window) -> None:
        if args.wm:
            window.showMaximized()
        else:
            window.resize(*(args.screen or SIZE))
        window.autoplay.setChecked(False)
        for name in ("HighpassFilter", "Compressor", "Reverb"):
            window.effects.add_effect(name)
        window.params.temperature.setValue(0.8)
        next_render(window)

    try:
        run(runtime, settings, on_ready=ready)
    finally:
        runtime.close()
        if wm is not None:
            wm.terminate()
        if jackd is not None:
            import sounddevice as sd

            sd._terminate()  # PortAudio's JACK client goes before its server
            jackd.terminate()
            jackd.wait(timeout=10)
        del app
    return status["rc"]


if __name__ == "__main__":
    sys.exit(main())
