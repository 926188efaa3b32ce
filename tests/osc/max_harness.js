// Runs daw/ableton/diffhost.js outside Max, in Node: the Max/Live API is the only stand-in.
// [udpsend] is a UDP socket that only sends (as Max's does: it never listens on its port),
// [udpreceive PORT] a socket bound to PORT; messages go through real OSC over loopback.
// Usage: node max_harness.js DEVICE_JS SERVER_PORT LISTEN_PORT 'STEPS_JSON'
// Steps: ["call", name, ...args] | ["wait", substring, timeout_ms] | ["foreign", address, ...args]
//        | ["sleep", ms]. Prints one JSON line per status text, clip and step.
"use strict";
const dgram = require("dgram");
const fs = require("fs");
const vm = require("vm");

const [devicePath, serverPort, listenPort, stepsJson] = process.argv.slice(2);
const steps = JSON.parse(stepsJson);
const log = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

function pad(buf) {
  const n = 4 - (buf.length % 4);
  return Buffer.concat([buf, Buffer.alloc(n)]);
}
function encode(address, args) {
  let tags = ",";
  const parts = [];
  for (const a of args) {
    if (typeof a === "number" && Number.isInteger(a)) {
      tags += "i";
      const b = Buffer.alloc(4);
      b.writeInt32BE(a);
      parts.push(b);
    } else if (typeof a === "number") {
      tags += "f";
      const b = Buffer.alloc(4);
      b.writeFloatBE(a);
      parts.push(b);
    } else {
      tags += "s";
      parts.push(pad(Buffer.from(String(a), "utf8")));
    }
  }
  return Buffer.concat([pad(Buffer.from(address)), pad(Buffer.from(tags)), ...parts]);
}
function readString(buf, at) {
  const end = buf.indexOf(0, at);
  return [buf.toString("utf8", at, end), (end + 4) & ~3];
}
function decode(buf) {
  let [address, at] = readString(buf, 0);
  let tags;
  [tags, at] = readString(buf, at);
  const args = [];
  for (const t of tags.slice(1)) {
    if (t === "i") { args.push(buf.readInt32BE(at)); at += 4; }
    else if (t === "f") { args.push(buf.readFloatBE(at)); at += 4; }
    else if (t === "h") { args.push(Number(buf.readBigInt64BE(at))); at += 8; }
    else if (t === "s") { let s; [s, at] = readString(buf, at); args.push(s); }
  }
  return [address, args];
}

const udpsend = dgram.createSocket("udp4");      // sends only: never reads its port
const foreign = dgram.createSocket("udp4");      // another client (no token)
const udpreceive = dgram.createSocket("udp4");
const statuses = [];

const context = {
  inlets: 0,
  outlets: 0,
  messagename: "",
  outlet: (n, ...args) => {
    if (n === 0) {
      udpsend.send(encode(args[0], args.slice(1)), Number(serverPort), "127.0.0.1");
    } else if (args[0] === "set") {
      const text = args.slice(1).join(" ");
      statuses.push(text);
      log({ status: text });
    }
  },
  post: () => {},
  arrayfromargs: (a) => Array.prototype.slice.call(a),
  LiveAPI: function () {
    this.id = 1;
    this.has = 0;
    this.get = () => this.has;
    this.call = (what, path) => {
      log({ clip: path });
      statuses.push("CLIP " + path);
      this.has = 1;
    };
  },
  Date,
  Math,
  Number,
  String,
  parseFloat,
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(devicePath, "utf8"), context, { filename: devicePath });

udpreceive.on("message", (msg) => {
  const [address, args] = decode(msg);
  context.messagename = address;
  context.anything(...args);
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function run() {
  let mark = 0; // "wait" looks at what arrived since the last call or foreign message
  for (const step of steps) {
    log({ step });
    const [kind, ...rest] = step;
    if (kind === "call" || kind === "foreign") {
      mark = statuses.length;
    }
    if (kind === "call") {
      const [name, ...args] = rest;
      if (name === "text") {
        context.messagename = "text";
        context.anything(...args);
      } else {
        context[name](...args);
      }
    } else if (kind === "foreign") {
      foreign.send(encode(rest[0], rest.slice(1)), Number(serverPort), "127.0.0.1");
    } else if (kind === "sleep") {
      await sleep(rest[0]);
    } else if (kind === "wait") {
      const [needle, timeout] = rest;
      const deadline = Date.now() + timeout;
      while (!statuses.slice(mark).some((s) => s.includes(needle))) {
        if (Date.now() > deadline) {
          log({ timeout: needle });
          break;
        }
        await sleep(10);
      }
    }
  }
  udpsend.close();
  foreign.close();
  udpreceive.close();
}

udpreceive.bind(Number(listenPort), "127.0.0.1", () => {
  context.LISTEN_PORT = udpreceive.address().port; // port 0: the device subscribes what it got
  udpsend.bind(0, "127.0.0.1", run);
});
