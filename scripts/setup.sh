#!/usr/bin/env bash
# Sets up diffhost for development on a fresh Debian/Ubuntu machine; safe to run again (installs only
# what is missing). Linux only: macOS and Windows users install the wheel with pip (README, "Install").
#   system libraries (apt) -> venv at .venv -> torch pinned first -> diffhost editable, with dev + cluster extras
#   (the editable install compiles the C mixer extension in place: host/audio/_mixer_cffi.*)
set -euo pipefail
cd "$(dirname "$0")/.."

# The interpreter: $PYTHON, else python3.11, else python3 (installed below when missing).
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  PY=python3
  command -v python3.11 >/dev/null && PY=python3.11
fi

# PortAudio + JACK (audio I/O and its test server), libsndfile, Xvfb/Qt runtime libs, sox for measuring,
# Lua 5.4 (REAPER's ReaScript language) to run the shipped REAPER script in tests.
APT_PACKAGES=(libportaudio2 libsndfile1 jackd2 xvfb xauth sox libegl1 libgl1 libglib2.0-0 libxkbcommon0
  libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
  libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0 x11-utils
  gcc libc6-dev binutils  # gcc: compiles the C mixer extension at install; objdump (binutils): its test
  lua5.4         # runs the REAPER ReaScript in tests
  liblo-tools    # oscsend/oscdump: a real OSC client in the OSC tests
  libasound2     # python-rtmidi (MIDI ports through mido) links the ALSA library
  fluidsynth fluid-soundfont-gm  # the default model renders its recorded sound bank once (FluidR3 GM, MIT:
  musescore-general-soundfont    # the older bank) and MuseScore General HQ (MIT, CC0 and PD parts: the default)
  dpf-source g++ make  # the diffhost Bridge plugin (plugin/, DPF): built below
  jalv xdotool   # the LV2 host its tests run on the JACK dummy server; xdotool types into its editor
  ardour)        # Ardour 7 (ardour7-lua): the plugin's tests save and reopen a session in a real DAW
# Debian's own Pythons ship venv and the headers the C extension compiles against as separate packages
# (python3.11 -> python3.11-venv, python3.11-dev); a Python from elsewhere (pyenv, a build) has both.
py_path=$(command -v "$PY" 2>/dev/null || true)
case "$py_path" in
  "" | /usr/bin/* | /bin/*)
    py_name=$(basename "$PY")
    APT_PACKAGES+=("$py_name" "$py_name-venv" "$py_name-dev") ;;
esac
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

[ -x .venv/bin/python ] || "$PY" -m venv .venv
# The diffhost Bridge plugin (VST3, LV2, CLAP; about 30 s of CPU), copied into the package for the wheel.
make -s -C plugin -j2 package >/dev/null
.venv/bin/python -m pip install -q --upgrade pip
# Pin torch before anything else: a looser range pulls several GB of CUDA wheels.
.venv/bin/python -m pip install -q "torch==2.13.0"
# cluster: Ray Serve for `diffhost engine-serve` and its tests (~250 MB, about a minute).
.venv/bin/python -m pip install -q -e ".[dev,cluster]"
# The default model's recorded banks are rendered once from the soundfonts into the user's cache
# (MuseScore General's compressed samples take minutes), here rather than in the first render.
.venv/bin/python -c "from diffhost.engine.default.music.bank import load_bank; load_bank(name='musescore'); load_bank(name='fluidr3')"
echo "setup: ready (.venv)"
