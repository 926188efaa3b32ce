"""A Python peer that speaks the diffhost Bridge plugin's side of the link (docs/plugin.md) over
real UDP: hello, transport, loaded, captured, pong and bye, with the protocol's exact OSC types.
It acts on what diffhost sends as the plugin does: a load is read from the clip cache, its hash
checked, and answered with /diffhost/plugin/loaded; a capture writes a float WAV into the cache's
captures folder and answers /diffhost/plugin/captured."""

from __future__ import annotations

import hashlib
import secrets
import threading
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from pythonosc.osc_message_builder import OscMessageBuilder

from diffhost.osc.client import DiffhostClient, Message

VERSION = 1


def message(address: str, *typed: tuple[str, Any]) -> bytes:
    b = OscMessageBuilder(address)
    for tag, value in typed:
        b.add_arg(value, tag)
    return b.build().dgram


class PluginPeer:
    def __init__(
        self, port: int, cache: Path, *, track: str = "", sample_rate: float = 48000.0, ident: str = ""
    ):
        self.id = ident or secrets.token_hex(8)  # 16 hex characters, as the plugin makes it
        self.port = port
        self.track = track
        self.sample_rate = sample_rate
        self.cache = Path(cache)
        self.net = DiffhostClient("127.0.0.1", port)
        self.pads: dict[int, dict[str, Any]] = {}  # what the plugin would hold per pad
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def close(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=2)
        self.net.close()

    def _hello_bytes(self) -> bytes:
        return message(
            "/diffhost/plugin/hello",
            ("s", self.id),
            ("s", self.track),
            ("f", self.sample_rate),
            ("i", VERSION),
        )

    def _heartbeat(self) -> None:
        while not self._stop.wait(1.0):  # the plugin says hello every second while it lives
            self.net.send_raw(self._hello_bytes())

    def deactivate(self) -> None:
        """The host deactivates the plugin (DawDreamer between renders): its hellos stop, no bye."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=2)
            self._beat = None

    def reactivate(self, *, new_port: bool = True) -> Message:
        """The host activates it again, from a new socket (new port) unless told otherwise;
        returns the answer to its first hello."""
        if new_port:
            self.net.close()
            self.net = DiffhostClient("127.0.0.1", self.port)
        self._stop = threading.Event()
        return self.hello()

    # -- plugin -> diffhost -----------------------------------------------------------------------
    def hello(self) -> Message:
        """The first hello, then one every second from a thread (as the plugin's worker does)."""
        self.net.send_raw(self._hello_bytes())
        reply = self.expect("/bridge/hello")
        if self._beat is None:
            self._beat = threading.Thread(target=self._heartbeat, daemon=True)
            self._beat.start()
        return reply

    def transport(
        self,
        bpm: float,
        *,
        sig: tuple[int, int] = (4, 4),
        playing: bool = True,
        valid: bool = True,
        bar: float = 1.0,
        beat: float = 0.0,
    ) -> None:
        self.net.send_raw(
            message(
                "/diffhost/plugin/transport",
                ("s", self.id),
                ("f", float(bpm)),
                ("i", sig[0]),
                ("i", sig[1]),
                ("i", int(playing)),
                ("i", int(valid)),
                ("d", float(bar)),
                ("d", float(beat)),
            )
        )

    def report_pads(self, pads: dict[int, dict[str, Any]], *, loaded: set[int] | None = None) -> None:
        """The pads report the plugin sends when diffhost asks (/bridge/pads): one message per pad
        holding a clip, from what a project's state keeps, then the count."""
        for pad, held in sorted(pads.items()):
            self.net.send_raw(
                message(
                    "/diffhost/plugin/pad",
                    ("s", self.id),
                    ("i", pad),
                    ("s", held["hash"]),
                    ("s", held["label"]),
                    ("i", held["mode"]),
                    ("i", held["choke"]),
                    ("i", held["quantize"]),
                    ("f", float(held["gain_db"])),
                    ("f", float(held["pan"])),
                    ("s", held["recipe"]),
                    ("i", int(loaded is None or pad in loaded)),
                )
            )
        self.net.send_raw(message("/diffhost/plugin/pads", ("s", self.id), ("i", len(pads))))

    def prompt(self, pad: int, text: str, bars: float, mode: int = -1) -> None:
        """A prompt typed for a pad inside the DAW."""
        self.net.send_raw(
            message(
                "/diffhost/plugin/prompt",
                ("s", self.id),
                ("i", pad),
                ("s", text),
                ("f", float(bars)),
                ("i", mode),
            )
        )

    def bye(self) -> None:
        self.deactivate()
        self.net.send_raw(message("/diffhost/plugin/bye", ("s", self.id)))

    # -- diffhost -> plugin -----------------------------------------------------------------------
    def expect(self, address: str, timeout: float = 30.0) -> Message:
        m = self.net.wait_for(lambda m: m[0] in (address, "/diffhost/error"), timeout)
        if m[0] == "/diffhost/error" and address != "/diffhost/error":
            raise AssertionError(f"diffhost answered an error: {m[1]}")
        return m

    def receive_load(self, timeout: float = 60.0) -> dict[str, Any]:
        """Options then load for one pad, acted on as the plugin does; returns what the pad holds."""
        opts = self.expect("/bridge/pad/options", timeout)
        load = self.expect("/bridge/pad/load", timeout)
        pad, h, label, swap = load[1]
        assert opts[1][0] == pad
        path = self.cache / h[:2] / f"{h}.wav"
        data = path.read_bytes()
        ok = hashlib.sha256(data).hexdigest() == h
        audio, sr = sf.read(path, dtype="float32", always_2d=True)
        self.net.send_raw(
            message(
                "/diffhost/plugin/loaded",
                ("s", self.id),
                ("i", pad),
                ("s", h if ok else "error: hash mismatch"),
            )
        )
        mode, choke, quantize, gain_db, pan, recipe = opts[1][1:]
        held = {
            "pad": pad,
            "hash": h,
            "label": label,
            "swap_at_bar": swap,
            "hash_ok": ok,
            "audio": audio.T,
            "sample_rate": sr,
            "mode": mode,
            "choke": choke,
            "quantize": quantize,
            "gain_db": gain_db,
            "pan": pan,
            "recipe": recipe,
            "path": path,
        }
        self.pads[pad] = held
        return held

    def answer_capture(self, seconds_per_bar: float, timeout: float = 10.0) -> tuple[int, int, Path]:
        """Wait for /bridge/capture, "record" a tone for that many bars, and report it."""
        m = self.expect("/bridge/capture", timeout)
        pad, bars = m[1]
        sr = int(self.sample_rate)
        t = np.arange(int(round(bars * seconds_per_bar * sr))) / sr
        tone = (0.3 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)
        folder = self.cache / "captures"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.id}-pad{pad}.wav"
        sf.write(path, np.stack([tone, tone], axis=1), sr, subtype="FLOAT")
        self.net.send_raw(
            message("/diffhost/plugin/captured", ("s", self.id), ("i", pad), ("s", str(path)), ("i", bars))
        )
        return pad, bars, path
