"""Kits, tempo source and MIDI learn over real UDP on a server without a live rig (no audio device):
each answers /diffhost/error with the reason, and nothing is written."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "address, args",
    [
        ("/diffhost/kit/save", ("set.json",)),
        ("/diffhost/kit/load", ("set.json",)),
        ("/diffhost/tempo/source", ("link",)),
        ("/diffhost/midi/learn", ("pad", 1)),
    ],
)
def test_live_addresses_without_a_live_rig_answer_an_error(client, dirs, address, args):
    with pytest.raises(ValueError, match="no kits, MIDI or tempo sync"):
        client.request(address, *args, expect=address.replace("save", "saved").replace("load", "loaded"))
    assert not any(dirs["renders"].iterdir()) and not any(dirs["audio"].iterdir())


def test_live_addresses_check_their_arguments_first(client):
    with pytest.raises(ValueError, match=r"expected s:name \(\.dhkit in the kits folder\) \[i:overwrite 0\|1\] \(1\.\.2 arguments\), got 0"):
        client.request("/diffhost/kit/save", expect="/diffhost/kit/saved")
    with pytest.raises(ValueError, match="source: expected a string, got i"):
        client.request("/diffhost/tempo/source", 3, expect="/diffhost/tempo/source")
