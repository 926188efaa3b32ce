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
#define _DEFAULT_SOURCE /* mlock, clock_gettime's CLOCK_MONOTONIC_RAW */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_mixer.h"

/* ---- what differs between platforms: page locking, atomics, clocks ----
 *
 * The Windows branch is written for MSVC, clang-cl and MinGW but has never been built or run on
 * Windows (MinGW-w64 checks that it compiles); Linux (GCC) is the platform diffhost is tested on. */
#if defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

/* Locking pages keeps them resident; best effort everywhere. */
#define dh_lock_pages(p, n) ((void)VirtualLock((p), (n)))
#define dh_unlock_pages(p, n) ((void)VirtualUnlock((p), (n)))

/* One thread publishes a field, another reads it: LOAD is an acquire read, STORE a release write.
 * Windows compilers have no __atomic builtins; the Interlocked functions are full barriers, more
 * than acquire/release needs, and cost a few cycles, a handful of times per block. The size picks
 * the 32- or 64-bit function (the other branch is compiled but never taken). */
#define LOAD(x)                                                          \
  (sizeof(x) == 8 ? (int64_t)InterlockedOr64((LONG64 volatile *)&(x), 0) \
                  : (int64_t)InterlockedOr((LONG volatile *)&(x), 0))
#define STORE(x, v)                                                             \
  (sizeof(x) == 8 ? (void)InterlockedExchange64((LONG64 volatile *)&(x), (LONG64)(v)) \
                  : (void)InterlockedExchange((LONG volatile *)&(x), (LONG)(v)))
#define LOAD_PTR(x) InterlockedCompareExchangePointer((PVOID volatile *)&(x), NULL, NULL)
#define STORE_PTR(x, v) ((void)InterlockedExchangePointer((PVOID volatile *)&(x), (PVOID)(v)))

/* The block clock: QueryPerformanceCounter, Windows' monotonic clock (Ableton Link's clock there
 * too). Reading it never blocks. */
static int64_t monotonic_ns(void) {
  LARGE_INTEGER count, hz;
  QueryPerformanceCounter(&count);
  QueryPerformanceFrequency(&hz); /* fixed at boot; reading it is as cheap as the counter */
  const int64_t c = count.QuadPart, f = hz.QuadPart;
  return (c / f) * 1000000000LL + (c % f) * 1000000000LL / f; /* split: c * 1e9 would overflow */
}

/* This thread's CPU time (kernel + user). GetThreadTimes counts in scheduler ticks (about
 * 15.6 ms), so per-callback CPU times on Windows are mostly 0 or one tick: coarse, not wrong. */
static int64_t thread_cpu_ns(void) {
  FILETIME created, exited, kernel, user;
  if (!GetThreadTimes(GetCurrentThread(), &created, &exited, &kernel, &user)) return 0;
  const uint64_t k = ((uint64_t)kernel.dwHighDateTime << 32) | kernel.dwLowDateTime;
  const uint64_t u = ((uint64_t)user.dwHighDateTime << 32) | user.dwLowDateTime;
  return (int64_t)(k + u) * 100; /* FILETIME counts 100 ns units */
}

#else /* Linux, and other POSIX systems (macOS untried) */
#include <sys/mman.h>
#include <time.h>

#define dh_lock_pages(p, n) ((void)mlock((p), (n)))
#define dh_unlock_pages(p, n) ((void)munlock((p), (n)))

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
#define LOAD_PTR(x) LOAD(x)
#define STORE_PTR(x, v) STORE(x, v)

/* The block clock: CLOCK_MONOTONIC_RAW, Ableton Link's clock on Linux. Answered by the vDSO: no
 * system call, no lock. */
