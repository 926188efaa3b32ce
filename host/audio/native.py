"""Builds and loads the C mixer (_mixer.c) that runs as the PortAudio stream callback.

The callback is plain C, called by PortAudio without the GIL. It is compiled once
per source version with the system C compiler into the user cache folder (an
atomic rename publishes it, so parallel processes never load a half-written
library) and loaded with cffi in ABI mode: no Python headers, no PortAudio headers.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

import cffi
import platformdirs

SOURCE = Path(__file__).with_name("_mixer.c")

# Declarations mirrored from _mixer.c (only what Python touches).
CDEF = """
typedef struct {
  int32_t type; int32_t slot; int32_t clip; int32_t mode; int32_t choke; int32_t _pad;
  int64_t frames; const float *data; float gain_l; float gain_r; double value; double origin; int64_t tag;
} dh_command;
typedef struct { int32_t slot; int32_t state; int64_t frame; } dh_slot_event;
typedef struct dh_mixer dh_mixer;
dh_mixer *dh_mixer_new(int out_ch, int in_ch, double sample_rate, int num_slots, int voice_limit,
                       int64_t in_cap, int fade_frames);
void dh_mixer_free(dh_mixer *m);
int dh_callback(const void *input, void *output, unsigned long n, const void *ti,
                unsigned long flags, void *user);
int dh_push(dh_mixer *m, const dh_command *c);
int dh_pop_retired(dh_mixer *m);
int64_t dh_commands_done(dh_mixer *m);
int dh_pop_slot_event(dh_mixer *m, dh_slot_event *out);
int dh_clock(dh_mixer *m, int64_t *ns, int64_t *frame);
typedef struct { int64_t frame; int32_t size; int32_t handled; int32_t slot; unsigned char data[4]; } dh_midi_msg;
typedef struct dh_midi_in dh_midi_in;
dh_midi_in *dh_midi_new(dh_mixer *m, void *port, void *get_buffer, void *event_count, void *event_get);
void dh_midi_free(dh_midi_in *mi);
void dh_midi_set_mixer(dh_midi_in *mi, dh_mixer *m);
void dh_midi_set_note(dh_midi_in *mi, int note, int slot);
void dh_midi_set_channel(dh_midi_in *mi, int channel);
void dh_midi_set_learning(dh_midi_in *mi, int on);
int64_t dh_midi_dropped(dh_midi_in *mi);
int dh_midi_pop(dh_midi_in *mi, dh_midi_msg *out);
int dh_midi_process(uint32_t nframes, void *arg);
int64_t dh_frames(dh_mixer *m);
int64_t dh_callbacks(dh_mixer *m);
int64_t dh_block(dh_mixer *m);
int64_t dh_underflows(dh_mixer *m);
int64_t dh_overflows(dh_mixer *m);
int64_t dh_input_written(dh_mixer *m);
int dh_slot_state(dh_mixer *m, int s);
int64_t dh_slot_start_frame(dh_mixer *m, int s);
int64_t dh_slot_start_tag(dh_mixer *m, int s);
double dh_slot_start_time(dh_mixer *m, int s);
double dh_slot_start_dac(dh_mixer *m, int s);
int64_t dh_slot_start_ns(dh_mixer *m, int s);
int64_t dh_player_pos(dh_mixer *m);
int dh_player_active(dh_mixer *m);
int dh_voices_active(dh_mixer *m);
double dh_last_time(dh_mixer *m);
double dh_last_dac(dh_mixer *m);
int64_t dh_input_read(dh_mixer *m, int64_t start, float *dest, int64_t n);
int dh_meter(dh_mixer *m, int64_t frames, float *peak, float *meansq);
"""

# Limits compiled into _mixer.c.
MAX_SLOTS = 64
MAX_VOICES = 64
MAX_CLIPS = 256


class NativeBuildError(OSError):
    """The C mixer could not be built (no C compiler, or it failed): says how to fix it."""


_lock = threading.Lock()
_loaded: tuple[Any, Any] | None = None


def cache_dir() -> Path:
    """Where the compiled mixer lives; DIFFHOST_CACHE_DIR overrides (tests, read-only homes)."""
    env = os.environ.get("DIFFHOST_CACHE_DIR")
    return Path(env) if env else Path(platformdirs.user_cache_dir("diffhost"))


def load() -> tuple[Any, Any]:
    """(ffi, lib) of the compiled mixer, building it on first use."""
    global _loaded
    with _lock:
        if _loaded is None:
            ffi = cffi.FFI()
            ffi.cdef(CDEF)
            _loaded = (ffi, ffi.dlopen(str(_build())))
        return _loaded


def source_digest() -> str:
    """Names the build: the C source and the machine it is built for."""
    return hashlib.sha256(SOURCE.read_bytes() + platform.machine().encode()).hexdigest()[:16]


def _build() -> Path:
    digest = source_digest()
    out = cache_dir() / "native" / f"dh_mixer-{digest}.so"
    if out.is_file():
        return out
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise NativeBuildError(
            "host audio: the real-time mixer needs a C compiler to build once "
            "(Debian/Ubuntu: sudo apt-get install gcc libc6-dev)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".dh_mixer-", suffix=".so", dir=out.parent)
    os.close(fd)
    try:
        cmd = [cc, "-O2", "-std=c11", "-fPIC", "-shared", "-o", tmp, str(SOURCE), "-lm"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise NativeBuildError(f"host audio: building the real-time mixer failed:\n{proc.stderr.strip()}")
        os.replace(tmp, out)  # atomic: another process may have raced us; identical bytes either way
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    for old in out.parent.glob(
        "dh_mixer-*.so"
    ):  # builds of earlier sources (a process using one keeps it mapped)
        if old != out:
            old.unlink(missing_ok=True)
    return out
