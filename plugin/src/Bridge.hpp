// What the plugin's threads share: the audio engine, the pads' saved settings and the clip cache.
// The audio thread touches only `engine`; everything else here is for setState/getState (the host's
// threads) and the worker, under `mutex`.
#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "Engine.hpp"

namespace bridge {

constexpr int kVersion = 1;  // the link protocol's version, sent in every hello

// A pad as the project saves it: no absolute paths, the clip named only by its content hash.
struct PadInfo {
    std::string hash, label, recipe;
    int mode = kOneShot, choke = 0, quantize = kNone;
    double gainDb = 0.0, pan = 0.0;
    // A prompt typed in the DAW (a host-writable state) and the last one diffhost accepted: a typed
    // prompt that differs from the accepted one is sent to diffhost as a render for this pad. Both are
    // saved, so reopening a project renders nothing again.
    std::string prompt, prompted;
    bool inMemory = false;  // the clip named by `hash` is read and handed to the audio thread (not saved)
};

struct Bridge {
    Engine engine;
    std::mutex mutex;  // guards the fields below; never taken on the audio thread
    PadInfo pads[kPads];
    std::string instanceId;
    std::string trackName;  // a host-writable state: DPF 1.6 passes no track name from any host
    // The host sets the rate on its own thread while the worker may be reading clips at it.
    std::atomic<double> sampleRate{48000.0};
    double loadedRate = 0.0;  // the rate the pads' clips were last read at (under loadMutex)
    // Pads whose typed prompt waits for diffhost to accept it (bit N-1 for pad N), worked out again
    // by the worker once the host's prompt changes settle (promptsChangedAt, as padsChangedAt).
    std::atomic<uint32_t> promptPending{0};
    std::atomic<double> promptsChangedAt{0.0};
    // When the host last changed the pads through setState (steady clock, s; 0: not since the last
    // report): the worker then tells diffhost what the pads hold, once the changes settle.
    std::atomic<double> padsChangedAt{0.0};
    // One clip read at a time: the host's thread (setState, activate) and the worker both load clips,
    // and a pad's saved hash must name the clip handed to the audio thread last.
    std::mutex loadMutex;

    Bridge();

    // Checks and applies a pad's options (pad 1..16); an error names the value and the valid range
    // and changes nothing.
    bool setOptions(int pad, int mode, int choke, int quantize, double gainDb, double pan, const std::string& recipe,
                    std::string& error);
    // Reads the clip <cache>/<hash[0:2]>/<hash>.wav and hands it to the audio thread (at the next bar
    // line when atBar). An empty hash clears the pad. Returns the clip handed over (nullptr on error).
    Clip* load(int pad, const std::string& hash, const std::string& label, bool atBar, std::string& error);
    // Reads every pad's clip again when the sample rate differs from the one they were read at (a host
    // may restore state before it settles its rate). Not on the audio thread.
    void reloadIfRateChanged();
    // load() for a caller that already holds loadMutex.
    Clip* loadLocked(int pad, const std::string& hash, const std::string& label, bool atBar, std::string& error);
    // Frees clips the audio thread has put aside (any non-audio thread).
    void freeRetired();
};

// Where clips live: $DIFFHOST_CLIP_CACHE, else the platform's user cache folder + diffhost/clips.
std::string clipCache();
double steadyNow();  // seconds on the steady clock
bool validHash(const std::string& hash);
bool makeDirs(const std::string& path);

}  // namespace bridge
