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

// State keys: "instance_id", "track_name", then per pad N (1..16) "padN_hash", "padN_label",
// "padN_mode", "padN_choke", "padN_quantize", "padN_gain_db", "padN_pan", "padN_recipe",
// "padN_prompted", "padN_prompt".
constexpr uint32_t kGlobalKeys = 2;
constexpr uint32_t kFieldsPerPad = 10;
constexpr uint32_t kStateCount = kGlobalKeys + kFieldsPerPad * bridge::kPads;
const char* const kFields[kFieldsPerPad] = {"hash", "label", "mode", "choke", "quantize", "gain_db", "pan", "recipe",
                                            "prompted", "prompt"};
enum Field { kHash, kLabel, kMode, kChoke, kQuantize, kGainDb, kPan, kRecipe, kPrompted, kPrompt };
constexpr size_t kMaxText = 1000;  // a typed prompt or track name is cut to this many bytes

// `text` cut to kMaxText bytes, never inside a UTF-8 character
std::string cut(const char* text) {
    std::string s(text);
    if (s.size() <= kMaxText) return s;
    size_t n = kMaxText;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return s.substr(0, n);
}

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
        if (index == 1) {
            // DPF 1.6 passes on no track name from any host (VST3's IInfoListener and CLAP's track-info
            // are not wrapped), so the musician may type one where the host lets them edit a plugin's
            // string properties (LV2 hosts with a generic editor): diffhost lists the instance by it
            state.hints = kStateIsHostWritable;
            state.key = "track_name";
            state.label = "Track name";
            return;
        }
        const uint32_t pad = (index - kGlobalKeys) / kFieldsPerPad + 1, field = (index - kGlobalKeys) % kFieldsPerPad;
        state.key = String("pad") + String(pad) + "_" + kFields[field];
        state.label = String("Pad ") + String(pad) + " " + kFields[field];
        // a prompt for the pad, typed in the DAW: diffhost renders it at the host's tempo onto the pad
        if (field == kPrompt) state.hints = kStateIsHostWritable;
        static const char* const defaults[kFieldsPerPad] = {"", "", "0", "0", "0", "0", "0", "", "", ""};
        state.defaultValue = defaults[field];
    }

    String getState(const char* key) const override {
        std::lock_guard<std::mutex> lock(fBridge.mutex);
        if (std::strcmp(key, "instance_id") == 0) return String(fBridge.instanceId.c_str());
        if (std::strcmp(key, "track_name") == 0) return String(fBridge.trackName.c_str());
        int pad = 0, field = 0;
        if (!parseKey(key, pad, field)) return String();
        const bridge::PadInfo& p = fBridge.pads[pad - 1];
        char num[64];
        switch (field) {
        case kHash: return String(p.hash.c_str());
        case kLabel: return String(p.label.c_str());
        case kMode: return String(p.mode);
        case kChoke: return String(p.choke);
        case kQuantize: return String(p.quantize);
        case kGainDb: std::snprintf(num, sizeof num, "%.17g", p.gainDb); return String(num);
        case kPan: std::snprintf(num, sizeof num, "%.17g", p.pan); return String(num);
        case kRecipe: return String(p.recipe.c_str());
        case kPrompted: return String(p.prompted.c_str());
        default: return String(p.prompt.c_str());
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
        if (std::strcmp(key, "track_name") == 0) {
            std::lock_guard<std::mutex> lock(fBridge.mutex);
            fBridge.trackName = cut(value);  // the next hello carries it
            return;
        }
        int pad = 0, field = 0;
        if (!parseKey(key, pad, field)) return;
        if (field == kPrompted || field == kPrompt) {
            std::lock_guard<std::mutex> lock(fBridge.mutex);
            bridge::PadInfo& info = fBridge.pads[pad - 1];
            (field == kPrompt ? info.prompt : info.prompted) = cut(value);
            // compared by the worker once the host's changes settle: hosts restore keys in different
            // orders (VST3 hosts alphabetically), so the accepted prompt may come after the typed one
            fBridge.promptsChangedAt.store(bridge::steadyNow());
            return;
        }
        // diffhost hears what the pads hold now: stamped once the change is made (on every return
        // below), so the report the worker sends once the stamps settle holds it. Stamped before the
        // change, a clip read from disk slower than the settle time (a loaded machine) could be
        // reported missing, and no later report would follow.
        struct Stamp {
            std::atomic<double>& at;
            ~Stamp() { at.store(bridge::steadyNow()); }
        } stamp{fBridge.padsChangedAt};
        if (field == kHash) {
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
                fBridge.pads[pad - 1].inMemory = false;
            }
            return;
        }
        bridge::PadInfo p;
        {
            std::lock_guard<std::mutex> lock(fBridge.mutex);
            p = fBridge.pads[pad - 1];
            if (field == kLabel) { fBridge.pads[pad - 1].label = value; return; }
        }
        char* end = nullptr;
        const double v = std::strtod(value, &end);
        switch (field) {
        case kMode: p.mode = static_cast<int>(v); break;
        case kChoke: p.choke = static_cast<int>(v); break;
        case kQuantize: p.quantize = static_cast<int>(v); break;
        case kGainDb: p.gainDb = v; break;
        case kPan: p.pan = v; break;
        default: p.recipe = value; break;
        }
        std::string error;
        fBridge.setOptions(pad, p.mode, p.choke, p.quantize, p.gainDb, p.pan, p.recipe, error);  // a bad value changes nothing
    }

    // The link with diffhost starts the first time the host activates the instance and lasts until the
    // instance is destroyed. Hosts deactivate plugins between offline renders and around setting
    // changes (DawDreamer does after every render), and diffhost must reach the pads meanwhile; a clip
    // sent then swaps in at the next run(). Hosts also make whole instances only to read the plugin's
    // buses and destroy them unactivated (JUCE does when it loads a VST3): those never talk, so neither
    // diffhost nor anyone listening mistakes one for the track's instance.
    void activate() override {
        fBridge.reloadIfRateChanged();
        fLink.start();
    }

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
