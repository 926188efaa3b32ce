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

typedef struct {
  int32_t type;
  int32_t slot;
  int32_t clip;
  int32_t mode;
  int32_t choke;
  int32_t _pad;
  int64_t frames; /* ASSIGN/PLAY: clip length; TRIGGER: earliest start frame (0 = next block) */
  const float *data;
  float gain_l;
  float gain_r;
  double value;  /* TRIGGER: gain; GRID: grid step; SLOT_OPTIONS: the slot's grid step (-1 = global) */
  double origin; /* GRID: where a grid line falls (a frame, or CLOCK_MONOTONIC_RAW ns in time mode) */
  int64_t tag; /* caller's sequence number, echoed in slot start records */
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
  int64_t start_ns; /* CLOCK_MONOTONIC_RAW at entry */
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
