"""Where diffhost keeps its files, and every environment variable it reads, in one place.

Every folder comes from platformdirs with appauthor=False, so on Windows the settings, kits,
presets, window state and caches sit in one `diffhost` folder family (platformdirs would
otherwise nest them as diffhost/diffhost), and on Linux and macOS in the usual XDG / Library
places. An environment variable moves a folder for tests, portable installs and read-only homes.

This module is the foundation every layer may use (engine/ included, which reads the caches and
the soundfont): it imports nothing of diffhost's own, so no layer rule can run through it. The
functions read the environment on each call, because tests and embedding hosts set variables after
import.

| variable               | what it sets                                   | default                                |
|------------------------|------------------------------------------------|----------------------------------------|
| DIFFHOST_HOME          | one folder for the library and user presets    | (unset: the platform's folders)        |
| DIFFHOST_CONFIG_DIR    | audio settings, kits, the window's state       | user config folder                     |
| DIFFHOST_CACHE_DIR     | small JSON caches (weights hashes, step times) | user cache folder                      |
| DIFFHOST_BANK_CACHE    | the default model's rendered sample bank       | user cache folder / default-bank       |
| DIFFHOST_CLIP_CACHE    | clips shared with the Bridge plugin            | user cache folder / clips              |
| DIFFHOST_SOUNDFONT     | the .sf2 the default model's bank comes from   | the Debian FluidR3 GM paths            |
| DIFFHOST_BANK          | the default model's recorded bank (fluidr3: the first one) | musescore (mix 1: fluidr3) |
| DIFFHOST_MIX           | the default model's mix version (1: the first) | the newest; a request's mix wins       |
| DIFFHOST_ENGINE_TOKEN  | the remote engine's access token               | none (local binds need no token)       |
| DIFFHOST_OSC_PORT      | the OSC port the Bridge plugin talks to        | 12000                                  |
| JACK_DEFAULT_SERVER    | which JACK server the MIDI input joins         | JACK's default                         |
| QT_QPA_PLATFORM, DISPLAY, WAYLAND_DISPLAY | whether a window can open   | (read only to explain a missing display) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

APP = "diffhost"

HOME_ENV = "DIFFHOST_HOME"
CONFIG_DIR_ENV = "DIFFHOST_CONFIG_DIR"
CACHE_DIR_ENV = "DIFFHOST_CACHE_DIR"
BANK_CACHE_ENV = "DIFFHOST_BANK_CACHE"
CLIP_CACHE_ENV = "DIFFHOST_CLIP_CACHE"
SOUNDFONT_ENV = "DIFFHOST_SOUNDFONT"
BANK_ENV = "DIFFHOST_BANK"  # which recorded bank the default model renders with (musescore, fluidr3)
MIX_ENV = "DIFFHOST_MIX"  # which mix version the default model renders with (1, 2; the newest by default)
ENGINE_TOKEN_ENV = "DIFFHOST_ENGINE_TOKEN"
OSC_PORT_ENV = "DIFFHOST_OSC_PORT"
JACK_SERVER_ENV = "JACK_DEFAULT_SERVER"
DISPLAY_ENVS = ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")

WINDOW_SETTINGS_FILE = "window.ini"


def env(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """A variable's value with surrounding blanks removed; None when unset or blank (an empty
    `DIFFHOST_CONFIG_DIR=` means "not set", never "the current folder")."""
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or None


def _env_dir(name: str) -> Path | None:
    value = env(name)
    return Path(value).expanduser() if value else None


def user_config_dir() -> Path:
    """The platform's config folder for diffhost (e.g. ~/.config/diffhost, %LOCALAPPDATA%\\diffhost)."""
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def user_cache_dir() -> Path:
    """The platform's cache folder for diffhost (e.g. ~/.cache/diffhost, ~/Library/Caches/diffhost)."""
    return Path(platformdirs.user_cache_dir(APP, appauthor=False))


def config_dir() -> Path:
    """Audio settings, kits and the window's state: $DIFFHOST_CONFIG_DIR, else the config folder."""
    return _env_dir(CONFIG_DIR_ENV) or user_config_dir()


def kits_dir(config: Path | None = None) -> Path:
    """Saved kits, the last kit and the clips kits wrote: <config>/kits."""
    return Path(config if config is not None else config_dir()) / "kits"


def window_settings_path() -> Path:
    """The window's own state (geometry, docks, last params) as an .ini file beside the other
    settings, so DIFFHOST_CONFIG_DIR moves it too and every OS keeps it in the same folder."""
    return config_dir() / WINDOW_SETTINGS_FILE


def user_presets_dir() -> Path:
    """The user's presets: $DIFFHOST_HOME/presets, else <user config folder>/presets."""
    home = _env_dir(HOME_ENV)
    return home / "presets" if home else user_config_dir() / "presets"


def data_dir() -> Path:
    """$DIFFHOST_HOME, else the platform's user data folder (what diffhost keeps besides renders)."""
    return _env_dir(HOME_ENV) or Path(platformdirs.user_data_dir(APP, appauthor=False))


def library_dir() -> Path:
    """The render library: $DIFFHOST_HOME/library, else the platform's user data folder."""
    home = _env_dir(HOME_ENV)
    return home / "library" if home else Path(platformdirs.user_data_dir(APP, appauthor=False))


def cache_dir() -> Path:
    """Small JSON caches: $DIFFHOST_CACHE_DIR, else the cache folder."""
    return _env_dir(CACHE_DIR_ENV) or user_cache_dir()


def bank_cache_dir() -> Path:
    """The default model's rendered sample bank: $DIFFHOST_BANK_CACHE, else <cache folder>/default-bank."""
    return _env_dir(BANK_CACHE_ENV) or user_cache_dir() / "default-bank"


def clip_cache_dir() -> Path:
    """Clips shared with the Bridge plugin (content-addressed): $DIFFHOST_CLIP_CACHE, else <cache>/clips."""
    return _env_dir(CLIP_CACHE_ENV) or user_cache_dir() / "clips"


def soundfont_override() -> Path | None:
    """$DIFFHOST_SOUNDFONT: a .sf2 file to build the default model's bank from, tried first."""
    return _env_dir(SOUNDFONT_ENV)


def engine_token(environ: Mapping[str, str] | None = None) -> str | None:
    """$DIFFHOST_ENGINE_TOKEN: the remote engine's access token; None when unset."""
    return env(ENGINE_TOKEN_ENV, environ)


def jack_server() -> str | None:
    """$JACK_DEFAULT_SERVER: the JACK server diffhost's clients join (the MIDI input port, and the
    one whose leftovers a lost connection clears); None: JACK's default."""
    return env(JACK_SERVER_ENV)


def display_missing() -> bool:
    """True on Linux when Qt has no display to open a window on and no platform plugin was chosen."""
    import sys

    qpa, x11, wayland = (env(name) for name in DISPLAY_ENVS)
    return sys.platform.startswith("linux") and not qpa and not (x11 or wayland)


def user_music_dir() -> Path | None:
    """The user's music folder (a place OSC clients may read seed files from); None if there is none."""
    try:
        music = Path(platformdirs.user_music_dir())
    except Exception:  # platformdirs raises on odd systems (no HOME, no XDG dirs); fall back, never fail
        music = Path.home() / "Music"
    return music if music.is_dir() else None
