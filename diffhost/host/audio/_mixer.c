/* diffhost real-time mixer: the PortAudio stream callback, in C.
 *
 * Why C: a Python callback shares the GIL with the engine's torch thread and
 * missed hundreds of 2.67 ms deadlines in 15 s (see host/audio/mixer.py). This
 * callback never takes the GIL, never allocates, never locks, never logs: it
 * reads commands from a single-producer/single-consumer ring, mixes voices from
 * clip buffers the Python side allocated beforehand, and publishes state through
 * plain aligned stores (atomic on every platform we build for).
 *
 * Memory rule: a clip buffer is owned by Python. The callback counts references
 * to it (the slot holding it, each voice playing it); when the count reaches
 * zero it posts the clip id on the "retired" ring and only then may Python free
 * the buffer. So a clip is never freed while the audio thread reads it.
 */
#define _DEFAULT_SOURCE /* mlock */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "_mixer.h"

/* Locking pages keeps them resident; best effort everywhere. */
#if defined(_WIN32)
#include <windows.h>
#define dh_lock_pages(p, n) ((void)VirtualLock((p), (n)))
#define dh_unlock_pages(p, n) ((void)VirtualUnlock((p), (n)))
#else
#include <sys/mman.h>
#define dh_lock_pages(p, n) ((void)mlock((p), (n)))
#define dh_unlock_pages(p, n) ((void)munlock((p), (n)))
#endif

#define DH_CMD_RING 1024 /* power of two */
#define DH_METER_RING 4096 /* power of two, blocks */
#define DH_EVENT_RING 1024 /* power of two: slot state changes */
#define DH_NEVER INT64_MAX
#define DH_SLOW_RING 1024 /* power of two: slow callbacks kept for Python */

/* PortAudio's status flags, declared here so no PortAudio headers are needed. */
#define PA_INPUT_UNDERFLOW 1UL
#define PA_INPUT_OVERFLOW 2UL
#define PA_OUTPUT_UNDERFLOW 4UL
#define PA_OUTPUT_OVERFLOW 8UL

enum { CMD_ASSIGN = 1, CMD_CLEAR, CMD_TRIGGER, CMD_STOP_SLOT, CMD_RELEASE, CMD_STOP_ALL, CMD_SLOT_OPTIONS,
       CMD_GRID, CMD_VOICE_LIMIT, CMD_PLAY, CMD_STOP_PLAYER };
enum { MODE_ONESHOT = 0, MODE_LOOP = 1, MODE_GATE = 2 };

typedef struct {
  const float *data;
  int64_t frames;
  int32_t refs;
} clip_t;

typedef struct {
  int32_t active;
  int32_t slot; /* -1: the file/render player */
  int32_t clip;
  int32_t loop;
  int32_t choke;
  int32_t started;
  int64_t pos;
  int64_t start_frame;
  int64_t release_frame;
  uint64_t order;
  float env;
  float gain_l, gain_r; /* gains reached at the end of the last block */
  float velocity;       /* the trigger's gain; the slot's gain and pan multiply it */
  int64_t tag;
  double start_ns; /* time-mode grid: CLOCK_MONOTONIC_RAW ns to render the first sample at; 0 = by frame */
} voice_t;

typedef struct {
  int32_t clip;
  int32_t mode;
  int32_t choke;
  float gain_l, gain_r;
  double grid; /* quantize grid step for this slot (frames, or ns in time mode); < 0: the mixer's grid */
} slot_t;

typedef struct {
  float peak;
  float sumsq;
  int32_t frames;
} meter_entry;

struct dh_mixer {
  /* configuration, fixed at creation */
  int32_t out_ch, in_ch, num_slots;
  double sample_rate;
  float fade_step;
  int64_t in_cap; /* input ring capacity in frames, power of two */
  float *in_ring;

  /* command ring: Python writes cmd_w, the callback writes cmd_r */
  dh_command cmds[DH_CMD_RING];
  volatile int64_t cmd_w, cmd_r;
  /* a second ring with its own single producer: the JACK MIDI reader (dh_midi_process) */
  dh_command midi_cmds[DH_CMD_RING];
  volatile int64_t midi_w, midi_r;
  /* retired clip ids: the callback writes ret_w, Python writes ret_r */
  int32_t retired[DH_MAX_CLIPS * 2];
  volatile int64_t ret_w, ret_r;

  clip_t clips[DH_MAX_CLIPS];
  slot_t slots[DH_MAX_SLOTS];
  voice_t voices[DH_MAX_VOICES];
  int32_t voice_limit;
  uint64_t order;
  double grid; /* quantize grid step, 0 = off: frames, or ns in time mode */
  double grid_origin; /* where a grid line falls: a frame, or ns in time mode */
  int32_t grid_time;  /* 1: the grid is in CLOCK_MONOTONIC_RAW time (Ableton Link), not frames */
  double latency_ns;  /* time mode: from a block's callback to its sound (grid lines are as heard) */
  int64_t block_ns;   /* this block's clock stamp */
  int32_t last_state[DH_MAX_SLOTS];

