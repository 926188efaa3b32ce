/* diffhost real-time mixer: what Python (through the cffi extension diffhost.host.audio._mixer_cffi,
 * built by host/audio/_mixer_build.py) and the PortAudio stream see of _mixer.c. */
#ifndef DH_MIXER_H
#define DH_MIXER_H

#include <stdint.h>

#define DH_MAX_SLOTS 64
#define DH_MAX_VOICES 64
#define DH_MAX_CLIPS 256

/* PortAudio's PaStreamCallbackTimeInfo, declared here so no PortAudio headers are needed. */
typedef struct {
  double inputBufferAdcTime;
  double currentTime;
  double outputBufferDacTime;
} dh_time_info;

/* What Python (or the MIDI reader) asks the audio thread to do: one command on a ring, applied at
 * the start of the next block. Python reads these values through cffi (lib.DH_CMD_ASSIGN, ...), so
 * they are written down only here. 0 is no command: an all-zero dh_command does nothing. */
typedef enum {
  DH_CMD_ASSIGN = 1,   /* put a clip on a slot (dh_cmd_assign) */
  DH_CMD_CLEAR,        /* empty a slot; its voices fade out */
  DH_CMD_TRIGGER,      /* start a slot's clip (dh_cmd_trigger) */
  DH_CMD_STOP_SLOT,    /* fade out every voice of a slot */
  DH_CMD_RELEASE,      /* note off: fade out a gate-mode slot's voices; other modes ignore it */
  DH_CMD_STOP_ALL,     /* fade out every slot voice (the player keeps playing) */
  DH_CMD_SLOT_OPTIONS, /* a slot's gains, mode, choke group and grid (dh_cmd_slot_options) */
  DH_CMD_GRID,         /* the mixer's quantize grid (dh_cmd_grid) */
  DH_CMD_VOICE_LIMIT,  /* how many slot voices may sound at once (dh_cmd_voice_limit) */
  DH_CMD_PLAY,         /* play a clip on the player, replacing what it played (dh_cmd_play) */
  DH_CMD_STOP_PLAYER   /* fade the player out */
} dh_command_type;

/* How a slot plays: once to the end; looping until stopped; while held (until RELEASE). */
typedef enum { DH_MODE_ONESHOT = 0, DH_MODE_LOOP = 1, DH_MODE_GATE = 2 } dh_slot_mode;

/* What dh_slot_state reports, and each dh_slot_event carries. */
typedef enum { DH_SLOT_EMPTY = 0, DH_SLOT_READY = 1, DH_SLOT_PLAYING = 2 } dh_slot_state_value;

/* One payload per command that needs more than its slot. */
typedef struct {
  int32_t clip;        /* the id Python gave the buffer (0..DH_MAX_CLIPS-1) */
  int32_t keep_voices; /* 1: voices playing the slot's old clip ring out (a fresh pad's next variation) */
  int64_t frames;      /* the clip's length */
  const float *data;   /* frames x the output's channels, interleaved; Python's until the clip is retired */
} dh_cmd_assign;

typedef struct {
  double gain;  /* the hit's gain (MIDI: velocity curve); the slot's gains multiply it */
  int64_t at;   /* the earliest frame to start on (a timestamped MIDI note); 0 or past = this block */
  int64_t tag;  /* the caller's number for this trigger, echoed in the slot's start record */
} dh_cmd_trigger;

typedef struct {
  float gain_l, gain_r;
  int32_t mode;  /* dh_slot_mode */
  int32_t choke; /* choke group, 0 = none: a slot's start fades the other slots of its group */
  double grid;   /* this slot's quantize grid step (frames, or ns in time mode); 0 = none, < 0 = the mixer's */
} dh_cmd_slot_options;

typedef struct {
  double step;        /* grid step, 0 = no quantizing: frames, or ns in time mode */
  double origin;      /* where a grid line falls: a frame, or a clock time in ns in time mode */
  int64_t latency_ns; /* time mode: from a block's callback to its sound (grid lines are as heard) */
  int32_t time_mode;  /* 1: the grid is in the monotonic clock's time (Ableton Link), not frames */
} dh_cmd_grid;

