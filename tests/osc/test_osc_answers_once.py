"""Every slot action over real UDP is answered exactly once, including those that change nothing;
a load sends one state message, not two; buttons and toggles send what they send; a long clip
loads off the receive thread, trimmed to the documented pad length (on the real JACK server)."""

from __future__ import annotations

import time

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

    folder = tmp_path / "audio"
    folder.mkdir()
    engine = Engine(device="cpu").start()
    session = Session(engine, renders_dir=tmp_path / "renders", audio=audio)
    server = OscServer(session, OscConfig(port=0, folders=(folder,))).start()
    client = DiffhostClient("127.0.0.1", server.address[1])
    for n in range(1, audio.num_slots + 1):
        audio.clear_slot(n)
        audio.set_slot_options(n, gain=1.0, pan=0.0, mode="oneshot", choke_group=0, quantize=None)
    try:
        yield client, server, folder
    finally:
        client.close()
        server.stop()
        session.close()
        engine.stop()
        for n in range(1, audio.num_slots + 1):
            audio.clear_slot(n)


def _heard(client, seconds: float = 0.4) -> list:
    """Everything that arrives within `seconds` (after the backlog)."""
    got = list(client.backlog)
    client.backlog.clear()
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            got.append(client.receive(left))
        except Exception:
            break
    return got


def _states(messages: list, slot: int) -> list:
    return [m[1] for m in messages if m[0] == f"/diffhost/slot/{slot}/state"]