  /* published state, read by Python */
  volatile int64_t frames;     /* frames processed: the first frame of the next block */
  volatile int64_t callbacks;
  volatile int64_t block; /* frames in the latest callback */
  volatile int64_t underflows, overflows;
  volatile int64_t in_written; /* input frames written to in_ring */
  meter_entry meter[DH_METER_RING];
  volatile int64_t meter_w;
  volatile int32_t slot_state[DH_MAX_SLOTS]; /* 0 empty, 1 ready, 2 playing */
  volatile int64_t slot_start_frame[DH_MAX_SLOTS];
  volatile int64_t slot_start_tag[DH_MAX_SLOTS];
  volatile double slot_start_time[DH_MAX_SLOTS]; /* stream time the block holding it was computed */
  volatile double slot_start_dac[DH_MAX_SLOTS];  /* stream time its first sample reaches the DAC */
  volatile int64_t slot_start_ns[DH_MAX_SLOTS];  /* CLOCK_MONOTONIC_RAW when its first sample was rendered */
  volatile int64_t player_pos;
  volatile int32_t player_active;
  volatile int32_t voices_active;
  volatile double last_time, last_dac;
  /* slot state changes, pushed by the callback for the Python event thread */
  dh_slot_event events[DH_EVENT_RING];
  volatile int64_t ev_w, ev_r;
  /* CLOCK_MONOTONIC_RAW (ns) when the latest block started, and that block's first frame; a
   * sequence count around the pair lets a reader see both from the same block */
  volatile int64_t clock_seq, clock_ns, clock_frame;

  /* How long each callback took, for telling diffhost's own overruns from a stalled machine when
   * jackd reports a client "not finished": wall time from entry to return (CLOCK_MONOTONIC_RAW)
   * and, while profiling is on, this thread's CPU time over the same span. A callback that used
   * little CPU but a long wall time was off the CPU (preempted, or the VM's vCPU was descheduled);
   * one whose CPU time alone passed the period overran by its own work. */
  volatile int32_t profile;       /* 1: also read the thread's CPU clock (a syscall each way) */
  volatile int64_t cb_max_wall_ns, cb_max_cpu_ns, cb_max_gap_ns;
  volatile int64_t cb_over_wall;  /* callbacks whose wall time passed the block's period */
  volatile int64_t cb_over_cpu;   /* ... whose own CPU time passed it (profiling on) */
  int64_t cb_prev_start_ns;
  dh_slow_block slow[DH_SLOW_RING]; /* callbacks slower than slow_ns, for Python to read */
  volatile int64_t slow_w, slow_r;
  volatile int64_t slow_ns;
};

#if defined(_MSC_VER) && !defined(__clang__)
/* MSVC has no __atomic builtins; the build passes /volatile:ms, which gives every access to the
 * volatile fields above acquire (load) / release (store) semantics on x86-64 and arm64. */
#define LOAD(x) (x)
#define STORE(x, v) ((x) = (v))
#else
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
#endif
/* doubles: aligned 8-byte volatile stores, single-copy atomic on x86-64 and arm64; each is
 * written before the integer it belongs to is published with STORE */
#define DSTORE(x, v) ((x) = (v))

static void prefault(void *p, size_t n) {
  volatile char *c = (volatile char *)p;
  for (size_t i = 0; i < n; i += 4096) c[i] = 0;
  if (n) c[n - 1] = 0;
  dh_lock_pages(p, n); /* best effort: RLIMIT_MEMLOCK may refuse; the pages are resident anyway */
}

dh_mixer *dh_mixer_new(int out_ch, int in_ch, double sample_rate, int num_slots, int voice_limit,
                       int64_t in_cap, int fade_frames) {
  if (out_ch < 1 || out_ch > 2 || in_ch < 0 || in_ch > 2 || num_slots < 1 || num_slots > DH_MAX_SLOTS)
    return NULL;
  dh_mixer *m = calloc(1, sizeof(dh_mixer));
  if (!m) return NULL;
  /* Touch (and, where allowed, lock) every page now, before any field is set: a first-touch
   * page fault inside the callback would wait on the kernel's memory lock, which torch's
   * munmap()s hold often. */
  prefault(m, sizeof(dh_mixer));
  m->out_ch = out_ch;
  m->in_ch = in_ch;
  m->num_slots = num_slots;
  m->sample_rate = sample_rate;
  m->fade_step = 1.0f / (float)(fade_frames > 0 ? fade_frames : 1);
  m->in_cap = in_cap;
  if (in_ch > 0) {
    m->in_ring = calloc((size_t)(in_cap * in_ch), sizeof(float));
    if (!m->in_ring) { free(m); return NULL; }
  }
  if (m->in_ring) prefault(m->in_ring, sizeof(float) * (size_t)(in_cap * in_ch));
  m->voice_limit = voice_limit;
  for (int s = 0; s < DH_MAX_SLOTS; s++) {
    m->slots[s].clip = -1;
    m->slots[s].gain_l = m->slots[s].gain_r = 1.0f;
    m->slots[s].grid = -1.0;
    m->slot_start_frame[s] = -1;
    m->slot_start_tag[s] = -1;
  }
  return m;
}

