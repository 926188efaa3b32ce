"""Kits: the 16 pads and the MIDI map as a file, round-tripped bit for bit on the real JACK audio."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from .conftest import RATE


def _fill(audio, tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "snare.wav"
    sf.write(path, rng.uniform(-0.5, 0.5, (2205, 2)).astype(np.float32), 44100, subtype="FLOAT")
    audio.assign_file(2, path)
    memory = rng.uniform(-0.9, 0.9, (2, 1000)).astype(np.float32)  # a render held only in memory
    audio.assign(7, memory, 32000, label="fresh kick")
    audio.set_slot_options(2, gain=0.7, pan=-0.25, mode="gate", choke_group=4, quantize=0.25)
    audio.set_slot_options(7, mode="loop")
    audio.set_slot_options(12, gain=1.5)  # an empty pad's options are part of the kit too
    audio.set_tempo(101.5)
    audio.set_quantize(0.5)
    return path, memory


def test_a_kit_round_trips_bit_exactly(audio, tmp_path):
    from diffhost.host.live.kit import KitStore, apply_kit, capture_kit, load_kit, save_kit
    from diffhost.host.live.midi import CcBinding, MidiMap

    path, memory = _fill(audio, tmp_path)
    store = KitStore(tmp_path / "config")
    midi = MidiMap().with_note(60, 2).with_cc(CcBinding(20, "gain", 2)).with_cc(CcBinding(21, "temperature"))
    fresh = {7: {"prompt": "fresh kick", "length": 0.25, "pool": 4, "evolve_bars": 2}}  # a fresh pad's sound
    kit_path = save_kit(capture_kit(audio, midi, store.clips_dir, fresh), tmp_path / "live.kit.json")
    with pytest.raises(FileExistsError):
        save_kit(capture_kit(audio, midi, store.clips_dir), kit_path)  # never overwritten unasked
    body = json.loads(kit_path.read_text())
    pad2 = next(p for p in body["pads"] if p["pad"] == 2)
    assert pad2["clip"] == str(path.resolve()) and len(pad2["sha256"]) == 64
    assert (pad2["mode"], pad2["gain"], pad2["pan"], pad2["choke_group"], pad2["quantize"]) == ("gate", 0.7, -0.25, 4, 0.25)
    assert body["midi"]["notes"]["60"] == 2 and "37" not in body["midi"]["notes"]  # learned; pad 2's old note (37) forgotten

    for n in range(1, 17):  # an empty bank with other options
        audio.clear_slot(n)
        audio.set_slot_options(n, gain=1.0, pan=0.0, mode="oneshot", choke_group=0, quantize=None)
    kit = load_kit(kit_path)
    assert apply_kit(kit, audio) == []
    assert kit.midi == midi
    assert {p.number: p.fresh for p in kit.pads if p.fresh} == fresh
    np.testing.assert_array_equal(audio.slot_source(7).audio, memory)  # bit for bit
    assert audio.slot_source(7).sample_rate == 32000 and audio.slot_source(7).label == "fresh kick"
    np.testing.assert_array_equal(audio.slot_source(2).audio, sf.read(path, dtype="float32")[0].T)
    assert audio.slot_options(12).gain == 1.5 and audio.tempo == 101.5 and audio.quantize == 0.5
    assert [audio.slot_state(n) for n in (2, 7, 8)] == ["ready", "ready", "empty"]
    again = tmp_path / "again.kit.json"
    save_kit(capture_kit(audio, kit.midi, store.clips_dir, {p.number: p.fresh for p in kit.pads if p.fresh}), again)
    assert again.read_bytes() == kit_path.read_bytes()  # the second save writes the same bytes


def test_a_kit_says_which_pads_could_not_load_and_loads_the_rest(audio, tmp_path):
    from diffhost.host.live.kit import KitStore, apply_kit, capture_kit, load_kit, save_kit

    path, _ = _fill(audio, tmp_path)
    other = tmp_path / "other.wav"
    sf.write(other, np.zeros((100, 1), np.float32), RATE)
    audio.assign_file(3, other)
    kit_path = save_kit(capture_kit(audio, None, KitStore(tmp_path / "c").clips_dir), tmp_path / "k.json")
    sf.write(path, np.zeros((50, 2), np.float32), 44100)  # the snare was edited since
    other.unlink()  # and this one deleted
    problems = apply_kit(load_kit(kit_path), audio)
    assert problems == [
        "pad 2: snare.wav changed since the kit was saved (loaded as it is now)",
        f"pad 3: {other} is missing",
    ]
    assert [audio.slot_state(n) for n in (2, 3, 7)] == ["ready", "empty", "ready"]
    (tmp_path / "bad.json").write_text('{"format": "diffhost-kit", "pads": [{"pad": 1, "mode": "reverse"}]}')
    with pytest.raises(ValueError, match="bad.json: cannot be read as a kit.*mode: 'reverse'"):
        load_kit(tmp_path / "bad.json")