static int64_t monotonic_ns(void) {
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
#endif

/* doubles: aligned 8-byte volatile stores, single-copy atomic on x86-64 and arm64; each is
 * written before the integer it belongs to is published with STORE */
#define DSTORE(x, v) ((x) = (v))

/* ---- rings: every queue between two threads ----
 *
 * Each has exactly one producer thread and one consumer thread. The producer fills the cell at
 * index w, then publishes it by advancing w; the consumer reads the cell at index r, then hands it
 * back by advancing r. Each index only grows and only one thread stores it, so neither side ever
 * waits for the other or takes a lock, and a full ring is the producer's to handle (the audio
 * thread drops what does not fit, never waits). A cell is index & mask: capacities are powers of
 * two. An overwriting ring (the input capture, the meter) has no consumer index: its readers
 * check against w whether what they want is still there. */
typedef struct {
  int64_t mask;       /* capacity - 1 */
  volatile int64_t w; /* items published; stored only by the producer */
  volatile int64_t r; /* items consumed; stored only by the consumer */
} dh_ring;

/* A ring and its cells, which live beside the indices: DH_RING(dh_command, 1024) */
#define DH_RING(type, capacity) \
  struct {                      \
    dh_ring at;                 \
    type cell[capacity];        \
  }
#define RING_INIT(q) ring_init(&(q).at, (int64_t)(sizeof((q).cell) / sizeof((q).cell[0])))

static inline void ring_init(dh_ring *q, int64_t capacity) { q->mask = capacity - 1; }
static inline int64_t ring_cell(const dh_ring *q, int64_t index) { return index & q->mask; }

/* producer: the cell for the next item, or -1 while the ring is full */
static inline int64_t ring_write_cell(const dh_ring *q) {
  return q->w - LOAD(q->r) > q->mask ? -1 : ring_cell(q, q->w);
}
/* producer: make the next n filled cells visible to the consumer */
static inline void ring_publish(dh_ring *q, int64_t n) { STORE(q->w, q->w + n); }

/* consumer: how many items wait, oldest first from cell ring_cell(q, q->r) */
static inline int64_t ring_pending(const dh_ring *q) { return LOAD(q->w) - q->r; }
/* consumer: the oldest item's cell, or -1 while the ring is empty */
static inline int64_t ring_read_cell(const dh_ring *q) { return ring_pending(q) > 0 ? ring_cell(q, q->r) : -1; }
/* consumer: give the n oldest cells back to the producer */
static inline void ring_consume(dh_ring *q, int64_t n) { STORE(q->r, q->r + n); }

#define DH_CMD_RING 1024   /* power of two */
#define DH_METER_RING 4096 /* power of two, blocks */
#define DH_EVENT_RING 1024 /* power of two: slot state changes */
#define DH_NEVER INT64_MAX
#define DH_SLOW_RING 1024 /* power of two: slow callbacks kept for Python */
#define DH_MIDI_RING 4096 /* power of two: MIDI messages for the Python MIDI thread */

#define DH_POWER_OF_TWO(n) ((n) > 0 && ((n) & ((n) - 1)) == 0)
_Static_assert(DH_POWER_OF_TWO(DH_CMD_RING) && DH_POWER_OF_TWO(DH_METER_RING) && DH_POWER_OF_TWO(DH_EVENT_RING) &&
                   DH_POWER_OF_TWO(DH_SLOW_RING) && DH_POWER_OF_TWO(DH_MIDI_RING) && DH_POWER_OF_TWO(DH_MAX_CLIPS * 2),
               "a ring's cell is its index & (capacity - 1): every capacity must be a power of two");

/* PortAudio's status flags, declared here so no PortAudio headers are needed. */
#define PA_INPUT_UNDERFLOW 1UL
#define PA_INPUT_OVERFLOW 2UL
#define PA_OUTPUT_UNDERFLOW 4UL
#define PA_OUTPUT_OVERFLOW 8UL

typedef DH_RING(dh_command, DH_CMD_RING) command_ring;

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
  double start_ns; /* time-mode grid: monotonic clock ns to render the first sample at; 0 = by frame */
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
  dh_ring in;     /* input capture, overwriting: frames written (w), capacity a power of two */
  float *in_ring; /* its cells: in_ch floats per frame */

  /* commands from Python (one writer at a time: the Python wrapper holds a lock) */
  command_ring cmds;
  /* a second command ring with its own single producer: the JACK MIDI reader (dh_midi_process) */
  command_ring midi_cmds;
  /* retired clip ids, for Python to free; twice the clip count, so never full (each id is retired
   * once, then reused only after Python read it back) */
  DH_RING(int32_t, DH_MAX_CLIPS * 2) retired;

  clip_t clips[DH_MAX_CLIPS];
  slot_t slots[DH_MAX_SLOTS];
  voice_t voices[DH_MAX_VOICES];
  int32_t voice_limit;
  uint64_t order;
  double grid; /* quantize grid step, 0 = off: frames, or ns in time mode */
  double grid_origin; /* where a grid line falls: a frame, or ns in time mode */
  int32_t grid_time;  /* 1: the grid is in the monotonic clock's time (Ableton Link), not frames */
  double latency_ns;  /* time mode: from a block's callback to its sound (grid lines are as heard) */
  int64_t block_ns;   /* this block's clock stamp */
  int32_t last_state[DH_MAX_SLOTS];

  /* published state, read by Python */
  volatile int64_t frames;     /* frames processed: the first frame of the next block */
  volatile int64_t callbacks;
  volatile int64_t block; /* frames in the latest callback */
  volatile int64_t underflows, overflows;
  DH_RING(meter_entry, DH_METER_RING) meter; /* one entry per block with input, overwriting */
  volatile int32_t slot_state[DH_MAX_SLOTS]; /* dh_slot_state_value */
  volatile int64_t slot_start_frame[DH_MAX_SLOTS];
  volatile int64_t slot_start_tag[DH_MAX_SLOTS];
  volatile double slot_start_time[DH_MAX_SLOTS]; /* stream time the block holding it was computed */
  volatile double slot_start_dac[DH_MAX_SLOTS];  /* stream time its first sample reaches the DAC */
  volatile int64_t slot_start_ns[DH_MAX_SLOTS];  /* the monotonic clock when its first sample was rendered */
  volatile int64_t player_pos;
  volatile int32_t player_active;
  volatile int32_t voices_active;
  volatile double last_time, last_dac;
  /* slot state changes, pushed by the callback for the Python event thread */
  DH_RING(dh_slot_event, DH_EVENT_RING) events;
  /* the monotonic clock (ns) when the latest block started, and that block's first frame; a
   * sequence count around the pair lets a reader see both from the same block */
  volatile int64_t clock_seq, clock_ns, clock_frame;

  /* How long each callback took, for telling diffhost's own overruns from a stalled machine when
   * jackd reports a client "not finished": wall time from entry to return (the monotonic clock)
   * and, while profiling is on, this thread's CPU time over the same span. A callback that used
   * little CPU but a long wall time was off the CPU (preempted, or the VM's vCPU was descheduled);
   * one whose CPU time alone passed the period overran by its own work. */
  volatile int32_t profile;       /* 1: also read the thread's CPU clock (a syscall each way) */
  volatile int64_t cb_max_wall_ns, cb_max_cpu_ns, cb_max_gap_ns;
  volatile int64_t cb_over_wall;  /* callbacks whose wall time passed the block's period */
  volatile int64_t cb_over_cpu;   /* ... whose own CPU time passed it (profiling on) */
  int64_t cb_prev_start_ns;
  DH_RING(dh_slow_block, DH_SLOW_RING) slow; /* callbacks slower than slow_ns, for Python to read */
  volatile int64_t slow_ns;
};

