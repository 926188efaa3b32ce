"""The audio server can go away under the window too: kill the JACK dummy server under a running
`diffhost gui` (a real process, offscreen, on its own JACK server), then quit it with SIGTERM. It
says so, keeps answering OSC, plays its pads again when the server returns under the same name,
and closes as its close button does: window settings and the pads
(the last kit) saved, no traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from PyQt6.QtCore import QSettings

from diffhost.osc.client import DiffhostClient
from tests.jackd import (
    Peer,
    doomed_jackd,
    free_udp_port,
    kill_jackd_under,
    quit_by_sigterm,
    start_jackd_apart,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_window_survives_the_jack_server_dying_and_still_quits(tmp_path):
    with doomed_jackd(tmp_path, "gui") as (name, server):
        renders = tmp_path / "renders"
        renders.mkdir()
        sf.write(renders / "hit.wav", np.full((4800, 1), 0.25, np.float32), 48000, subtype="FLOAT")
        port = free_udp_port()
        ini = tmp_path / "settings.ini"
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "PYTHONPATH": str(ROOT),
            "DIFFHOST_HOME": str(tmp_path),
            "DIFFHOST_CONFIG_DIR": str(tmp_path / "config"),
            "JACK_DEFAULT_SERVER": name,
            "JACK_NO_START_SERVER": "1",
        }
        cmd = [sys.executable, "-m", "diffhost.cli", "gui", "--renders-dir", str(renders), "--osc-port", str(port)]
        cmd += ["--library", str(tmp_path / "library"), "--settings", str(ini)]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        again = peer = None
        try:
            with DiffhostClient("127.0.0.1", port) as c:
                said = kill_jackd_under(c, proc, server, renders / "hit.wav", "the window")
                assert "went away" in said, said
                c.ping(timeout=5)  # the window's OSC keeps answering
                assert c.request("/diffhost/status", expect="/diffhost/status")[1][4] == "lost"
                time.sleep(1.0)  # the window keeps running with no device (its timers, meters, pads)
                assert proc.poll() is None

                # The server returns under the same name: in the same run the pads play again.
                jackd = shutil.which("jackd") or "jackd"
                again = start_jackd_apart(jackd, name, ["-t", "5000", "--no-realtime"], tmp_path / "jackd2.log")
                assert again is not None, (tmp_path / "jackd2.log").read_text(errors="replace")[-800:]
                back = c.wait_for(lambda m: m[0] == "/diffhost/audio" and "is back" in m[1][0], timeout=60)[1][0]
                assert "the pads play again" in back, back
                assert c.request("/diffhost/status", expect="/diffhost/status")[1][4] == "open"
                peer = Peer(name, tmp_path)
                peer.connect("diffhost")  # the window names its JACK client "diffhost", as before the loss
                peer.start()
                c.backlog.clear()
                c.send("/diffhost/slot/1/play")
                c.wait_for(lambda m: m[0] == "/diffhost/slot/1/state" and m[1][:1] == ["playing"], timeout=30)
                c.wait_for(lambda m: m[0] == "/diffhost/slot/1/state" and m[1][:1] == ["ready"], timeout=30)
                played, _first = peer.stop()
                level = np.abs(played[0])
                assert int(np.count_nonzero(np.isclose(level, 0.25, atol=0.01))) >= 4000, level.max()  # the clip
        finally:
            out, err, took = quit_by_sigterm(proc, "the window")  # as its close button closes it
            if peer is not None:
                peer.close()
            if again is not None and again.poll() is None:
                again.terminate()  # the orderly way: it leaves JACK's server registry clean
                try:
                    again.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    again.kill()  # doomed_jackd's reclaim then frees its registry slot
                    again.wait()
    print(f"the window quit {took:.2f} s after SIGTERM with the JACK server gone")
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    settings = QSettings(str(ini), QSettings.Format.IniFormat)
    assert not settings.value("window/geometry").isEmpty()  # window settings saved on the way out
    kit = json.loads((tmp_path / "config" / "kits" / "last.json").read_text())
    assert next(p for p in kit["pads"] if p["pad"] == 1)["clip"] == str((renders / "hit.wav").resolve())