void dh_mixer_free(dh_mixer *m) {
  if (!m) return;
  if (m->in_ring) {
    dh_unlock_pages(m->in_ring, sizeof(float) * (size_t)(m->in_cap * m->in_ch));
    free(m->in_ring);
  }
  dh_unlock_pages(m, sizeof(dh_mixer));
  free(m);
}

/* ---- Python side (one producer at a time: the Python wrapper holds a lock) ---- */

int dh_push(dh_mixer *m, const dh_command *c) {
  int64_t w = m->cmd_w, r = LOAD(m->cmd_r);
  if (w - r >= DH_CMD_RING) return 0;
  m->cmds[w & (DH_CMD_RING - 1)] = *c;
  STORE(m->cmd_w, w + 1);
  return 1;
}

int dh_pop_retired(dh_mixer *m) {
  int64_t r = m->ret_r;
  if (r >= LOAD(m->ret_w)) return -1;
  int id = m->retired[r & (DH_MAX_CLIPS * 2 - 1)];
  STORE(m->ret_r, r + 1);
  return id;
}

int dh_pop_slot_event(dh_mixer *m, dh_slot_event *out) {
  int64_t r = m->ev_r;
  if (r >= LOAD(m->ev_w)) return 0;
  *out = m->events[r & (DH_EVENT_RING - 1)];
  STORE(m->ev_r, r + 1);
  return 1;
}

/* (clock ns, frame) of one block start; 0 while the callback is writing them (retry) */
int dh_clock(dh_mixer *m, int64_t *ns, int64_t *frame) {
  int64_t s0 = LOAD(m->clock_seq);
  if (s0 & 1) return 0;
  *ns = LOAD(m->clock_ns);
  *frame = LOAD(m->clock_frame);
  return LOAD(m->clock_seq) == s0 && s0 > 0;
}

int64_t dh_commands_done(dh_mixer *m) { return LOAD(m->cmd_r); }

void dh_set_profile(dh_mixer *m, int on, int64_t slow_ns) {
  STORE(m->slow_ns, slow_ns);
  STORE(m->profile, on);
}

void dh_callback_stats(dh_mixer *m, int64_t *out) {
  out[0] = LOAD(m->cb_max_wall_ns);
  out[1] = LOAD(m->cb_max_cpu_ns);
  out[2] = LOAD(m->cb_max_gap_ns);
  out[3] = LOAD(m->cb_over_wall);
  out[4] = LOAD(m->cb_over_cpu);
}

int dh_pop_slow_block(dh_mixer *m, dh_slow_block *out) {
  int64_t r = m->slow_r;
  if (r >= LOAD(m->slow_w)) return 0;
  *out = m->slow[r & (DH_SLOW_RING - 1)];
  STORE(m->slow_r, r + 1);
  return 1;
}
int64_t dh_frames(dh_mixer *m) { return LOAD(m->frames); }
int64_t dh_callbacks(dh_mixer *m) { return LOAD(m->callbacks); }
int64_t dh_block(dh_mixer *m) { return LOAD(m->block); }
int64_t dh_underflows(dh_mixer *m) { return LOAD(m->underflows); }
int64_t dh_overflows(dh_mixer *m) { return LOAD(m->overflows); }
int64_t dh_input_written(dh_mixer *m) { return LOAD(m->in_written); }
int dh_slot_state(dh_mixer *m, int s) { return LOAD(m->slot_state[s]); }
int64_t dh_slot_start_frame(dh_mixer *m, int s) { return LOAD(m->slot_start_frame[s]); }
int64_t dh_slot_start_tag(dh_mixer *m, int s) { return LOAD(m->slot_start_tag[s]); }
double dh_slot_start_time(dh_mixer *m, int s) { return m->slot_start_time[s]; }
double dh_slot_start_dac(dh_mixer *m, int s) { return m->slot_start_dac[s]; }
int64_t dh_slot_start_ns(dh_mixer *m, int s) { return LOAD(m->slot_start_ns[s]); }
int64_t dh_player_pos(dh_mixer *m) { return LOAD(m->player_pos); }
int dh_player_active(dh_mixer *m) { return LOAD(m->player_active); }
int dh_voices_active(dh_mixer *m) { return LOAD(m->voices_active); }
double dh_last_time(dh_mixer *m) { return m->last_time; }
double dh_last_dac(dh_mixer *m) { return m->last_dac; }

/* Copy input frames [start, start + n) (interleaved) into dest. Returns n, or -1 when the
 * ring has already overwritten part of them, or 0 when they are not all written yet. */
