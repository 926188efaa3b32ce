"""One real `diffhost engine-serve` for the whole module: a local Ray instance (2 CPUs, no
dashboard) with two CPU replicas of the default model, half a CPU each, served on the loopback
address 127.0.0.2 (not 127.0.0.1, so the token rule for binds beyond this machine applies
without leaving it). Started once (Ray takes ~20 s here) and stopped with SIGTERM, as a user's
Ctrl-C would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

# The window test's Qt application is made by pytest-qt before the test body runs: without a display
# it aborts the whole run, and the session's engine-serve (Ray, replicas) would be left running.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.2"
TOKEN = "test-token-0123456789abcdef"
START_TIMEOUT_S = 240


@dataclass(frozen=True)
class Server:
    url: str
    token: str
    log: Path


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def engine_server(tmp_path_factory):
    pytest.importorskip("ray.serve", reason="the cluster extra (ray[serve]) is not installed")
    port = free_port(HOST)
    log = tmp_path_factory.mktemp("engine-serve") / "engine-serve.log"
    env = {**os.environ, "DIFFHOST_ENGINE_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable, "-m", "diffhost", "engine-serve",
        "--host", HOST, "--port", str(port),
        "--replicas", "2", "--num-cpus", "2", "--cpus-per-replica", "0.5", "--torch-threads", "1",
        "--max-queue", "2",
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while b"Ctrl-C stops." not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"engine-serve did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        yield Server(f"http://{HOST}:{port}", TOKEN, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]
