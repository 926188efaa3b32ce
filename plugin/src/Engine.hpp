// The audio-thread half of the plugin: 16 pads, their voices and the musical clock.
//
// Engine::process() is what DPF's run() calls. It never allocates, locks, logs or does I/O: clips
// arrive through one atomic pointer per pad (PadShared::incoming) and leave through another
// (PadShared::retired) for the worker thread to free; pad options are plain atomics.
// tests/plugin/test_realtime_rule.py checks the compiled call graph of run() for this.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "Clip.hpp"

namespace bridge {

constexpr int kPads = 16;
constexpr int kFirstNote = 36;  // MIDI notes 36..51 are pads 1..16, as in diffhost
enum Mode { kOneShot = 0, kLoop = 1, kGate = 2 };
enum Quantize { kNone = 0, kBeat = 1, kBar = 2 };

// What other threads change about a pad; the audio thread only reads these (and takes/leaves clips).
struct PadShared {
    std::atomic<int> mode{kOneShot}, choke{0}, quantize{kNone};
    std::atomic<float> gainL{1.0f}, gainR{1.0f};
    std::atomic<Clip*> incoming{nullptr};  // the next clip, taken by the audio thread with one exchange
    std::atomic<int> incomingAtBar{0};     // 1: swap it at the next bar line, 0: at once
    std::atomic<Clip*> retired{nullptr};   // the clip it replaced, for the worker to free
};

// N bars of the plugin's input, recorded from the next bar line (buffer sized by the worker).
struct Capture {
    int pad = 1, bars = 1;
    std::vector<float> samples;  // interleaved stereo, `capacity` frames
    uint32_t capacity = 0, target = 0, frames = 0;
    bool recording = false;
};

// The host's musical position at the start of a block, as run() reads it from DPF.
struct HostTime {
    bool valid = false;    // the host gave bar/beat/tick
    bool playing = false;
    double bpm = 120.0;
    double beatsPerBar = 4.0;
    double beatType = 4.0;
    double beats = 0.0;    // beats since the start of bar 1 (valid only)
};

// The latest transport, for the worker to send to diffhost. A sequence counter (odd while the
// audio thread writes) lets the reader retry instead of locking.
struct TransportSnapshot {
    std::atomic<uint32_t> seq{0};
    std::atomic<double> bpm{120.0}, bar{1.0}, beatInBar{0.0};
    std::atomic<int> num{4}, den{4}, playing{0}, valid{0};
};

class Engine {
public:
    void setSampleRate(double rate);
    // Frees every clip the audio thread holds; only when run() can no longer be called.
    void releaseClips();
    ~Engine() { releaseClips(); }

    void process(const float* const* inputs, float** outputs, uint32_t frames, const uint8_t (*midi)[4],
                 const uint32_t* midiFrames, uint32_t midiCount, const HostTime& host);

    PadShared shared[kPads];
    std::atomic<Capture*> captureRequest{nullptr};
    std::atomic<Capture*> captureDone{nullptr};
    TransportSnapshot transport;
    // run()'s own wall time (steady clock, no system call), for /diffhost/plugin/stats: the worker
    // reads and resets these once a second
    std::atomic<int64_t> runMaxNs{0}, runSumNs{0}, runCount{0};

    // Worker-side helper: reads a consistent transport snapshot.
    void readTransport(double& bpm, int& num, int& den, int& playing, int& valid, double& bar, double& beatInBar) const;

private:
    struct Voice {
        bool active = false, releasing = false;
        uint32_t pos = 0;  // one-shot and gate: the next frame of the clip
        float velocity = 1.0f, env = 1.0f;
    };
    struct Pad {
        Clip* clip = nullptr;
        Voice main, tail;  // a retriggered voice fades out as the tail while the new one starts
        bool pending = false;
        double pendingBeat = 0.0;
        float pendingVelocity = 0.0f;
        int mode = kOneShot, choke = 0, quantize = kNone;
        float gainL = 1.0f, gainR = 1.0f;
    };
    enum EventType { kNoteOn, kNoteOff, kStart, kSwap, kAllOff };
    struct Event {
        uint32_t frame;
        uint8_t type, pad;
        float velocity;
    };
    static constexpr uint32_t kMaxEvents = 1024;

    void addEvent(uint32_t frame, uint8_t type, uint8_t pad, float velocity, uint32_t from);
    void render(float** outputs, uint32_t a, uint32_t b);
    void renderVoice(Pad& pad, Voice& v, float* outL, float* outR, float* mainL, float* mainR, uint32_t a, uint32_t b);
    void start(int p, float velocity);
    void release(int p);
    int64_t frameOfBeat(double beat) const;  // in this block, rounded up; may be <0 or >=frames
    int64_t nextBarFrame() const;
    void captureBlock(const float* const* inputs, uint32_t frames);
    void publish(const HostTime& host);

    Pad fPads[kPads];
    Event fEvents[kMaxEvents];
    uint32_t fEventCount = 0;
    double fRate = 48000.0, fFadeStep = 1.0f / 240.0f;
    // The block's musical clock: beat position at frame 0 and beats per frame. It follows the host's
    // position while the host plays with a valid position, and runs free at the host's tempo otherwise.
    double fBeat0 = 0.0, fBeatsPerFrame = 0.0, fBeatsPerBar = 4.0, fFreeBeats = 0.0;
    uint32_t fFrames = 0;
    bool fWasPlaying = false;
    double fStoppedFrames = 0.0;  // frames since the host stopped playing
    Capture* fCapture = nullptr;
};

}  // namespace bridge
