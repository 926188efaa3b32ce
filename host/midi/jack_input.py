"""A JACK MIDI input port, "diffhost-midi:in", whose notes land on the frame they were played.

Controllers, a DAW's MIDI track or a sequencer are patched to it like to any JACK synth. Its
process callback runs in JACK's cycle: it reads the cycle's events with their frame offsets and
pushes note-ons straight into the mixer's command ring, timestamped. The client also listens
to the audio stream's first output port (an "order" input): that makes JACK run it after
diffhost's audio client in every cycle, so a note played at offset k of cycle n starts at offset k
of the next block: exactly one block of latency, never more, never jittering. Clock ticks are
placed on the frame they fall on (the grid is predicted ahead, so triggers land on the ticks).

Why the `jack` client and not rtmidi's JACK API: rtmidi stamps an event with the time it was
read, not its frame in the cycle, which would add up to a block of jitter.
"""

from __future__ import annotations

from typing import Any

ORDER_PORT = "order"


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
        self.port = self.client.midi_inports.register("in")
        self.order = self.client.inports.register(ORDER_PORT)
        self.block = self.client.blocksize
        self.events_in = 0
        self.client.set_process_callback(self._process)
        self.client.activate()
        self.ordered = self._follow_audio(audio_client)

    @property
    def port_name(self) -> str:
        return self.port.name

    def _follow_audio(self, audio_client: str | None) -> bool:
        """Connect the audio client's first output to our order port; False if it is not there."""
        from diffhost.host.audio.devices import jack_client_name

        name = audio_client or jack_client_name()
        outs = self.client.get_ports(f"^{name}:", is_audio=True, is_output=True)
        if not outs:
            return False
        try:
            self.client.connect(outs[0], self.order)
        except Exception:  # noqa: BLE001 - JackError or a race with the port vanishing: unordered is still <= 1 block
            return False
        return True

    def _process(self, frames: int) -> None:
        audio = self.session.audio
        # After diffhost's audio client ran this cycle, its frame counter is the first frame of the
        # next block: an event at offset k is given frame next_block + k.
        base = audio.frames if audio is not None else 0
        for offset, data in self.port.incoming_midi_events():
            self.events_in += 1
            try:
                msg = self._mido.Message.from_bytes(bytes(data))
            except (ValueError, TypeError):
                continue  # sysex fragments and junk: ignored
            if audio is None:
                self.router.handle(msg)
            elif msg.type in ("clock", "start", "continue"):
                # a clock tick marks where a beat IS, not a sound to play: the frame of this
                # cycle that coincides with it, so grid lines fall on the clock's own ticks
                self.router.handle(msg, frame=base + offset - frames)
            else:
                self.router.handle(msg, frame=base + offset)

    def close(self) -> None:
        try:
            self.client.deactivate()
            self.client.close()
        except Exception:  # noqa: BLE001 - the server may already be gone
            pass
