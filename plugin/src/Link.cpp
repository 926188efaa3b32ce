#include "Link.hpp"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

namespace bridge {

namespace {

double now() { return steadyNow(); }

void closeSocket(int s) {
#ifdef _WIN32
    closesocket(static_cast<SOCKET>(s));
#else
    close(s);
#endif
}

}  // namespace

Link::Link(Bridge& bridge) : fBridge(bridge) {
    if (const char* env = std::getenv("DIFFHOST_OSC_PORT"); env != nullptr) {
        const long p = std::strtol(env, nullptr, 10);
        if (p > 0 && p < 65536) fPort = static_cast<int>(p);
    }
}

void Link::start() {
    if (fRunning.exchange(true)) return;
#ifdef _WIN32
    WSADATA wsa;
    WSAStartup(MAKEWORD(2, 2), &wsa);
#endif
    // One socket for the instance's life: diffhost answers the address the hellos came from.
    if (fSocket < 0) fSocket = static_cast<int>(socket(AF_INET, SOCK_DGRAM, 0));
    if (fSocket >= 0 && fBound == false) {
        fBound = true;
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;  // an ephemeral port: diffhost answers to wherever the hello came from
        if (bind(fSocket, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            closeSocket(fSocket);
            fBound = false;
            fSocket = -1;
        }
    }
    fLastHello = fLastTransport = -10.0;
    fSentBpm = -1.0;
    fThread = std::thread([this] { run(); });
}

void Link::stop() {
    if (!fRunning.exchange(false)) return;
    if (fThread.joinable()) fThread.join();
    std::string id;
    {
        std::lock_guard<std::mutex> lock(fBridge.mutex);
        id = fBridge.instanceId;
    }
    send(osc::Writer("/diffhost/plugin/bye").s(id));
    fBridge.freeRetired();
}

Link::~Link() {
    stop();
    if (fSocket >= 0) closeSocket(fSocket);
}

void Link::send(const osc::Writer& w) {
    if (fSocket < 0) return;
    const std::vector<uint8_t> bytes = w.bytes();
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(static_cast<uint16_t>(fPort));
    sendto(fSocket, reinterpret_cast<const char*>(bytes.data()), static_cast<int>(bytes.size()), 0,
           reinterpret_cast<sockaddr*>(&to), sizeof to);
}

void Link::sendTransport(bool force) {
    double bpm, bar, beat;
    int num, den, playing, valid;
    fBridge.engine.readTransport(bpm, num, den, playing, valid, bar, beat);
    const double t = now();
    const bool changed = bpm != fSentBpm || num != fSentNum || den != fSentDen || playing != fSentPlaying || valid != fSentValid;
    if (!force && !changed && !(playing && t - fLastTransport >= 0.25)) return;
    std::string id;
    {
        std::lock_guard<std::mutex> lock(fBridge.mutex);
        id = fBridge.instanceId;
    }
    send(osc::Writer("/diffhost/plugin/transport").s(id).f(static_cast<float>(bpm)).i(num).i(den).i(playing).i(valid).d(bar).d(beat));
    fSentBpm = bpm;
    fSentNum = num;
    fSentDen = den;
    fSentPlaying = playing;
    fSentValid = valid;
    fLastTransport = t;
}

void Link::collect() {
    fBridge.freeRetired();
    std::string id;
    {
        std::lock_guard<std::mutex> lock(fBridge.mutex);
        id = fBridge.instanceId;
    }
    // a clip the audio thread took (or a later load replaced) is reported as loaded
    for (int p = 0; p < kPads; ++p) {
        if (fAwaiting[p] != nullptr && fBridge.engine.shared[p].incoming.load() != fAwaiting[p]) {
            send(osc::Writer("/diffhost/plugin/loaded").s(id).i(p + 1).s(fAwaitingHash[p]));
            fAwaiting[p] = nullptr;
        }
    }
    if (Capture* c = fBridge.engine.captureDone.exchange(nullptr)) {
        const std::string dir = clipCache() + "/captures";
        const std::string path = dir + "/" + id + "-pad" + std::to_string(c->pad) + "-" + std::to_string(++fCaptureCount) +
                                 "-" + std::to_string(static_cast<long long>(now() * 1000.0)) + ".wav";
        std::string error;
        if (makeDirs(dir) && writeWav(path, c->samples.data(), c->frames, static_cast<uint32_t>(fBridge.sampleRate), error)) {
            send(osc::Writer("/diffhost/plugin/captured").s(id).i(c->pad).s(path).i(c->bars));
        } else {
            send(osc::Writer("/diffhost/plugin/captured").s(id).i(c->pad).s("error: " + (error.empty() ? "cannot create " + dir : error)).i(c->bars));
        }
        delete c;
    }
}

void Link::handle(const osc::Message& m) {
    std::string t = m.types();
    for (char& c : t) {
        if (c == 'd') c = 'f';  // a double where a float is expected is fine (Python senders use either)
    }
    std::string id;
    {
        std::lock_guard<std::mutex> lock(fBridge.mutex);
        id = fBridge.instanceId;
    }
    auto reportError = [&](const std::string& what) { send(osc::Writer("/diffhost/plugin/error").s(id).s(m.address + ": " + what)); };
    if (m.address == "/bridge/pad/load" && t == "issi") {
        const int pad = m.args[0].i;
        std::string error;
        Clip* clip = fBridge.load(pad, m.args[1].s, m.args[2].s, m.args[3].i != 0, error);
        if (clip == nullptr) {
            send(osc::Writer("/diffhost/plugin/loaded").s(id).i(pad).s("error: " + error));
        } else {
            fAwaiting[pad - 1] = clip;
            fAwaitingHash[pad - 1] = m.args[1].s;
        }
    } else if (m.address == "/bridge/pad/options" && t == "iiiiffs") {
        std::string error;
        if (!fBridge.setOptions(m.args[0].i, m.args[1].i, m.args[2].i, m.args[3].i, m.args[4].number, m.args[5].number, m.args[6].s, error))
            reportError(error);
    } else if (m.address == "/bridge/pad/clear" && t == "i") {
        std::string error;
        Clip* clip = fBridge.load(m.args[0].i, "", "", false, error);
        if (clip == nullptr) reportError(error);
        else {
            std::lock_guard<std::mutex> lock(fBridge.mutex);
            fBridge.pads[m.args[0].i - 1].recipe.clear();
        }
    } else if (m.address == "/bridge/capture" && t == "ii") {
        const int pad = m.args[0].i, bars = m.args[1].i;
        if (pad < 1 || pad > kPads) return reportError("pad " + std::to_string(pad) + " is out of range 1..16");
        if (bars < 1 || bars > 64) return reportError("bars " + std::to_string(bars) + " is out of range 1..64");
        double bpm, bar, beat;
        int num, den, playing, valid;
        fBridge.engine.readTransport(bpm, num, den, playing, valid, bar, beat);
        Capture* c = new Capture();
        c->pad = pad;
        c->bars = bars;
        // room for the bars at the current tempo, and a quarter more should the tempo slow down
        const double frames = bars * std::max(num, 1) * 60.0 / std::max(bpm, 1.0) * fBridge.sampleRate * 1.25 + 1024.0;
        c->capacity = static_cast<uint32_t>(std::min(frames, 64.0 * 1024 * 1024));
        c->samples.assign(static_cast<size_t>(c->capacity) * 2, 0.0f);
        delete fBridge.engine.captureRequest.exchange(c);
    } else if (m.address == "/bridge/ping") {
        send(osc::Writer("/diffhost/plugin/pong").s(id));
    } else if (m.address == "/bridge/pads" && t.empty()) {
        sendPads(id);
    } else if ((m.address == "/bridge/prompt/accepted" && t == "ii") || (m.address == "/bridge/prompt/error" && t == "is")) {
        // diffhost took the typed prompt (or refused it, and says why in its window): it is not sent
        // again, unless the musician has typed another since
        const int pad = m.args[0].i;
        if (pad >= 1 && pad <= kPads && !fPromptSent[pad - 1].empty()) {
            std::lock_guard<std::mutex> lock(fBridge.mutex);
            PadInfo& info = fBridge.pads[pad - 1];
            info.prompted = fPromptSent[pad - 1];
            if (info.prompt == info.prompted) fBridge.promptPending.fetch_and(~(1u << (pad - 1)));
            fPromptSent[pad - 1].clear();
        }
    } else if (m.address == "/bridge/hello") {
        // diffhost's answer to our hello: nothing to do
    } else if (m.address.rfind("/diffhost/", 0) == 0) {
        // diffhost's own answers (an /diffhost/error about a message this version of diffhost does
        // not know): never answered with an error of ours, which could go back and forth
    } else {
        reportError("unknown address or argument types ," + t);
    }
}

void Link::sendPads(const std::string& id) {
    PadInfo pads[kPads];
    {
        std::lock_guard<std::mutex> lock(fBridge.mutex);
        for (int p = 0; p < kPads; ++p) pads[p] = fBridge.pads[p];
    }
    int count = 0;
    for (int p = 0; p < kPads; ++p) {
        const PadInfo& info = pads[p];
        if (info.hash.empty()) continue;
        send(osc::Writer("/diffhost/plugin/pad").s(id).i(p + 1).s(info.hash).s(info.label).i(info.mode).i(info.choke)
                 .i(info.quantize).f(static_cast<float>(info.gainDb)).f(static_cast<float>(info.pan)).s(info.recipe)
                 .i(info.inMemory ? 1 : 0));
        ++count;
    }
    send(osc::Writer("/diffhost/plugin/pads").s(id).i(count));
}

// "2 bars: dusty drum loop" -> 2 bars of "dusty drum loop"; without a leading length, one bar
static void parsePrompt(const std::string& text, double& bars, std::string& prompt) {
    bars = 1.0;
    prompt = text;
    const char* s = text.c_str();
    char* end = nullptr;
    const double n = std::strtod(s, &end);
    if (end == s || !std::isfinite(n)) return;
    while (*end == ' ') ++end;
    if (std::strncmp(end, "bar", 3) != 0) return;
    end += 3;
    if (*end == 's') ++end;
    while (*end == ' ' || *end == ':' || *end == ',') ++end;
    if (*end == '\0') return;
    bars = n;
    prompt = end;
}

void Link::sendPrompts(const std::string& id, double t) {
    double changed = fBridge.promptsChangedAt.load();
    if (changed > 0.0 && t - changed >= 0.25 && fBridge.promptsChangedAt.compare_exchange_strong(changed, 0.0)) {
        uint32_t bits = 0;
        std::lock_guard<std::mutex> lock(fBridge.mutex);
        for (int p = 0; p < kPads; ++p) {
            const PadInfo& info = fBridge.pads[p];
            if (!info.prompt.empty() && info.prompt != info.prompted) bits |= 1u << p;
        }
        fBridge.promptPending.store(bits);
    }
    const uint32_t pending = fBridge.promptPending.load();
    if (pending == 0) return;
    for (int p = 0; p < kPads; ++p) {
        if (!(pending & (1u << p))) continue;
        std::string text;
        {
            std::lock_guard<std::mutex> lock(fBridge.mutex);
            text = fBridge.pads[p].prompt;
        }
        // a newly typed prompt goes at once; until diffhost answers, it goes again every 2 s (diffhost
        // may not be running yet)
        if (text == fPromptSent[p] && t - fPromptSentAt[p] < 2.0) continue;
        double bars;
        std::string prompt;
        parsePrompt(text, bars, prompt);
        send(osc::Writer("/diffhost/plugin/prompt").s(id).i(p + 1).s(prompt).f(static_cast<float>(bars)).i(-1));
        fPromptSent[p] = text;
        fPromptSentAt[p] = t;
    }
}

void Link::run() {
    uint8_t buf[65536];
    while (fRunning.load()) {
        const double t = now();
        if (t - fLastHello >= 1.0) {
            std::string id, track;
            {
                std::lock_guard<std::mutex> lock(fBridge.mutex);
                id = fBridge.instanceId;
                track = fBridge.trackName;
            }
            send(osc::Writer("/diffhost/plugin/hello").s(id).s(track).f(static_cast<float>(fBridge.sampleRate.load())).i(kVersion));
            // how long run() took since the last hello: the longest, the mean, and the host's block
            Engine& e = fBridge.engine;
            const int64_t most = e.runMaxNs.exchange(0), sum = e.runSumNs.exchange(0), count = e.runCount.exchange(0);
            if (count > 0) {
                send(osc::Writer("/diffhost/plugin/stats").s(id).f(static_cast<float>(most / 1e3))
                         .f(static_cast<float>(sum / 1e3 / static_cast<double>(count))).i(static_cast<int32_t>(count)));
            }
            fLastHello = t;
            sendTransport(true);
        }
        sendTransport(false);
        collect();
        {
            std::string id;
            {
                std::lock_guard<std::mutex> lock(fBridge.mutex);
                id = fBridge.instanceId;
            }
            // the host restored or changed pads (a project opened while diffhost runs): once the
            // changes settle, diffhost hears what the pads hold
            double changed = fBridge.padsChangedAt.load();
            if (changed > 0.0 && t - changed >= 0.25 && fBridge.padsChangedAt.compare_exchange_strong(changed, 0.0))
                sendPads(id);
            sendPrompts(id, t);
        }
        if (fSocket < 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
#ifdef _WIN32
        WSAPOLLFD pfd{static_cast<SOCKET>(fSocket), POLLIN, 0};
        const int ready = WSAPoll(&pfd, 1, 2);
#else
        pollfd pfd{fSocket, POLLIN, 0};
        const int ready = poll(&pfd, 1, 2);  // 2 ms: a swap is reported soon after it happens
#endif
        if (ready <= 0) continue;
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const long n = static_cast<long>(recvfrom(fSocket, reinterpret_cast<char*>(buf), sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len));
        if (n <= 0) continue;
        if (from.sin_addr.s_addr != htonl(INADDR_LOOPBACK)) continue;  // only this machine talks to the plugin
        osc::Message msg;
        if (osc::parse(buf, static_cast<size_t>(n), msg)) handle(msg);
    }
}

}  // namespace bridge
