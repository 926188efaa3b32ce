"""The remote engine's wire format on its own (no Ray): exact bytes, and refusals of anything else."""

from __future__ import annotations

import io
import json
import struct

import mido
import numpy as np
import pytest

from diffhost.engine.remote import wire
from diffhost.engine.request import GenerationRequest, GenerationResult, ModelInfo, SeedClip
from diffhost.host.render.midifile import result_midi


def roundtrip(header, arrays=None, **kw):
    asm = wire.Assembler(**kw)
    frames = wire.encode(header, arrays)
    out = [asm.feed(f) for f in frames]
    assert all(m is None for m in out[:-1])
    return out[-1], frames


def test_request_and_result_cross_bit_exactly_in_chunks():
    rng = np.random.default_rng(1)
    clip = SeedClip(rng.standard_normal((2, 300_000)).astype(np.float32), 48000)  # 2.4 MB: 3 chunks
    req = GenerationRequest(prompt="kick", negative_prompt="hiss", seed_clip=clip, length=1.5, seed=9, steps=7)
    params, arrays = wire.request_header(req)
    msg, frames = roundtrip({"type": "render", "request": params}, arrays)
    assert len(frames) == 1 + 3 and msg.type == "render"
    back = wire.request_from(msg.header["request"], msg.arrays)
    assert back.with_(seed_clip=None) == req.with_(seed_clip=None)
    assert back.seed_clip.sample_rate == 48000
    assert back.seed_clip.audio.tobytes() == clip.audio.tobytes()

    audio = rng.standard_normal((2, 2, 4410)).astype(np.float32)
    audio[0, 0, :3] = [np.float32(1e-45), -0.0, np.nextafter(np.float32(1), np.float32(2))]  # denormal, -0, 1+ulp
    info = ModelInfo("m", "fam", 44100, 2, 4.0)
    result = GenerationResult(audio, 44100, req, seed=9, model=info, steps=7, guidance=3.0, render_s=0.5,
                              extra={"score": np.float32(0.25)})  # fmt: skip
    header, arrays = wire.result_header(result)
    msg, _ = roundtrip({"type": "done", "result": header}, arrays)
    got = wire.result_from(msg.header["result"], msg.arrays, req, rendered_on="http://gpu:8450 (replica a)")
    assert got.audio.dtype == np.float32 and got.audio.tobytes() == audio.tobytes()
    assert (got.seed, got.steps, got.guidance, got.extra) == (9, 7, 3.0, {"score": 0.25})
    assert got.model.rendered_on == "http://gpu:8450 (replica a)" and got.model.name == "m"


def _frame(header: dict) -> bytes:
    head = json.dumps(header).encode()
    return wire.MAGIC + struct.pack(">I", len(head)) + head


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        (b"\x80\x04pickle", "bad magic"),
        (_frame({"v": 99}), "wire version 99"),
        (_frame({"v": 1, "arrays": [{"name": "a", "dtype": "<f8", "shape": [2]}]}), "only '<f4'"),
        (_frame({"v": 1, "arrays": [{"name": "a", "dtype": "<f4", "shape": [-1]}]}), "shape [-1]"),
        (_frame({"v": 1, "arrays": [{"name": "a", "dtype": "<f4", "shape": [1 << 20, 1 << 10]}]}), "more than"),
        (wire.MAGIC + struct.pack(">I", 99) + b"{}", "does not match"),
    ],
)
def test_anything_else_is_refused_with_a_reason(frame, says):
    with pytest.raises(wire.WireError, match=None) as err:
        wire.Assembler().feed(frame)
    assert says in str(err.value)


def test_bad_request_values_are_refused_by_the_request_itself():
    with pytest.raises(ValueError, match="unknown parameter"):
        wire.request_from({"prompt": "x", "__class__": "os.system"}, {})
    with pytest.raises(ValueError, match="length: 9999"):
        wire.request_from({"length": 9999.0}, {})
    asm = wire.Assembler()
    asm.feed(wire.encode({"t": 1}, {"a": np.zeros(4, np.float32)})[0])
    with pytest.raises(wire.WireError, match="16 bytes after the last array"):
        asm.feed(b"\0" * 32)


def test_bars_stems_and_midi_cross_the_wire():
    """A loop's request (bars at a bpm, stems, MIDI) and its result's stems (float arrays) and score
    notes (for the host's MIDI file) arrive exactly as they left."""
    req = GenerationRequest(prompt="drum loop", bars=2, bpm=97.0, stems=True, midi=True, seed=1)
    params, arrays = wire.request_header(req)
    msg, _ = roundtrip({"type": "render", "request": params}, arrays)
    assert wire.request_from(msg.header["request"], msg.arrays) == req
    rng = np.random.default_rng(2)
    audio = rng.standard_normal((1, 2, 100)).astype(np.float32)
    stems = [{"drums": audio[0] * 0.5, "bass": audio[0] * 0.5}]
    notes = [[["drums", 0.0, 36, 0.15, 0.9], ["bass", 0.62, 41, 0.3, 0.7]]]
    music = [{"bpm": 97.0, "key": "F minor", "length_s": 2 * 240 / 97.0, "voices": {"bass": "finger_bass"}}]
    result = GenerationResult(audio, 44100, req, seed=1, model=ModelInfo("m", "fam", 44100, 2, 30.0), steps=3,
                              guidance=None, extra={"music": music, "stems": stems, "score_notes": notes})  # fmt: skip
    header, arrays = wire.result_header(result)
    msg, _ = roundtrip({"type": "done", "result": header}, arrays)
    got = wire.result_from(msg.header["result"], msg.arrays, req, rendered_on="remote")
    assert got.extra["score_notes"] == notes and got.extra["music"] == music
    assert result_midi(got) == result_midi(result) and mido.MidiFile(file=io.BytesIO(result_midi(got))).tracks
    assert {k: v.tobytes() for k, v in got.extra["stems"][0].items()} == {
        k: v.tobytes() for k, v in stems[0].items()
    }
