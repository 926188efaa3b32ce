#include "Bridge.hpp"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <random>
#include <sys/stat.h>
#ifdef _WIN32
#include <direct.h>
#endif

namespace bridge {

Bridge::Bridge() {
    // a fresh instance's identity; a saved project's own id replaces it in setState
    std::random_device rd;
    const uint64_t v = (uint64_t(rd()) << 32) ^ uint64_t(rd());
    static const char* hex = "0123456789abcdef";
    for (int k = 15; k >= 0; --k) instanceId += hex[(v >> (4 * k)) & 15];
}

double steadyNow() {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string clipCache() {
    if (const char* env = std::getenv("DIFFHOST_CLIP_CACHE"); env != nullptr && *env != '\0') return env;
#if defined(_WIN32)
    const char* base = std::getenv("LOCALAPPDATA");
    return std::string(base != nullptr ? base : ".") + "\\diffhost\\Cache\\clips";
#elif defined(__APPLE__)
    const char* home = std::getenv("HOME");
    return std::string(home != nullptr ? home : ".") + "/Library/Caches/diffhost/clips";
#else
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg == '/') return std::string(xdg) + "/diffhost/clips";
    const char* home = std::getenv("HOME");
    return std::string(home != nullptr ? home : ".") + "/.cache/diffhost/clips";
#endif
}

bool validHash(const std::string& hash) {
    // a sha256 in lowercase hex: anything else could name a file outside the cache
    if (hash.size() != 64) return false;
    for (char c : hash) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

bool makeDirs(const std::string& path) {
    for (size_t i = 1; i <= path.size(); ++i) {
        if (i == path.size() || path[i] == '/' || path[i] == '\\') {
            const std::string part = path.substr(0, i);
#ifdef _WIN32
            const int rc = _mkdir(part.c_str());
#else
            const int rc = mkdir(part.c_str(), 0755);
#endif
            if (rc != 0 && errno != EEXIST) return false;
        }
    }
    return true;
}

bool Bridge::setOptions(int pad, int mode, int choke, int quantize, double gainDb, double pan, const std::string& recipe,
                        std::string& error) {
    if (pad < 1 || pad > kPads) error = "pad " + std::to_string(pad) + " is out of range 1..16";
    else if (mode < 0 || mode > 2) error = "mode " + std::to_string(mode) + " is out of range 0..2 (one-shot, loop, gate)";
    else if (choke < 0 || choke > 16) error = "choke " + std::to_string(choke) + " is out of range 0..16 (0: none)";
    else if (quantize < 0 || quantize > 2) error = "quantize " + std::to_string(quantize) + " is out of range 0..2 (none, beat, bar)";
    else if (!std::isfinite(gainDb) || gainDb < -60.0 || gainDb > 24.0) error = "gain_db " + std::to_string(gainDb) + " is out of range -60..24 dB";
    else if (!std::isfinite(pan) || pan < -1.0 || pan > 1.0) error = "pan " + std::to_string(pan) + " is out of range -1..1";
    if (!error.empty()) return false;
    {
        std::lock_guard<std::mutex> lock(mutex);
        PadInfo& info = pads[pad - 1];
        info.mode = mode;
        info.choke = choke;
        info.quantize = quantize;
        info.gainDb = gainDb;
        info.pan = pan;
        info.recipe = recipe;
    }
    // diffhost's pan law: full gain on the side the pad is panned to, the other side scaled down
    const double g = std::pow(10.0, gainDb / 20.0);
    PadShared& s = engine.shared[pad - 1];
    s.mode.store(mode);
    s.choke.store(choke);
    s.quantize.store(quantize);
    s.gainL.store(static_cast<float>(g * std::fmin(1.0, 1.0 - pan)));
    s.gainR.store(static_cast<float>(g * std::fmin(1.0, 1.0 + pan)));
    return true;
}

Clip* Bridge::load(int pad, const std::string& hash, const std::string& label, bool atBar, std::string& error) {
    if (pad < 1 || pad > kPads) {
        error = "pad " + std::to_string(pad) + " is out of range 1..16";
        return nullptr;
    }
    std::lock_guard<std::mutex> reading(loadMutex);
    return loadLocked(pad, hash, label, atBar, error);
}

Clip* Bridge::loadLocked(int pad, const std::string& hash, const std::string& label, bool atBar, std::string& error) {
    Clip* clip = nullptr;
    if (hash.empty()) {
        clip = new Clip();  // an empty clip clears the pad
    } else if (!validHash(hash)) {
        error = "hash '" + hash.substr(0, 80) + "' is not a sha256 in lowercase hex (64 characters)";
        return nullptr;
    } else {
        const std::string path = clipCache() + "/" + hash.substr(0, 2) + "/" + hash + ".wav";
        const double rate = sampleRate.load();
        loadedRate = rate;
        clip = readWav(path, rate, error);
        if (clip == nullptr) return nullptr;
        clip->hash = hash;
    }
    {
        std::lock_guard<std::mutex> lock(mutex);
        pads[pad - 1].hash = hash;
        pads[pad - 1].label = label;
        pads[pad - 1].inMemory = !hash.empty();
    }
    freeRetired();
    PadShared& s = engine.shared[pad - 1];
    s.incomingAtBar.store(atBar ? 1 : 0, std::memory_order_relaxed);
    // a clip handed over earlier that the audio thread has not taken yet is replaced and freed here
    delete s.incoming.exchange(clip, std::memory_order_acq_rel);
    return clip;
}

void Bridge::reloadIfRateChanged() {
    std::lock_guard<std::mutex> reading(loadMutex);
    if (loadedRate == sampleRate.load()) return;
    loadedRate = sampleRate.load();
    for (int p = 1; p <= kPads; ++p) {
        std::string hash, label, error;
        {
            std::lock_guard<std::mutex> lock(mutex);
            hash = pads[p - 1].hash;
            label = pads[p - 1].label;
        }
        if (hash.empty()) continue;
        if (loadLocked(p, hash, label, false, error) == nullptr) {
            std::lock_guard<std::mutex> lock(mutex);
            pads[p - 1].hash = hash;  // kept for the project (and for diffhost to render again)
            pads[p - 1].inMemory = false;
        }
    }
}

void Bridge::freeRetired() {
    for (int p = 0; p < kPads; ++p) delete engine.shared[p].retired.exchange(nullptr, std::memory_order_acq_rel);
}

}  // namespace bridge
