"""`diffhost serve`: engine + session + host audio + OSC server, headless (stage rig, second machine)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from diffhost import paths
from diffhost.commands import old_spelling


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="run the OSC server headless (engine, audio, OSC)",
        description="Listen for OSC (see docs/osc.md) and render, play slots and answer until Ctrl-C.",
    )
    p.add_argument("--osc-port", type=int, default=12000, help="UDP port to listen on (default 12000)")
    old_spelling(p, "--port", "osc_port", type=int)
    p.add_argument(
        "--bind",
        default="127.0.0.1",
        help="address to listen on; 127.0.0.1 (default) is this machine only, others need --allow",
    )
    p.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="ADDR",
        help="client address or network allowed to send (repeatable), e.g. 192.168.1.20 or 192.168.1.0/24",
    )
    p.add_argument("--reply-port", type=int, default=12001, help="port /diffhost/subscribe uses by default")
    p.add_argument(
        "--subscribe",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="a listener that gets every event from the start (repeatable)",
    )
    p.add_argument("--renders-dir", type=Path, default=Path("renders"), help="renders folder (default ./renders)")
    old_spelling(p, "--renders", "renders_dir", type=Path)
    p.add_argument(
        "--audio-dir",
        type=Path,
        default=None,
        help="a folder of your audio that messages may load seed clips and slots from (default: ~/Music)",
    )
    p.add_argument(
        "--allow-dir",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="another folder messages may read audio from (repeatable)",
    )
    p.add_argument("--model", default=None, help="model: default, a local folder or a Hugging Face id")
    p.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda or mps")
    p.add_argument(
        "--engine",
        default=None,
        metavar="URL",
        help="render on a remote engine (diffhost engine-serve), e.g. http://gpu-box:8450; default: this machine",
    )
    p.add_argument("--max-queue", type=int, default=16, help="renders that may wait (default 16)")
    p.add_argument(
        "--no-audio", action="store_true", help="run without an audio device (no slots, no recording)"
    )
    p.add_argument(
        "--output-device", default=None, help="audio output device, name or index (default: the saved setting)"
    )
    old_spelling(p, "--output", "output_device")
    p.add_argument(
        "--input-device", default=None, help="audio input device, name or index (default: the saved setting)"
    )
    old_spelling(p, "--input", "input_device")
    p.add_argument(
        "--sample-rate", type=int, default=None, help="audio device sample rate (default: the saved setting)"
    )
    p.add_argument(
        "--block-size", type=int, default=None, help="audio block size in frames (default: the saved setting)"
    )
    p.add_argument("--slots", type=int, default=16, help="number of live slots (numbered 1..N)")
    p.add_argument(
        "--midi-in",
        action="append",
        default=[],
        metavar="NAME",
        help="a MIDI input to listen to (repeatable): a port name or a unique part of it, or 'jack' "
        "for diffhost's own JACK MIDI port (offered anyway when the audio runs on JACK); "
        "notes 36-51 fire pads 1-16",
    )
    p.add_argument(
        "--no-jack-midi", action="store_true", help="do not offer the JACK MIDI port diffhost-midi:in"
    )
    p.add_argument(
        "--tempo-source",
        choices=("session", "link", "midi clock", "plugin"),
        default="session",
        help="where the tempo and beat come from: the session (OSC /diffhost/tempo), Ableton Link, "
        "the MIDI clock of a --midi-in port, or a DAW through the diffhost Bridge plugin",
    )
    p.set_defaults(func=run)


def parse_listener(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"subscribe: {text!r} is not HOST:PORT (e.g. 127.0.0.1:12001)")
    return host.strip("[]"), int(port)


def _device(value: str | None) -> str | int | None:
    return int(value) if value is not None and value.isdigit() else value


def _user_music_dir() -> Path | None:
    return paths.user_music_dir()


def run(args: argparse.Namespace) -> int:
    from diffhost.osc.access import AccessList
    from diffhost.osc.server import OscConfig
    from diffhost.runtime import RuntimeOptions, build_runtime, exit_process

    listeners = tuple(parse_listener(s) for s in args.subscribe)
    audio_dir = args.audio_dir if args.audio_dir is not None else _user_music_dir()
    folders = tuple(p for p in ([audio_dir] if audio_dir else []) + list(args.allow_dir))
    for folder in folders:
        if not folder.expanduser().is_dir():
            raise ValueError(f"allowed folder {folder} does not exist")
    config = OscConfig(
        host=args.bind,
        port=args.osc_port,
        reply_port=args.reply_port,
        allow=tuple(args.allow),
        folders=folders,
        listeners=listeners,
    )
    AccessList(config.host, config.allow)  # refuse an open bind without an allow-list before loading anything
    options = RuntimeOptions(
        renders_dir=args.renders_dir,
        model=args.model,
        device=args.device,
        engine_url=args.engine,
        max_queue=args.max_queue,
        audio=not args.no_audio,
        audio_overrides={
            "output": _device(args.output_device),
            "input": _device(args.input_device),
            "sample_rate": args.sample_rate,
            "block_size": args.block_size,
        },
        slots=args.slots,
        midi_in=tuple(args.midi_in),
        jack_midi=False if args.no_jack_midi else None,
        tempo_source=args.tempo_source,
        osc=config,
        optional=frozenset({"audio"}),  # slot messages then say why there is no audio
    )
    runtime = build_runtime(options)  # binds first: a taken port fails in a second, not after a load
    stop_on_signal()  # from here a SIGTERM, even during the model load, ends through the cleanup below
    try:
        try:
            print(f"loading model {args.model or 'default'} ...", file=sys.stderr, flush=True)
            runtime.engine.load(args.model)  # fail now, not on the first render
            server = runtime.osc
            assert server is not None  # OSC is not optional here: build_runtime raised if it could not bind
            host, port = server.address
            print(f"diffhost OSC listening on {host}:{port}", file=sys.stderr)
            print(f"  renders: {runtime.session.renders_dir}", file=sys.stderr)
            print(f"  readable folders: {server.paths.describe()}", file=sys.stderr)
            print(f"  audio: {_audio_note(runtime)}", file=sys.stderr)
            print(f"  live: {_live_note(runtime)}", file=sys.stderr)
            if config.allow:
                print(f"  allowed clients: this machine, {', '.join(config.allow)}", file=sys.stderr)
            print("Ctrl-C stops.", file=sys.stderr, flush=True)
            wait_for_signal()
        except KeyboardInterrupt:
            pass  # Ctrl-C or SIGTERM before the loop: a stop asked for, not a failure
    finally:
        ignore_signals()  # a second Ctrl-C or SIGTERM must not cut the cleanup short
        server = runtime.osc
        runtime.close()
        if server is not None:
            s = server.stats
            print(
                f"served {s.messages} messages ({s.errors} answered with errors, "
                f"{s.ignored} datagrams from clients not allowed ignored)",
                file=sys.stderr,
            )
    exit_process(0, runtime)  # does not return: see diffhost.runtime.exit_process
    return 0


def _audio_note(runtime: Any) -> str:
    audio = runtime.audio
    if audio is None:
        return runtime.unavailable.get("audio", "off")
    return f"{audio.sample_rate} Hz, {audio.block_size}-frame blocks, {audio.num_slots} slots"


def _live_note(runtime: Any) -> str:
    live = runtime.live
    if live is None:
        return "off"
    ports = ", ".join(str(getattr(p, "port_name", None) or getattr(p, "name", "?")) for p in live.inputs.values())
    parts = [f"MIDI in: {ports or 'none'}", f"tempo from {live.sync.source}"]
    for what in ("midi", "link", "kit"):
        if what in runtime.unavailable:
            parts.append(f"{what}: {runtime.unavailable[what]}")
    return "; ".join(parts)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def stop_on_signal() -> None:
    """From here on SIGTERM (what a service manager, a DAW's script or `kill` sends) acts as Ctrl-C
    does: it raises KeyboardInterrupt in the main thread wherever it is. Installed before the model
    loads, so a stop asked for during the load still ends the command through its cleanup (the pads
    saved as the last kit) instead of killing it with nothing saved."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


def ignore_signals() -> None:
    """During a headless command's cleanup: a second Ctrl-C or SIGTERM must not cut it short."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def wait_for_signal() -> None:
    """Block until Ctrl-C or SIGTERM: every headless command's loop."""
    stop_on_signal()
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