int64_t dh_input_read(dh_mixer *m, int64_t start, float *dest, int64_t n) {
  if (m->in_ch == 0 || n > m->in_cap) return -1;
  int64_t w = LOAD(m->in_written);
  if (start + n > w) return 0;
  if (start < w - m->in_cap) return -1;
  for (int64_t i = 0; i < n; i++) {
    int64_t k = (start + i) & (m->in_cap - 1);
    for (int c = 0; c < m->in_ch; c++) dest[i * m->in_ch + c] = m->in_ring[k * m->in_ch + c];
  }
  /* the writer may have lapped us while we copied */
  if (start < LOAD(m->in_written) - m->in_cap) return -1;
  return n;
}

/* Peak and mean square over the newest blocks covering at least `frames` input frames. */
int dh_meter(dh_mixer *m, int64_t frames, float *peak, float *meansq) {
  int64_t w = LOAD(m->meter_w);
  float pk = 0.0f;
  double sq = 0.0;
  int64_t got = 0;
  for (int64_t i = w - 1; i >= 0 && i > w - DH_METER_RING / 2 && got < frames; i--) {
    meter_entry *e = &m->meter[i & (DH_METER_RING - 1)];
    if (e->peak > pk) pk = e->peak;
    sq += e->sumsq;
    got += e->frames;
  }
  *peak = pk;
  *meansq = got > 0 ? (float)(sq / (double)got) : 0.0f;
  return got > 0;
}

/* ---- audio thread ---- */

static void retire_ref(dh_mixer *m, int clip) {
  if (clip < 0) return;
  if (--m->clips[clip].refs == 0) {
    int64_t w = m->ret_w;
    m->retired[w & (DH_MAX_CLIPS * 2 - 1)] = clip;
    STORE(m->ret_w, w + 1);
  }
}

static void voice_end(dh_mixer *m, voice_t *v) {
  v->active = 0;
  retire_ref(m, v->clip);
  v->clip = -1;
}

/* Start a fade-out at `at`; a voice not yet audible then simply never sounds. */
static void voice_release(dh_mixer *m, voice_t *v, int64_t at) {
  if (!v->active) return;
  if (at <= v->start_frame) { voice_end(m, v); return; }
  if (at < v->release_frame) v->release_frame = at;
}

static voice_t *voice_alloc(dh_mixer *m, int64_t at) {
  /* voice limit: the oldest sounding slot voice fades out as the new one starts */
  int sounding = 0;
  voice_t *oldest = NULL;
  for (int i = 0; i < DH_MAX_VOICES; i++) {
    voice_t *v = &m->voices[i];
    if (v->active && v->slot >= 0 && v->release_frame == DH_NEVER) {
      sounding++;
      if (!oldest || v->order < oldest->order) oldest = v;
    }
  }
  if (sounding >= m->voice_limit && oldest) voice_release(m, oldest, at);
  voice_t *victim = NULL;
  for (int i = 0; i < DH_MAX_VOICES; i++) {
    voice_t *v = &m->voices[i];
    if (!v->active) return v;
    if (v->slot >= 0 && (!victim || v->order < victim->order)) victim = v;
  }
  /* every physical voice busy (limit plus fading tails): hard-steal the oldest */
  if (!victim) victim = &m->voices[0];
  voice_end(m, victim);
  return victim;
}

