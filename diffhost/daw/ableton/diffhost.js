// diffhost.js - the logic of the diffhost Max for Live device (daw/ableton/diffhost-bridge.maxpat).
//
// Outlet 0 -> [udpsend 127.0.0.1 12000]: OSC messages to diffhost.
// Inlet    <- [udpreceive 12001] -> [deferlow]: diffhost's replies and events (this device
//             subscribes port 12001 when it loads), and the device's own controls:
//             "render", "cancel", "length <s>", "slot <n>" (1..16), "play", "stop", "subscribe", or
//             plain prompt text.
// Outlet 1 -> status text for the device's display.
//
// [udpsend] sends from a port it does not listen on, so diffhost answers this device at its
// subscribed port 12001 (diffhost sends every answer and error to the listeners subscribed on the
// sender's host). Several devices, the window, REAPER and scripts share that stream, so:
//   - renders carry this device's token, and diffhost ends every event of such a job with it:
//     only jobs with our token are "ours" (placed into Live, shown in the status line);
//   - a refusal of a render carries the token too; other refusals are shown when they name an
//     address this device sent in the last few seconds.
//
// When one of our renders is done, the file goes into the highlighted Session-view clip slot if
// it is empty (Live 12.0.5+: ClipSlot.create_audio_clip); otherwise the path is shown so you can
// drag it from the renders folder (add that folder to Live's browser Places).

inlets = 1;
outlets = 2;

var LISTEN_PORT = 12001;   // must match [udpreceive]
var RECENT_MS = 5000;      // how long a sent address counts as "ours" for untokened errors
// 1..2^24-1: exact even when a client sends it as a 32-bit float (Max may send numbers as floats).
var token = 1 + Math.floor(Math.random() * 16777214);
var prompt = "";
var lengthS = 0.0;          // 0 = diffhost's current length
var slotNumber = 1;
var myJobs = {};            // job id -> true, for jobs that carried our token
var sent = {};              // address -> time we last sent it

function status(text) {
  outlet(1, "set", text);
  post("diffhost: " + text + "\n");
}

function send() {
  var args = arrayfromargs(arguments);
  sent[args[0]] = new Date().getTime();
  outlet.apply(this, [0].concat(args));
}

function loadbang() {
  subscribe();
}

function subscribe() {
  send("/diffhost/subscribe", LISTEN_PORT);
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
  // prompt, length (0 = current), seed (-1 = session's), preset ("" = none), our token
  send("/diffhost/render", prompt, lengthS, -1, "", token);
  status("asking for \"" + prompt + "\"");
}

function cancel() {
  var any = false;
  for (var job in myJobs) {
    send("/diffhost/cancel", Number(job));
    any = true;
  }
  if (!any) {
    status("nothing of ours to cancel");
  }
}

function play() {
  send("/diffhost/slot/" + slotNumber + "/play", 1.0);
}

function stop() {
  send("/diffhost/slot/" + slotNumber + "/stop");
}

// The token at the end of a job event (an int after the strings), or 0.
function tokenOf(args, fixed) {
  return args.length > fixed ? Number(args[args.length - 1]) : 0;
}

function ours(args, fixed) {
  return myJobs[args[0]] === true || tokenOf(args, fixed) === token;
}

function recentlySent(address) {
  var at = sent[address];
  return at !== undefined && new Date().getTime() - at < RECENT_MS;
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
    case "/diffhost/job/accepted":          // i:job [i:token]
      if (tokenOf(args, 1) === token) {
        myJobs[args[0]] = true;
        status("job " + args[0] + " queued");
      }
      break;
    case "/diffhost/job/progress":          // i:job f:fraction [i:token]
      if (ours(args, 2)) {
        status("job " + args[0] + ": " + Math.round(args[1] * 100) + "%");
      }
      break;
    case "/diffhost/job/done":              // i:job s:path f:length i:rate [s:path...] [i:token]
      if (ours(args, 4)) {
        delete myJobs[args[0]];
        placeClip(String(args[1]));
      }
      break;
    case "/diffhost/job/error":             // i:job s:reason [i:token]
      if (ours(args, 2)) {
        delete myJobs[args[0]];
        status("job " + args[0] + " failed: " + args[1]);
      }
      break;
    case "/diffhost/job/cancelled":         // i:job [i:token]
      if (ours(args, 1)) {
        delete myJobs[args[0]];
        status("job " + args[0] + " cancelled");
      }
      break;
    case "/diffhost/error":                 // s:address s:message [i:token]
      if (args.length > 2 ? Number(args[2]) === token : recentlySent(String(args[0]))) {
        status("diffhost refused " + args[0] + ": " + args[1]);
      }
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