static void prefault(void *p, size_t n) {
  volatile char *c = (volatile char *)p;
  for (size_t i = 0; i < n; i += 4096) c[i] = 0;
  if (n) c[n - 1] = 0;
  dh_lock_pages(p, n); /* best effort: RLIMIT_MEMLOCK may refuse; the pages are resident anyway */
}

dh_mixer *dh_mixer_new(int out_ch, int in_ch, double sample_rate, int num_slots, int voice_limit,
                       int64_t in_cap, int fade_frames) {
  if (out_ch < 1 || out_ch > 2 || in_ch < 0 || in_ch > 2 || num_slots < 1 || num_slots > DH_MAX_SLOTS ||
      !DH_POWER_OF_TWO(in_cap))
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
  ring_init(&m->in, in_cap);
  if (in_ch > 0) {
    m->in_ring = calloc((size_t)(in_cap * in_ch), sizeof(float));
    if (!m->in_ring) { free(m); return NULL; }
  }
  if (m->in_ring) prefault(m->in_ring, sizeof(float) * (size_t)(in_cap * in_ch));
  RING_INIT(m->cmds);
  RING_INIT(m->midi_cmds);
  RING_INIT(m->retired);
  RING_INIT(m->meter);
  RING_INIT(m->events);
  RING_INIT(m->slow);
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
    dh_unlock_pages(m->in_ring, sizeof(float) * (size_t)((m->in.mask + 1) * m->in_ch));
    free(m->in_ring);
  }
  dh_unlock_pages(m, sizeof(dh_mixer));
  free(m);
}