static void apply_command(dh_mixer *m, const dh_command *c, int64_t t0) {
  switch (c->type) {
  case CMD_ASSIGN:
  case CMD_CLEAR: {
    slot_t *s = &m->slots[c->slot];
    int old = s->clip;
    /* voices still playing the old clip fade out, reading the old buffer until done; a fresh pad's
     * next variation (mode 1: keep voices) lets the hit that is sounding ring out instead */
    for (int i = 0; i < DH_MAX_VOICES && !(c->type == CMD_ASSIGN && c->mode == 1); i++) {
      voice_t *v = &m->voices[i];
      if (v->active && v->slot == c->slot) voice_release(m, v, t0);
    }
    if (c->type == CMD_ASSIGN) {
      m->clips[c->clip].data = c->data;
      m->clips[c->clip].frames = c->frames;
      m->clips[c->clip].refs = 1;
      s->clip = c->clip;
    } else {
      s->clip = -1;
    }
    retire_ref(m, old);
    break;
  }
  case CMD_SLOT_OPTIONS: {
    slot_t *s = &m->slots[c->slot];
    s->gain_l = c->gain_l;
    s->gain_r = c->gain_r;
    s->mode = c->mode;
    s->choke = c->choke;
    s->grid = c->value;
    break;
  }
  case CMD_TRIGGER: {
    slot_t *s = &m->slots[c->slot];
    if (s->clip < 0 || m->clips[s->clip].frames <= 0) break;
    /* a timestamped trigger (MIDI) keeps its place in time, as long as it is not already past */
    int64_t start = c->frames > t0 ? c->frames : t0;
    const double grid = s->grid >= 0.0 ? s->grid : m->grid;
    double start_ns = 0.0;
    if (grid > 0.0 && m->grid_time) {
      /* the next grid line, as heard, at or after the earliest frame; its frame is re-estimated
       * from each block's own clock stamp until it starts (the device's clock may drift) */
      const double ns_per_frame = 1e9 / m->sample_rate;
      const double heard = (double)m->block_ns + (double)(start - t0) * ns_per_frame + m->latency_ns;
      double k = ceil((heard - m->grid_origin) / grid - 1e-9);
      start_ns = m->grid_origin + k * grid - m->latency_ns;
      int64_t f = t0 + (int64_t)llround((start_ns - (double)m->block_ns) / ns_per_frame);
      start = f < t0 ? t0 : f;
    } else if (grid > 0.0) {
      /* the next grid line at or after that frame, rounded to the sample */
      const double o = m->grid_origin;
      double k = ceil(((double)start - o) / grid - 1e-9);
      int64_t line = (int64_t)llround(o + k * grid);
      start = line < t0 ? t0 : line;
    }
    for (int i = 0; i < DH_MAX_VOICES; i++) {
      voice_t *v = &m->voices[i];
      if (!v->active || v->slot < 0) continue;
      int same_slot = v->slot == c->slot && s->mode != MODE_ONESHOT; /* loop/gate: one voice per slot */
      int choked = s->choke > 0 && v->choke == s->choke && v->slot != c->slot;
      if (same_slot || choked) voice_release(m, v, start);
    }
    voice_t *v = voice_alloc(m, start);
    memset(v, 0, sizeof(*v));
    v->active = 1;
    v->slot = c->slot;
    v->clip = s->clip;
    m->clips[s->clip].refs++;
    v->loop = s->mode == MODE_LOOP;
    v->choke = s->choke;
    v->start_frame = start;
    v->release_frame = DH_NEVER;
    v->order = ++m->order;
    v->env = 1.0f;
    v->velocity = (float)c->value;
    v->gain_l = s->gain_l * v->velocity;
    v->gain_r = s->gain_r * v->velocity;
    v->tag = c->tag;
    v->start_ns = start_ns;
    break;
  }
  case CMD_STOP_SLOT:
  case CMD_RELEASE:
    for (int i = 0; i < DH_MAX_VOICES; i++) {
      voice_t *v = &m->voices[i];
      if (!v->active || v->slot != c->slot) continue;
      if (c->type == CMD_RELEASE && m->slots[c->slot].mode != MODE_GATE) continue;
      voice_release(m, v, t0);
    }
    break;
  case CMD_STOP_ALL:
    for (int i = 0; i < DH_MAX_VOICES; i++)
      if (m->voices[i].active && m->voices[i].slot >= 0) voice_release(m, &m->voices[i], t0);
    break;
  case CMD_GRID:
    m->grid = c->value;
    m->grid_origin = c->origin;
    m->grid_time = c->mode == 1;
    m->latency_ns = (double)c->frames;
    break;
  case CMD_VOICE_LIMIT:
    m->voice_limit = (int32_t)c->value;
    break;
  case CMD_PLAY: {
    for (int i = 0; i < DH_MAX_VOICES; i++)
      if (m->voices[i].active && m->voices[i].slot < 0) voice_release(m, &m->voices[i], t0);
    m->clips[c->clip].data = c->data;
    m->clips[c->clip].frames = c->frames;
    m->clips[c->clip].refs = 1; /* held by the player voice */
    voice_t *v = NULL;
    for (int i = 0; i < DH_MAX_VOICES && !v; i++)
      if (!m->voices[i].active) v = &m->voices[i];
    if (!v) { v = voice_alloc(m, t0); }
    memset(v, 0, sizeof(*v));
    v->active = 1;
    v->slot = -1;
    v->clip = c->clip;
    v->start_frame = t0;
    v->release_frame = DH_NEVER;
    v->order = ++m->order;
    v->env = 1.0f;
    v->gain_l = v->gain_r = 1.0f;
    STORE(m->player_pos, 0);
    STORE(m->player_active, 1);
    break;
  }
  case CMD_STOP_PLAYER:
    for (int i = 0; i < DH_MAX_VOICES; i++)
      if (m->voices[i].active && m->voices[i].slot < 0) voice_release(m, &m->voices[i], t0);
    break;
  }
}

