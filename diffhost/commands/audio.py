"""`diffhost devices`, `diffhost play FILE`, `diffhost record SECONDS -o FILE`."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from diffhost.commands import old_spelling


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="list audio devices; choose and remember devices and format")
    p.add_argument("--json", action="store_true", help="print a machine-readable list")
    p.add_argument("--set-output", metavar="DEVICE", help="remember this output (index, name or part of it)")
    p.add_argument("--set-input", metavar="DEVICE", help="remember this input (index, name or part of it)")
    p.add_argument("--sample-rate", type=int, help="remember this sample rate in Hz (e.g. 48000)")
    p.add_argument("--block-size", type=int, help="remember this block size in frames (e.g. 128)")
    p.add_argument(
        "--input-channels", type=int, choices=(1, 2), help="remember mono (1) or stereo (2) recording"
    )
    p.set_defaults(func=run_devices)

    p = sub.add_parser("play", help="play an audio file on the chosen output")
    p.add_argument("file", type=Path, help="any common audio file; converted to the device's rate")
    p.add_argument("--output-device", metavar="DEVICE", help="output device (default: the remembered one)")
    old_spelling(p, "--output", "output_device")
    p.set_defaults(func=run_play)

    p = sub.add_parser("record", help="record seed audio from the chosen input into a WAV file")
    p.add_argument("seconds", type=float, help="how long to record, in seconds")
    p.add_argument("-o", "--output", type=Path, required=True, help="new .wav file (never overwritten)")
    p.add_argument("--input-device", metavar="DEVICE", help="input device (default: the remembered one)")
    old_spelling(p, "--input", "input_device")
    p.add_argument("--channels", type=int, choices=(1, 2), help="1 = mono, 2 = stereo (default: remembered)")
    p.set_defaults(func=run_record)


def run_devices(args: argparse.Namespace) -> int:
    from diffhost.host.audio import load_settings, rescan_devices, resolve_device, save_settings
    from diffhost.host.audio.devices import default_device

    devices = rescan_devices()
    settings = load_settings()
    changes: dict[str, Any] = {}
    if args.set_output is not None:
        changes["output"] = resolve_device(args.set_output, "output").name  # type: ignore[union-attr]
    if args.set_input is not None:
        changes["input"] = resolve_device(args.set_input, "input").name  # type: ignore[union-attr]
    for key in ("sample_rate", "block_size", "input_channels"):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    if changes:
        settings = settings.with_(**changes)  # validates before anything is written
        path = save_settings(settings)
        print(f"saved {path}", file=sys.stderr)

    if args.json:
        body = {"devices": [d.__dict__ for d in devices], "settings": settings.__dict__}
        print(json.dumps(body, indent=2))
        return 0
    d_in, d_out = default_device("input"), default_device("output")
    if not devices:
        print("no audio devices found (is an audio server running?)")
    for d in devices:
        marks = []
        if d_in and d.index == d_in.index:
            marks.append("default in")
        if d_out and d.index == d_out.index:
            marks.append("default out")
        if settings.input and d.name == settings.input:
            marks.append("chosen in")
        if settings.output and d.name == settings.output:
            marks.append("chosen out")
        tag = f"  [{', '.join(marks)}]" if marks else ""
        print(
            f"{d.index:3d}  {d.name}  ({d.hostapi})  in {d.max_input_channels} / out {d.max_output_channels}"
            f"  {d.default_samplerate:g} Hz{tag}"
        )
    print(
        f"chosen: output {settings.output or 'default'}, input {settings.input or 'default'}, "
        f"{settings.sample_rate} Hz, {settings.block_size}-frame blocks, "
        f"{'stereo' if settings.input_channels == 2 else 'mono'} recording"
    )
    return 0


def run_play(args: argparse.Namespace) -> int:
    from diffhost.engine.audio import read_audio
    from diffhost.host.audio import load_settings, open_host_audio, rescan_devices

    settings = load_settings()
    audio, sr = read_audio(args.file)  # a bad file fails before any device opens
    rescan_devices()
    with open_host_audio(
        args.output_device if args.output_device is not None else settings.output,
        False,
        settings.sample_rate,
        settings.block_size,
        slots=1,
    ) as host:
        host.play(audio, sr)
        total = audio.shape[-1] / sr
        try:
            while host.is_playing():
                _status(f"playing {args.file.name}  {host.position():6.2f} / {total:.2f} s")
                time.sleep(0.05)
        except KeyboardInterrupt:
            host.stop()
            time.sleep(0.02)  # let the stop fade out before the stream closes
        _status(f"played {args.file.name}  ({total:.2f} s)\n")
        if host.underflows:
            print(f"warning: {host.underflows} output underflows (dropouts)", file=sys.stderr)
    return 0


def run_record(args: argparse.Namespace) -> int:
    from diffhost.host.audio import load_settings, open_host_audio, rescan_devices
    from diffhost.host.render.export import atomic_write_wav

    out: Path = args.output
    if out.suffix.lower() != ".wav":
        raise ValueError(f"record: output must be a .wav file, got {out.name!r}")
    if out.exists():
        raise FileExistsError(f"{out}: already exists; diffhost never overwrites files")
    settings = load_settings()
    channels = args.channels or settings.input_channels
    rescan_devices()
    with open_host_audio(
        settings.output,
        args.input_device if args.input_device is not None else settings.input,
        settings.sample_rate,
        settings.block_size,
        slots=1,
        input_channels=channels,
        max_record_s=max(settings.max_record_s, float(args.seconds)),
    ) as host:
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                result["audio"] = host.record(args.seconds, channels=channels)
            except Exception as exc:  # re-raised on the main thread
                result["error"] = exc

        t = threading.Thread(target=work, name="diffhost-record", daemon=True)
        t0 = time.monotonic()
        t.start()
        while t.is_alive():
            peak, rms = host.meter()
            _status(
                f"recording {time.monotonic() - t0:5.1f} / {args.seconds:g} s  peak {peak:6.1f} dBFS  rms {rms:6.1f} dBFS"
            )
            t.join(0.1)
        _status("\n")
    if "error" in result:
        raise result["error"]
    audio, sr = result["audio"]
    atomic_write_wav(out, audio, sr)
    print(f"{out}  ({audio.shape[-1] / sr:.2f} s, {sr} Hz, {audio.shape[0]} ch)")
    return 0


def _status(text: str) -> None:
    sys.stderr.write("\r" + text)
    sys.stderr.flush()
