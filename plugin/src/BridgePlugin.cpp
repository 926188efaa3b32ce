// diffhost Bridge: the DPF plugin class. It connects DPF's callbacks to the engine (run), the saved
// state (initState/getState/setState) and the worker thread (activate/deactivate).
#include "DistrhoPlugin.hpp"

#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "Bridge.hpp"
#include "Link.hpp"

START_NAMESPACE_DISTRHO

namespace {

// State keys: "instance_id", then per pad N (1..16) "padN_hash", "padN_label", "padN_mode",
// "padN_choke", "padN_quantize", "padN_gain_db", "padN_pan", "padN_recipe".
constexpr uint32_t kFieldsPerPad = 8;
constexpr uint32_t kStateCount = 1 + kFieldsPerPad * bridge::kPads;
const char* const kFields[kFieldsPerPad] = {"hash", "label", "mode", "choke", "quantize", "gain_db", "pan", "recipe"};

// "pad12_gain_db" -> pad 12, field 5; false for any other key
bool parseKey(const char* key, int& pad, int& field) {
    if (std::strncmp(key, "pad", 3) != 0) return false;
    char* end = nullptr;
    const long n = std::strtol(key + 3, &end, 10);
    if (n < 1 || n > bridge::kPads || *end != '_') return false;
    for (uint32_t f = 0; f < kFieldsPerPad; ++f) {
        if (std::strcmp(end + 1, kFields[f]) == 0) {
            pad = static_cast<int>(n);
            field = static_cast<int>(f);
            return true;
        }
    }
    return false;
}

}  // namespace

class BridgePlugin : public Plugin {
public:
    BridgePlugin() : Plugin(0, 0, kStateCount), fLink(fBridge) {
        fBridge.sampleRate = getSampleRate();
        fBridge.engine.setSampleRate(getSampleRate());
    }

    ~BridgePlugin() override { fLink.stop(); }

protected:
    const char* getLabel() const override { return "diffhost_bridge"; }
    const char* getDescription() const override {
        return "diffhost's 16 pads inside the DAW: clips rendered by diffhost, locked to the host's tempo, saved in its project.";
    }
    const char* getMaker() const override { return "diffhost"; }
    const char* getHomePage() const override { return "https://github.com/diffhost/diffhost"; }
    const char* getLicense() const override { return "ISC"; }
    uint32_t getVersion() const override { return d_version(0, 1, 0); }
    int64_t getUniqueId() const override { return d_cconst('d', 'h', 'B', 'r'); }

    void initAudioPort(bool input, uint32_t index, AudioPort& port) override {
        if (input) {
            port.groupId = kPortGroupStereo;
            port.name = index == 0 ? "Capture In L" : "Capture In R";
            port.symbol = index == 0 ? "in_l" : "in_r";
            return;
        }
        if (index < 2) {
            port.groupId = kPortGroupStereo;
            port.name = index == 0 ? "Main Out L" : "Main Out R";
            port.symbol = index == 0 ? "out_l" : "out_r";
            return;
        }
        const uint32_t pad = (index - 2) / 2 + 1;
        const bool left = (index - 2) % 2 == 0;
        port.groupId = pad;  // group N is pad N's stereo pair (a bus of its own in VST3 and CLAP)
        port.name = String("Pad ") + String(pad) + (left ? " L" : " R");
        port.symbol = String("pad") + String(pad) + (left ? "_l" : "_r");
    }

    void initPortGroup(uint32_t groupId, PortGroup& group) override {
        group.name = String("Pad ") + String(groupId);
        group.symbol = String("pad") + String(groupId);
    }

    void initState(uint32_t index, State& state) override {
        // host-readable: LV2 hosts then save the keys under the plugin's own URI, readable in state.ttl
        state.hints = kStateIsHostReadable;
        if (index == 0) {
            state.key = "instance_id";
            state.label = "Instance id";
            return;
        }
        const uint32_t pad = (index - 1) / kFieldsPerPad + 1, field = (index - 1) % kFieldsPerPad;
        state.key = String("pad") + String(pad) + "_" + kFields[field];
        state.label = String("Pad ") + String(pad) + " " + kFields[field];
        static const char* const defaults[kFieldsPerPad] = {"", "", "0", "0", "0", "0", "0", ""};
        state.defaultValue = defaults[field];
    }

    String getState(const char* key) const override {
        std::lock_guard<std::mutex> lock(fBridge.mutex);
        if (std::strcmp(key, "instance_id") == 0) return String(fBridge.instanceId.c_str());
        int pad = 0, field = 0;
        if (!parseKey(key, pad, field)) return String();
        const bridge::PadInfo& p = fBridge.pads[pad - 1];
        char num[64];
        switch (field) {
        case 0: return String(p.hash.c_str());
        case 1: return String(p.label.c_str());
        case 2: return String(p.mode);
        case 3: return String(p.choke);
        case 4: return String(p.quantize);
        case 5: std::snprintf(num, sizeof num, "%.17g", p.gainDb); return String(num);
        case 6: std::snprintf(num, sizeof num, "%.17g", p.pan); return String(num);
        default: return String(p.recipe.c_str());
        }
    }

