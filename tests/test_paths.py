"""One paths module: every folder and environment variable diffhost uses comes from diffhost.paths.

Real files throughout: the components write their settings, kits, presets, library and caches,
and the test looks where they landed.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import diffhost
from diffhost import paths
from diffhost.engine.cache import JsonCache
from diffhost.host.audio import AudioSettings, save_settings, settings_path
from diffhost.host.library import RenderLibrary
from diffhost.host.live.kit import Kit, KitStore, save_kit
from diffhost.host.presets import PresetStore

PACKAGE = Path(diffhost.__file__).resolve().parent
ROOT = PACKAGE.parent

ALL_DIR_VARS = ("DIFFHOST_HOME", "DIFFHOST_CONFIG_DIR", "DIFFHOST_CACHE_DIR", "DIFFHOST_BANK_CACHE", "DIFFHOST_CLIP_CACHE")


@pytest.fixture
def xdg(tmp_path, monkeypatch):
    """A home of the test's own: the XDG folders platformdirs resolves on Linux, no overrides set."""
    for var in ALL_DIR_VARS:
        monkeypatch.delenv(var, raising=False)
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache"), ("XDG_DATA_HOME", "data")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    return tmp_path


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG folders are how Linux places them")
def test_settings_kits_and_caches_land_in_one_folder_family(xdg):
    """No nested diffhost/diffhost (platformdirs' appauthor on Windows): each kind of file sits in
    <platform folder>/diffhost, kits and audio settings side by side."""
    audio = save_settings(AudioSettings(sample_rate=44100))
    store = KitStore()
    kit = save_kit(Kit(pads=()), store.dir / "set.json")
    JsonCache("probe.json").put("k", 1)
    assert audio == xdg / "config" / "diffhost" / "audio.json" and audio.is_file()
    assert kit == xdg / "config" / "diffhost" / "kits" / "set.json" and kit.is_file()
    assert json.loads((xdg / "cache" / "diffhost" / "probe.json").read_text()) == {"k": 1}
    assert paths.window_settings_path() == xdg / "config" / "diffhost" / "window.ini"
    assert paths.user_presets_dir() == xdg / "config" / "diffhost" / "presets"
    assert paths.library_dir() == xdg / "data" / "diffhost"
    assert paths.bank_cache_dir() == xdg / "cache" / "diffhost" / "default-bank"
    assert paths.clip_cache_dir() == xdg / "cache" / "diffhost" / "clips"


def test_each_variable_moves_its_folder(xdg, monkeypatch):
    home, config, cache = xdg / "home", xdg / "cfg", xdg / "c"
    monkeypatch.setenv("DIFFHOST_HOME", str(home))
    monkeypatch.setenv("DIFFHOST_CONFIG_DIR", str(config))
    monkeypatch.setenv("DIFFHOST_CACHE_DIR", str(cache))
    monkeypatch.setenv("DIFFHOST_BANK_CACHE", str(xdg / "bank"))
    monkeypatch.setenv("DIFFHOST_CLIP_CACHE", str(xdg / "clips"))
    assert save_settings(AudioSettings()) == config / "audio.json" == settings_path()
    assert KitStore().dir == config / "kits" and KitStore(xdg / "x").dir == xdg / "x" / "kits"
    assert paths.window_settings_path() == config / "window.ini"
    store = PresetStore()
    assert store.user_dir == home / "presets"
    with RenderLibrary.open_default():
        assert any((home / "library").iterdir())  # the SQLite file
    JsonCache("probe.json").put("k", 2)
    assert json.loads((cache / "probe.json").read_text()) == {"k": 2}
    assert paths.bank_cache_dir() == xdg / "bank" and paths.clip_cache_dir() == xdg / "clips"
    assert not (xdg / "config").exists() and not (xdg / "data").exists()  # nothing in the platform's folders


def test_a_blank_variable_means_unset(xdg, monkeypatch):
    """`DIFFHOST_CONFIG_DIR=` must not put the settings in the current folder."""
    monkeypatch.setenv("DIFFHOST_CONFIG_DIR", "  ")
    monkeypatch.setenv("DIFFHOST_ENGINE_TOKEN", "")
    assert paths.config_dir() == paths.user_config_dir()
    assert paths.engine_token() is None
    monkeypatch.setenv("DIFFHOST_ENGINE_TOKEN", " s3cret-token-of-enough-length ")
    assert paths.engine_token() == "s3cret-token-of-enough-length"
    assert paths.engine_token({"DIFFHOST_ENGINE_TOKEN": "other"}) == "other"


