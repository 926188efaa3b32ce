// Minimal OSC 1.0 messages (no bundles): enough for the link with diffhost (int32, float32,
// float64 and string arguments). Written here rather than pulled in because the whole format
// for messages is a few padding and byte-order rules. Used only on the worker thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace bridge {
namespace osc {

struct Arg {
    char type = 0;  // 'i', 'f', 'd' or 's'
    int32_t i = 0;
    double number = 0.0;  // 'f' and 'd'
    std::string s;
};

struct Message {
    std::string address;
    std::vector<Arg> args;

    // the argument types as a string ("iss..."), to check a message's signature in one compare
    std::string types() const {
        std::string t;
        for (const Arg& a : args) t += a.type;
        return t;
    }
};

class Writer {
public:
    explicit Writer(const char* address) : fAddress(address) {}
    Writer& i(int32_t v) { fTypes += 'i'; putBE32(static_cast<uint32_t>(v)); return *this; }
    Writer& f(float v) { uint32_t u; std::memcpy(&u, &v, 4); fTypes += 'f'; putBE32(u); return *this; }
    Writer& d(double v) {
        uint64_t u;
        std::memcpy(&u, &v, 8);
        fTypes += 'd';
        putBE32(static_cast<uint32_t>(u >> 32));
        putBE32(static_cast<uint32_t>(u));
        return *this;
    }
    Writer& s(const std::string& v) { fTypes += 's'; putString(fArgs, v); return *this; }

    std::vector<uint8_t> bytes() const {
        std::vector<uint8_t> out;
        putString(out, fAddress);
        putString(out, fTypes);
        out.insert(out.end(), fArgs.begin(), fArgs.end());
        return out;
    }

private:
    static void putString(std::vector<uint8_t>& out, const std::string& v) {
        out.insert(out.end(), v.begin(), v.end());
        // a string ends with one to four NULs, so that the next item starts on a multiple of 4
        const size_t pad = 4 - (v.size() % 4);
        out.insert(out.end(), pad, 0);
    }
    void putBE32(uint32_t u) {
        const uint8_t b[4] = {uint8_t(u >> 24), uint8_t(u >> 16), uint8_t(u >> 8), uint8_t(u)};
        fArgs.insert(fArgs.end(), b, b + 4);
    }

    std::string fAddress;
    std::string fTypes = ",";
    std::vector<uint8_t> fArgs;
};

// Parses one datagram; false for anything malformed (it is then ignored, never half-applied).
inline bool parse(const uint8_t* data, size_t size, Message& msg) {
    size_t pos = 0;
    auto readString = [&](std::string& out) -> bool {
        const void* end = std::memchr(data + pos, 0, size - pos);
        if (end == nullptr) return false;
        const size_t len = static_cast<size_t>(static_cast<const uint8_t*>(end) - (data + pos));
        out.assign(reinterpret_cast<const char*>(data + pos), len);
        pos += (len / 4 + 1) * 4;
        return pos <= size;
    };
    auto read32 = [&](uint32_t& u) -> bool {
        if (pos + 4 > size) return false;
        u = (uint32_t(data[pos]) << 24) | (uint32_t(data[pos + 1]) << 16) | (uint32_t(data[pos + 2]) << 8) |
            uint32_t(data[pos + 3]);
        pos += 4;
        return true;
    };
    if (size < 4 || size % 4 != 0 || data[0] != '/') return false;
    std::string types;
    if (!readString(msg.address)) return false;
    if (pos >= size) { msg.args.clear(); return true; }  // OSC 1.0 allows a message without type tags
    if (!readString(types) || types.empty() || types[0] != ',') return false;
    msg.args.clear();
    for (size_t k = 1; k < types.size(); ++k) {
        Arg a;
        a.type = types[k];
        uint32_t u = 0, lo = 0;
        switch (a.type) {
        case 'i':
            if (!read32(u)) return false;
            a.i = static_cast<int32_t>(u);
            a.number = a.i;
            break;
        case 'f': {
            if (!read32(u)) return false;
            float f;
            std::memcpy(&f, &u, 4);
            a.number = f;
            break;
        }
        case 'd': {
            if (!read32(u) || !read32(lo)) return false;
            const uint64_t v = (uint64_t(u) << 32) | lo;
            std::memcpy(&a.number, &v, 8);
            break;
        }
        case 's':
            if (!readString(a.s)) return false;
            break;
        default:
            return false;
        }
        msg.args.push_back(a);
    }
    return true;
}

}  // namespace osc
}  // namespace bridge