static void mix_voice(dh_mixer *m, voice_t *v, float *out, int64_t t0, unsigned long n,
                      const dh_time_info *ti) {
  const clip_t *cl = &m->clips[v->clip];
  const int ch = m->out_ch;
  int64_t f = 0;
  if (v->start_frame > t0) {
    f = v->start_frame - t0;
    if (f >= (int64_t)n) return;
  }
  if (!v->started) {
    v->started = 1;
    if (v->slot >= 0) {
      double off = (double)f / m->sample_rate;
      DSTORE(m->slot_start_time[v->slot], ti->currentTime + off);
      DSTORE(m->slot_start_dac[v->slot], ti->outputBufferDacTime + off);
      STORE(m->slot_start_ns[v->slot], m->block_ns + (int64_t)llround(off * 1e9));
      STORE(m->slot_start_frame[v->slot], t0 + f);
      STORE(m->slot_start_tag[v->slot], v->tag);
    }
  }
  /* Slot gain/pan changes reach sounding voices as a ramp across this block (no zipper noise). */
  float gl = v->gain_l, gr = v->gain_r, tl = gl, tr = gr;
  if (v->slot >= 0) {
    tl = m->slots[v->slot].gain_l * v->velocity;
    tr = m->slots[v->slot].gain_r * v->velocity;
  }
  const float dl = (tl - gl) / (float)n, dr = (tr - gr) / (float)n;
  v->gain_l = tl;
  v->gain_r = tr;
  gl += dl * (float)f;
  gr += dr * (float)f;
  for (; f < (int64_t)n; f++, gl += dl, gr += dr) {
    if (v->pos >= cl->frames) {
      if (v->loop) v->pos = 0;
      else { voice_end(m, v); return; }
    }
    float env = 1.0f;
    if (t0 + f >= v->release_frame) {
      v->env -= m->fade_step;
      if (v->env <= 0.0f) { voice_end(m, v); return; }
      env = v->env;
    }
    const float *src = cl->data + v->pos * ch;
    if (ch == 2) {
      out[f * 2] += src[0] * gl * env;
      out[f * 2 + 1] += src[1] * gr * env;
    } else {
      out[f] += src[0] * 0.5f * (gl + gr) * env;
    }
    v->pos++;
  }
}

static int64_t monotonic_raw_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t thread_cpu_ns(void) {
  /* a plain syscall (no vDSO for CPU clocks): it never blocks; only read while profiling */
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The end of a callback: its wall (and CPU) time, the gap since the previous one started. */
static void account_time(dh_mixer *m, int64_t t0, unsigned long n, int64_t cpu, int voices, int commands) {
  const int64_t start = m->block_ns, wall = monotonic_raw_ns() - start;
  const int64_t period = (int64_t)((double)n * 1e9 / m->sample_rate);
  const int64_t gap = m->cb_prev_start_ns > 0 ? start - m->cb_prev_start_ns : 0;
  m->cb_prev_start_ns = start;
  if (wall > m->cb_max_wall_ns) STORE(m->cb_max_wall_ns, wall);
  if (cpu > m->cb_max_cpu_ns) STORE(m->cb_max_cpu_ns, cpu);
  if (gap > m->cb_max_gap_ns) STORE(m->cb_max_gap_ns, gap);
  if (wall > period) STORE(m->cb_over_wall, m->cb_over_wall + 1);
  if (cpu > period) STORE(m->cb_over_cpu, m->cb_over_cpu + 1);
  const int64_t slow = LOAD(m->slow_ns);
  if (slow > 0 && (wall > slow || gap > period + slow)) {
    int64_t w = m->slow_w;
    if (w - LOAD(m->slow_r) < DH_SLOW_RING) { /* a reader that fell behind loses entries, never blocks us */
      dh_slow_block *e = &m->slow[w & (DH_SLOW_RING - 1)];
      e->frame = t0;
      e->start_ns = start;
      e->wall_ns = wall;
      e->cpu_ns = cpu;
      e->gap_ns = gap;
      e->voices = voices;
      e->commands = commands;
      STORE(m->slow_w, w + 1);
    }
  }
}

int dh_callback(const void *input, void *output, unsigned long n, const dh_time_info *ti,
                unsigned long flags, void *user) {
  dh_mixer *m = (dh_mixer *)user;
  const int64_t t0 = m->frames;
  const int profile = LOAD(m->profile);
  {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts); /* vDSO: no syscall, no lock; Link's clock on Linux */
    int64_t seq = m->clock_seq;
    STORE(m->clock_seq, seq + 1);
    m->block_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    STORE(m->clock_ns, m->block_ns);
    STORE(m->clock_frame, t0);
    STORE(m->clock_seq, seq + 2);
  }
  /* The CPU clock is read inside the wall-clock window, so CPU <= wall. Read before it, a VM that
     charges time its host stole to the running thread showed 3.4 ms of "CPU" in a 5 us callback. */
  int64_t cpu0 = 0;
  if (profile) cpu0 = thread_cpu_ns();
  if (flags & (PA_OUTPUT_UNDERFLOW | PA_INPUT_UNDERFLOW)) STORE(m->underflows, m->underflows + 1);
  if (flags & (PA_OUTPUT_OVERFLOW | PA_INPUT_OVERFLOW)) STORE(m->overflows, m->overflows + 1);

  /* input: the capture ring (for record()) and the meter */
  if (m->in_ch > 0 && input) {
    const float *in = (const float *)input;
    int64_t w = m->in_written;
    float pk = 0.0f, sq = 0.0f;
    for (unsigned long i = 0; i < n; i++) {
      int64_t k = (w + (int64_t)i) & (m->in_cap - 1);
      for (int c = 0; c < m->in_ch; c++) {
        float x = in[i * m->in_ch + c];
        m->in_ring[k * m->in_ch + c] = x;
        float a = fabsf(x);
        if (a > pk) pk = a;
        sq += x * x;
      }
    }
    STORE(m->in_written, w + (int64_t)n);
    int64_t mw = m->meter_w;
    meter_entry *e = &m->meter[mw & (DH_METER_RING - 1)];
    e->peak = pk;
    e->sumsq = sq / (float)m->in_ch;
    e->frames = (int32_t)n;
    STORE(m->meter_w, mw + 1);
  }

  /* commands (Python's, then MIDI's), then voices */
  int64_t r = m->cmd_r, w = LOAD(m->cmd_w);
  const int commands = (int)(w - r);
  for (; r < w; r++) apply_command(m, &m->cmds[r & (DH_CMD_RING - 1)], t0);
  STORE(m->cmd_r, r);
  r = m->midi_r, w = LOAD(m->midi_w);
  for (; r < w; r++) apply_command(m, &m->midi_cmds[r & (DH_CMD_RING - 1)], t0);
  STORE(m->midi_r, r);

  /* time-scheduled voices not started yet: their frame, from this block's own stamp */
  for (int i = 0; i < DH_MAX_VOICES; i++) {
    voice_t *v = &m->voices[i];
    if (v->active && !v->started && v->start_ns > 0.0) {
      int64_t f = t0 + (int64_t)llround((v->start_ns - (double)m->block_ns) * m->sample_rate / 1e9);
      v->start_frame = f < t0 ? t0 : f;
    }
  }
  float *out = (float *)output;
  memset(out, 0, sizeof(float) * (size_t)m->out_ch * n);
  int active = 0, player = 0;
  int32_t playing[DH_MAX_SLOTS] = {0};
  for (int i = 0; i < DH_MAX_VOICES; i++) {
    voice_t *v = &m->voices[i];
    if (!v->active) continue;
    mix_voice(m, v, out, t0, n, ti);
    if (!v->active) continue;
    active++;
    if (v->slot < 0) {
      player = 1;
      STORE(m->player_pos, v->pos);
    } else if (v->release_frame == DH_NEVER) {
      playing[v->slot] = 1;
    }
  }
  for (int s = 0; s < m->num_slots; s++) {
    int32_t st = m->slots[s].clip < 0 ? 0 : (playing[s] ? 2 : 1);
    STORE(m->slot_state[s], st);
    if (st != m->last_state[s]) {
      m->last_state[s] = st;
      int64_t ew = m->ev_w;
      if (ew - LOAD(m->ev_r) < DH_EVENT_RING) { /* a reader that fell behind loses events, never blocks us */
        dh_slot_event *e = &m->events[ew & (DH_EVENT_RING - 1)];
        e->slot = s;
        e->state = st;
        e->frame = t0;
        STORE(m->ev_w, ew + 1);
      }
    }
  }
  if (!player) STORE(m->player_pos, 0);
  STORE(m->player_active, player);
  STORE(m->voices_active, active);
  DSTORE(m->last_time, ti->currentTime);
  DSTORE(m->last_dac, ti->outputBufferDacTime);
  STORE(m->frames, t0 + (int64_t)n);
  STORE(m->block, (int64_t)n);
  STORE(m->callbacks, m->callbacks + 1);
  account_time(m, t0, n, profile ? thread_cpu_ns() - cpu0 : -1, active, commands);
  return 0; /* paContinue */
}


