// A clip as the audio thread plays it, and the float32 WAV files clips come from and captures go to.
// Everything here allocates or does I/O: it runs on the worker thread or in setState, never in run().
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace bridge {

// Planar stereo samples (a mono file fills both sides). Immutable once handed to the audio thread.
struct Clip {
    // allocated without zero-filling: a 30 s clip is read in a few milliseconds, not tens
    std::unique_ptr<float[]> left, right;
    uint32_t frames = 0;  // 0: an empty clip, which is how a pad is cleared
    std::string hash;
};

inline uint32_t le32(const uint8_t* p) {
    return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }

// Reads a 32-bit float WAV (plain or WAVE_FORMAT_EXTENSIBLE) of 1 or 2 channels at `rate`.
// Returns nullptr and a reason for anything else, so the caller can report it.
inline Clip* readWav(const std::string& path, double rate, std::string& error) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) { error = "no clip file " + path; return nullptr; }
    // one read of the whole file (a 30 s stereo clip is 11.5 MB) into an uninitialised buffer
    size_t want = 0;
    if (std::fseek(f, 0, SEEK_END) == 0) {
        const long size = std::ftell(f);
        if (size > 0) want = static_cast<size_t>(size);
        std::fseek(f, 0, SEEK_SET);
    }
    std::unique_ptr<uint8_t[]> storage(new uint8_t[want > 0 ? want : 1]);
    const size_t got = want > 0 ? std::fread(storage.get(), 1, want, f) : 0;
    std::fclose(f);
    struct View {
        const uint8_t* p;
        size_t n;
        size_t size() const { return n; }
        const uint8_t* data() const { return p; }
    } bytes{storage.get(), got};
    if (bytes.size() < 12 || std::memcmp(bytes.data(), "RIFF", 4) != 0 || std::memcmp(bytes.data() + 8, "WAVE", 4) != 0) {
        error = "not a WAV file: " + path;
        return nullptr;
    }
    uint16_t format = 0, channels = 0, bits = 0;
    uint32_t fileRate = 0;
    const uint8_t* data = nullptr;
    uint32_t dataSize = 0;
    size_t pos = 12;
    while (pos + 8 <= bytes.size()) {
        const uint8_t* chunk = bytes.data() + pos;
        const uint32_t size = le32(chunk + 4);
        const size_t avail = bytes.size() - pos - 8;
        if (std::memcmp(chunk, "fmt ", 4) == 0 && size >= 16 && avail >= 16) {
            format = le16(chunk + 8);
            channels = le16(chunk + 10);
            fileRate = le32(chunk + 12);
            bits = le16(chunk + 22);
            if (format == 0xFFFE && size >= 40 && avail >= 40) format = le16(chunk + 8 + 24);  // the sub-format's tag
        } else if (std::memcmp(chunk, "data", 4) == 0) {
            data = chunk + 8;
            dataSize = static_cast<uint32_t>(size < avail ? size : avail);
        }
        pos += 8 + size + (size & 1);
    }
    if (format != 3 || bits != 32) { error = "the clip is not 32-bit float WAV: " + path; return nullptr; }
    if (channels != 1 && channels != 2) {
        error = "the clip has " + std::to_string(channels) + " channels (1 or 2 are valid)";
        return nullptr;
    }
    if (static_cast<double>(fileRate) != rate) {
        error = "the clip is at " + std::to_string(fileRate) + " Hz, the plugin runs at " +
                std::to_string(static_cast<long>(rate)) + " Hz";
        return nullptr;
    }
    if (data == nullptr) { error = "the clip has no data chunk: " + path; return nullptr; }
    Clip* clip = new Clip();
    clip->frames = dataSize / (4u * channels);
    clip->left.reset(new float[clip->frames > 0 ? clip->frames : 1]);
    clip->right.reset(new float[clip->frames > 0 ? clip->frames : 1]);
    float* L = clip->left.get();
    float* R = clip->right.get();
    if (channels == 1) {
        std::memcpy(L, data, size_t(clip->frames) * 4);
        std::memcpy(R, data, size_t(clip->frames) * 4);
    } else {
        for (uint32_t i = 0; i < clip->frames; ++i) {
            std::memcpy(L + i, data + size_t(i) * 8, 4);
            std::memcpy(R + i, data + size_t(i) * 8 + 4, 4);
        }
    }
    return clip;
}

// Writes interleaved stereo float32 samples to `path` through a temporary file and a rename, so
// a reader never sees half a file.
inline bool writeWav(const std::string& path, const float* interleaved, uint32_t frames, uint32_t rate, std::string& error) {
    const uint32_t dataSize = frames * 8u;
    uint8_t h[44];
    auto put32 = [&](int at, uint32_t v) { for (int k = 0; k < 4; ++k) h[at + k] = uint8_t(v >> (8 * k)); };
    auto put16 = [&](int at, uint16_t v) { h[at] = uint8_t(v); h[at + 1] = uint8_t(v >> 8); };
    std::memcpy(h, "RIFF", 4);
    put32(4, 36 + dataSize);
    std::memcpy(h + 8, "WAVEfmt ", 8);
    put32(16, 16);
    put16(20, 3);  // IEEE float
    put16(22, 2);
    put32(24, rate);
    put32(28, rate * 8u);
    put16(32, 8);
    put16(34, 32);
    std::memcpy(h + 36, "data", 4);
    put32(40, dataSize);
    const std::string tmp = path + ".part";
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (f == nullptr) { error = "cannot write " + tmp; return false; }
    bool ok = std::fwrite(h, 1, 44, f) == 44 && std::fwrite(interleaved, 4, size_t(frames) * 2, f) == size_t(frames) * 2;
    ok = (std::fclose(f) == 0) && ok;
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        error = "cannot write " + path;
        return false;
    }
    return true;
}

}  // namespace bridge
