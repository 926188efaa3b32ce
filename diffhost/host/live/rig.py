"""The live-performance parts around the session: kits, MIDI inputs and learn, tempo sync, fresh pads.

Built once by the composition root (diffhost/runtime.py) and handed to the front ends. It always
reaches the audio through `session.audio`, so a device re-open changes nothing here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diffhost.host.live.bridge import PluginLink
from diffhost.host.live.fresh import FreshPads
from diffhost.host.live.kit import Kit, KitStore, apply_kit, capture_kit, load_kit, save_kit
from diffhost.host.live.midi.mapping import MidiMap
from diffhost.host.live.midi.ports import MidoInput, list_inputs
from diffhost.host.live.midi.router import MidiRouter
from diffhost.host.live.sync import MidiClock, TempoSync

if TYPE_CHECKING:
    from diffhost.host.session import Session

JACK_PORT = "jack"  # the name that asks for diffhost's own JACK MIDI input port


class LiveRig:
    def __init__(self, session: Session, *, kits: KitStore | None = None, jack_server: str | None = None):
        self.session = session
        self.kits = kits
        self.jack_server = jack_server
        self.sync = TempoSync(session)
        self.clock = MidiClock(self.sync)
        self.router = MidiRouter(session, clock=self.clock, notify=self._notify)
        self.inputs: dict[str, Any] = {}
        self.link: Any = None
        self.kit_path: Path | None = None
        self.fresh = FreshPads(session)  # pads that play a new variation per hit
        self.plugins = PluginLink(session, sync=self.sync)  # diffhost Bridge plugin instances in DAWs

    def _notify(self, text: str) -> None:
        from diffhost.host.session import SessionEvent

        self.session.publish(SessionEvent("message", name="live", value=text))

    # -- kits ---------------------------------------------------------------------------------
    @property
    def midi_map(self) -> MidiMap:
        return self.router.map

    def _audio(self) -> Any:
        audio = self.session.audio
        if audio is None:
            raise ValueError("kit: no audio device is open in this session")
        return audio

    def save_kit(self, path: Path, *, overwrite: bool = False) -> Path:
        if self.kits is None:
            raise ValueError("kit: this session keeps no kits")
        kit = capture_kit(self._audio(), self.midi_map, self.kits.clips_dir, self.fresh.specs())
        saved = save_kit(kit, path, overwrite=overwrite)
        self.kit_path = saved
        return saved

    def load_kit(self, path: Path, allowed: Callable[[Path], Path] | None = None) -> list[str]:
        """Load a kit into the pads (and its MIDI map); returns the pads that could not load as saved.
        allowed: the rule a clip path must pass (kit.apply_kit); a kit from the network gets one."""
        kit = load_kit(path)  # a bad file raises before anything changes
        problems = apply_kit(kit, self._audio(), allowed)
        self.router.map = kit.midi
        self.kit_path = Path(path)
        return problems + self._fresh_from(kit)

    def snapshot(self) -> Kit:
        """The pads, MIDI map and fresh pads as they are now, as a kit held in memory, so a kit load
        can be taken back. Clips that exist only in memory (a recording) are written once, named by
        their hash, to the kits' clips folder: undo must not depend on RAM that a load replaced."""
        if self.kits is None:
            raise ValueError("kit: this session keeps no kits")
        return capture_kit(self._audio(), self.midi_map, self.kits.clips_dir, self.fresh.specs())

    def restore(self, kit: Kit, kit_path: Path | None) -> list[str]:
        """Put back a kit from snapshot() (the clips are files this session wrote or read)."""
        problems = apply_kit(kit, self._audio())
        self.router.map = kit.midi
        self.kit_path = kit_path
        return problems + self._fresh_from(kit)

    def _fresh_from(self, kit: Any) -> list[str]:
        problems = []
        for n in list(self.fresh.specs()):
            self.fresh.disable(n)
        for pad in kit.pads:
            if pad.fresh:
                try:
                    self.fresh.enable(pad.number, **pad.fresh)
                except (ValueError, TypeError) as exc:
                    problems.append(f"pad {pad.number}: fresh: {exc}")
        return problems

    def restore_last(self) -> list[str]:
        """The kit the app had when it last closed (nothing when there is none)."""
        if self.kits is None or self.session.audio is None:
            return []
        kit = self.kits.load_last()
        if kit is None:
            return []
        self.router.map = kit.midi
        return apply_kit(kit, self.session.audio) + self._fresh_from(kit)

    def save_last(self) -> None:
        if self.kits is not None and self.session.audio is not None:
            self.kits.save_last(self.session.audio, self.midi_map, self.fresh.specs())

    # -- MIDI ---------------------------------------------------------------------------------
    def midi_ports(self) -> list[str]:
        """Ports that can be opened: mido's, plus "jack" for diffhost's own JACK MIDI port."""
        return [*list_inputs(), JACK_PORT]

    def open_midi(self, name: str) -> str:
        """Open an input by name (or a unique part of it); "jack" offers diffhost-midi:in. Returns its name."""
        if name == JACK_PORT:
            from diffhost.host.live.midi.jack_input import JackMidiInput

            if JACK_PORT not in self.inputs:
                self.inputs[JACK_PORT] = JackMidiInput(self.router, self.session, server=self.jack_server)
            return self.inputs[JACK_PORT].port_name
        port = MidoInput(self.router, name)
        if port.name in self.inputs:
            port.close()
        else:
            self.inputs[port.name] = port
        return port.name

    def revive_midi(self) -> list[str]:
        """Reopen diffhost's JACK MIDI port if its server went away and is back (a restarted JACK
        server forgets every client); one plain line per port reopened, none while it is away."""
        port = self.inputs.get(JACK_PORT)
        if port is None or not getattr(port, "lost", False):
            return []
        from diffhost.host.live.midi.jack_input import JackMidiInput

        port.abandon()  # never closed: see JackMidiInput.abandon
        try:
            fresh = JackMidiInput(self.router, self.session, server=self.jack_server)
        except (ValueError, OSError):
            return []  # the server is not back yet: the watch asks again
        self.inputs[JACK_PORT] = fresh
        return [f"MIDI: the JACK MIDI port {fresh.port_name} is back; notes play the pads again."]

    def close_midi(self, name: str) -> None:
        port = self.inputs.pop(name, None)
        if port is not None:
            port.close()

    # -- tempo ---------------------------------------------------------------------------------
    def set_tempo_source(self, source: str) -> None:
        """"session", "link", "midi clock" or "plugin"; Link starts (joins the network's session) on first use."""
        if source == "link" and self.link is None:
            from diffhost.host.live.sync.link import LinkSync

            audio = self.session.audio
            self.link = LinkSync(self.sync, bpm=audio.tempo if audio is not None else 120.0)
        self.sync.follow(source)

    def close(self) -> None:
        self.plugins.close()
        self.fresh.close()
        for name in list(self.inputs):
            self.close_midi(name)
        if self.link is not None:
            self.link.close()
        self.router.close()


def report(problems: list[str], what: str = "kit") -> None:
    for p in problems:
        print(f"diffhost: {what}: {p}", file=sys.stderr)