@pytest.mark.parametrize("subscribed", [False, True])
def test_every_slot_action_is_answered_exactly_once(osc, audio, subscribed):
    client, server, folder = osc
    if subscribed:  # at its own sending address: it must still hear each thing once
        client.request("/diffhost/subscribe", client.local_address[1], expect="/diffhost/subscribed")
    path = folder / "loop.wav"
    sf.write(path, np.full(RATE // 2, 0.2, np.float32), RATE, subtype="FLOAT")

    client.send("/diffhost/slot/1/load", str(path))
    assert _states(_heard(client), 1) == [["ready"]]  # one "ready", not two
    client.request("/diffhost/slot/1/mode", "loop", expect="/diffhost/slot/1/mode")

    steps = [
        ("/diffhost/slot/1/play", (), "playing"),
        ("/diffhost/slot/1/play", (), "playing"),  # play while looping: changes nothing
        ("/diffhost/slot/1/play", (0.0,), "playing"),  # a button's release
        ("/diffhost/slot/1/stop", (), "ready"),
        ("/diffhost/slot/1/stop", (), "ready"),  # stop when stopped
        ("/diffhost/slot/1/stop", (0,), "ready"),  # a button's release: ignored, answered
        ("/diffhost/slot/2/gate", (0.0,), "empty"),  # gate 0 on an empty slot
        ("/diffhost/slot/2/stop", (1,), "empty"),
        ("/diffhost/slot/1/gate", (127,), "playing"),  # MIDI-minded surfaces send 127
        ("/diffhost/slot/1/gate", (False,), "ready"),  # OSC F
        ("/diffhost/slot/1/gate", (True,), "playing"),  # OSC T
        ("/diffhost/slot/1/gate", (-1.0,), "playing"),  # nonzero plays
        ("/diffhost/slot/1/stop", (1.0,), "ready"),  # a button's press
        ("/diffhost/slot/1/state", (), "ready"),
        ("/diffhost/slot/1/state", (1,), "ready"),
    ]
    for address, args, state in steps:
        client.send(address, *args)
        heard = _heard(client)
        slot = int(address.split("/")[3])
        assert _states(heard, slot) == [[state]], (address, args, heard)
        assert not [m for m in heard if m[0] == "/diffhost/error"], heard


def test_range_checks_come_before_any_shortcut(osc):
    client, _, _ = osc
    for address, args in (
        ("/diffhost/slot/0/play", (0.0,)),
        ("/diffhost/slot/17/gate", (0,)),
        ("/diffhost/slot/0/stop", (0,)),
        ("/diffhost/slot/99/state", (0,)),
    ):
        client.send(address, *args)
        heard = _heard(client)
        errors = [m[1] for m in heard if m[0] == "/diffhost/error"]
        assert len(errors) == 1 and "is out of range 1..16" in errors[0][1], (address, heard)


def test_controls_echo_their_value_on_their_own_address(osc, audio):
    client, _, _ = osc
    for address, value, echo in (
        ("/diffhost/slot/3/gain", 0.1, 0.1),  # float32 0.1, stored as 0.1
        ("/diffhost/slot/3/pan", -0.5, -0.5),
        ("/diffhost/slot/3/mode", "gate", "gate"),
        ("/diffhost/slot/3/choke", 4, 4),
        ("/diffhost/tempo", 133.0, 133.0),
        ("/diffhost/quantize", 0.5, 0.5),
    ):
        client.send(address, value)
        heard = _heard(client)
        mine = [m[1] for m in heard if m[0] == address]
        assert len(mine) == 1 and mine[0] == [pytest.approx(echo) if isinstance(echo, float) else echo], heard
    o = audio.slot_options(3)
    assert (o.gain, o.pan, o.mode, o.choke_group) == (0.1, -0.5, "gate", 4)
    assert audio.tempo == 133.0


def test_a_long_clip_loads_off_the_receive_thread_and_is_trimmed(osc, audio):
    from diffhost.host.live.padclip import MAX_PAD_S

    client, server, folder = osc
    path = folder / "long.wav"
    seconds = MAX_PAD_S + 30
    with sf.SoundFile(path, "w", RATE, 2, subtype="PCM_16") as f:
        block = np.full((RATE, 2), 0.1, np.float32)
        for _ in range(int(seconds)):
            f.write(block)
    client.send("/diffhost/slot/5/load", str(path))
    pongs = 0
    for _ in range(5):  # the server answers while the clip is read on the loader thread
        client.ping(timeout=2.0)
        pongs += 1
    m = client.wait_for(lambda m: m[0] == "/diffhost/slot/5/state", timeout=60)
    assert pongs == 5
    assert m[1][0] == "ready"
    assert m[1][1] == f"long.wav trimmed to its first {MAX_PAD_S:g} s of {seconds:g} s (a pad holds at most {MAX_PAD_S:g} s)"
    src = audio.slot_source(5)
    assert src.audio.shape == (2, int(MAX_PAD_S * audio.sample_rate))
    assert src.sample_rate == audio.sample_rate
    np.testing.assert_allclose(src.audio[:, :1000], 0.1, atol=1e-4)
    # an unreadable file inside the folders: answered with the reason, the slot unchanged
    (folder / "bad.wav").write_bytes(b"RIFF....not audio")
    client.send("/diffhost/slot/5/load", str(folder / "bad.wav"))
    err = client.wait_for(lambda m: m[0] == "/diffhost/error", timeout=10)
    assert err[1][0] == "/diffhost/slot/5/load" and "bad.wav" in err[1][1]
    assert audio.slot_source(5).audio.shape[1] == int(MAX_PAD_S * audio.sample_rate)


def test_a_kit_loads_off_the_receive_thread_and_its_long_clips_are_trimmed(audio, tmp_path):
    import json

    from diffhost.engine.engine import Engine
    from diffhost.host.live.kit import KitStore
    from diffhost.host.live.padclip import MAX_PAD_S
    from diffhost.host.live.rig import LiveRig
    from diffhost.host.session import Session
    from diffhost.osc.client import DiffhostClient
    from diffhost.osc.server import OscConfig, OscServer

    folder = tmp_path / "audio"
    folder.mkdir()
    path = folder / "long.wav"
    with sf.SoundFile(path, "w", RATE, 1, subtype="PCM_16") as f:
        for _ in range(int(MAX_PAD_S) + 20):
            f.write(np.full(RATE, 0.1, np.float32))
    kit = folder / "long.dhkit"
    pads = [{"pad": n, "clip": str(path)} for n in (1, 2)]
    kit.write_text(json.dumps({"format": "diffhost-kit", "version": 1, "pads": pads}))
    engine = Engine(device="cpu").start()
    session = Session(engine, renders_dir=tmp_path / "renders", audio=audio)
    live = LiveRig(session, kits=KitStore(tmp_path / "config"))
    server = OscServer(session, OscConfig(port=0, folders=(folder,)), live=live).start()
    try:
        with DiffhostClient("127.0.0.1", server.address[1]) as c:
            c.send("/diffhost/kit/load", str(kit))
            for _ in range(3):  # answered while the kit's clips are read on the loader thread
                c.ping(timeout=2.0)
            m = c.wait_for(lambda m: m[0] == "/diffhost/kit/loaded", timeout=60)
        trimmed = f"long.wav trimmed to its first {MAX_PAD_S:g} s of {MAX_PAD_S + 20:g} s (a pad holds at most {MAX_PAD_S:g} s)"
        assert m[1] == [str(kit), 2, f"pad 1: {trimmed}", f"pad 2: {trimmed}"]
        assert audio.slot_source(1).audio.shape == (1, int(MAX_PAD_S * RATE))
    finally:
        server.stop()
        live.close()
        session.close()
        engine.stop()
        for n in range(1, audio.num_slots + 1):
            audio.clear_slot(n)