typedef struct {
  int32_t voices;
} dh_cmd_voice_limit;

typedef struct {
  int32_t clip; /* as in dh_cmd_assign */
  int64_t frames;
  const float *data;
} dh_cmd_play;

typedef struct {
  int32_t type; /* dh_command_type */
  int32_t slot; /* the slot it acts on (0..num_slots-1), where it acts on one */
  union {       /* the payload the type names; the others are unused */
    dh_cmd_assign assign;
    dh_cmd_trigger trigger;
    dh_cmd_slot_options slot_options;
    dh_cmd_grid grid;
    dh_cmd_voice_limit voice_limit;
    dh_cmd_play play;
  };
} dh_command;

typedef struct {
  int32_t slot;
  int32_t state;
  int64_t frame;
} dh_slot_event;

typedef struct {
  int64_t frame;
  int32_t size;
  int32_t handled; /* 1: the C reader already triggered / released a pad for it */
  int32_t slot;    /* the pad it fired (1..N), or 0 */
  unsigned char data[4];
} dh_midi_msg;

/* one callback slower than the threshold dh_set_profile set (or started late after the previous) */
typedef struct {
  int64_t frame;    /* its first frame */
  int64_t start_ns; /* the block clock at entry (CLOCK_MONOTONIC_RAW on Linux) */
  int64_t wall_ns;  /* entry to return */
  int64_t cpu_ns;   /* this thread's CPU time over that span; -1 when profiling is off */
  int64_t gap_ns;   /* since the previous callback's entry (a period when on time) */
  int32_t voices;   /* voices it mixed */
  int32_t commands; /* commands it applied */
} dh_slow_block;

typedef struct dh_mixer dh_mixer;
typedef struct dh_midi_in dh_midi_in;

dh_mixer *dh_mixer_new(int out_ch, int in_ch, double sample_rate, int num_slots, int voice_limit,
                       int64_t in_cap, int fade_frames);
void dh_mixer_free(dh_mixer *m);
/* PortAudio's PaStreamCallback: runs on the audio thread, without the GIL. */
int dh_callback(const void *input, void *output, unsigned long n, const dh_time_info *ti,
                unsigned long flags, void *user);
int dh_push(dh_mixer *m, const dh_command *c);
int dh_pop_retired(dh_mixer *m);
int64_t dh_commands_done(dh_mixer *m);
int dh_pop_slot_event(dh_mixer *m, dh_slot_event *out);
int dh_clock(dh_mixer *m, int64_t *ns, int64_t *frame);
/* Timing of the callback itself: on = 1 also reads the thread CPU clock; callbacks slower than
 * slow_ns (wall) or starting more than slow_ns late go on a ring dh_pop_slow_block reads. */
void dh_set_profile(dh_mixer *m, int on, int64_t slow_ns);
/* max wall ns, max CPU ns, max gap ns between entries, callbacks over the period (wall), (CPU) */
void dh_callback_stats(dh_mixer *m, int64_t *out);
int dh_pop_slow_block(dh_mixer *m, dh_slow_block *out);
dh_midi_in *dh_midi_new(dh_mixer *m, void *port, void *get_buffer, void *event_count, void *event_get);
void dh_midi_free(dh_midi_in *mi);
void dh_midi_set_mixer(dh_midi_in *mi, dh_mixer *m);
void dh_midi_set_note(dh_midi_in *mi, int note, int slot);
void dh_midi_set_channel(dh_midi_in *mi, int channel);
void dh_midi_set_learning(dh_midi_in *mi, int on);
int64_t dh_midi_dropped(dh_midi_in *mi);
int dh_midi_pop(dh_midi_in *mi, dh_midi_msg *out);
/* JACK's process callback for the MIDI input port: runs on JACK's thread, without the GIL. */
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

#endif
