"""Putting the built diffhost Bridge plugin where DAWs look for plugins (`diffhost plugin install`).

The bundles come from the installed package (`diffhost/plugin_bin/`, carried by the wheel) or, in a
source checkout, from `plugin/bin/` where `make -C plugin` builds them. Each bundle is copied beside
its destination under a temporary name and then renamed into place, so a host scanning meanwhile
never sees half a bundle. An older bundle already there is moved to diffhost's trash folder, never
deleted; an identical one is left as it is.

Per-user folders (no administrator rights needed):

| format | Linux        | macOS                                 | Windows                                   |
|--------|--------------|---------------------------------------|-------------------------------------------|
| VST3   | ~/.vst3      | ~/Library/Audio/Plug-Ins/VST3         | %LOCALAPPDATA%\\Programs\\Common\\VST3    |
| LV2    | ~/.lv2       | ~/Library/Audio/Plug-Ins/LV2          | %APPDATA%\\LV2                            |
| CLAP   | ~/.clap      | ~/Library/Audio/Plug-Ins/CLAP         | %LOCALAPPDATA%\\Programs\\Common\\CLAP    |
"""

from __future__ import annotations

import filecmp
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import diffhost
from diffhost import paths

NAME = "diffhost-bridge"
FORMATS = ("vst3", "lv2", "clap")
EXPERIMENTAL = frozenset({"clap"})  # built, but no host here could test it


@dataclass(frozen=True)
class Installed:
    format: str
    path: Path
    action: str  # "installed", "updated" (the old one went to `trashed`), "unchanged"
    trashed: Path | None = None


def plugin_folders(platform: str | None = None, env: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Where hosts look for per-user plugins on this platform, by format."""
    platform = platform or sys.platform
    home = Path(paths.env("HOME", env) or Path.home())
    if platform == "darwin":
        base = home / "Library" / "Audio" / "Plug-Ins"
        return {"vst3": base / "VST3", "lv2": base / "LV2", "clap": base / "CLAP"}
    if platform.startswith("win"):
        local = Path(paths.env("LOCALAPPDATA", env) or home / "AppData" / "Local")
        roaming = Path(paths.env("APPDATA", env) or home / "AppData" / "Roaming")
        common = local / "Programs" / "Common"
        return {"vst3": common / "VST3", "lv2": roaming / "LV2", "clap": common / "CLAP"}
    return {"vst3": home / ".vst3", "lv2": home / ".lv2", "clap": home / ".clap"}


def bundle_sources() -> list[Path]:
    """Folders the built bundles may be in: the package's own, then a source checkout's."""
    package = Path(diffhost.__file__).resolve().parent
    return [package / "plugin_bin", package.parent / "plugin" / "bin"]


def find_bundles(source: Path | None = None) -> dict[str, Path]:
    """The built bundles by format, from `source` or the first folder of bundle_sources() holding any."""
    folders = [Path(source).expanduser()] if source is not None else bundle_sources()
    for folder in folders:
        found = {f: folder / f"{NAME}.{f}" for f in FORMATS if (folder / f"{NAME}.{f}").exists()}
        if found:
            return found
    where = ", ".join(str(f) for f in folders)
    raise ValueError(
        f"plugin: no built diffhost Bridge bundles ({NAME}.vst3/.lv2/.clap) in {where}; "
        "build them with `make -C plugin` (scripts/setup.sh does), or pass --from FOLDER"
    )


def trash_dir() -> Path:
    return paths.data_dir() / "trash" / "plugins"


def install(
    source: Path | None = None,
    formats: tuple[str, ...] = FORMATS,
    *,
    folders: Mapping[str, Path] | None = None,
) -> list[Installed]:
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"format: {', '.join(bad)} is not a plugin format; valid are {', '.join(FORMATS)}")
    bundles = find_bundles(source)
    missing = [f for f in formats if f not in bundles]
    if missing:
        raise ValueError(
            f"format: no built {', '.join(missing)} bundle beside the others in {next(iter(bundles.values())).parent}"
        )
    folders = folders or plugin_folders()
    done = []
    for fmt in formats:
        done.append(_install_one(fmt, bundles[fmt], Path(folders[fmt])))
    return done


def _install_one(fmt: str, bundle: Path, folder: Path) -> Installed:
    dest = folder / bundle.name
    folder.mkdir(parents=True, exist_ok=True)
    if dest.exists() and _same(bundle, dest):
        return Installed(fmt, dest, "unchanged")
    tmp = Path(tempfile.mkdtemp(prefix=f".{bundle.name}.", suffix=".part", dir=folder))
    try:
        staged = tmp / bundle.name
        if bundle.is_dir():
            shutil.copytree(bundle, staged, symlinks=True)
        else:
            shutil.copy2(bundle, staged)
        trashed = None
        if dest.exists() or dest.is_symlink():
            trash = trash_dir() / time.strftime("%Y%m%d-%H%M%S")
            trash.mkdir(parents=True, exist_ok=True)
            trashed = trash / dest.name
            shutil.move(str(dest), str(trashed))
        os.rename(staged, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Installed(fmt, dest, "updated" if trashed else "installed", trashed)


def _same(a: Path, b: Path) -> bool:
    if a.is_file() and b.is_file():
        return filecmp.cmp(a, b, shallow=False)
    if not (a.is_dir() and b.is_dir()):
        return False
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    return files_a == files_b and all(filecmp.cmp(a / p, b / p, shallow=False) for p in files_a)


def installed(folders: Mapping[str, Path] | None = None) -> dict[str, Path | None]:
    """Each format's installed bundle (None when it is not there)."""
    folders = folders or plugin_folders()
    return {
        f: (Path(folders[f]) / f"{NAME}.{f}" if (Path(folders[f]) / f"{NAME}.{f}").exists() else None)
        for f in FORMATS
    }
