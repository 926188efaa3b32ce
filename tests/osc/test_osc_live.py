"""Kits, the tempo source and MIDI learn over OSC (real UDP), on the real JACK server: what a pad
plays after a kit load or a learned note is checked in diffhost's outputs, recorded by the peer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.jack_fixtures import BLOCK, RATE, wait_frames

NOTE_ON = 0x90


@pytest.fixture
def rig(audio, jack_server, tmp_path):
    """Session + LiveRig (kits in tmp config, diffhost's JACK MIDI port) + OSC server + a client."""
    from diffhost.engine.engine import Engine
    from diffhost.host.live.kit import KitStore
    from diffhost.host.live.rig import JACK_PORT, LiveRig
    from diffhost.host.session import Session
    from diffhost.osc.client import DiffhostClient
    from diffhost.osc.server import OscConfig, OscServer

    folder = tmp_path / "kits"
    folder.mkdir()
    engine = Engine(device="cpu").start()
    session = Session(engine, renders_dir=tmp_path / "renders", audio=audio)
    live = LiveRig(session, kits=KitStore(tmp_path / "config"), jack_server=jack_server.name)
    port = live.open_midi(JACK_PORT)
    server = OscServer(session, OscConfig(port=0, folders=(folder,)), live=live).start()
    client = DiffhostClient("127.0.0.1", server.address[1])
    try:
        yield client, live, folder, port
    finally:
        client.close()
        server.stop()
        live.close()
        session.close()
        engine.stop()


def _capture_hit(audio, peer, slot: int, frames: int) -> np.ndarray:
    peer.start()
    wait_frames(audio, 2 * BLOCK)
    audio.trigger(slot)
    wait_frames(audio, frames + 4 * BLOCK)
    out, _ = peer.stop()
    return out


def test_a_kit_saved_and_loaded_over_osc_plays_its_pads_as_saved(rig, audio, peer, tmp_path):
    client, live, folder, _ = rig
    ramp = np.linspace(0.1, 0.9, 2400, dtype=np.float32)[np.newaxis, :]
    audio.assign(3, ramp, RATE, label="ramp")
    audio.set_slot_options(3, gain=0.5, pan=1.0, mode="oneshot", choke_group=2)
    kit = str(live.kits.dir / "set.dhkit")  # kits live in the kits folder, with their own suffix
    m = client.request("/diffhost/kit/save", "set", expect="/diffhost/kit/saved")
    assert m[1] == [kit]
    assert json.loads((live.kits.dir / "set.dhkit").read_text())["format"] == "diffhost-kit"

    # refused: an existing file without overwrite, a path outside the kits folder (an allowed
    # folder included), not a .dhkit name, a name that is a path trick
    with pytest.raises(ValueError, match="already exists; send overwrite 1"):
        client.request("/diffhost/kit/save", kit, expect="/diffhost/kit/saved")
    with pytest.raises(ValueError, match="outside the allowed folders"):
        client.request("/diffhost/kit/save", str(tmp_path / "elsewhere.dhkit"), expect="/diffhost/kit/saved")
    with pytest.raises(ValueError, match="outside the allowed folders"):
        client.request("/diffhost/kit/save", str(folder / "set.dhkit"), expect="/diffhost/kit/saved")
    with pytest.raises(ValueError, match=r"not a \.dhkit file name"):
        client.request("/diffhost/kit/save", str(folder / "set.wav"), expect="/diffhost/kit/saved")
    with pytest.raises(ValueError, match=r"overwrite: 2 is out of range"):
        client.request("/diffhost/kit/save", kit, 2, expect="/diffhost/kit/saved")
    with pytest.raises(ValueError, match="is not a kit name"):
        client.request("/diffhost/kit/save", "..", expect="/diffhost/kit/saved")
    with pytest.raises(ValueError, match="a kit name of 1000 characters is too long; the limit is 200 bytes"):
        client.request("/diffhost/kit/save", "a" * 1000, expect="/diffhost/kit/saved")  # found by the fuzz
    with pytest.raises(ValueError, match="path: cannot write 'bbb.*File name too long"):
        client.request("/diffhost/kit/save", str(live.kits.dir / ("b" * 300 + ".dhkit")), expect="/diffhost/kit/saved")
    assert not (tmp_path / "elsewhere.dhkit").exists() and not (folder / "set.wav").exists()
    assert not (folder / "set.dhkit").exists()

    audio.clear_slot(3)
    audio.set_slot_options(3, gain=1.0, pan=0.0, choke_group=0)
    (folder / "broken.json").write_text("{not a kit")
    with pytest.raises(ValueError, match="broken.json"):
        client.request("/diffhost/kit/load", str(folder / "broken.json"), expect="/diffhost/kit/loaded")
    assert audio.slot_state(3) == "empty"  # the bad kit changed nothing

    m = client.request("/diffhost/kit/load", "set", expect="/diffhost/kit/loaded")  # by name
    assert m[1] == [kit, 0]  # no problems
    np.testing.assert_array_equal(audio.slot_source(3).audio, ramp)  # bit for bit
    o = audio.slot_options(3)
    assert (o.gain, o.pan, o.choke_group) == (0.5, 1.0, 2)
    out = _capture_hit(audio, peer, 3, 2400)
    on = np.flatnonzero(out[1])
    assert on.size == 2400 and not out[0].any()  # hard right: nothing on the left
    np.testing.assert_allclose(out[1, on], ramp[0] * 0.5, rtol=1e-6)  # the ramp at the saved gain


def test_kit_save_never_replaces_a_file_it_did_not_write(rig, audio, tmp_path):
    client, live, folder, _ = rig
    audio.assign(1, np.full((1, 480), 0.5, np.float32), RATE, label="dc")
    live.kits.dir.mkdir(parents=True, exist_ok=True)
    foreign = live.kits.dir / "notes.dhkit"  # a file with the kit suffix that is no kit
    foreign.write_text("my own notes")
    sidecar = folder / "take.wav.json"  # a render's sidecar in an allowed folder
    sidecar.write_text('{"recipe": "re-renders take.wav exactly"}')
    for target in (str(foreign), "notes"):
        with pytest.raises(ValueError, match="is not a diffhost kit"):
            client.request("/diffhost/kit/save", target, 1, expect="/diffhost/kit/saved")
    for target in (str(sidecar), str(folder / "take.wav")):
        with pytest.raises(ValueError, match=r"not a \.dhkit file name"):
            client.request("/diffhost/kit/save", target, 1, expect="/diffhost/kit/saved")
    assert foreign.read_text() == "my own notes"
    assert sidecar.read_text() == '{"recipe": "re-renders take.wav exactly"}'
    # a kit it wrote is replaced when asked
    client.request("/diffhost/kit/save", "mine", expect="/diffhost/kit/saved")
    audio.set_slot_options(1, gain=0.25)
    client.request("/diffhost/kit/save", "mine", 1, expect="/diffhost/kit/saved")
    pads = json.loads((live.kits.dir / "mine.dhkit").read_text())["pads"]
    assert pads[0]["gain"] == 0.25


def test_a_kit_loads_clips_only_from_the_allowed_folders_and_reveals_nothing(rig, audio, tmp_path):
    import soundfile as sf

    client, live, folder, _ = rig
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.wav"
    sf.write(secret, np.full((480, 1), 0.5, np.float32), RATE, subtype="FLOAT")
    inside = folder / "ok.wav"
    sf.write(inside, np.full((480, 1), 0.25, np.float32), RATE, subtype="FLOAT")
    (folder / "link.wav").symlink_to(secret)  # a symlink inside pointing out
    names = {1: str(inside), 2: str(secret), 3: "/etc/passwd", 4: str(outside / "missing.wav"),
             5: str(folder / "missing.wav"), 6: str(folder / "link.wav"), 7: str(folder / ".." / "outside" / "secret.wav")}
    body = {"format": "diffhost-kit", "version": 1, "pads": [{"pad": n, "clip": c} for n, c in names.items()]}
    (folder / "outside.json").write_text(json.dumps(body))
    m = client.request("/diffhost/kit/load", str(folder / "outside.json"), expect="/diffhost/kit/loaded")
    count, problems = m[1][1], m[1][2:]
    assert count == 6
    for n, line in zip(range(2, 8), problems, strict=True):
        assert line == f"pad {n}: clip {names[n]!r} cannot be loaded: it is missing, unreadable or outside the allowed folders"
    assert audio.slot_state(1) == "ready" and np.all(audio.slot_source(1).audio == 0.25)
    assert [audio.slot_state(n) for n in range(2, 8)] == ["empty"] * 6  # nothing from outside plays
    # the kits' own clip folder is allowed: a clip held in memory comes back from it
    audio.assign(9, np.full((1, 300), 0.125, np.float32), RATE, label="memory")
    client.request("/diffhost/kit/save", "mem", expect="/diffhost/kit/saved")
    audio.clear_slot(9)
    m = client.request("/diffhost/kit/load", "mem", expect="/diffhost/kit/loaded")
    assert m[1][1] == 0 and np.all(audio.slot_source(9).audio == 0.125)


def test_tempo_source_is_set_and_asked_over_osc(rig):
    client, live, _, _ = rig
    m = client.request("/diffhost/tempo/source", "midi clock", expect="/diffhost/tempo/source")
    assert m[1][0] == "midi clock" and live.sync.source == "midi clock"
    with pytest.raises(ValueError, match="'ableton' is not one of session, link, midi clock"):
        client.request("/diffhost/tempo/source", "ableton", expect="/diffhost/tempo/source")
    m = client.request("/diffhost/tempo/source", expect="/diffhost/tempo/source")
    assert m[1][0] == "midi clock"  # unchanged by the refused one
    client.request("/diffhost/tempo/source", "session", expect="/diffhost/tempo/source")
    assert live.sync.source == "session"


def test_midi_learn_over_osc_maps_the_next_note_to_the_pad(rig, audio, peer):
    client, live, _, port = rig
    audio.assign(5, np.full((1, 600), 0.25, np.float32), RATE)
    peer.connect_midi(port)
    for bad, why in (
        (("volume",), "'volume' is not one of pad, cancel, gain, pan"),
        (("pad",), "learning a note needs the pad it fires, 1..16"),
        (("pad", 17), r"pad: 17 is out of range"),
        (("gain",), "the gain target needs a pad 1..16"),
    ):
        with pytest.raises(ValueError, match=why):
            client.request("/diffhost/midi/learn", *bad, expect="/diffhost/midi/learn")
    assert live.router.learning is None  # the refusals changed nothing

    m = client.request("/diffhost/midi/learn", "pad", 5, expect="/diffhost/midi/learn")
    assert m[1] == ["pad", 5]
    peer.send_midi(np.array([[0, NOTE_ON, 70, 100]]))  # the note to learn
    wait_frames(audio, 4 * BLOCK)
    live.router.wait_idle()
    assert live.router.map.pad_for(70) == 5
    wait_frames(audio, 1000)

    peer.start()  # the learned note now fires pad 5, at its velocity's gain
    wait_frames(audio, 2 * BLOCK)
    peer.send_midi(np.array([[0, NOTE_ON, 70, 127]]))
    wait_frames(audio, 600 + 6 * BLOCK)
    out, _ = peer.stop()
    on = np.flatnonzero(out[0])
    assert on.size == 600
    np.testing.assert_allclose(out[0, on], 0.25, rtol=1e-6)  # velocity 127: gain 1

    client.request("/diffhost/midi/learn", "temperature", expect="/diffhost/midi/learn")
    assert live.router.learning is not None and live.router.learning.target == "temperature"
    client.request("/diffhost/midi/learn", "cancel", expect="/diffhost/midi/learn")
    assert live.router.learning is None
