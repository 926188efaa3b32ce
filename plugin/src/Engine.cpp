#include "Engine.hpp"

#include <cmath>
#include <cstring>

namespace bridge {

void Engine::setSampleRate(double rate) {
    fRate = rate > 0.0 ? rate : 48000.0;
    // stops, chokes and retriggers fade out over 5 ms, as diffhost's own mixer does (no clicks)
    fFadeStep = 1.0 / (0.005 * fRate);
}

void Engine::releaseClips() {
    for (int p = 0; p < kPads; ++p) {
        delete fPads[p].clip;
        fPads[p].clip = nullptr;
        fPads[p].main.active = fPads[p].tail.active = false;
        delete shared[p].incoming.exchange(nullptr);
        delete shared[p].retired.exchange(nullptr);
    }
    delete fCapture;
    fCapture = nullptr;
    delete captureRequest.exchange(nullptr);
    delete captureDone.exchange(nullptr);
}

int64_t Engine::frameOfBeat(double beat) const {
    // the first frame whose position is at or after `beat` (a small tolerance absorbs the rounding
    // of a position that the host meant to be exactly on the line)
    return static_cast<int64_t>(std::ceil((beat - fBeat0) / fBeatsPerFrame - 1e-6));
}

int64_t Engine::nextBarFrame() const {
    const double bar = std::ceil(fBeat0 / fBeatsPerBar - 1e-9) * fBeatsPerBar;
    const int64_t f = frameOfBeat(bar);
    return f < 0 ? 0 : (f < static_cast<int64_t>(fFrames) ? f : -1);
}

void Engine::addEvent(uint32_t frame, uint8_t type, uint8_t pad, float velocity, uint32_t from) {
    // keeps fEvents sorted by frame (stable: equal frames keep their order), inserting at or after `from`
    if (fEventCount >= kMaxEvents) return;  // more than 1024 events in one block: the rest are dropped
    uint32_t k = fEventCount;
    while (k > from && fEvents[k - 1].frame > frame) {
        fEvents[k] = fEvents[k - 1];
        --k;
    }
    fEvents[k] = Event{frame, type, pad, velocity};
    ++fEventCount;
}

void Engine::start(int p, float velocity) {
    Pad& pad = fPads[p];
    if (pad.clip == nullptr || pad.clip->frames == 0) return;
    if (pad.main.active) {
        pad.tail = pad.main;
        pad.tail.releasing = true;
    }
    pad.main = Voice();
    pad.main.active = true;
    pad.main.velocity = velocity;
    if (pad.choke > 0) {
        for (int q = 0; q < kPads; ++q) {
            if (q != p && fPads[q].choke == pad.choke) release(q);
        }
    }
}

void Engine::release(int p) {
    Pad& pad = fPads[p];
    pad.pending = false;
    if (pad.main.active) pad.main.releasing = true;
    if (pad.tail.active) pad.tail.releasing = true;
}

void Engine::renderVoice(Pad& pad, Voice& v, float* outL, float* outR, float* mainL, float* mainR, uint32_t a, uint32_t b) {
    const Clip* clip = pad.clip;
    if (!v.active) return;
    if (clip == nullptr || clip->frames == 0) { v.active = false; return; }
    const float* L = clip->left.get();
    const float* R = clip->right.get();
    const float gl = pad.gainL * v.velocity, gr = pad.gainR * v.velocity;
    const uint32_t n = clip->frames;
    // A loop's length in beats at the current tempo: whole bars (diffhost renders loops of N bars), or
    // whole beats for a loop shorter than about a bar. After a tempo change the loop keeps its bars
    // (read faster or slower) until the re-fitted one arrives, so it still wraps on bar lines and the
    // swap at the next bar line joins both loops at their start. Its phase is a function of the
    // musical position, never a counter of its own.
    double loopBeats = 0.0, framesPerLoopBeat = 0.0;
    if (pad.mode == kLoop) {
        const double beats = static_cast<double>(n) * fBeatsPerFrame;
        if (beats >= 0.75 * fBeatsPerBar) {
            loopBeats = std::floor(beats / fBeatsPerBar + 0.5) * fBeatsPerBar;
        } else {
            loopBeats = std::floor(beats + 0.5);
            if (loopBeats < 1.0) loopBeats = 1.0;
        }
        framesPerLoopBeat = static_cast<double>(n) / loopBeats;
    }
    for (uint32_t i = a; i < b; ++i) {
        float l, r;
        if (pad.mode == kLoop) {
            double ph = std::fmod(fBeat0 + static_cast<double>(i) * fBeatsPerFrame, loopBeats);
            if (ph < 0.0) ph += loopBeats;
            const double x = ph * framesPerLoopBeat;
            const double nearest = std::floor(x + 0.5);
            if (std::fabs(x - nearest) < 1e-4) {
                // on a sample (the loop was rendered at this tempo): that sample, bit for bit
                uint32_t k = static_cast<uint32_t>(nearest);
                if (k >= n) k -= n;
                l = L[k];
                r = R[k];
            } else {
                // between samples (the host's tempo moved away from the loop's, until the re-fitted loop
                // arrives): linear interpolation keeps the phase exact
                uint32_t k = static_cast<uint32_t>(x);
                if (k >= n) k = n - 1;
                const uint32_t k1 = k + 1 < n ? k + 1 : 0;
                const float t = static_cast<float>(x - static_cast<double>(k));
                l = L[k] + (L[k1] - L[k]) * t;
                r = R[k] + (R[k1] - R[k]) * t;
            }
        } else {
            if (v.pos >= n) { v.active = false; return; }
            l = L[v.pos];
            r = R[v.pos];
            ++v.pos;
        }
        float env = 1.0f;
        if (v.releasing) {
            v.env -= static_cast<float>(fFadeStep);
            if (v.env <= 0.0f) { v.active = false; return; }
            env = v.env;
        }
        l *= gl * env;
        r *= gr * env;
        outL[i] += l;
        outR[i] += r;
        mainL[i] += l;
        mainR[i] += r;
    }
}

void Engine::render(float** outputs, uint32_t a, uint32_t b) {
    if (a >= b) return;
    for (int p = 0; p < kPads; ++p) {
        Pad& pad = fPads[p];
        if (!pad.main.active && !pad.tail.active) continue;
        float* outL = outputs[2 + 2 * p];
        float* outR = outputs[3 + 2 * p];
        renderVoice(pad, pad.tail, outL, outR, outputs[0], outputs[1], a, b);
        renderVoice(pad, pad.main, outL, outR, outputs[0], outputs[1], a, b);
    }
}

void Engine::captureBlock(const float* const* inputs, uint32_t frames) {
    if (fCapture == nullptr) fCapture = captureRequest.exchange(nullptr);
    Capture* c = fCapture;
    if (c == nullptr) return;
    uint32_t from = 0;
    if (!c->recording) {
        const int64_t bar = nextBarFrame();
        if (bar < 0) return;
        from = static_cast<uint32_t>(bar);
        c->recording = true;
        const double beats = c->bars * fBeatsPerBar;
        const double want = std::floor(beats / fBeatsPerFrame + 0.5);
        c->target = want < static_cast<double>(c->capacity) ? static_cast<uint32_t>(want) : c->capacity;
    }
    if (c->frames < c->target) {
        uint32_t n = frames - from;
        if (n > c->target - c->frames) n = c->target - c->frames;
        float* out = c->samples.data() + static_cast<size_t>(c->frames) * 2;
        for (uint32_t i = 0; i < n; ++i) {
            out[2 * i] = inputs[0][from + i];
            out[2 * i + 1] = inputs[1][from + i];
        }
        c->frames += n;
    }
    if (c->frames >= c->target) {
        Capture* expected = nullptr;
        // the worker has not collected the previous one yet: hand this one over next block
        if (captureDone.compare_exchange_strong(expected, c)) fCapture = nullptr;
    }
}

void Engine::publish(const HostTime& host) {
    const double bar = std::floor(fBeat0 / fBeatsPerBar);
    transport.seq.fetch_add(1, std::memory_order_acq_rel);
    transport.bpm.store(host.bpm, std::memory_order_relaxed);
    transport.num.store(static_cast<int>(host.beatsPerBar), std::memory_order_relaxed);
    transport.den.store(static_cast<int>(host.beatType), std::memory_order_relaxed);
    transport.playing.store(host.playing ? 1 : 0, std::memory_order_relaxed);
    transport.valid.store(host.valid ? 1 : 0, std::memory_order_relaxed);
    transport.bar.store(bar + 1.0, std::memory_order_relaxed);
    transport.beatInBar.store(fBeat0 - bar * fBeatsPerBar, std::memory_order_relaxed);
    transport.seq.fetch_add(1, std::memory_order_release);
}

void Engine::readTransport(double& bpm, int& num, int& den, int& playing, int& valid, double& bar, double& beatInBar) const {
    for (;;) {
        const uint32_t s = transport.seq.load(std::memory_order_acquire);
        if (s & 1u) continue;
        bpm = transport.bpm.load(std::memory_order_relaxed);
        num = transport.num.load(std::memory_order_relaxed);
        den = transport.den.load(std::memory_order_relaxed);
        playing = transport.playing.load(std::memory_order_relaxed);
        valid = transport.valid.load(std::memory_order_relaxed);
        bar = transport.bar.load(std::memory_order_relaxed);
        beatInBar = transport.beatInBar.load(std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (transport.seq.load(std::memory_order_relaxed) == s) return;
    }
}

void Engine::process(const float* const* inputs, float** outputs, uint32_t frames, const uint8_t (*midi)[4],
                     const uint32_t* midiFrames, uint32_t midiCount, const HostTime& host) {
    fFrames = frames;
    // The musical clock of this block.
    const double bpm = host.bpm >= 1.0 ? host.bpm : 120.0;
    fBeatsPerFrame = bpm / (60.0 * fRate);
    fBeatsPerBar = host.beatsPerBar >= 1.0 ? host.beatsPerBar : 4.0;
    const bool following = host.valid && host.playing;
    fBeat0 = following ? host.beats : fFreeBeats;

    captureBlock(inputs, frames);  // before the outputs are cleared: a host may share their buffers
    for (uint32_t c = 0; c < 2 + 2 * kPads; ++c) std::memset(outputs[c], 0, sizeof(float) * frames);

    fEventCount = 0;
    // The host stopped: loops stop with it (a one-shot plays out); loops started live while the host
    // is stopped keep running on the free clock. A relocation while playing passes through a short
    // stop in some hosts (JACK's "starting" state), so a stop counts after 100 ms.
    if (host.playing) {
        fWasPlaying = true;
        fStoppedFrames = 0.0;
    } else if (fWasPlaying) {
        fStoppedFrames += frames;
        if (fStoppedFrames >= 0.1 * fRate) {
            fWasPlaying = false;
            for (int p = 0; p < kPads; ++p) {
                if (fPads[p].mode == kLoop) release(p);
            }
        }
    }

    const int64_t bar = nextBarFrame();
    for (int p = 0; p < kPads; ++p) {
        Pad& pad = fPads[p];
        PadShared& s = shared[p];
        pad.mode = s.mode.load(std::memory_order_relaxed);
        pad.choke = s.choke.load(std::memory_order_relaxed);
        pad.quantize = s.quantize.load(std::memory_order_relaxed);
        pad.gainL = s.gainL.load(std::memory_order_relaxed);
        pad.gainR = s.gainR.load(std::memory_order_relaxed);
        if (s.incoming.load(std::memory_order_acquire) != nullptr) {
            if (s.incomingAtBar.load(std::memory_order_relaxed) == 0) addEvent(0, kSwap, uint8_t(p), 0.0f, 0);
            else if (bar >= 0) addEvent(static_cast<uint32_t>(bar), kSwap, uint8_t(p), 0.0f, 0);
        }
        if (pad.pending) {
            const double grid = pad.quantize == kBar ? fBeatsPerBar : 1.0;
            // a jump back in the song leaves a far-off grid line behind: aim at the next one from here
            if (pad.pendingBeat - fBeat0 > grid) pad.pendingBeat = std::ceil(fBeat0 / grid - 1e-9) * grid;
            const int64_t f = frameOfBeat(pad.pendingBeat);
            if (f < static_cast<int64_t>(frames)) {
                addEvent(f < 0 ? 0u : static_cast<uint32_t>(f), kStart, uint8_t(p), pad.pendingVelocity, 0);
                pad.pending = false;
            }
        }
    }
    for (uint32_t k = 0; k < midiCount; ++k) {
        const uint8_t* m = midi[k];
        const uint8_t status = m[0] & 0xF0;
        const uint32_t f = midiFrames[k] < frames ? midiFrames[k] : frames - 1;
        const int pad = int(m[1]) - kFirstNote;
        if (status == 0x90 && m[2] > 0 && pad >= 0 && pad < kPads) {
            const float v = static_cast<float>(m[2]) / 127.0f;
            addEvent(f, kNoteOn, uint8_t(pad), v * v, 0);  // diffhost's velocity curve: (v/127)^2
        } else if ((status == 0x80 || (status == 0x90 && m[2] == 0)) && pad >= 0 && pad < kPads) {
            addEvent(f, kNoteOff, uint8_t(pad), 0.0f, 0);
        } else if (status == 0xB0 && (m[1] == 120 || m[1] == 123)) {  // all sound off, all notes off
            addEvent(f, kAllOff, 0, 0.0f, 0);
        }
    }

    uint32_t done = 0;
    for (uint32_t k = 0; k < fEventCount; ++k) {
        const Event e = fEvents[k];
        render(outputs, done, e.frame);
        done = e.frame > done ? e.frame : done;
        Pad& pad = fPads[e.pad];
        switch (e.type) {
        case kNoteOn:
            if (pad.quantize == kNone) {
                start(e.pad, e.velocity);
            } else {
                const double grid = pad.quantize == kBar ? fBeatsPerBar : 1.0;
                const double at = fBeat0 + static_cast<double>(e.frame) * fBeatsPerFrame;
                const double line = std::ceil(at / grid - 1e-9) * grid;
                int64_t f = frameOfBeat(line);
                if (f < static_cast<int64_t>(e.frame)) f = e.frame;
                if (f < static_cast<int64_t>(frames)) {
                    addEvent(static_cast<uint32_t>(f), kStart, e.pad, e.velocity, k + 1);
                } else {
                    pad.pending = true;
                    pad.pendingBeat = line;
                    pad.pendingVelocity = e.velocity;
                }
            }
            break;
        case kStart:
            start(e.pad, e.velocity);
            break;
        case kNoteOff:
            if (pad.mode == kGate) release(e.pad);
            break;
        case kAllOff:
            for (int p = 0; p < kPads; ++p) release(p);
            break;
        case kSwap: {
            PadShared& s = shared[e.pad];
            // the audio thread never frees: the old clip waits in `retired` until the worker frees it
            if (s.retired.load(std::memory_order_acquire) != nullptr) break;  // not freed yet: next block
            Clip* in = s.incoming.exchange(nullptr, std::memory_order_acq_rel);
            if (in == nullptr) break;
            s.retired.store(pad.clip, std::memory_order_release);
            pad.clip = in;
            break;
        }
        }
    }
    render(outputs, done, frames);

    publish(host);
    fFreeBeats = fBeat0 + static_cast<double>(frames) * fBeatsPerFrame;
}

}  // namespace bridge
