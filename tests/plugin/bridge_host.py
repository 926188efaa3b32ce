"""What the plugin tests share: the built plugin, a clip cache, and the test's stand-in for diffhost.

The stand-in is a plain UDP socket speaking the link protocol (plugin/README.md and docs/plugin.md):
it hears the plugin's hellos and answers to the address they came from, as diffhost does.

The plugin under test: in a source checkout, the one `make -C plugin` builds (so a change to the C++
is what gets tested); when the suite runs against an installed wheel (scripts/test.sh), the bundles
the wheel carries in diffhost/plugin_bin.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

import diffhost

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "plugin"  # a checkout's sources, else absent
BIN = PLUGIN_DIR / "bin" if (PLUGIN_DIR / "Makefile").is_file() else Path(diffhost.__file__).parent / "plugin_bin"
VST3 = BIN / "diffhost-bridge.vst3"
LV2 = BIN / "diffhost-bridge.lv2"
CLAP = BIN / "diffhost-bridge.clap"
LV2_URI = "urn:diffhost:bridge"
MAIN, PAD_OUT = slice(0, 2), lambda pad: slice(2 * pad, 2 * pad + 2)  # pad 1..16 -> its stereo outputs


def build() -> Path:
    """In a checkout, builds the plugin (make, in plugin/) unless it is up to date; returns the folder
    of the bundles under test, which must all be there."""
    if (PLUGIN_DIR / "Makefile").is_file():
        done = subprocess.run(["make", "-C", str(PLUGIN_DIR), "-j2"], capture_output=True, text=True)
        assert done.returncode == 0, f"the plugin did not build:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    missing = [p.name for p in (VST3, LV2, CLAP) if not p.exists()]
    assert not missing, f"the built plugin is missing from {BIN}: {missing}"
    return BIN


def start_jalv(
    server: str, client: str = "bridge", *, state_dir: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """jalv hosting the built LV2 plugin as JACK client `client` on the running server `server` (jalv
    must not start one of its own); state_dir restores a saved state (jalv -l); env adds variables."""
    full = {**os.environ, **(env or {}), "JACK_DEFAULT_SERVER": server, "JACK_NO_START_SERVER": "1"}
    full["LV2_PATH"] = str(BIN)
    args = ["jalv", "-x", "-n", client] + (["-l", str(state_dir)] if state_dir else []) + [LV2_URI]
    return subprocess.Popen(
        args, env=full, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop_jalv(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """Stop a jalv host: SIGINT for its clean exit; on the JACK dummy server jalv 1.6 then hangs in
    jack_client_close (before it deactivates the plugin), so it is killed after a while."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def put_clip(cache: Path, audio: np.ndarray, rate: int) -> str:
    """Writes (frames, channels) float32 audio into the content-addressed cache; returns its hash."""
    tmp = cache / "incoming.wav"
    sf.write(tmp, np.asarray(audio, dtype=np.float32), rate, subtype="FLOAT")
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    (cache / digest[:2]).mkdir(parents=True, exist_ok=True)
    os.replace(tmp, cache / digest[:2] / f"{digest}.wav")
    return digest


_JUCE64 = ".ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+"