    // Called off the audio thread. A clip is read here, synchronously, so that an offline render
    // started right after restoring a project already has it.
    void setState(const char* key, const char* value) override {
        if (std::strcmp(key, "instance_id") == 0) {
            // a project's saved id is kept; an empty one (a fresh copy) keeps the id made at construction
            if (bridge::validHash(std::string(value) + std::string(48, '0')) && std::strlen(value) == 16) {
                std::lock_guard<std::mutex> lock(fBridge.mutex);
                fBridge.instanceId = value;
            }
            return;
        }
        int pad = 0, field = 0;
        if (!parseKey(key, pad, field)) return;
        if (field == 0) {
            std::string label, error;
            {
                std::lock_guard<std::mutex> lock(fBridge.mutex);
                if (fBridge.pads[pad - 1].hash == value) return;  // already holding this clip
                label = fBridge.pads[pad - 1].label;
            }
            // a clip the cache lost leaves the pad silent but keeps its hash and recipe in the project,
            // so diffhost can render it again
            if (fBridge.load(pad, value, label, false, error) == nullptr) {
                std::lock_guard<std::mutex> lock(fBridge.mutex);
                fBridge.pads[pad - 1].hash = value;
            }
            return;
        }
        bridge::PadInfo p;
        {
            std::lock_guard<std::mutex> lock(fBridge.mutex);
            p = fBridge.pads[pad - 1];
            if (field == 1) { fBridge.pads[pad - 1].label = value; return; }
        }
        char* end = nullptr;
        const double v = std::strtod(value, &end);
        switch (field) {
        case 2: p.mode = static_cast<int>(v); break;
        case 3: p.choke = static_cast<int>(v); break;
        case 4: p.quantize = static_cast<int>(v); break;
        case 5: p.gainDb = v; break;
        case 6: p.pan = v; break;
        default: p.recipe = value; break;
        }
        std::string error;
        fBridge.setOptions(pad, p.mode, p.choke, p.quantize, p.gainDb, p.pan, p.recipe, error);  // a bad value changes nothing
    }

    void activate() override {
        fBridge.reloadIfRateChanged();
        fLink.start();
    }
    void deactivate() override { fLink.stop(); }

    void sampleRateChanged(double rate) override {
        fBridge.sampleRate = rate;
        fBridge.engine.setSampleRate(rate);
    }

    void run(const float** inputs, float** outputs, uint32_t frames, const MidiEvent* midiEvents, uint32_t midiEventCount) override {
        const auto start = std::chrono::steady_clock::now();
        const TimePosition& tp = getTimePosition();
        bridge::HostTime host;
        host.valid = tp.bbt.valid;
        host.playing = tp.playing;
        host.bpm = tp.bbt.beatsPerMinute;
        if (tp.bbt.valid) {
            host.beatsPerBar = tp.bbt.beatsPerBar;
            host.beatType = tp.bbt.beatType;
            host.beats = (tp.bbt.bar - 1) * static_cast<double>(tp.bbt.beatsPerBar) + (tp.bbt.beat - 1) + tp.bbt.tick / tp.bbt.ticksPerBeat;
        }
        uint32_t n = 0;
        for (uint32_t k = 0; k < midiEventCount && n < kMaxMidi; ++k) {
            const MidiEvent& e = midiEvents[k];
            if (e.size > MidiEvent::kDataSize || e.size == 0) continue;  // sysex: nothing for pads
            fMidi[n][0] = e.data[0];
            fMidi[n][1] = e.size > 1 ? e.data[1] : 0;
            fMidi[n][2] = e.size > 2 ? e.data[2] : 0;
            fMidi[n][3] = 0;
            fMidiFrames[n] = e.frame;
            ++n;
        }
        fBridge.engine.process(inputs, outputs, frames, fMidi, fMidiFrames, n, host);
        const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
        bridge::Engine& e = fBridge.engine;
        if (ns > e.runMaxNs.load(std::memory_order_relaxed)) e.runMaxNs.store(ns, std::memory_order_relaxed);
        e.runSumNs.fetch_add(ns, std::memory_order_relaxed);
        e.runCount.fetch_add(1, std::memory_order_relaxed);
    }

private:
    static constexpr uint32_t kMaxMidi = 512;
    mutable bridge::Bridge fBridge;
    bridge::Link fLink;
    uint8_t fMidi[kMaxMidi][4];
    uint32_t fMidiFrames[kMaxMidi];

    DISTRHO_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(BridgePlugin)
};

Plugin* createPlugin() { return new BridgePlugin(); }

END_NAMESPACE_DISTRHO
