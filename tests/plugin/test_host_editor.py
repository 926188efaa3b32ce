"""A prompt typed into a real host's own editor: jalv's generic GTK editor (jalv.gtk3, Debian's jalv) on
an Xvfb display, the plugin on a JACK dummy server.

The plugin has no editor of its own; an LV2 host shows its host-writable string properties (each
pad's prompt and the track name) as text fields. The test types into them with xdotool, as a user
would (keystrokes through the X server, not the host's API), and the plugin forwards each pad's
prompt to diffhost (the test's stand-in) and the track name in its hellos.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.plugin.bridge_host import BIN, LV2_URI, stop_jalv
from tests.plugin.test_jalv import jack  # noqa: F401  (the JACK dummy server fixture)

FIELDS = 17  # the writable text fields: 16 pad prompts and the track name


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} (Debian's {package}, installed by scripts/setup.sh) is missing")
    return found


@pytest.fixture
def display(tmp_path):
    """A display of the test's own: Xvfb picks a free number and writes it to the pipe (-displayfd)."""
    read, write = os.pipe()
    proc = subprocess.Popen(
        [_tool("Xvfb", "xvfb"), "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "xvfb.log").open("w"),
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    assert number, f"Xvfb did not start: {(tmp_path / 'xvfb.log').read_text()[-2000:]}"
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=10)


def _xdotool(display: str, *args: str) -> str:
    done = subprocess.run(
        [_tool("xdotool", "xdotool"), *args], env={**os.environ, "DISPLAY": display},
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, f"xdotool {' '.join(args)}: {done.stderr}"
    return done.stdout


def test_prompts_typed_into_jalvs_generic_editor_reach_diffhost(jack, display, link, tmp_path):  # noqa: F811
    server, _ = jack
    env = {
        **os.environ, "DISPLAY": display, "JACK_DEFAULT_SERVER": server, "JACK_NO_START_SERVER": "1",
        "LV2_PATH": str(BIN), "HOME": str(tmp_path),
    }
    host = subprocess.Popen(
        [_tool("jalv.gtk3", "jalv"), "-x", "-n", "bridge", LV2_URI],
        env=env, stdout=(tmp_path / "jalv.log").open("w"), stderr=subprocess.STDOUT,
    )
    try:
        ident = link.wait("/diffhost/plugin/hello", timeout=60)[0]
        link.follow = ident
        # jalv's window (titled with the plugin's name) opens with its first text field focused; Tab
        # walks the writable fields (read-only ones take no focus) and comes round again after the last
        window = _xdotool(display, "search", "--sync", "--name", "^diffhost Bridge$").split()[0]
        _xdotool(display, "windowfocus", "--sync", window)
        typed = [f"{1 + k % 4} bars: sound {k}" for k in range(FIELDS)]
        for text in typed:
            _xdotool(display, "key", "Tab")
            _xdotool(display, "type", "--delay", "5", text)
            _xdotool(display, "key", "Return")  # jalv sets the property when the field is activated

        prompts: dict[int, list] = {}
        names: set[str] = set()
        deadline = time.monotonic() + 60
        while (len(prompts) < 16 or not names) and time.monotonic() < deadline:
            address, args = link.wait_any(("/diffhost/plugin/prompt", "/diffhost/plugin/hello"), timeout=60)
            if args[0] != ident:
                continue
            if address == "/diffhost/plugin/prompt":
                prompts[args[1]] = args[2:]
            elif args[1]:
                names.add(args[1])
    finally:
        stop_jalv(host)

    assert sorted(prompts) == list(range(1, 17)), f"prompts for pads {sorted(prompts)}; jalv: {(tmp_path / 'jalv.log').read_text()[-2000:]}"
    # each field got one of the texts, whole, its leading length read as bars (mode -1: diffhost chooses)
    by_text = {f"sound {k}": 1.0 + k % 4 for k in range(FIELDS)}
    got = {text: (bars, mode) for text, bars, mode in prompts.values()}
    assert len(got) == 16 and all(got[t] == (by_text[t], -1) for t in got), prompts
    # and the one text that is not a pad's prompt named the track
    (left,) = [t for t in typed if t.split(": ")[1] not in got]
    assert names == {left}
