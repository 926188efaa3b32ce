#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the whole test suite against diffhost as a user installs it:
#   ruff and mypy on the checkout -> sdist + wheel (python -m build) -> a fresh venv outside the checkout with
#   torch pinned first and the wheel -> `diffhost render` from another folder -> pytest on a copy of
#   tests/, run with that venv's Python, so every test imports the installed package, not the source.
# Tests start their own real components (JACK dummy server, offscreen Qt, loopback UDP).
# Arguments go to pytest (e.g. scripts/test.sh -x -k presets). DIFFHOST_KEEP_WHEEL_ENV=1 keeps the
# venv and the copied suite (their folder is printed) instead of removing them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/python -m mypy diffhost/  # the typed seams (config in pyproject.toml): zero errors
echo "test: set up, linted and type-checked (${SECONDS}s)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/diffhost-wheel.XXXXXX")
if [ "${DIFFHOST_KEEP_WHEEL_ENV:-0}" = 1 ]; then
  echo "test: keeping $WORK"
else
  trap 'rm -rf "$WORK"' EXIT
fi

# The wheel, built from the sdist as PyPI users' installers would (a file missing from the sdist
# fails here); the C mixer is compiled into it.
.venv/bin/python -m build --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1 || {
  tail -40 "$WORK/build.log"
  echo "test: building the sdist and wheel failed (log above)" >&2
  exit 1
}
WHEEL=$(ls "$WORK"/dist/diffhost-*.whl)
echo "test: built $(basename "$WHEEL") ($(du -h "$WHEEL" | cut -f1), ${SECONDS}s)"

# A fresh venv from the same interpreter as .venv, outside the checkout.
BASE_PY=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')
"$BASE_PY" -m venv "$WORK/venv"
VPY=$WORK/venv/bin/python
"$VPY" -m pip install -q --upgrade pip
"$VPY" -m pip install -q "torch==2.13.0"  # first: a looser range pulls several GB of CUDA wheels
"$VPY" -m pip install -q "$WHEEL[dev,cluster]"  # the extras scripts/setup.sh installs
echo "test: installed the wheel into a fresh venv (${SECONDS}s)"

# As a user would, from another folder, with nothing of the checkout on the path.
mkdir -p "$WORK/user"
cd "$WORK/user"
unset PYTHONPATH
export DIFFHOST_HOME=$WORK/home DIFFHOST_CONFIG_DIR=$WORK/home/config  # not this machine's own library
"$WORK/venv/bin/diffhost" --version
"$WORK/venv/bin/diffhost" render "punchy analog kick" --length 1 -o "$WORK/user/kick.wav"
"$VPY" - "$WORK/user/kick.wav" <<'EOF'
import sys

import numpy as np
import soundfile as sf

audio, rate = sf.read(sys.argv[1])
peak = float(np.abs(audio).max())
assert rate == 44100 and len(audio) == rate and peak > 0.1, (rate, len(audio), peak)
print(f"test: rendered {sys.argv[1]}: {len(audio) / rate:.2f} s at {rate} Hz, peak {peak:.2f}")
EOF

# The suite, copied out of the checkout (with the pytest settings in pyproject.toml), run against
# the installed package; tests/test_package.py fails if it was imported from a source tree.
mkdir -p "$WORK/suite"
cp -r "$REPO/tests" "$REPO/pyproject.toml" "$REPO/docs" "$WORK/suite/"  # docs: tests check docs/osc.md against the model
find "$WORK/suite" -name __pycache__ -prune -exec rm -rf {} +
cd "$WORK/suite"
export QT_QPA_PLATFORM=offscreen DIFFHOST_EXPECT_INSTALLED=1
"$VPY" -m pytest -p no:cacheprovider "$@"