/* ---- Python side ---- */

/* one producer per ring: Python's wrapper holds a lock; the MIDI reader is one JACK thread */
static int command_push(command_ring *q, const dh_command *c) {
  const int64_t i = ring_write_cell(&q->at);
  if (i < 0) return 0;
  q->cell[i] = *c;
  ring_publish(&q->at, 1);
  return 1;
}

int dh_push(dh_mixer *m, const dh_command *c) { return command_push(&m->cmds, c); }

int dh_pop_retired(dh_mixer *m) {
  const int64_t i = ring_read_cell(&m->retired.at);
  if (i < 0) return -1;
  const int id = m->retired.cell[i];
  ring_consume(&m->retired.at, 1);
  return id;
}

int dh_pop_slot_event(dh_mixer *m, dh_slot_event *out) {
  const int64_t i = ring_read_cell(&m->events.at);
  if (i < 0) return 0;
  *out = m->events.cell[i];
  ring_consume(&m->events.at, 1);
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

int64_t dh_commands_done(dh_mixer *m) { return LOAD(m->cmds.at.r); }

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
  const int64_t i = ring_read_cell(&m->slow.at);
  if (i < 0) return 0;
  *out = m->slow.cell[i];
  ring_consume(&m->slow.at, 1);
  return 1;
}
int64_t dh_frames(dh_mixer *m) { return LOAD(m->frames); }
int64_t dh_callbacks(dh_mixer *m) { return LOAD(m->callbacks); }
int64_t dh_block(dh_mixer *m) { return LOAD(m->block); }
int64_t dh_underflows(dh_mixer *m) { return LOAD(m->underflows); }
int64_t dh_overflows(dh_mixer *m) { return LOAD(m->overflows); }
int64_t dh_input_written(dh_mixer *m) { return LOAD(m->in.w); }
int dh_slot_state(dh_mixer *m, int s) { return (int)LOAD(m->slot_state[s]); }
int64_t dh_slot_start_frame(dh_mixer *m, int s) { return LOAD(m->slot_start_frame[s]); }
int64_t dh_slot_start_tag(dh_mixer *m, int s) { return LOAD(m->slot_start_tag[s]); }
double dh_slot_start_time(dh_mixer *m, int s) { return m->slot_start_time[s]; }
double dh_slot_start_dac(dh_mixer *m, int s) { return m->slot_start_dac[s]; }
int64_t dh_slot_start_ns(dh_mixer *m, int s) { return LOAD(m->slot_start_ns[s]); }
int64_t dh_player_pos(dh_mixer *m) { return LOAD(m->player_pos); }
int dh_player_active(dh_mixer *m) { return (int)LOAD(m->player_active); }
int dh_voices_active(dh_mixer *m) { return (int)LOAD(m->voices_active); }
double dh_last_time(dh_mixer *m) { return m->last_time; }
double dh_last_dac(dh_mixer *m) { return m->last_dac; }

/* Copy input frames [start, start + n) (interleaved) into dest. Returns n, or -1 when the
 * ring has already overwritten part of them, or 0 when they are not all written yet. */
int64_t dh_input_read(dh_mixer *m, int64_t start, float *dest, int64_t n) {
  const int64_t cap = m->in.mask + 1;
  if (m->in_ch == 0 || n > cap) return -1;
  int64_t w = LOAD(m->in.w);
  if (start + n > w) return 0;
  if (start < w - cap) return -1;
  for (int64_t i = 0; i < n; i++) {
    int64_t k = ring_cell(&m->in, start + i);
    for (int c = 0; c < m->in_ch; c++) dest[i * m->in_ch + c] = m->in_ring[k * m->in_ch + c];
  }
  /* the writer may have lapped us while we copied */
  if (start < LOAD(m->in.w) - cap) return -1;
  return n;
}

