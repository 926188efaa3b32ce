"""OSC slots on the real JACK server: numbered 1..16 like the window, state pushed to subscribers."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.jack_fixtures import RATE


@pytest.fixture
def osc(audio, tmp_path):
    from diffhost.engine.engine import Engine
    from diffhost.host.session import Session
    from diffhost.osc.client import DiffhostClient
    from diffhost.osc.server import OscConfig, OscServer

    (tmp_path / "audio").mkdir()
    engine = Engine(device="cpu").start()
    session = Session(engine, renders_dir=tmp_path / "renders", audio=audio)
    server = OscServer(session, OscConfig(port=0, folders=(tmp_path / "audio",))).start()
    client = DiffhostClient("127.0.0.1", server.address[1])
    try:
        yield client, tmp_path / "audio"
    finally:
        client.close()
        server.stop()
        session.close()
        engine.stop()


def test_slots_are_numbered_1_to_16_and_state_is_pushed(osc, audio):
    client, folder = osc
    path = folder / "hit.wav"
    sf.write(path, np.full(RATE // 20, 0.3, np.float32), RATE, subtype="FLOAT")  # 50 ms
    client.request("/diffhost/subscribe", client.local_address[1], expect="/diffhost/subscribed")

    m = client.request("/diffhost/slot/16/state", expect="/diffhost/slot/16/state")
    assert m[1] == ["empty"]  # pad 16 exists (it used to be refused)
    with pytest.raises(ValueError, match=r"slot: 17 is out of range 1\.\.16"):
        client.request("/diffhost/slot/17/state", expect="/diffhost/slot/17/state")
    with pytest.raises(ValueError, match=r"slot: 0 is out of range 1\.\.16"):
        client.request("/diffhost/slot/0/play", expect="/diffhost/slot/0/state")

    client.send("/diffhost/slot/1/load", str(path))
    client.wait_for(lambda m: m == ("/diffhost/slot/1/state", ["ready"]))
    assert audio.slot_state(1) == "ready" and audio.slot_state(2) == "empty"  # slot 1 is pad 1

    # a control's new value comes back on the address that set it (TouchOSC / REAPER feedback)
    m = client.request("/diffhost/slot/1/mode", "gate", expect="/diffhost/slot/1/mode")
    assert m[1] == ["gate"]
    m = client.request("/diffhost/slot/1/gain", 0.5, expect="/diffhost/slot/1/gain")
    assert m[1] == [0.5] and audio.slot_options(1).gain == 0.5
    m = client.request("/diffhost/slot/1/options", expect="/diffhost/slot/1/options")
    assert m[1] == ["gate", 0.5, 0.0, 0, -1.0]
    with pytest.raises(ValueError, match="mode"):
        client.request("/diffhost/slot/1/mode", "reverse", expect="/diffhost/slot/1/mode")
    client.request("/diffhost/slot/1/mode", "oneshot", expect="/diffhost/slot/1/mode")
    client.request("/diffhost/slot/1/gain", 1.0, expect="/diffhost/slot/1/gain")

    # a trigger from elsewhere (the window, MIDI) reaches the subscriber, and so does the clip's end
    audio.trigger(1)
    client.wait_for(lambda m: m == ("/diffhost/slot/1/state", ["playing"]), timeout=2)
    client.wait_for(lambda m: m == ("/diffhost/slot/1/state", ["ready"]), timeout=2)  # 50 ms later
