"""A JACK MIDI input port, "diffhost-midi:in", whose notes land on the frame they were played.

Controllers, a DAW's MIDI track or a sequencer are patched to it like to any JACK synth. The
port's process callback is C (dh_midi_process in host/audio/_mixer.c), not Python: it reads the
cycle's events with their frame offsets and pushes mapped note-ons, timestamped, onto the mixer's
MIDI command ring, so a note never waits for the GIL (a Python process callback did: while the
engine rendered it overran JACK's deadline hundreds of times a minute, bench/live_midi.py).
Every message is also copied with its frame to a ring this module's thread reads and hands to
the router: CCs, program changes, clock, learning, and fresh pads' "a hit happened".

The client also listens to the audio stream's first output port (an "order" input): that makes
JACK run it after diffhost's audio client in every cycle, so a note played at offset k of cycle n
starts at offset k of the next block: exactly one block of latency, never more, never jittering.
Clock ticks are placed on the frame they fall on, so quantized triggers land on the ticks.

Why not rtmidi's JACK API: it stamps an event with the time it was read, not its frame in the
cycle (up to a block of jitter), and it hands events to Python on JACK's thread.
"""

from __future__ import annotations

import threading
from typing import Any

from diffhost.host.audio import native

ORDER_PORT = "order"
POLL_S = 0.002  # how often the thread drains the reader's ring (notes do not wait for it)


# Inputs whose server died (see JackMidiInput.abandon). libjack's state is per process, so this
# list is too; it only grows by one per lost JACK server.
_ABANDONED: list[JackMidiInput] = []


class JackMidiError(OSError):
    """No JACK server to offer a port on, or the port could not be made."""