/* ---- JACK MIDI reader: a JACK process callback in C, so a note never waits for Python's GIL ----
 *
 * Python (the `jack` client package) makes the client and its port; this function becomes the
 * client's process callback. libjack's functions arrive as pointers (no JACK headers needed). Each
 * cycle it reads the port's events: a mapped note-on becomes a trigger timestamped to its frame
 * (pushed on the mixer's MIDI ring), a note-off a release; every message is also copied, with its
 * frame, to a ring the Python MIDI thread reads (CCs, program changes, clock, learn, statistics).
 */
#define DH_MIDI_RING 4096 /* power of two */

typedef struct {
  uint32_t time;
  size_t size;
  unsigned char *buffer;
} dh_jack_midi_event;

typedef void *(*dh_get_buffer_fn)(void *port, uint32_t nframes);
typedef uint32_t (*dh_event_count_fn)(void *buf);
typedef int (*dh_event_get_fn)(dh_jack_midi_event *ev, void *buf, uint32_t index);

struct dh_midi_in {
  dh_mixer *volatile mixer; /* swapped by Python when the audio device is reopened; may be NULL */
  void *port;
  dh_get_buffer_fn get_buffer;
  dh_event_count_fn event_count;
  dh_event_get_fn event_get;
  volatile int32_t note_slot[128]; /* note -> slot index, -1 = none */
  volatile int32_t channel;        /* -1 = every channel, else 0..15 */
  volatile int32_t learning;       /* 1: notes only go to Python (MIDI learn) */
  volatile int64_t seq;            /* MIDI triggers so far; their tags are -(seq) */
  dh_midi_msg msgs[DH_MIDI_RING];
  volatile int64_t msg_w, msg_r;
  volatile int64_t dropped;
};

