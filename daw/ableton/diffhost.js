// diffhost.js - the logic of the diffhost Max for Live device (daw/ableton/diffhost-bridge.maxpat).
//
// Outlet 0 -> [udpsend 127.0.0.1 12000]: OSC messages to diffhost.
// Inlet    <- [udpreceive 12001] -> [deferlow]: diffhost's replies and events (this device
//             subscribes port 12001 when it loads), and the device's own controls:
//             "render", "length <s>", "slot <n>" (1..16), "play", "stop", "subscribe", or plain prompt text.
// Outlet 1 -> status text for the device's display.
//
// When a render is done, the file goes into the highlighted Session-view clip slot if it
// is empty (Live 12.0.5+: ClipSlot.create_audio_clip); otherwise the path is shown so you
// can drag it from the renders folder (add that folder to Live's browser Places).

inlets = 1;
outlets = 2;

var LISTEN_PORT = 12001;   // must match [udpreceive]
var prompt = "";
var lengthS = 0.0;          // 0 = diffhost's current length
var slotNumber = 1;
var myJobs = {};

function status(text) {
  outlet(1, "set", text);
  post("diffhost: " + text + "\n");
}

function loadbang() {
  subscribe();
}

function subscribe() {
  outlet(0, "/diffhost/subscribe", LISTEN_PORT);
}

function length(seconds) {
  lengthS = Math.max(0, parseFloat(seconds) || 0);
}

function slot(n) {
  // slots are numbered 1..16, as diffhost's window, OSC and kits number them
  slotNumber = Math.min(16, Math.max(1, Math.floor(n)));
}

function render() {
  if (!prompt) {
    status("type a prompt first");
    return;
  }
  outlet(0, "/diffhost/render", prompt, lengthS, -1);
  status("asking for \"" + prompt + "\"");
}

function play() {
  outlet(0, "/diffhost/slot/" + slotNumber + "/play", 1.0);
}

function stop() {
  outlet(0, "/diffhost/slot/" + slotNumber + "/stop");
}

function anything() {
  var args = arrayfromargs(arguments);
  var address = messagename;
  if (address.charAt(0) !== "/") {
    // Text from the prompt box ([textedit] may prefix it with "text").
    var words = address === "text" ? args : [address].concat(args);
    prompt = words.join(" ");
    status("prompt: " + prompt);
    return;
  }
  switch (address) {
    case "/diffhost/subscribed":
      status("connected to diffhost");
      break;
    case "/diffhost/job/accepted":
      myJobs[args[0]] = true;
      status("job " + args[0] + " queued");
      break;
    case "/diffhost/job/progress":
      status("job " + args[0] + ": " + Math.round(args[1] * 100) + "%");
      break;
    case "/diffhost/job/done":
      status("done: " + args[1]);
      if (myJobs[args[0]]) {
        delete myJobs[args[0]];
        placeClip(String(args[1]));
      }
      break;
    case "/diffhost/job/error":
      delete myJobs[args[0]];
      status("job " + args[0] + " failed: " + args[1]);
      break;
    case "/diffhost/job/cancelled":
      delete myJobs[args[0]];
      status("job " + args[0] + " cancelled");
      break;
    case "/diffhost/error":
      status("diffhost refused " + args[0] + ": " + args[1]);
      break;
  }
}

function placeClip(path) {
  var slotApi = new LiveAPI("live_set view highlighted_clip_slot");
  if (!slotApi || Number(slotApi.id) === 0) {
    status("rendered " + path + " (select a clip slot to have it placed)");
    return;
  }
  if (Number(slotApi.get("has_clip")) === 1) {
    status("slot is taken; the render is " + path);
    return;
  }
  slotApi.call("create_audio_clip", path);
  if (Number(slotApi.get("has_clip")) !== 1) {
    status("Live did not import it (needs Live 12.0.5+ and an audio track): " + path);
  }
}
