// What the plugin's threads share: the audio engine, the pads' saved settings and the clip cache.
// The audio thread touches only `engine`; everything else here is for setState/getState (the host's
// threads) and the worker, under `mutex`.
#pragma once

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
};

struct Bridge {
    Engine engine;
    std::mutex mutex;  // guards the fields below; never taken on the audio thread
    PadInfo pads[kPads];
    std::string instanceId;
    double sampleRate = 48000.0;
    double loadedRate = 0.0;  // the rate the pads' clips were last read at

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
    // Frees clips the audio thread has put aside (any non-audio thread).
    void freeRetired();
};

// Where clips live: $DIFFHOST_CLIP_CACHE, else the platform's user cache folder + diffhost/clips.
std::string clipCache();
bool validHash(const std::string& hash);
bool makeDirs(const std::string& path);

}  // namespace bridge