def dpf_state(juce_state: bytes) -> dict[str, str]:
    """The plugin's key/value state inside a JUCE host's VST3 state (DawDreamer, pedalboard).

    JUCE wraps the VST3 component's bytes in XML as `<size>.<6-bit digits, low bits first>`; DPF's
    component state is `__dpf_state_begin__ NUL key NUL value NUL ... __dpf_state_end__ NUL`."""
    text = juce_state.decode("latin-1")
    size, _, body = text.split("<IComponent>")[1].split("</IComponent>")[0].partition(".")
    raw = bytearray(int(size))
    for n, ch in enumerate(body):
        v = _JUCE64.index(ch)
        for b in range(6):
            bit = n * 6 + b
            if v >> b & 1 and bit // 8 < len(raw):
                raw[bit // 8] |= 1 << (bit % 8)
    parts = re.split(b"[\x00\xff]", bytes(raw))  # DPF writes its separators as NUL bytes
    start = parts.index(b"__dpf_state_begin__") + 1
    end = parts.index(b"__dpf_state_end__")
    items = parts[start:end]
    return {items[k].decode(): items[k + 1].decode() for k in range(0, len(items), 2)}


def with_dpf_state(juce_state: bytes, changes: dict[str, str]) -> bytes:
    """A JUCE host's VST3 state with some of the plugin's keys set to new values: what a host writes
    when it restores a project (or a preset) whose state differs. Every other byte is kept."""
    text = juce_state.decode("latin-1")
    head, _, rest = text.partition("<IComponent>")
    blob, _, tail = rest.partition("</IComponent>")
    size, _, body = blob.partition(".")
    raw = bytearray(int(size))
    for n, ch in enumerate(body):
        v = _JUCE64.index(ch)
        for b in range(6):
            bit = n * 6 + b
            if v >> b & 1 and bit // 8 < len(raw):
                raw[bit // 8] |= 1 << (bit % 8)
    data = bytes(raw)
    for key, value in changes.items():
        k = b"\x00" + key.encode() + b"\x00"
        at = data.index(k) + len(k)
        end = data.index(b"\x00", at)
        data = data[:at] + value.encode() + data[end:]
    digits = []
    for n in range((len(data) * 8 + 5) // 6):
        v = 0
        for b in range(6):
            bit = n * 6 + b
            if bit // 8 < len(data) and data[bit // 8] >> (bit % 8) & 1:
                v |= 1 << b
        digits.append(_JUCE64[v])
    xml = f"{head}<IComponent>{len(data)}.{''.join(digits)}</IComponent>{tail}".encode("latin-1")
    # JUCE's binary wrapper: "VC2!", the XML's size (little-endian uint32), the XML
    inner = xml[8:].rstrip(b"\x00")
    return b"VC2!" + len(inner).to_bytes(4, "little") + inner + b"\x00"


class FakeDiffhost:
    """diffhost's side of the link, on an ephemeral UDP port (DIFFHOST_OSC_PORT for the plugin)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.plugin: tuple[str, int] | None = None  # where the latest hello came from
        self.follow: str | None = None  # with several instances: only this id's hellos move `plugin`
        self.heard: list[tuple[str, list]] = []

    def close(self) -> None:
        self.sock.close()

    def _one(self, timeout: float) -> tuple[str, list] | None:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, addr = self.sock.recvfrom(65536)
        except TimeoutError:
            return None
        msg = OscMessage(data)
        if msg.address == "/diffhost/plugin/hello" and self.follow in (None, msg.params[0]):
            self.plugin = addr
        self.heard.append((msg.address, list(msg.params)))
        return msg.address, list(msg.params)

    def wait(self, address: str, timeout: float = 10.0, where=None) -> list:
        """The arguments of the next message to `address` (and matching `where`), within `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self._one(deadline - time.monotonic())
            if got and got[0] == address and (where is None or where(got[1])):
                return got[1]
        raise AssertionError(f"no {address} within {timeout} s; heard {[a for a, _ in self.heard[-10:]]}")

    def wait_any(self, addresses: tuple[str, ...], timeout: float = 10.0) -> tuple[str, list]:
        """The next message to any of `addresses`, within `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self._one(deadline - time.monotonic())
            if got and got[0] in addresses:
                return got
        raise AssertionError(f"none of {addresses} within {timeout} s; heard {[a for a, _ in self.heard[-10:]]}")

    def drain(self) -> None:
        while self._one(0.001):
            pass

    def send(self, address: str, *args) -> None:
        assert self.plugin is not None, "no hello from the plugin yet"
        b = OscMessageBuilder(address)
        for a in args:
            b.add_arg(a)
        self.sock.sendto(b.build().dgram, self.plugin)

    def sync(self) -> None:
        """Returns once the plugin's worker has handled everything sent before (ping, pong)."""
        self.send("/bridge/ping")
        self.wait("/diffhost/plugin/pong")
