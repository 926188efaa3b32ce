"""A JACK test peer in its own process: plays known signals into diffhost's inputs and records
diffhost's outputs, each block stamped with the peer's cycle clock.

It runs apart from pytest so its Python process callback never waits for the GIL held by
the test thread (that made it miss JACK cycles on a loaded machine). Line protocol on
stdin/stdout; arrays travel as .npy files:

    connect CLIENT    -> ok              (source -> CLIENT's inputs, CLIENT's outputs -> capture)
    play PATH         -> started FRAME   (the peer frame of the signal's first sample)
    start             -> ok              (capture armed and running)
    stop PATH         -> FIRST_FRAME     (capture saved to PATH; or "error ...")
    stopraw PATH      -> ok              (blocks (2, n, block) to PATH, their peer frames to PATH.stamps.npy)
    connectmidi PORT  -> ok              (the peer's MIDI out -> PORT, e.g. diffhost-midi:in)
    midi PATH         -> started FRAME   (PATH: .npy rows [delay, byte, byte, byte], -1 = no byte;
                                          each sent at peer frame FRAME + delay)
    quit

The clock: a peer frame is (JACK cycles since the peer started) x block, counted by the peer.
JACK's own frame time (last_frame_time) is not a sample count: when the dummy driver's timer
wakes late (jackd logs "JackTimedDriver::Process XRun"), JACK2 resets its frame timer forward by
whole periods although no cycle was skipped, so stamps from it jump while the audio is
contiguous (the earlier peer read such jumps as "JACK skipped this peer" and the tests were
retried). diffhost's frame counter also counts cycles x block, so the two clocks keep a constant
offset for as long as the server runs every client in every cycle, which -S (synchronous mode)
guarantees short of the client timeout. A cycle is recognised by its last_frame_time: JACK2 may
call a client twice in the cycle its graph changed, with the same value, and that is one cycle.
"""

from __future__ import annotations

import gc
import sys
import threading
import time

import jack
import numpy as np

BLOCK = 128
CAPTURE_S = 15.0