def test_the_soundfont_override_comes_first(tmp_path, monkeypatch):
    from diffhost.engine.default.music.bank import find_soundfont

    sf2 = tmp_path / "mine.sf2"
    sf2.write_bytes(b"RIFF")
    monkeypatch.setenv("DIFFHOST_SOUNDFONT", str(sf2))
    assert find_soundfont() == sf2


def test_the_window_keeps_its_state_in_the_config_folder(tmp_path):
    """The window's QSettings honour DIFFHOST_CONFIG_DIR: a saved value is in <config>/window.ini.
    In a child process, since Qt resolves its native settings folder once per process."""
    config = tmp_path / "config"
    code = (
        "from PyQt6.QtWidgets import QApplication; app = QApplication([]);"
        "from diffhost.gui.app import open_settings; s = open_settings();"
        "s.setValue('params/prompt', 'dusty kick'); s.sync(); print(s.fileName())"
    )
    env = {"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path / "home")}
    env |= {"DIFFHOST_CONFIG_DIR": str(config), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    ini = config / "window.ini"
    assert out.stdout.strip() == str(ini) and "dusty kick" in ini.read_text()
    assert not (tmp_path / "home").exists()  # nothing written to the platform's own place


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's native settings file is an .conf on Linux")
def test_the_window_state_of_earlier_versions_is_carried_over(tmp_path):
    """Before the .ini, the state sat in Qt's native place; the first start copies it over."""
    xdg_config = tmp_path / "xdg"
    (xdg_config / "diffhost").mkdir(parents=True)
    (xdg_config / "diffhost" / "diffhost.conf").write_text("[params]\nprompt=old layout kept\n")
    code = (
        "from PyQt6.QtWidgets import QApplication; app = QApplication([]);"
        "from diffhost.gui.app import open_settings; s = open_settings();"
        "print(s.value('params/prompt')); s.sync()"
    )
    env = {"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    env |= {"XDG_CONFIG_HOME": str(xdg_config), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "old layout kept"
    assert "old layout kept" in (xdg_config / "diffhost" / "window.ini").read_text()
    assert (xdg_config / "diffhost" / "diffhost.conf").is_file()  # the old file is left as it was


# Reading the process environment is allowed only where it is plumbing for a child process, not a
# setting: `diffhost engine-serve` passes the checkout on PYTHONPATH to Ray's workers.
ENV_PLUMBING = {"commands/engine_serve.py"}


def _reads_environment_or_platformdirs(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") or isinstance(node, ast.Import) and any(a.name.split(".")[0] == "platformdirs" for a in node.names) or isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "platformdirs":
            lines.append(node.lineno)
    return lines


def test_only_the_paths_module_reads_the_environment_or_platformdirs():
    offenders = []
    for file in sorted(PACKAGE.rglob("*.py")):
        name = file.relative_to(PACKAGE).as_posix()
        if name == "paths.py" or name in ENV_PLUMBING:
            continue
        for line in _reads_environment_or_platformdirs(ast.parse(file.read_text(encoding="utf-8"))):
            offenders.append(f"diffhost/{name}:{line}")
    assert not offenders, "read these through diffhost.paths:\n" + "\n".join(offenders)


def test_the_check_above_can_fail():
    bad = "import os\nimport platformdirs\nx = os.environ.get('A')\ny = os.getenv('B')\nfrom platformdirs import user_cache_dir\n"
    assert sorted(_reads_environment_or_platformdirs(ast.parse(bad))) == [2, 3, 4, 5]


def test_the_paths_module_imports_nothing_of_diffhost():
    """Every layer (engine/ included) imports it, so it must sit below them all."""
    tree = ast.parse((PACKAGE / "paths.py").read_text(encoding="utf-8"))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level]
    assert not [n for n in names if n.split(".")[0] == "diffhost"], names
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]


def test_kits_saved_by_the_store_reload(tmp_path, monkeypatch):
    """The store's folder is where save_last writes and load_last reads."""
    monkeypatch.setenv("DIFFHOST_CONFIG_DIR", str(tmp_path))
    store = KitStore()
    save_kit(Kit(pads=(), tempo=97.0), store.last_path, overwrite=True)
    assert (tmp_path / "kits" / store.last_path.name).is_file()
    loaded = store.load_last()
    assert loaded is not None and loaded.tempo == 97.0