dh_midi_in *dh_midi_new(dh_mixer *m, void *port, void *get_buffer, void *event_count, void *event_get) {
  dh_midi_in *mi = calloc(1, sizeof(dh_midi_in));
  if (!mi) return NULL;
  prefault(mi, sizeof(dh_midi_in));
  mi->mixer = m;
  mi->port = port;
  mi->get_buffer = (dh_get_buffer_fn)get_buffer;
  mi->event_count = (dh_event_count_fn)event_count;
  mi->event_get = (dh_event_get_fn)event_get;
  mi->channel = -1;
  for (int i = 0; i < 128; i++) mi->note_slot[i] = -1;
  return mi;
}

void dh_midi_free(dh_midi_in *mi) {
  if (!mi) return;
  dh_unlock_pages(mi, sizeof(dh_midi_in));
  free(mi);
}

void dh_midi_set_mixer(dh_midi_in *mi, dh_mixer *m) { __atomic_store_n(&mi->mixer, m, __ATOMIC_RELEASE); }
void dh_midi_set_note(dh_midi_in *mi, int note, int slot) { if (note >= 0 && note < 128) mi->note_slot[note] = slot; }
void dh_midi_set_channel(dh_midi_in *mi, int channel) { mi->channel = channel; }
void dh_midi_set_learning(dh_midi_in *mi, int on) { STORE(mi->learning, on); }
int64_t dh_midi_dropped(dh_midi_in *mi) { return LOAD(mi->dropped); }

int dh_midi_pop(dh_midi_in *mi, dh_midi_msg *out) {
  int64_t r = mi->msg_r;
  if (r >= LOAD(mi->msg_w)) return 0;
  *out = mi->msgs[r & (DH_MIDI_RING - 1)];
  STORE(mi->msg_r, r + 1);
  return 1;
}

static int midi_push_cmd(dh_mixer *m, const dh_command *c) {
  int64_t w = m->midi_w, r = LOAD(m->midi_r);
  if (w - r >= DH_CMD_RING) return 0;
  m->midi_cmds[w & (DH_CMD_RING - 1)] = *c;
  STORE(m->midi_w, w + 1);
  return 1;
}

int dh_midi_process(uint32_t nframes, void *arg) {
  dh_midi_in *mi = (dh_midi_in *)arg;
  dh_mixer *m = __atomic_load_n(&mi->mixer, __ATOMIC_ACQUIRE);
  /* After diffhost's audio client ran this cycle (the reader is ordered after it), the mixer's
   * frame counter is the first frame of the next block: an event at offset k plays at that + k. */
  const int64_t base = m ? LOAD(m->frames) : 0;
  void *buf = mi->get_buffer(mi->port, nframes);
  if (!buf) return 0;
  uint32_t n = mi->event_count(buf);
  for (uint32_t i = 0; i < n; i++) {
    dh_jack_midi_event ev;
    if (mi->event_get(&ev, buf, i) != 0 || ev.size == 0 || ev.size > 3) continue; /* sysex: ignored */
    const unsigned char st = ev.buffer[0];
    int64_t frame = base + (int64_t)ev.time;
    if (st == 0xF8 || st == 0xFA || st == 0xFB) frame -= (int64_t)nframes; /* a tick marks where a beat is */
    dh_midi_msg msg = {frame, (int32_t)ev.size, 0, 0, {0, 0, 0, 0}};
    for (size_t b = 0; b < ev.size; b++) msg.data[b] = ev.buffer[b];
    const int kind = st & 0xF0, ch = st & 0x0F;
    if (m && ev.size == 3 && (kind == 0x90 || kind == 0x80) && (mi->channel < 0 || mi->channel == ch) &&
        !LOAD(mi->learning)) {
      const int note = ev.buffer[1] & 0x7F, vel = ev.buffer[2] & 0x7F;
      const int slot = mi->note_slot[note];
      if (slot >= 0) {
        dh_command c;
        memset(&c, 0, sizeof(c));
        c.slot = slot;
        if (kind == 0x90 && vel > 0) {
          const double g = (double)vel / 127.0;
          c.type = CMD_TRIGGER;
          c.value = g * g; /* the documented velocity curve: (v / 127)^2 */
          c.frames = frame;
          c.tag = -(int64_t)(mi->seq + 1);
        } else {
          c.type = CMD_RELEASE;
        }
        if (midi_push_cmd(m, &c)) {
          if (c.type == CMD_TRIGGER) STORE(mi->seq, mi->seq + 1);
          msg.handled = 1;
          msg.slot = slot + 1;
        }
      }
    }
    int64_t w = mi->msg_w;
    if (w - LOAD(mi->msg_r) >= DH_MIDI_RING) { STORE(mi->dropped, mi->dropped + 1); continue; }
    mi->msgs[w & (DH_MIDI_RING - 1)] = msg;
    STORE(mi->msg_w, w + 1);
  }
  return 0;
}
