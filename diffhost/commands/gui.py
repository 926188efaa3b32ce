"""`diffhost gui` (and `diffhost` with no command): the desktop window."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the desktop window (the default command)")
    p.add_argument(
        "--renders-dir",
        type=Path,
        default=None,
        help="where renders are saved (default: renders/ in the render library's folder, the user data dir)",
    )
    p.add_argument("--model", default=None, help="model: default, a local folder or a Hugging Face id")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument(
        "--engine",
        default=None,
        metavar="URL",
        help="render on a remote engine (diffhost engine-serve), e.g. http://gpu-box:8450; default: this machine",
    )
    p.add_argument("--osc-port", type=int, default=12000, help="OSC listen port on 127.0.0.1")
    p.add_argument("--no-osc", action="store_true", help="do not start the OSC server")
    p.add_argument("--no-audio", action="store_true", help="run without an audio device")
    p.add_argument(
        "--library", type=Path, default=None, help="render library folder (default: user data dir)"
    )
    p.add_argument("--settings", type=Path, default=None, help="keep window settings in this .ini file")
    p.add_argument("--quit-after", type=int, default=None, metavar="MS", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def options(args: argparse.Namespace):
    """The window's runtime: every component optional (the window shows why one is missing), the
    model loading in the background, renders yielding the CPU to the UI."""
    from diffhost.osc.server import OscConfig
    from diffhost.runtime import COMPONENTS, RuntimeOptions

    return RuntimeOptions(
        renders_dir=renders_dir(args),
        model=args.model,
        device=args.device,
        engine_url=args.engine,
        audio=not args.no_audio,
        library_dir=args.library,
        osc=None if args.no_osc else OscConfig(port=args.osc_port),
        optional=frozenset(COMPONENTS),
        background_load=True,
        lower_engine_priority=True,
    )


def name_jack_client() -> None:
    """PortAudio opened its JACK client as "PortAudio" when sounddevice was imported; re-open it as
    "diffhost" (nothing is streaming yet), so patchbays show the window's audio by name."""
    try:
        from diffhost.host.audio import rescan_devices

        rescan_devices("diffhost")
    except Exception:  # noqa: BLE001 - no PortAudio, no JACK: the runtime says why audio is off
        pass


def renders_dir(args: argparse.Namespace) -> Path:
    """The window's renders go where the library keeps its files (the user's data folder), not to
    ./renders under whatever folder the window was started from."""
    if args.renders_dir is not None:
        return args.renders_dir
    from diffhost.host.library import default_library_dir

    return (Path(args.library).expanduser() if args.library else default_library_dir()) / "renders"


def run(args: argparse.Namespace, *, engine=None) -> int:
    from diffhost.gui.app import check_display, run_window  # Qt only when the window is wanted
    from diffhost.runtime import build_runtime, exit_process

    check_display()
    if args.engine is None and engine is None:  # the window's own choice (File > Render engine…)
        from diffhost.gui.app import open_settings
        from diffhost.gui.engine_choice import saved_engine_url

        args.engine = saved_engine_url(open_settings(args.settings))
    if not args.no_audio:
        name_jack_client()
    runtime = build_runtime(options(args), engine=engine)
    try:
        code = run_window(runtime, settings_path=args.settings, quit_after_ms=args.quit_after)
    finally:
        runtime.close()
    exit_process(code, runtime)  # does not return: see diffhost.runtime.exit_process
    return code
