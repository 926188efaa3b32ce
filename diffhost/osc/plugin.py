"""/diffhost/plugin/*: the diffhost Bridge plugin's own messages, and the ones that send renders to it.

Two kinds of sender use these addresses. Each plugin instance (docs/plugin.md has the protocol)
says hello, reports the host's transport, and tells us about loads and captures; those are
recorded by host.live.bridge.PluginLink and answered (when at all) to the instance alone. A
musician's OSC client (REAPER, Max, a script) lists the instances and sends renders to a pad of
one of them; those are answered like every other address (docs/osc.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diffhost.engine.request import SAMPLE_RATE_RANGE
from diffhost.host.live.bridge import PadOptions, Transport
from diffhost.host.live.bridge.link import CAPTURE_BARS_RANGE, GAIN_DB_RANGE, PADS, monotonic_raw_ns
from diffhost.osc import messages as out
from diffhost.osc.args import OscArgError, as_float, as_int, as_text, expect_count
from diffhost.osc.dispatcher import Address, Reply

P = f"{out.PREFIX}/plugin"
# s:id s:track_name f:sample_rate f:bpm (-1 = none) i:playing s:address s:state i:waiting i:pads
INSTANCE = f"{P}/instance"
INSTANCE_PAD = f"{P}/instance/pad"  # s:id i:pad s:label s:kind i:loaded s:hash
LISTED = f"{P}/list/done"  # i:count s:where renders go
TARGET = f"{P}/target"  # s:where renders go
SENT = f"{P}/sent"  # s:id i:pad i:job
CAPTURING = f"{P}/capturing"  # s:id i:pad i:bars
BARS_RANGE = (0.25, 64.0)
MODE_USAGE = "[i:mode 0 one-shot, 1 loop, 2 gate, -1 = by the render]"


class PluginHandlers:
    def __init__(self, handlers: Any):
        self.h = handlers  # osc.handlers.Handlers: the session, answers, the job-order lock

    def routes(self) -> dict[str, Callable[[Address, list[Any]], list[Reply]]]:
        return {
            f"{P}/hello": self.hello,
            f"{P}/transport": self.transport,
            f"{P}/loaded": self.loaded,
            f"{P}/captured": self.captured,
            f"{P}/bye": self.bye,
            f"{P}/pong": self.pong,
            f"{P}/error": self.error,
            f"{P}/pad": self.pad,
            f"{P}/pads": self.pads,
            f"{P}/stats": self.stats,
            f"{P}/prompt": self.prompt,
            f"{P}/list": self.list_instances,
            f"{P}/target": self.target,
            f"{P}/send": self.send,
            f"{P}/render": self.render,
            f"{P}/capture": self.capture,
            f"{P}/clear": self.clear,
            f"{P}/ping": self.ping,
        }

    def _link(self) -> Any:
        link = getattr(self.h.live, "plugins", None)
        if link is None:
            raise ValueError(
                "plugin: this server has no plugin link (it comes with `diffhost serve` and the window)"
            )
        return link

    # -- from the plugin ---------------------------------------------------------------------------
    def hello(self, sender: Address, args: list[Any]) -> list[Reply]:
        expect_count(args, 4, 4, "s:id s:track_name f:sample_rate i:version")
        ident = as_text("id", args[0], 64)
        track = as_text("track_name", args[1], 256)
        rate = as_float("sample_rate", args[2], *SAMPLE_RATE_RANGE, "Hz")
        version = as_int("version", args[3], 0, 2**31 - 1)
        return [(sender, m) for m in self._link().on_hello(sender, ident, track, rate, version)]

    def transport(self, sender: Address, args: list[Any]) -> list[Reply]:
        expect_count(args, 8, 8, "s:id f:bpm i:sig_num i:sig_den i:playing i:bbt_valid d:bar d:beat_in_bar")
        received = monotonic_raw_ns()
        ident = as_text("id", args[0], 64)
        t = Transport(
            bpm=as_float("bpm", args[1], 1.0, 999.0, "bpm"),
            sig_num=as_int("sig_num", args[2], 1, 32),
            sig_den=as_int("sig_den", args[3], 1, 64),
            playing=bool(as_int("playing", args[4], 0, 1)),
            bbt_valid=bool(as_int("bbt_valid", args[5], 0, 1)),
            bar=as_float("bar", args[6], -1e9, 1e9),
            beat_in_bar=as_float("beat_in_bar", args[7], 0.0, 64.0),
            received_ns=received,
        )
        if t.bbt_valid and not 20.0 <= t.bpm <= 999.0:
            raise OscArgError(f"bpm: {t.bpm:g} is out of range; valid is 20..999 bpm")
        self._link().on_transport(ident, t)
        return []

    def loaded(self, sender: Address, args: list[Any]) -> list[Reply]:
        expect_count(args, 3, 3, "s:id i:pad s:hash")
        self._link().on_loaded(
            as_text("id", args[0], 64), as_int("pad", args[1], 1, PADS), as_text("hash", args[2])
        )
        return []

    def captured(self, sender: Address, args: list[Any]) -> list[Reply]:
        expect_count(args, 4, 4, "s:id i:pad s:wav_path i:bars")
        self._link().on_captured(
            as_text("id", args[0], 64),
            as_int("pad", args[1], 1, PADS),
            as_text("wav_path", args[2], 4096),
            as_int("bars", args[3], *CAPTURE_BARS_RANGE),
        )
        return []

    def bye(self, sender: Address, args: list[Any]) -> list[Reply]:
        expect_count(args, 1, 1, "s:id")
        self._link().on_bye(as_text("id", args[0], 64))
        return []

    def pong(self, sender: Address, args: list[Any]) -> list[Reply]:
        expect_count(args, 1, 1, "s:id")
        self._link().on_pong(as_text("id", args[0], 64))
        return []

    def error(self, sender: Address, args: list[Any]) -> list[Reply]:
        """s:id s:text: the plugin could not do what diffhost asked (told to the window and subscribers)."""
        expect_count(args, 2, 2, "s:id s:text")
        self._link().on_error(as_text("id", args[0], 64), as_text("text", args[1]))
        return []

    def pad(self, sender: Address, args: list[Any]) -> list[Reply]:
        """One pad of the plugin's pads report (what its saved state holds)."""
        expect_count(
            args,
            11,
            11,
            "s:id i:pad s:hash s:label i:mode i:choke i:quantize f:gain_db f:pan s:recipe_json i:loaded",
        )
        options = PadOptions(
            mode=as_int("mode", args[4], 0, 2),
            choke=as_int("choke", args[5], 0, PADS),
            quantize=as_int("quantize", args[6], 0, 2),
            gain_db=as_float("gain_db", args[7], *GAIN_DB_RANGE, "dB"),
            pan=as_float("pan", args[8], -1.0, 1.0),
        )
        self._link().on_pad(
            as_text("id", args[0], 64),
            as_int("pad", args[1], 1, PADS),
            as_text("hash", args[2], 64),
            as_text("label", args[3], 1000),
            options,
            as_text("recipe_json", args[9], 60000),
            bool(as_int("loaded", args[10], 0, 1)),
        )
        return []

    def stats(self, sender: Address, args: list[Any]) -> list[Reply]:
        """s:id f:max_run_us f:mean_run_us i:runs: the plugin's audio callback times, sent with its
        hellos for the plugin's own benchmarks. Taken (so it is no error) and not used."""
        expect_count(args, 4, 4, "s:id f:max_run_us f:mean_run_us i:runs")
        return []

    def pads(self, sender: Address, args: list[Any]) -> list[Reply]:
        """s:id i:count: the pads report is complete."""
        expect_count(args, 2, 2, "s:id i:count")
        self._link().on_pads(as_text("id", args[0], 64), as_int("count", args[1], 0, PADS))
        return []

    def prompt(self, sender: Address, args: list[Any]) -> list[Reply]:
        """s:id i:pad s:prompt f:bars i:mode: a prompt typed for a pad inside the DAW. Answered to
        the plugin, never with /diffhost/error: /bridge/prompt/accepted i:pad i:job, or
        /bridge/prompt/error i:pad s:message (pad 0 when even the pad could not be read)."""
        pad = 0
        try:
            expect_count(args, 5, 5, "s:id i:pad s:prompt f:bars i:mode")
            ident = as_text("id", args[0], 64)
            pad = as_int("pad", args[1], 1, PADS)
            text = as_text("prompt", args[2], 1000)
            bars = as_float("bars", args[3], *BARS_RANGE)
            options = _options(args, 4)
            with self.h.order:
                job = self._link().on_prompt(sender, ident, pad, text, bars, options)
            return [(sender, out.encode("/bridge/prompt/accepted", pad, job.id))]
        except ValueError as exc:
            return [(sender, out.encode("/bridge/prompt/error", pad, str(exc)[:500]))]

    # -- from a musician's client -------------------------------------------------------------------
    def list_instances(self, sender: Address, args: list[Any]) -> list[Reply]:
        expect_count(args, 0, 0, "no arguments")
        link = self._link()
        replies: list[Reply] = []
        infos = link.instances()
        for i in infos:
            msg = out.encode(
                INSTANCE,
                i.id,
                i.track_name,
                float(i.sample_rate),
                float(i.bpm or -1.0),
                int(i.playing),
                f"{i.address[0]}:{i.address[1]}",
                i.state,
                i.held,
                len(i.pad_info),
            )
            replies += self.h._answer(sender, msg)
            for p in i.pad_info:
                pad = out.encode(INSTANCE_PAD, i.id, p.pad, p.label, p.kind, int(p.loaded), p.hash)
                replies += self.h._answer(sender, pad)
        return replies + self.h._answer(sender, out.encode(LISTED, len(infos), link.describe_target()))

    def target(self, sender: Address, args: list[Any]) -> list[Reply]:
        """s:instance ("" = none) [i:pad]: where renders without a destination of their own go."""
        expect_count(args, 0, 2, '[s:instance ("" = none)] [i:pad]')
        link = self._link()
        if args:
            which = as_text("instance", args[0], 256)
            pad = as_int("pad", args[1], 1, PADS) if len(args) > 1 else 1
            link.set_target(which or None, pad)
        return self.h._answer(sender, out.encode(TARGET, link.describe_target()))

    def send(self, sender: Address, args: list[Any]) -> list[Reply]:
        """s:instance i:pad i:job [i:mode]: a job's render to a pad (now, or when it is done)."""
        expect_count(args, 3, 4, f"s:instance i:pad i:job {MODE_USAGE}")
        which = as_text("instance", args[0], 256)
        pad = as_int("pad", args[1], 1, PADS)
        job = as_int("job", args[2], 1, 2**31 - 1)
        link = self._link()
        inst = link.find(which)
        link.send_job(inst.id, pad, job, options=_options(args, 3))
        return self.h._answer(sender, out.encode(SENT, inst.id, pad, job))

    def render(self, sender: Address, args: list[Any]) -> list[Reply]:
        """s:instance i:pad [s:prompt] [f:bars] [i:mode] [i:seed]: render at the host's tempo and
        land on the pad. Answered with /diffhost/job/accepted i:job, then the job's events."""
        expect_count(args, 2, 6, f"s:instance i:pad [s:prompt] [f:bars] {MODE_USAGE} [i:seed]")
        which = as_text("instance", args[0], 256)
        pad = as_int("pad", args[1], 1, PADS)
        prompt = as_text("prompt", args[2]) if len(args) > 2 else ""
        bars = as_float("bars", args[3], *BARS_RANGE) if len(args) > 3 else 4.0
        options = _options(args, 4)
        seed = as_int("seed", args[5], -1, 2**31 - 1) if len(args) > 5 else -1
        with self.h.order:
            job = self._link().render_to(
                which,
                pad,
                prompt=prompt or None,
                bars=bars,
                options=options,
                seed=None if seed == -1 else seed,
            )
            return self.h._answer(sender, out.encode(out.JOB_ACCEPTED, job.id), announced=True)

    def capture(self, sender: Address, args: list[Any]) -> list[Reply]:
        """s:instance i:pad i:bars [s:prompt]: the plugin records `bars` bars of its input from the
        next bar line; the render seeded with it lands on the pad."""
        expect_count(args, 3, 4, "s:instance i:pad i:bars [s:prompt]")
        which = as_text("instance", args[0], 256)
        pad = as_int("pad", args[1], 1, PADS)
        bars = as_int("bars", args[2], *CAPTURE_BARS_RANGE)
        prompt = as_text("prompt", args[3]) if len(args) > 3 else ""
        link = self._link()
        inst = link.find(which)
        link.capture(inst.id, pad, bars, prompt=prompt or None)
        return self.h._answer(sender, out.encode(CAPTURING, inst.id, pad, bars))

    def clear(self, sender: Address, args: list[Any]) -> list[Reply]:
        expect_count(args, 2, 2, "s:instance i:pad")
        link = self._link()
        inst = link.find(as_text("instance", args[0], 256))
        pad = as_int("pad", args[1], 1, PADS)
        link.clear(inst.id, pad)
        return self.h._answer(sender, out.encode(f"{P}/cleared", inst.id, pad))

    def ping(self, sender: Address, args: list[Any]) -> list[Reply]:
        """s:instance: ask an instance for /diffhost/plugin/pong (it answers diffhost, not you)."""
        expect_count(args, 1, 1, "s:instance")
        self._link().ping(as_text("instance", args[0], 256))
        return []


def _options(args: list[Any], i: int) -> PadOptions | None:
    if len(args) <= i:
        return None
    mode = as_int("mode", args[i], -1, 2)
    if mode == -1:
        return None
    return PadOptions(mode=mode, quantize=2 if mode == 1 else 0)