class JackMidiInput:
    def __init__(
        self,
        router: Any,
        session: Any,
        *,
        server: str | None = None,
        client_name: str = "diffhost-midi",
        audio_client: str | None = None,
    ):
        try:
            import jack
            import mido
        except (ImportError, OSError) as exc:
            raise JackMidiError(f"JACK MIDI: the JACK client library is not available ({exc})") from None
        self._mido = mido
        self.router = router
        self.session = session
        try:
            self.client = jack.Client(client_name, servername=server, no_start_server=True)
        except jack.JackError:
            where = f"JACK server {server!r}" if server else "a JACK server"
            raise JackMidiError(f"JACK MIDI: {where} is not running") from None
        self._client_name, self._server = self.client.name, server
        self.lost = False  # set when the JACK server goes away (the port is then dead: reopen it)
        self._closed = False
        self.port = self.client.midi_inports.register("in")
        self._port_name = self.port.name
        self.order = self.client.inports.register(ORDER_PORT)
        self.block = self.client.blocksize
        self.events_in = 0
        self.ffi, self.lib = native.load()
        jffi, jlib = jack._ffi, jack._lib

        def ptr(x: Any) -> Any:  # a pointer from the jack package's cffi to ours
            return self.ffi.cast("void *", int(jffi.cast("uintptr_t", x)))

        mi = self.lib.dh_midi_new(
            self.ffi.NULL,
            ptr(self.port._ptr),
            ptr(jffi.addressof(jlib, "jack_port_get_buffer")),
            ptr(jffi.addressof(jlib, "jack_midi_get_event_count")),
            ptr(jffi.addressof(jlib, "jack_midi_event_get")),
        )
        if mi == self.ffi.NULL:
            self.client.close()
            raise JackMidiError("JACK MIDI: out of memory")
        self._mi = mi
        self._mixer: Any = None  # the Mixer whose ring the reader feeds (kept alive while it may)
        self._old_mixer: Any = None
        self._map: Any = None
        self._learning: bool | None = None
        self._sync()
        entry = self.ffi.addressof(self.lib, "dh_midi_process")  # the C function itself (cffi API mode)
        self.client.set_shutdown_callback(self._on_shutdown)
        callback = jffi.cast("JackProcessCallback", int(self.ffi.cast("uintptr_t", entry)))
        jlib.jack_set_process_callback(self.client._ptr, callback, jffi.cast("void *", int(self.ffi.cast("uintptr_t", mi))))
        self.client.activate()
        self.ordered = self._follow_audio(audio_client)
        self._msg = self.ffi.new("dh_midi_msg *")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="diffhost-midi-in", daemon=True)
        self._thread.start()

    @property
    def port_name(self) -> str:
        return self._port_name  # kept: asking a client whose server died can crash the process

    @property
    def dropped(self) -> int:
        return int(self.lib.dh_midi_dropped(self._mi))

    def _follow_audio(self, audio_client: str | None) -> bool:
        """Connect the audio client's first output to our order port; False if it is not there."""
        from diffhost.host.audio.devices import jack_client_name

        name = audio_client or jack_client_name()
        outs = self.client.get_ports(f"^{name}:", is_audio=True, is_output=True)
        if not outs:
            return False
        try:
            self.client.connect(outs[0], self.order)
        except Exception:  # noqa: BLE001 - JackError, or a port that vanished: unordered is still <= 1 block
            return False
        return True

    def _sync(self) -> None:
        """Give the C reader the current mixer, note map, channel and learning state."""
        if self.lost:  # its server died: no JACK call on this client any more (see abandon)
            return
        audio = self.session.audio
        mixer = getattr(audio, "_mixer", None) if audio is not None else None
        if mixer is not self._mixer:
            closed = mixer is None or getattr(mixer, "_closed", True)
            self.lib.dh_midi_set_mixer(self._mi, self.ffi.NULL if closed or mixer is None else mixer._m)
            self._old_mixer, self._mixer = self._mixer, mixer  # the reader may finish a cycle on the old one
            if self._old_mixer is not None and mixer is not None and not closed:
                self.ordered = self._follow_audio(None)  # the reopened stream has new ports
        m = self.router.map
        if m is not self._map:
            slots = audio.num_slots if audio is not None else 16
            for note in range(128):
                slot = m.notes.get(note)
                self.lib.dh_midi_set_note(self._mi, note, slot - 1 if slot is not None and slot <= slots else -1)
            self.lib.dh_midi_set_channel(self._mi, -1 if m.channel is None else m.channel - 1)
            self._map = m
        learning = self.router.learning is not None and self.router.learning.kind == "pad"
        if learning != self._learning:
            self.lib.dh_midi_set_learning(self._mi, int(learning))
            self._learning = learning

    def _run(self) -> None:
        msg = self._msg
        while not self._stop.wait(POLL_S):
            try:
                self._sync()
            except Exception:  # noqa: BLE001 - a stream closing under us: next period
                continue
            while self.lib.dh_midi_pop(self._mi, msg):
                self.events_in += 1
                data = bytes(msg.data[0 : msg.size])
                try:
                    m = self._mido.Message.from_bytes(data)
                except (ValueError, TypeError):
                    continue
                if msg.handled:  # the C reader already played (or released) it
                    if m.type == "note_on" and m.velocity > 0:
                        self.router.note_played(msg.slot, m.velocity)
                    continue
                self.router.handle(m, frame=int(msg.frame))

    def _on_shutdown(self, status: Any, reason: str) -> None:
        # On JACK's thread: a flag and a file removal, no JACK calls (JACK forbids them here).
        from diffhost.host.audio.devices import forget_dead_jack_client

        self.lost = True
        forget_dead_jack_client(self._client_name, self._server)  # before the server can come back

    def abandon(self) -> None:
        """Stop reading a port whose server died, without touching its JACK client. A call on a
        dead client is unsafe: closing it tears down libjack's shared state under the clients
        opened since on a restarted server (their process callbacks stop), and once libjack has
        let go of the dead server's memory (after a failed connection attempt) any call on it
        crashes the process. The client and its reader stay allocated, and this object stays
        referenced for good: the jack package closes a client it garbage-collects."""
        if self not in _ABANDONED:
            _ABANDONED.append(self)
        self._closed = True
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=1)

    def close(self) -> None:
        if self.lost:  # a client whose server died is never touched again, not even to close it
            self.abandon()
            return
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join(timeout=1)
        try:
            self.client.deactivate()
            self.client.close()
        except Exception:  # noqa: BLE001 - the server may already be gone
            pass
        self.lib.dh_midi_free(self._mi)  # only now: the process callback can no longer run
