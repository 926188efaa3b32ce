"""Build recipe for the C mixer extension, diffhost.host.audio._mixer_cffi (cffi API mode).

Run by setuptools when the package is built (setup.py's cffi_modules names make_ffi): `pip wheel .`,
`pip install .` and `pip install -e .` all compile _mixer.c with the platform's C compiler into a
normal extension module, so an installed diffhost never needs a compiler. Importing diffhost builds
nothing: host/audio/native.py imports the built module, and this one only in a checkout, to compare
source_digest() with the digest the build embedded.

This file is executed by path at build time, before diffhost is importable, so it imports
nothing of ours.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
MODULE = "diffhost.host.audio._mixer_cffi"

# What Python touches, checked by cffi against _mixer.h when the extension is compiled: a field or
# signature that drifts from the C is a build error, not a crash. The enums list names only (the
# trailing `...`): their values come from the C compiler, so Python (lib.DH_CMD_ASSIGN, ...) can
# never disagree with _mixer.h.
CDEF = """
#define DH_MAX_SLOTS ...
#define DH_MAX_VOICES ...
#define DH_MAX_CLIPS ...
typedef enum {
  DH_CMD_ASSIGN, DH_CMD_CLEAR, DH_CMD_TRIGGER, DH_CMD_STOP_SLOT, DH_CMD_RELEASE, DH_CMD_STOP_ALL,
  DH_CMD_SLOT_OPTIONS, DH_CMD_GRID, DH_CMD_VOICE_LIMIT, DH_CMD_PLAY, DH_CMD_STOP_PLAYER, ...
} dh_command_type;
typedef enum { DH_MODE_ONESHOT, DH_MODE_LOOP, DH_MODE_GATE, ... } dh_slot_mode;
typedef enum { DH_SLOT_EMPTY, DH_SLOT_READY, DH_SLOT_PLAYING, ... } dh_slot_state_value;
typedef struct { int32_t clip; int32_t keep_voices; int64_t frames; const float *data; } dh_cmd_assign;
typedef struct { double gain; int64_t at; int64_t tag; } dh_cmd_trigger;
typedef struct { float gain_l, gain_r; int32_t mode; int32_t choke; double grid; } dh_cmd_slot_options;
typedef struct { double step; double origin; int64_t latency_ns; int32_t time_mode; } dh_cmd_grid;
typedef struct { int32_t voices; } dh_cmd_voice_limit;
typedef struct { int32_t clip; int64_t frames; const float *data; } dh_cmd_play;
typedef struct {
  int32_t type; int32_t slot;
  union {
    dh_cmd_assign assign; dh_cmd_trigger trigger; dh_cmd_slot_options slot_options; dh_cmd_grid grid;
    dh_cmd_voice_limit voice_limit; dh_cmd_play play;
  };
} dh_command;
typedef struct { double inputBufferAdcTime; double currentTime; double outputBufferDacTime; } dh_time_info;
typedef struct { int32_t slot; int32_t state; int64_t frame; } dh_slot_event;
typedef struct dh_mixer dh_mixer;
dh_mixer *dh_mixer_new(int out_ch, int in_ch, double sample_rate, int num_slots, int voice_limit,
                       int64_t in_cap, int fade_frames);
void dh_mixer_free(dh_mixer *m);
int dh_callback(const void *input, void *output, unsigned long n, const dh_time_info *ti,
                unsigned long flags, void *user);
int dh_push(dh_mixer *m, const dh_command *c);
int dh_pop_retired(dh_mixer *m);
int64_t dh_commands_done(dh_mixer *m);
int dh_pop_slot_event(dh_mixer *m, dh_slot_event *out);
int dh_clock(dh_mixer *m, int64_t *ns, int64_t *frame);
typedef struct {
  int64_t frame; int64_t start_ns; int64_t wall_ns; int64_t cpu_ns; int64_t gap_ns; int32_t voices; int32_t commands;
} dh_slow_block;
void dh_set_profile(dh_mixer *m, int on, int64_t slow_ns);
void dh_callback_stats(dh_mixer *m, int64_t *out);
int dh_pop_slow_block(dh_mixer *m, dh_slow_block *out);
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
const char *dh_source_digest(void);
"""


def _compile_args() -> list[str]:
    if sys.platform == "win32":
        # MSVC (never tried): C11 for the anonymous union in dh_command; atomics are Interlocked calls
        return ["/O2", "/std:c11"]
    # Hidden symbols: the stream's entry (cffi's _cffi_d_dh_callback) reaches dh_callback by a
    # direct jump, not through the PLT, whose first call would run the dynamic linker (locks) on
    # the audio thread. Only PyInit__mixer_cffi is exported (Python marks it visible).
    return ["-O2", "-std=c11", "-fvisibility=hidden"]


def _link_args() -> list[str]:
    # Bind the remaining imports (memset, llround, ...) when the module loads, not on their first
    # call from the audio thread.
    return ["-Wl,-z,now"] if sys.platform.startswith("linux") else []


def source_digest() -> str:
    """Names the build: the C sources and the flags. native.py compares it with a checkout's.

    The digest is part of the generated C, so a change to either regenerates and recompiles the
    module even where setuptools would otherwise reuse an object file from an earlier build.
    """
    h = hashlib.sha256()
    for name in ("_mixer.c", "_mixer.h"):
        h.update((HERE / name).read_bytes())
    h.update(repr((_compile_args(), _link_args())).encode())
    return h.hexdigest()[:16]


def make_ffi() -> FFI:
    """The extension's recipe; setup.py names this (cffi_modules), so importing this file builds nothing."""
    ffi = FFI()
    ffi.cdef(CDEF)
    ffi.set_source(
        MODULE,
        f'#include "_mixer.h"\nstatic const char *dh_source_digest(void) {{ return "{source_digest()}"; }}\n',
        # relative: setuptools runs this from the project root and wants source paths relative to it
        sources=[os.path.relpath(HERE / "_mixer.c")],
        include_dirs=[str(HERE)],
        libraries=[] if sys.platform == "win32" else ["m"],
        extra_compile_args=_compile_args(),
        extra_link_args=_link_args(),
    )
    return ffi


if __name__ == "__main__":  # a standalone build into host/audio/build/, for debugging the C
    make_ffi().compile(tmpdir=str(HERE / "build"), verbose=True)
