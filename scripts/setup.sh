#!/usr/bin/env bash
# Sets up diffhost on a fresh Debian/Ubuntu machine; safe to run again (installs only what is missing).
#   system libraries (apt) -> venv at .venv -> torch pinned first -> diffhost with dev extras
set -euo pipefail
cd "$(dirname "$0")/.."

# PortAudio + JACK (audio I/O and its test server), libsndfile, Xvfb/Qt runtime libs, sox for measuring,
# Lua 5.4 (REAPER's ReaScript language) to run the shipped REAPER script in tests.
APT_PACKAGES=(libportaudio2 libsndfile1 jackd2 xvfb xauth sox libegl1 libgl1 libglib2.0-0 libxkbcommon0
  libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
  libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0 x11-utils
  gcc libc6-dev binutils  # gcc: builds host/audio's real-time mixer callback (C) once, on first use
  lua5.4         # runs the REAPER ReaScript in tests
  fluidsynth fluid-soundfont-gm)  # the default model renders its recorded sound bank (FluidR3 GM, MIT) once
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  # jackd2 asks about real-time priority unless non-interactive.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# Pin torch before anything else: a looser range pulls several GB of CUDA wheels.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[dev]"
echo "setup: ready (.venv)"
