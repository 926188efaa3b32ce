"""What the plugin tells diffhost on its own, in pedalboard (a JUCE VST3 host): the pads it holds (asked
with /bridge/pads, and unasked after the host restored a project while diffhost runs), a prompt the
musician typed for a pad (a host-writable state, sent until diffhost accepts it, never again after
the project is reopened), and the track name the musician gave the instance.

The host writes the plugin's state here the way it restores a project: a whole VST3 state in which
some of the plugin's keys hold new values (tests.plugin.bridge_host.with_dpf_state).
"""

from __future__ import annotations

import numpy as np
import pedalboard

from tests.plugin.bridge_host import VST3, dpf_state, put_clip, with_dpf_state

RATE = 48000


def _instance(link):
    plugin = pedalboard.load_plugin(str(VST3), initialization_timeout=0)
    plugin([], duration=0.05, sample_rate=RATE, num_channels=2)  # settles it at 48 kHz
    ident = link.wait("/diffhost/plugin/hello", where=lambda a: a[2] == RATE)[0]
    link.follow = ident
    return plugin, ident


def _report(link, ident) -> dict[int, list]:
    """One pads report: pad -> the fields after the pad number; checks the count that closes it."""
    pads: dict[int, list] = {}
    while True:
        address, args = link.wait_any(("/diffhost/plugin/pad", "/diffhost/plugin/pads"))
        assert args[0] == ident
        if address == "/diffhost/plugin/pads":
            assert args[1] == len(pads)
            return pads
        pads[args[1]] = args[2:]


def test_pads_are_reported_when_asked_and_after_a_restore(link):
    plugin, ident = _instance(link)
    kick = np.linspace(1.0, 0.0, 480, dtype=np.float32)[:, None]
    hat = np.linspace(0.5, 0.0, 240, dtype=np.float32)[:, None]
    h_kick, h_hat = put_clip(link.cache, kick, RATE), put_clip(link.cache, hat, RATE)
    link.send("/bridge/pad/options", 2, 1, 3, 2, -6.0, 0.25, '{"prompt": "kick"}')
    link.send("/bridge/pad/load", 2, h_kick, "kick", 0)
    link.send("/bridge/pad/load", 9, h_hat, "hat", 0)
    link.sync()
    link.send("/bridge/pads")
    pads = _report(link, ident)
    assert sorted(pads) == [2, 9]  # empty pads are not reported
    assert pads[2] == [h_kick, "kick", 1, 3, 2, -6.0, 0.25, '{"prompt": "kick"}', 1]
    assert pads[9] == [h_hat, "hat", 0, 0, 0, 0.0, 0.0, "", 1]

    # the project reopened while diffhost runs, with the hat's clip gone from the cache: the plugin
    # says so unasked (loaded 0), so diffhost can render it again from its recipe
    state = plugin.raw_state
    del plugin  # its bye; the copy below has the same id (it is the same project's instance)
    (link.cache / h_hat[:2] / f"{h_hat}.wav").unlink()
    again = pedalboard.load_plugin(str(VST3), initialization_timeout=0)
    again([], duration=0.05, sample_rate=RATE, num_channels=2)
    again.raw_state = state
    pads = _report(link, ident)
    assert pads[2][0] == h_kick and pads[2][-1] == 1
    assert pads[9][0] == h_hat and pads[9][-1] == 0
    assert dpf_state(again.raw_state)["pad9_hash"] == h_hat  # kept for the project


def test_a_prompt_typed_for_a_pad_goes_to_diffhost_until_accepted_and_never_again(link):
    plugin, ident = _instance(link)
    plugin.raw_state = with_dpf_state(plugin.raw_state, {"pad3_prompt": "2 bars: dusty drum loop"})
    first = link.wait("/diffhost/plugin/prompt")
    assert first == [ident, 3, "dusty drum loop", 2.0, -1]
    # diffhost has not answered: it comes again (diffhost may start after the DAW)
    assert link.wait("/diffhost/plugin/prompt") == first
    link.send("/bridge/prompt/accepted", 3, 42)
    link.sync()
    saved = dpf_state(plugin.raw_state)
    assert saved["pad3_prompt"] == saved["pad3_prompted"] == "2 bars: dusty drum loop"
    _no_prompt_for(link, hellos=3)

    # the project reopened: the accepted prompt is not rendered again
    state = plugin.raw_state
    del plugin
    again = pedalboard.load_plugin(str(VST3), initialization_timeout=0)
    again([], duration=0.05, sample_rate=RATE, num_channels=2)
    again.raw_state = state
    _no_prompt_for(link, hellos=3)

    # a new prompt without a length is one bar; diffhost refusing it stops it too
    again.raw_state = with_dpf_state(again.raw_state, {"pad3_prompt": "snare roll"})
    assert link.wait("/diffhost/plugin/prompt") == [ident, 3, "snare roll", 1.0, -1]
    link.send("/bridge/prompt/error", 3, "prompt: the render failed")
    link.sync()
    _no_prompt_for(link, hellos=3)


def test_the_track_name_typed_for_the_instance_goes_with_its_hellos(link):
    plugin, ident = _instance(link)
    assert link.wait("/diffhost/plugin/hello")[1] == ""  # DPF 1.6 passes on no host's track name
    plugin.raw_state = with_dpf_state(plugin.raw_state, {"track_name": "Drums"})
    assert link.wait("/diffhost/plugin/hello", where=lambda a: a[1] != "") == [ident, "Drums", float(RATE), 1]


def _no_prompt_for(link, hellos: int) -> None:
    """No prompt arrives while the plugin says hello `hellos` more times (one a second)."""
    for _ in range(hellos):
        address, _args = link.wait_any(("/diffhost/plugin/hello", "/diffhost/plugin/prompt"))
        assert address == "/diffhost/plugin/hello", "a prompt was sent again"