/* Peak and mean square over the newest blocks covering at least `frames` input frames. */
int dh_meter(dh_mixer *m, int64_t frames, float *peak, float *meansq) {
  int64_t w = LOAD(m->meter.at.w);
  float pk = 0.0f;
  double sq = 0.0;
  int64_t got = 0;
  /* at most half the ring back: further back, the callback may be overwriting cells as they are read */
  for (int64_t i = w - 1; i >= 0 && i > w - DH_METER_RING / 2 && got < frames; i--) {
    meter_entry *e = &m->meter.cell[ring_cell(&m->meter.at, i)];
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
    const int64_t i = ring_write_cell(&m->retired.at);
    if (i < 0) return; /* cannot happen: the ring holds every clip id twice over */
    m->retired.cell[i] = clip;
    ring_publish(&m->retired.at, 1);
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

/* A fresh voice in v, playing clip from frame `start` at full gain; the caller sets the rest. */
static void voice_start(dh_mixer *m, voice_t *v, int slot, int clip, int64_t start) {
  memset(v, 0, sizeof(*v));
  v->active = 1;
  v->slot = slot;
  v->clip = clip;
  v->start_frame = start;
  v->release_frame = DH_NEVER;
  v->order = ++m->order;
  v->env = 1.0f;
  v->gain_l = v->gain_r = 1.0f;
}

/* A buffer Python handed over; its one reference is the slot or player voice that takes it. */
static void clip_take(dh_mixer *m, int clip, const float *data, int64_t frames) {
  m->clips[clip].data = data;
  m->clips[clip].frames = frames;
  m->clips[clip].refs = 1;
}

static void release_slot_voices(dh_mixer *m, int slot, int64_t at) {
  for (int i = 0; i < DH_MAX_VOICES; i++) {
    voice_t *v = &m->voices[i];
    if (v->active && v->slot == slot) voice_release(m, v, at);
  }
}

static void release_player(dh_mixer *m, int64_t at) {
  for (int i = 0; i < DH_MAX_VOICES; i++)
    if (m->voices[i].active && m->voices[i].slot < 0) voice_release(m, &m->voices[i], at);
}

/* The slot now holds clip (-1: none); voices still playing the old clip keep reading its buffer
 * until they end, so it is retired only when the last of them lets go. */
static void slot_put_clip(dh_mixer *m, int slot, int clip) {
  const int old = m->slots[slot].clip;
  m->slots[slot].clip = clip;
  retire_ref(m, old);
}

/* The frame a trigger starts on: the earliest it may (`earliest`, or this block), moved to the next
 * grid line when the slot is quantized. In time mode it also sets *start_ns, the clock time the
 * start is heard at, from which each later block re-places it on a frame. */
static int64_t quantized_start(const dh_mixer *m, const slot_t *s, int64_t earliest, int64_t t0,
                               double *start_ns) {
  int64_t start = earliest > t0 ? earliest : t0;
  const double grid = s->grid >= 0.0 ? s->grid : m->grid;
  *start_ns = 0.0;
  if (grid > 0.0 && m->grid_time) {
    /* the next grid line, as heard, at or after the earliest frame; its frame is re-estimated
     * from each block's own clock stamp until it starts (the device's clock may drift) */
    const double ns_per_frame = 1e9 / m->sample_rate;
    const double heard = (double)m->block_ns + (double)(start - t0) * ns_per_frame + m->latency_ns;
    double k = ceil((heard - m->grid_origin) / grid - 1e-9);
    *start_ns = m->grid_origin + k * grid - m->latency_ns;
    int64_t f = t0 + (int64_t)llround((*start_ns - (double)m->block_ns) / ns_per_frame);
    start = f < t0 ? t0 : f;
  } else if (grid > 0.0) {
    /* the next grid line at or after that frame, rounded to the sample */
    const double o = m->grid_origin;
    double k = ceil(((double)start - o) / grid - 1e-9);
    int64_t line = (int64_t)llround(o + k * grid);
    start = line < t0 ? t0 : line;
  }
  return start;
}

/* ---- one function per command (dh_command_type in _mixer.h), applied at block start t0 ---- */

static void cmd_assign(dh_mixer *m, int slot, const dh_cmd_assign *a, int64_t t0) {
  /* voices still playing the old clip fade out, reading the old buffer until done; a fresh pad's
   * next variation (keep_voices) lets the hit that is sounding ring out instead */
  if (!a->keep_voices) release_slot_voices(m, slot, t0);
  clip_take(m, a->clip, a->data, a->frames);
  slot_put_clip(m, slot, a->clip);
}

static void cmd_clear(dh_mixer *m, int slot, int64_t t0) {
  release_slot_voices(m, slot, t0);
  slot_put_clip(m, slot, -1);
}

static void cmd_slot_options(dh_mixer *m, int slot, const dh_cmd_slot_options *o) {
  slot_t *s = &m->slots[slot];
  s->gain_l = o->gain_l;
  s->gain_r = o->gain_r;
  s->mode = o->mode;
  s->choke = o->choke;
  s->grid = o->grid;
}

static void cmd_trigger(dh_mixer *m, int slot, const dh_cmd_trigger *tr, int64_t t0) {
  slot_t *s = &m->slots[slot];
  if (s->clip < 0 || m->clips[s->clip].frames <= 0) return;
  /* a timestamped trigger (MIDI) keeps its place in time, as long as it is not already past */
  double start_ns;
  const int64_t start = quantized_start(m, s, tr->at, t0, &start_ns);
  for (int i = 0; i < DH_MAX_VOICES; i++) {
    voice_t *v = &m->voices[i];
    if (!v->active || v->slot < 0) continue;
    int same_slot = v->slot == slot && s->mode != DH_MODE_ONESHOT; /* loop/gate: one voice per slot */
    int choked = s->choke > 0 && v->choke == s->choke && v->slot != slot;
    if (same_slot || choked) voice_release(m, v, start);
  }
  voice_t *v = voice_alloc(m, start);
  voice_start(m, v, slot, s->clip, start);
  m->clips[s->clip].refs++;
  v->loop = s->mode == DH_MODE_LOOP;
  v->choke = s->choke;
  v->velocity = (float)tr->gain;
  v->gain_l = s->gain_l * v->velocity;
  v->gain_r = s->gain_r * v->velocity;
  v->tag = tr->tag;
  v->start_ns = start_ns;
}

static void cmd_stop_slot(dh_mixer *m, int slot, int64_t t0) { release_slot_voices(m, slot, t0); }

/* note off: only a gate pad plays while held */
static void cmd_release(dh_mixer *m, int slot, int64_t t0) {
  if (m->slots[slot].mode == DH_MODE_GATE) release_slot_voices(m, slot, t0);
}

static void cmd_stop_all(dh_mixer *m, int64_t t0) {
  for (int i = 0; i < DH_MAX_VOICES; i++)
    if (m->voices[i].active && m->voices[i].slot >= 0) voice_release(m, &m->voices[i], t0);
}

static void cmd_grid(dh_mixer *m, const dh_cmd_grid *g) {
  m->grid = g->step;
  m->grid_origin = g->origin;
  m->grid_time = g->time_mode == 1;
  m->latency_ns = (double)g->latency_ns;
}

static void cmd_voice_limit(dh_mixer *m, const dh_cmd_voice_limit *l) { m->voice_limit = l->voices; }

static void cmd_play(dh_mixer *m, const dh_cmd_play *p, int64_t t0) {
  release_player(m, t0);
  clip_take(m, p->clip, p->data, p->frames); /* held by the player voice */
  voice_t *v = NULL;
  for (int i = 0; i < DH_MAX_VOICES && !v; i++)
    if (!m->voices[i].active) v = &m->voices[i];
  if (!v) v = voice_alloc(m, t0);
  voice_start(m, v, -1, p->clip, t0);
  STORE(m->player_pos, 0);
  STORE(m->player_active, 1);
}

static void cmd_stop_player(dh_mixer *m, int64_t t0) { release_player(m, t0); }

static void apply_command(dh_mixer *m, const dh_command *c, int64_t t0) {
  switch (c->type) {
  case DH_CMD_ASSIGN: cmd_assign(m, c->slot, &c->assign, t0); break;
  case DH_CMD_CLEAR: cmd_clear(m, c->slot, t0); break;
  case DH_CMD_TRIGGER: cmd_trigger(m, c->slot, &c->trigger, t0); break;
  case DH_CMD_STOP_SLOT: cmd_stop_slot(m, c->slot, t0); break;
  case DH_CMD_RELEASE: cmd_release(m, c->slot, t0); break;
  case DH_CMD_STOP_ALL: cmd_stop_all(m, t0); break;
  case DH_CMD_SLOT_OPTIONS: cmd_slot_options(m, c->slot, &c->slot_options); break;
  case DH_CMD_GRID: cmd_grid(m, &c->grid); break;
  case DH_CMD_VOICE_LIMIT: cmd_voice_limit(m, &c->voice_limit); break;
  case DH_CMD_PLAY: cmd_play(m, &c->play, t0); break;
  case DH_CMD_STOP_PLAYER: cmd_stop_player(m, t0); break;
  default: break; /* 0 or unknown: nothing */
  }
}

/* Apply every command waiting on q; returns how many. */
static int apply_commands(dh_mixer *m, command_ring *q, int64_t t0) {
  const int64_t n = ring_pending(&q->at);
  for (int64_t i = 0; i < n; i++) apply_command(m, &q->cell[ring_cell(&q->at, q->at.r + i)], t0);
  ring_consume(&q->at, n);
  return (int)n;
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
  /* The frames in runs with no decision inside: each ends at the block's end, the clip's end (to
   * loop or stop) or the release frame, so the loop that copies samples only multiplies and adds. */
  const float *const data = cl->data;
  const int64_t frames = cl->frames;
  int64_t pos = v->pos;
  while (f < (int64_t)n) {
    if (pos >= frames) {
      if (v->loop && frames > 0) pos = 0;
      else { voice_end(m, v); return; }
    }
    int64_t run = (int64_t)n - f;
    if (frames - pos < run) run = frames - pos;
    const int64_t sustain = v->release_frame - (t0 + f); /* frames before the fade starts */
    const float *src = data + pos * ch;
    if (sustain > 0) {
      if (sustain < run) run = sustain;
      if (ch == 2) {
        float *o = out + f * 2;
        for (int64_t i = 0; i < run; i++, gl += dl, gr += dr) {
          o[i * 2] += src[i * 2] * gl;
          o[i * 2 + 1] += src[i * 2 + 1] * gr;
        }
      } else {
        for (int64_t i = 0; i < run; i++, gl += dl, gr += dr) out[f + i] += src[i] * 0.5f * (gl + gr);
      }
    } else {
      /* fading out: one step down per frame; the voice ends when it reaches silence */
      for (int64_t i = 0; i < run; i++, gl += dl, gr += dr) {
        v->env -= m->fade_step;
        if (v->env <= 0.0f) { voice_end(m, v); return; }
        const float env = v->env;
        if (ch == 2) {
          out[(f + i) * 2] += src[i * 2] * gl * env;
          out[(f + i) * 2 + 1] += src[i * 2 + 1] * gr * env;
        } else {
          out[f + i] += src[i] * 0.5f * (gl + gr) * env;
        }
      }
    }
    pos += run;
    f += run;
  }
  v->pos = pos;
}

/* The end of a callback: its wall (and CPU) time, the gap since the previous one started. */
static void account_time(dh_mixer *m, int64_t t0, unsigned long n, int64_t cpu, int voices, int commands) {
  const int64_t start = m->block_ns, wall = monotonic_ns() - start;
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
    const int64_t i = ring_write_cell(&m->slow.at);
    if (i >= 0) { /* a reader that fell behind loses entries, never blocks us */
      dh_slow_block *e = &m->slow.cell[i];
      e->frame = t0;
      e->start_ns = start;
      e->wall_ns = wall;
      e->cpu_ns = cpu;
      e->gap_ns = gap;
      e->voices = voices;
      e->commands = commands;
      ring_publish(&m->slow.at, 1);
    }
  }
}

/* The capture ring (for record()) and one meter entry for this block. */
static void capture_input(dh_mixer *m, const float *in, unsigned long n) {
  const int64_t w = m->in.w;
  float pk = 0.0f, sq = 0.0f;
  for (unsigned long i = 0; i < n; i++) {
    int64_t k = ring_cell(&m->in, w + (int64_t)i);
    for (int c = 0; c < m->in_ch; c++) {
      float x = in[i * m->in_ch + c];
      m->in_ring[k * m->in_ch + c] = x;
      float a = fabsf(x);
      if (a > pk) pk = a;
      sq += x * x;
    }
  }
  ring_publish(&m->in, (int64_t)n);
  meter_entry *e = &m->meter.cell[ring_cell(&m->meter.at, m->meter.at.w)]; /* overwriting */
  e->peak = pk;
  e->sumsq = sq / (float)m->in_ch;
  e->frames = (int32_t)n;
  ring_publish(&m->meter.at, 1);
}

/* Each slot's state after this block, and an event for Python when it changed. */
static void publish_slot_states(dh_mixer *m, const int32_t *playing, int64_t t0) {
  for (int s = 0; s < m->num_slots; s++) {
    int32_t st = m->slots[s].clip < 0 ? DH_SLOT_EMPTY : (playing[s] ? DH_SLOT_PLAYING : DH_SLOT_READY);
    STORE(m->slot_state[s], st);
    if (st != m->last_state[s]) {
      m->last_state[s] = st;
      const int64_t i = ring_write_cell(&m->events.at);
      if (i >= 0) { /* a reader that fell behind loses events, never blocks us */
        dh_slot_event *e = &m->events.cell[i];
        e->slot = s;
        e->state = st;
        e->frame = t0;
        ring_publish(&m->events.at, 1);
      }
    }
  }
}

int dh_callback(const void *input, void *output, unsigned long n, const dh_time_info *ti,
                unsigned long flags, void *user) {
  dh_mixer *m = (dh_mixer *)user;
  const int64_t t0 = m->frames;
  const int profile = (int)LOAD(m->profile);
  {
    int64_t seq = m->clock_seq;
    STORE(m->clock_seq, seq + 1);
    m->block_ns = monotonic_ns();
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

  if (m->in_ch > 0 && input) capture_input(m, (const float *)input, n);

  /* commands (Python's, then MIDI's), then voices */
  const int commands = apply_commands(m, &m->cmds, t0);
  apply_commands(m, &m->midi_cmds, t0);

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
  publish_slot_states(m, playing, t0);
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
  DH_RING(dh_midi_msg, DH_MIDI_RING) msgs; /* every message, for the Python MIDI thread */
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
  RING_INIT(mi->msgs);
  return mi;
}

void dh_midi_free(dh_midi_in *mi) {
  if (!mi) return;
  dh_unlock_pages(mi, sizeof(dh_midi_in));
  free(mi);
}

void dh_midi_set_mixer(dh_midi_in *mi, dh_mixer *m) { STORE_PTR(mi->mixer, m); }
void dh_midi_set_note(dh_midi_in *mi, int note, int slot) { if (note >= 0 && note < 128) mi->note_slot[note] = slot; }
void dh_midi_set_channel(dh_midi_in *mi, int channel) { mi->channel = channel; }
void dh_midi_set_learning(dh_midi_in *mi, int on) { STORE(mi->learning, on); }
int64_t dh_midi_dropped(dh_midi_in *mi) { return LOAD(mi->dropped); }

int dh_midi_pop(dh_midi_in *mi, dh_midi_msg *out) {
  const int64_t i = ring_read_cell(&mi->msgs.at);
  if (i < 0) return 0;
  *out = mi->msgs.cell[i];
  ring_consume(&mi->msgs.at, 1);
  return 1;
}

int dh_midi_process(uint32_t nframes, void *arg) {
  dh_midi_in *mi = (dh_midi_in *)arg;
  dh_mixer *m = (dh_mixer *)LOAD_PTR(mi->mixer);
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
          c.type = DH_CMD_TRIGGER;
          c.trigger.gain = g * g; /* the documented velocity curve: (v / 127)^2 */
          c.trigger.at = frame;
          c.trigger.tag = -(int64_t)(mi->seq + 1);
        } else {
          c.type = DH_CMD_RELEASE;
        }
        if (command_push(&m->midi_cmds, &c)) {
          if (c.type == DH_CMD_TRIGGER) STORE(mi->seq, mi->seq + 1);
          msg.handled = 1;
          msg.slot = slot + 1;
        }
      }
    }
    const int64_t w = ring_write_cell(&mi->msgs.at);
    if (w < 0) { STORE(mi->dropped, mi->dropped + 1); continue; }
    mi->msgs.cell[w] = msg;
    ring_publish(&mi->msgs.at, 1);
  }
  return 0;
}