class Peer:
    def __init__(self, server: str):
        # Two clients, so the graph source -> diffhost -> capture has no loop (a loop costs a cycle).
        self.source = jack.Client("dh-source", servername=server, no_start_server=True)
        self.client = jack.Client("dh-capture", servername=server, no_start_server=True)
        self.outs = [self.source.outports.register(f"out_{i}") for i in range(2)]
        self.midi_out = self.source.midi_outports.register("midi_out")
        self.midi_events: np.ndarray | None = None  # rows [delay, b0, b1, b2]
        self.midi_base = -1
        self.midi_next = 0
        self.midi_now = -1  # the cycle the events from midi_first on were written in
        self.midi_first = 0
        self.midi_started = threading.Event()
        self.ins = [self.client.inports.register(f"in_{i}") for i in range(2)]
        rate = self.client.samplerate
        blocks = int(CAPTURE_S * rate / self.client.blocksize)
        self.data = np.zeros((2, blocks, self.client.blocksize), dtype=np.float32)
        self.stamps = np.full(blocks, -1, dtype=np.int64)
        self.n = 0
        self.arm = False
        self.running = False
        self.signal: np.ndarray | None = None
        self.signal_cycle = -1  # the cycle the signal's first block plays in (-1: from the next one)
        self.start_frame = -1
        self.started = threading.Event()
        self.block = self.client.blocksize
        self.cycle = 0  # JACK cycles seen, counted by whichever client runs first in a cycle
        self.cycle_time = -1  # that cycle's last_frame_time (it only names the cycle)
        self.tick_lock = threading.Lock()  # the two clients may run at once before they are connected
        self.source.set_process_callback(self.play_block)
        self.client.set_process_callback(self.capture_block)
        self.source.activate()
        self.client.activate()

    def tick(self, client: jack.Client) -> int:
        """This cycle's peer frame: cycles counted x block (see the module's note on the clock)."""
        t = client.last_frame_time
        with self.tick_lock:
            if t != self.cycle_time:
                self.cycle_time = t
                self.cycle += 1
            return self.cycle * self.block

    def play_block(self, frames: int) -> None:
        now = self.tick(self.source)
        self.midi_out.clear_buffer()
        ev = self.midi_events
        if ev is not None:
            if self.midi_base < 0:
                self.midi_base = now
                self.midi_started.set()
            if now != self.midi_now:
                self.midi_now, self.midi_first = now, self.midi_next
            else:  # a second call in the same cycle writes the same events again
                self.midi_next = self.midi_first
            while self.midi_next < ev.shape[0]:
                at = self.midi_base + int(ev[self.midi_next, 0])
                if at >= now + frames:
                    break
                data = bytes(int(b) for b in ev[self.midi_next, 1:] if b >= 0)
                self.midi_out.write_midi_event(max(0, at - now), data)
                self.midi_next += 1
        sig = self.signal
        if sig is not None and self.signal_cycle < 0:
            self.signal_cycle = now
            self.start_frame = now
            self.started.set()
        # the chunk follows from the cycle, so a second call in the same cycle repeats it exactly
        pos = now - self.signal_cycle
        for c, port in enumerate(self.outs):
            buf = port.get_array()
            buf[:] = 0.0
            if sig is not None and pos < sig.shape[1]:
                chunk = sig[c % sig.shape[0], pos : pos + frames]
                buf[: chunk.shape[0]] = chunk

    def capture_block(self, frames: int) -> None:
        now = self.tick(self.client)
        if self.arm:  # (re)start here, so only this thread moves the capture index
            self.arm = False
            self.n = 0
            self.running = True
        if self.running and self.n < self.stamps.shape[0]:
            i = self.n
            for c, port in enumerate(self.ins):
                self.data[c, i] = port.get_array()
            self.stamps[i] = now
            self.n = i + 1

    def connect(self, name: str) -> None:
        def ports(**kind: bool) -> list[str]:
            found = [p.name for p in self.client.get_ports(f"^{name}:", is_audio=True, **kind)]
            return sorted(found, key=lambda n: int(n.rsplit("_", 1)[1]))

        for port, target in zip(self.outs, ports(is_input=True), strict=False):
            self.source.connect(port, target)
        for src, port in zip(ports(is_output=True), self.ins, strict=False):
            self.client.connect(src, port)

    def connect_midi(self, port: str) -> None:
        self.source.connect(self.midi_out, port)

    def send_midi(self, path: str) -> int:
        self.midi_events = None
        self.midi_started.clear()
        self.midi_base, self.midi_next, self.midi_now, self.midi_first = -1, 0, -1, 0
        self.midi_events = np.load(path).astype(np.int64)
        if not self.midi_started.wait(5):
            raise RuntimeError("the JACK peer's process callback did not run")
        return self.midi_base

    def play(self, path: str) -> int:
        self.started.clear()
        signal = np.atleast_2d(np.load(path)).astype(np.float32)
        self.signal = None
        self.signal_cycle = -1
        self.signal = signal
        if not self.started.wait(5):
            raise RuntimeError("the JACK peer's process callback did not run")
        return self.start_frame

    def start(self) -> None:
        self.running = False
        self.stamps[:] = -1
        self.arm = True
        deadline = time.monotonic() + 5
        while self.arm:
            if time.monotonic() > deadline:
                raise RuntimeError("the JACK peer's capture did not start")
            time.sleep(0.001)

    def stop_raw(self, path: str) -> str:
        """Blocks as captured, each with its peer frame, even across cycles this peer missed (benches)."""
        self.running = False
        n = self.n
        keep = np.flatnonzero(np.diff(self.stamps[:n], prepend=-1) != 0)
        np.save(path, self.data[:, keep])
        np.save(path + ".stamps.npy", self.stamps[keep])
        return "ok"

    def stop(self, path: str) -> int:
        self.running = False
        n = self.n
        if n == 0:
            raise RuntimeError("nothing captured")
        # JACK2 may run a client's process twice in the cycle its graph changed: same stamp, same data
        keep = np.flatnonzero(np.diff(self.stamps[:n], prepend=-1) != 0)
        stamps = self.stamps[keep]
        gaps = np.flatnonzero(np.diff(stamps) != self.client.blocksize)
        if gaps.size:  # the capture client was not run in a cycle its source was: samples are lost
            raise RuntimeError(
                f"capture is not contiguous: the capture client missed cycles after block {gaps[:5]} of"
                f" {stamps.size} (gap {np.diff(stamps)[gaps[:5]]} frames); see jackd's log for the client timeout"
            )
        np.save(path, self.data[:, keep].reshape(2, -1))
        return int(stamps[0])


def main() -> None:
    gc.disable()  # a collection inside a process callback can take longer than a 2.7 ms cycle
    peer = Peer(sys.argv[1])
    print("ready", flush=True)
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        try:
            if cmd == "quit":
                break
            if cmd == "connect":
                peer.connect(arg)
                reply = "ok"
            elif cmd == "connectmidi":
                peer.connect_midi(arg)
                reply = "ok"
            elif cmd == "midi":
                reply = f"started {peer.send_midi(arg)}"
            elif cmd == "play":
                reply = f"started {peer.play(arg)}"
            elif cmd == "start":
                peer.start()
                reply = "ok"
            elif cmd == "stopraw":
                reply = peer.stop_raw(arg)
            elif cmd == "stop":
                reply = str(peer.stop(arg))
            else:
                reply = f"error unknown command {cmd!r}"
        except Exception as exc:  # reported to the test, which fails with it
            reply = f"error {exc}"
        print(reply, flush=True)
    for client in (peer.source, peer.client):
        client.deactivate()
        client.close()


if __name__ == "__main__":
    main()
