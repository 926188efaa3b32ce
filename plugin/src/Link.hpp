// The worker thread: the OSC link with diffhost (hello, transport, clips and pad options in),
// freeing clips the audio thread put aside, and writing captures. Runs from the instance's first
// activation until it is destroyed, on one socket (one address diffhost can answer) for all that time.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "Bridge.hpp"
#include "Osc.hpp"

namespace bridge {

class Link {
public:
    explicit Link(Bridge& bridge);
    ~Link();
    void start();
    void stop();  // joins the thread and sends bye (when the instance is destroyed)

private:
    void run();
    void handle(const osc::Message& msg);
    void send(const osc::Writer& w);
    void sendTransport(bool force);
    void collect();
    void sendPads(const std::string& id);  // every pad that holds a clip, then the count
    void sendPrompts(const std::string& id, double t);

    Bridge& fBridge;
    std::thread fThread;
    std::atomic<bool> fRunning{false};
    int fSocket = -1;
    bool fBound = false;
    int fPort = 12000;  // diffhost's OSC port
    Clip* fAwaiting[kPads] = {};  // clips handed over whose swap is still to be reported
    std::string fAwaitingHash[kPads];
    double fLastHello = -10.0, fLastTransport = -10.0;
    double fSentBpm = -1.0;
    int fSentNum = -1, fSentDen = -1, fSentPlaying = -1, fSentValid = -1;
    int fCaptureCount = 0;
    double fPromptSentAt[kPads] = {};
    std::string fPromptSent[kPads];  // the text last sent for each pad
};

}  // namespace bridge
