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
// The samples go from the file straight into the clip's two channels, a piece at a time through a
// small buffer: no copy of the whole file is made first (a 30 s stereo clip is 11.5 MB, and a
// fresh buffer that size costs as much to fault in as the read itself).
inline Clip* readWav(const std::string& path, double rate, std::string& error) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) { error = "no clip file " + path; return nullptr; }
    struct Closer {
        FILE* f;
        ~Closer() { std::fclose(f); }
    } closer{f};
    long fileSize = 0;
    if (std::fseek(f, 0, SEEK_END) == 0) fileSize = std::ftell(f);
    std::fseek(f, 0, SEEK_SET);
    uint8_t riff[12];
    if (fileSize < 12 || std::fread(riff, 1, 12, f) != 12 || std::memcmp(riff, "RIFF", 4) != 0 || std::memcmp(riff + 8, "WAVE", 4) != 0) {
        error = "not a WAV file: " + path;
        return nullptr;
    }
    uint16_t format = 0, channels = 0, bits = 0;
    uint32_t fileRate = 0;
    long dataPos = -1;
    uint32_t dataSize = 0;
    long pos = 12;
    while (pos + 8 <= fileSize) {
        uint8_t head[8];
        if (std::fseek(f, pos, SEEK_SET) != 0 || std::fread(head, 1, 8, f) != 8) break;
        const uint32_t size = le32(head + 4);
        const long avail = fileSize - pos - 8;
        if (std::memcmp(head, "fmt ", 4) == 0 && size >= 16 && avail >= 16) {
            uint8_t fmt[40];
            const size_t want = (size >= 40 && avail >= 40) ? 40 : 16;
            if (std::fread(fmt, 1, want, f) != want) break;
            format = le16(fmt);
            channels = le16(fmt + 2);
            fileRate = le32(fmt + 4);
            bits = le16(fmt + 14);
            if (format == 0xFFFE && want == 40) format = le16(fmt + 24);  // the sub-format's tag
        } else if (std::memcmp(head, "data", 4) == 0) {
            dataPos = pos + 8;
            dataSize = static_cast<uint32_t>(static_cast<long>(size) < avail ? size : avail);
        }
        pos += 8 + static_cast<long>(size) + static_cast<long>(size & 1);
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
    if (dataPos < 0) { error = "the clip has no data chunk: " + path; return nullptr; }
    std::unique_ptr<Clip> clip(new Clip());
    clip->frames = dataSize / (4u * channels);
    clip->left.reset(new float[clip->frames > 0 ? clip->frames : 1]);
    clip->right.reset(new float[clip->frames > 0 ? clip->frames : 1]);
    float* L = clip->left.get();
    float* R = clip->right.get();
    if (std::fseek(f, dataPos, SEEK_SET) != 0) { error = "cannot read " + path; return nullptr; }
    const size_t frameBytes = 4u * channels;
    const uint32_t pieceFrames = 16384;  // 128 KB of stereo: stays in the CPU's cache
    std::unique_ptr<uint8_t[]> piece(new uint8_t[size_t(pieceFrames) * frameBytes]);
    for (uint32_t done = 0; done < clip->frames;) {
        const uint32_t n = clip->frames - done < pieceFrames ? clip->frames - done : pieceFrames;
        if (std::fread(piece.get(), frameBytes, n, f) != n) { error = "cannot read " + path; return nullptr; }
        const uint8_t* data = piece.get();
        if (channels == 1) {
            std::memcpy(L + done, data, size_t(n) * 4);
            std::memcpy(R + done, data, size_t(n) * 4);
        } else {
            for (uint32_t i = 0; i < n; ++i) {
                std::memcpy(L + done + i, data + size_t(i) * 8, 4);
                std::memcpy(R + done + i, data + size_t(i) * 8 + 4, 4);
            }
        }
        done += n;
    }
    return clip.release();
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
