"""Loads the C mixer (_mixer.c) that runs as the PortAudio stream callback.

The callback is plain C, called by PortAudio without the GIL. It is compiled when the package is
built, as the extension module diffhost.host.audio._mixer_cffi (cffi API mode; the recipe is
_mixer_build.py, run by setup.py): a wheel carries it ready to run, `pip install -e .` builds it
in place beside the source. Nothing is compiled at run time, so a user needs no C compiler.
"""

from __future__ import annotations

import importlib.machinery
import threading
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCES = (HERE / "_mixer.c", HERE / "_mixer.h")  # present in a checkout, not in a wheel

# Limits compiled into _mixer.h (load() checks they agree).
MAX_SLOTS = 64
MAX_VOICES = 64
MAX_CLIPS = 256


class NativeBuildError(OSError):
    """The C mixer extension is missing, or was built from other sources: says how to fix it.

    An OSError, like a missing device: front ends report it as a message, never a traceback.
    """


_lock = threading.Lock()
_loaded: tuple[Any, Any] | None = None


def load() -> tuple[Any, Any]:
    """(ffi, lib) of the compiled mixer extension."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = _import()
        return _loaded


def library_path() -> Path:
    """The extension module's file (the realtime test reads its machine code)."""
    load()
    from diffhost.host.audio import _mixer_cffi

    return Path(_mixer_cffi.__file__)


def source_digest() -> str | None:
    """The digest _mixer_build.py embeds, computed from the sources beside this file (None in a wheel)."""
    if not all(p.is_file() for p in SOURCES):
        return None
    from diffhost.host.audio import _mixer_build

    return _mixer_build.source_digest()


def _import() -> tuple[Any, Any]:
    try:
        from diffhost.host.audio import _mixer_cffi
    except ImportError as e:
        suffixes = ", ".join(importlib.machinery.EXTENSION_SUFFIXES)
        raise NativeBuildError(
            "host audio: the real-time mixer extension (diffhost.host.audio._mixer_cffi, "
            f"a {suffixes} file in {HERE}) is missing or cannot load ({e}). It is compiled when diffhost "
            "is built: install a wheel built for this platform, or in a checkout run `pip install -e .` "
            "(scripts/setup.sh) or, to build just it in place, `python setup.py build_ext --inplace`; "
            "both need a C compiler."
        ) from e
    ffi, lib = _mixer_cffi.ffi, _mixer_cffi.lib
    built = ffi.string(lib.dh_source_digest()).decode()
    here = source_digest()
    if here is not None and built != here:
        # a checkout whose _mixer.c changed since `pip install -e .` built it: stale machine code
        raise NativeBuildError(
            f"host audio: the real-time mixer extension in {HERE} was built from other sources "
            f"(built {built}, sources {here}); rebuild it: `python setup.py build_ext --inplace` "
            "in the checkout, or `pip install -e .`"
        )
    limits = (lib.DH_MAX_SLOTS, lib.DH_MAX_VOICES, lib.DH_MAX_CLIPS)
    if limits != (MAX_SLOTS, MAX_VOICES, MAX_CLIPS):
        raise NativeBuildError(f"host audio: the mixer's compiled limits {limits} differ from native.py's")
    return ffi, lib
