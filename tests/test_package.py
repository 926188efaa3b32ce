"""The package as a user installs it: what the wheel holds, which copy runs, the version, the mixer.

Run from a checkout, these build the wheel (pip, isolated, as a user's `pip wheel .` does) and read
its file list. Run by scripts/test.sh against the wheel installed in a fresh venv, they read the
installed distribution's RECORD instead, and check that the installed copy, not a checkout, is the
one under test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import diffhost

PKG = Path(diffhost.__file__).resolve().parent
CHECKOUT = PKG.parent if (PKG.parent / "pyproject.toml").is_file() else None  # imported from a source checkout
WEIGHTS = "diffhost/engine/default/weights"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path | None:
    """The wheel built from this checkout, or None when the suite runs against an installed copy."""
    if CHECKOUT is None:
        return None
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(CHECKOUT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (whl,) = out.glob("diffhost-*.whl")
    return whl


@pytest.fixture(scope="module")
def contents(wheel) -> set[str]:
    """Every file the distribution installs, as paths relative to site-packages."""
    if wheel is not None:
        with zipfile.ZipFile(wheel) as z:
            return {n for n in z.namelist() if not n.endswith("/")}
    files = metadata.files("diffhost")
    assert files, "the installed diffhost has no RECORD"
    return {f.as_posix() for f in files}


def test_the_suite_runs_against_the_copy_it_means_to():
    if os.environ.get("DIFFHOST_EXPECT_INSTALLED") == "1":  # scripts/test.sh, on the installed wheel
        assert CHECKOUT is None, f"diffhost was imported from a checkout: {diffhost.__path__}"
        site = {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
        assert PKG.parent in site, f"diffhost is not in this venv's site-packages: {PKG}"
    from diffhost import engine, osc
    from diffhost.engine.default.model.pipeline import WEIGHTS_DIR
    from diffhost.host.presets import SHIPPED_DIR

    # the default model and the shipped presets are found where the code looks for them
    assert (WEIGHTS_DIR / "model_index.json").is_file() and len(list(SHIPPED_DIR.glob("*.json"))) >= 10
    if CHECKOUT is None:  # every layer resolves inside the installed package, none in a source tree
        for mod in (engine, osc):
            assert Path(mod.__file__).resolve().is_relative_to(PKG), mod.__file__
        assert SHIPPED_DIR.resolve() == PKG / "presets" and WEIGHTS_DIR.resolve().is_relative_to(PKG)
    else:
        assert Path(engine.__file__).resolve() == PKG / "engine" / "__init__.py"
        assert SHIPPED_DIR.resolve() == PKG / "presets"


def test_only_the_package_imports_as_diffhost():
    # one package folder: the checkout's tests/ and bench/ are not part of diffhost, and every
    # room resolves inside diffhost/ itself, so an editor's go-to-definition finds it
    import importlib.util

    for name in ("diffhost.tests", "diffhost.bench"):
        assert importlib.util.find_spec(name) is None, name
    for room in ("engine", "host", "osc", "gui"):
        spec = importlib.util.find_spec(f"diffhost.{room}")
        assert spec is not None and Path(spec.origin).resolve() == PKG / room / "__init__.py", spec
    assert list(diffhost.__path__) == [str(PKG)], diffhost.__path__


def test_the_wheel_holds_weights_presets_daw_scripts_extension_and_licences(contents):
    # the default model: every component model_index.json names, with config and weights
    assert f"{WEIGHTS}/model_index.json" in contents and f"{WEIGHTS}/MODEL_CARD.md" in contents
    if CHECKOUT is not None:  # and every file of the folder, however deep (it grows when retrained)
        src = PKG / "engine" / "default" / "weights"
        want = {f"{WEIGHTS}/{p.relative_to(src).as_posix()}" for p in src.rglob("*") if p.is_file()}
        assert want - contents == set(), f"missing from the wheel: {sorted(want - contents)}"
        index = json.loads((src / "model_index.json").read_text())
    else:
        index = json.loads((PKG / "engine" / "default" / "weights" / "model_index.json").read_text())
    parts = [k for k, v in index.items() if isinstance(v, list) and len(v) == 2 and not k.startswith("_")]
    assert {"denoiser", "encoder", "scheduler"} <= set(parts), parts
    for part in parts:
        assert any(n.startswith(f"{WEIGHTS}/{part}/") and n.endswith(".json") for n in contents), part
    for part in ("denoiser", "encoder"):
        assert f"{WEIGHTS}/{part}/diffusion_pytorch_model.safetensors" in contents
    # shipped presets, where host/presets.py's SHIPPED_DIR looks (diffhost/presets beside diffhost/host)
    presets = {n for n in contents if re.fullmatch(r"diffhost/presets/[^/]+\.json", n)}
    assert len(presets) >= 10 and "diffhost/presets/README.md" in contents, sorted(presets)
    if CHECKOUT is not None:
        assert {f"diffhost/presets/{p.name}" for p in (PKG / "presets").glob("*.json")} == presets
    # the DAW bridges
    assert "diffhost/daw/reaper/diffhost_render.lua" in contents
    assert "diffhost/daw/ableton/diffhost-bridge.maxpat" in contents
    # the compiled mixer, and no C source or compile-on-first-use leftovers
    ext = [n for n in contents if re.fullmatch(r"diffhost/host/audio/_mixer_cffi\.[^/]*(so|pyd)", n)]
    assert len(ext) == 1, sorted(n for n in contents if "_mixer" in n)
    assert not any(n.endswith((".c", ".h")) for n in contents)
    # the third-party licence record
    assert any(re.fullmatch(r"diffhost-[^/]+\.dist-info/licenses/docs/LICENSES\.md", n) for n in contents)


def test_the_distribution_claims_only_the_diffhost_name(contents):
    tops = {n.split("/")[0] for n in contents if not n.startswith("..")}  # ../../bin/diffhost: the script
    tops = {t for t in tops if not re.fullmatch(r"diffhost-[^/]+\.dist-info", t)}
    assert tops == {"diffhost"}, tops


def test_version_matches_the_package_metadata(wheel):
    if wheel is not None:
        with zipfile.ZipFile(wheel) as z:
            meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
            version = re.search(r"^Version: (\S+)$", z.read(meta).decode(), re.M).group(1)
        cmd = [sys.executable, "-m", "diffhost", "--version"]
    else:
        version = metadata.version("diffhost")
        script = Path(sysconfig.get_path("scripts")) / ("diffhost.exe" if os.name == "nt" else "diffhost")
        assert script.is_file(), f"the console script is not installed: {script}"
        cmd = [str(script), "--version"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"diffhost {version}"
    assert version == diffhost.__version__


_WITHOUT_EXTENSION = """
import importlib.abc, sys
class Hide(importlib.abc.MetaPathFinder):  # as on a machine where the extension was never built
    def find_spec(self, name, path=None, target=None):
        if name == "diffhost.host.audio._mixer_cffi":
            raise ImportError("no module named " + name)
sys.meta_path.insert(0, Hide())
from diffhost.host.audio import native
try:
    native.load()
except native.NativeBuildError as e:
    print(type(e).__mro__[1].__name__ + ": " + str(e))
"""


def test_a_missing_mixer_extension_says_how_to_get_it():
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTENSION], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    msg = proc.stdout.strip()
    # an OSError: the command line prints it as one line (diffhost/cli.py), never a traceback
    assert msg.startswith("OSError: host audio: the real-time mixer extension"), msg
    assert "diffhost.host.audio._mixer_cffi" in msg and "pip install -e ." in msg, msg


def test_the_mixer_extension_matches_its_sources():
    from diffhost.host.audio import native

    ffi, lib = native.load()
    built = ffi.string(lib.dh_source_digest()).decode()
    if CHECKOUT is not None:  # an editable build beside sources that changed since is refused
        assert built == native.source_digest()
    else:
        assert native.source_digest() is None  # the wheel carries no C sources
    assert re.fullmatch(r"[0-9a-f]{16}", built)
    assert native.library_path().resolve().is_relative_to(PKG)
