"""Musical time is exact: loops of N bars are round(N x bar x rate) samples, wrap at their seam, and
carry their tempo and loop in the file. The real default model, the real finisher and real files,
read back with a RIFF reader written here (not the project's writer)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from diffhost.engine.default.training.evaluate_loops import seam_ok
from diffhost.engine.errors import UnsupportedRequestError
from diffhost.engine.request import GenerationRequest
from diffhost.host.render.finisher import Finisher
from diffhost.host.render.post import Recipe

TEMPOS = (90.0, 97.0, 140.0, 173.5)  # none of their bars is a whole number of samples at 44.1 kHz


def expected(n_bars: float, bpm: float, sr: int) -> int:
    return round(n_bars * (240.0 / bpm) * sr)


def onsets_in_last(x: np.ndarray, sr: int, window_s: float = 0.010) -> list[float]:
    """Attacks in the clip's last window_s: a 1 ms block whose peak jumps past 3x the loudest of the
    5 ms before it (and is not near silence). A tail only falls; the next bar's kick rises."""
    block = max(1, sr // 1000)
    mono = np.abs(x).max(axis=0)
    n = mono.size // block
    peaks = mono[: n * block].reshape(n, block).max(axis=1)
    found = []
    for i in range(max(5, n - int(round(window_s * 1000))), n):
        if peaks[i] > 0.05 and peaks[i] > 3 * peaks[i - 5 : i].max():
            found.append(i * block / sr)
    return found


def riff_chunks(path: Path) -> dict[bytes, bytes]:
    """Every chunk of a RIFF/WAVE file by id, walked by hand (ids, little-endian sizes, pad bytes)."""
    data = Path(path).read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8, "RIFF size must cover the whole file"
    out, i = {}, 12
    while i + 8 <= len(data):
        cid, size = data[i : i + 4], struct.unpack("<I", data[i + 4 : i + 8])[0]
        out[cid] = data[i + 8 : i + 8 + size]
        i += 8 + size + (size & 1)
    assert i == len(data), "chunks must tile the file exactly"
    return out


@pytest.mark.parametrize("sr", [44100, 48000])
@pytest.mark.parametrize("bpm", TEMPOS)
def test_n_bars_are_exactly_n_bars_and_wrap_at_the_seam(default_model, bpm, sr):
    for n_bars in (1, 2, 4, 8):
        r = default_model.render(
            GenerationRequest(prompt="boom bap drum loop", bars=n_bars, bpm=bpm, sample_rate=sr, seed=3)
        )
        x = r.audio[0]
        assert x.shape[-1] == expected(n_bars, bpm, sr), (n_bars, bpm, sr)
        music = r.extra["music"][0]
        assert music["loop"] is True and music["bars"] == n_bars and music["bpm"] == bpm
        ok, seam, p999 = seam_ok(x)
        assert ok, (n_bars, bpm, sr, seam, p999)
        assert onsets_in_last(x, sr) == [], (n_bars, bpm, sr)


@pytest.mark.parametrize("bpm", [70.0, 175.0])
def test_the_ends_of_the_tempo_range(default_model, bpm):
    for n_bars in (1, 8):
        audio = default_model.generate("techno drum loop", bars=n_bars, bpm=bpm, sample_rate=48000, seed=1)
        assert audio.shape[-1] == expected(n_bars, bpm, 48000) and seam_ok(audio)[0]


def test_the_onset_check_catches_the_next_bars_kick():
    """The check above can fail: a 4-bar loop cut 147 samples long (the old 10.67 s at 90 bpm) holds
    the next bar's kick attack, and the check finds it."""
    from diffhost.engine import load_model

    model = load_model(None, device="cpu")
    five = model.generate("boom bap drum loop", bars=5, bpm=90.0, seed=3)
    cut = five[:, : expected(4, 90.0, 44100) + 147]
    assert onsets_in_last(cut, 44100) != []


def test_bars_without_a_tempo_get_a_whole_number_tempo(default_model):
    for seed in range(3):
        r = default_model.render(GenerationRequest(prompt="house drum loop", bars=4, seed=seed))
        music = r.extra["music"][0]
        assert music["bpm"] == round(music["bpm"]) and music["bars"] == 4 and music["loop"]
        assert r.audio.shape[-1] == expected(4, music["bpm"], 44100)
        assert music["set_by"]["bpm"] == "model"
    r = default_model.render(GenerationRequest(prompt="drum loop at 97 bpm", bars=2, sample_rate=48000))
    assert r.extra["music"][0]["bpm"] == 97.0 and r.audio.shape[-1] == expected(2, 97.0, 48000)
    assert r.extra["music"][0]["set_by"]["bpm"] == "prompt"


def test_bad_bars_name_the_parameter_and_the_range(default_model):
    with pytest.raises(ValueError, match=r"bars: 0 is out of range; valid is 0.25..256.0 bars"):
        GenerationRequest(prompt="beat", bars=0)
    with pytest.raises(ValueError, match=r"bars: expected a number"):
        GenerationRequest(prompt="beat", bars="four")
    with pytest.raises(UnsupportedRequestError, match=r"bars: 16 bars at 70 bpm last 54.86 s.*0.25..30 s"):
        default_model.generate("beat", bars=16, bpm=70.0)
    with pytest.raises(UnsupportedRequestError, match=r"bars: 40 bars .*at most 30 s"):
        default_model.generate("beat", bars=40)


def test_the_classic_call_still_works(default_model):
    audio = default_model.generate("lofi hip hop drum loop", sample_rate=44100, length=10, temperature=0.7)
    assert audio.ndim == 2 and audio.shape[0] == 2 and audio.shape[1] > 0


@pytest.mark.parametrize("sr, finishing_sr", [(44100, 48000), (48000, 44100)])
def test_loops_stay_exact_through_finishing_and_export(default_model, tmp_path, sr, finishing_sr):
    """Effects, the DC filter and a finishing resample run on the loop as a circle; the WAV holds
    exactly N bars at the file's rate and carries them in acid + smpl chunks."""
    bpm, n_bars = 97.0, 4
    r = default_model.render(
        GenerationRequest(
            prompt="boom bap drum loop in F minor", bars=n_bars, bpm=bpm, sample_rate=sr, seed=3
        )
    )
    recipe = Recipe.from_dict(
        {
            "effects": [{"effect": "Reverb", "params": {"room_size": 0.5}}],
            "finishing": {"sample_rate": finishing_sr},
            "export": {"format": "wav", "bit_depth": 24, "pack_names": True},
        }
    )
    saved = Finisher(recipe).finish(r, tmp_path)[0]
    assert saved.path.name == "boom-bap-drum-loop-in-f-minor_97bpm_Fmin_4bars_s3.wav"
    audio, file_sr = sf.read(saved.path, dtype="float32", always_2d=True)
    assert file_sr == finishing_sr and audio.shape[0] == expected(n_bars, bpm, finishing_sr)
    assert seam_ok(audio.T)[0]
    chunks = riff_chunks(saved.path)
    flags, root, _, _, beats, denom, numer, tempo = struct.unpack("<IHHfIHHf", chunks[b"acid"])
    assert tempo == pytest.approx(97.0) and beats == 16 and (numer, denom) == (4, 4)
    assert not flags & 0x01 and flags & 0x02 and root % 12 == 5  # a loop, rooted on F
    head = struct.unpack("<9I", chunks[b"smpl"][:36])
    assert head[7] == 1  # one loop
    _, kind, start, end, _, count = struct.unpack("<6I", chunks[b"smpl"][36:60])
    assert (kind, start, end, count) == (0, 0, expected(n_bars, bpm, finishing_sr) - 1, 0)
    side = json.loads(saved.sidecar.read_text())
    assert side["music"]["bpm"] == 97.0 and side["music"]["bars"] == 4 and side["music"]["loop"] is True


_SNDFILE_API = """
typedef struct { int64_t frames; int samplerate, channels, format, sections, seekable; } SF_INFO;
typedef struct { short time_sig_num, time_sig_den; int loop_mode, num_beats; float bpm; int root_key;
                 int future[6]; } SF_LOOP_INFO;
typedef struct { int gain; char basenote, detune, velocity_lo, velocity_hi, key_lo, key_hi; int loop_count;
                 struct { int mode; uint32_t start, end, count; } loops[16]; } SF_INSTRUMENT;
void *sf_open(const char *path, int mode, SF_INFO *info);
int sf_command(void *sndfile, int command, void *data, int datasize);
int sf_close(void *sndfile);
"""


def test_libsndfile_reads_the_tempo_and_loop_too(default_model, tmp_path):
    """A second reader nobody here wrote: libsndfile's own acid and smpl parsers, called directly."""
    import ctypes.util

    import cffi

    ffi = cffi.FFI()
    ffi.cdef(_SNDFILE_API)
    lib = ffi.dlopen(ctypes.util.find_library("sndfile") or "libsndfile.so.1")
    r = default_model.render(GenerationRequest(prompt="techno loop", bars=2, bpm=140.0, seed=2))
    saved = Finisher(Recipe()).finish(r, tmp_path)[0]
    info = ffi.new("SF_INFO*")
    handle = lib.sf_open(str(saved.path).encode(), 0x10, info)  # SFM_READ
    assert handle != ffi.NULL
    try:
        loop = ffi.new("SF_LOOP_INFO*")
        assert lib.sf_command(handle, 0x10E0, loop, ffi.sizeof("SF_LOOP_INFO")) == 1  # SFC_GET_LOOP_INFO
        assert (
            loop.bpm == pytest.approx(140.0) and loop.num_beats == 8 and loop.loop_mode != 800
        )  # not one-shot
        inst = ffi.new("SF_INSTRUMENT*")
        assert lib.sf_command(handle, 0x10D0, inst, ffi.sizeof("SF_INSTRUMENT")) == 1  # SFC_GET_INSTRUMENT
        n = expected(2, 140.0, 44100)
        assert inst.loop_count == 1 and inst.loops[0].start == 0 and inst.loops[0].end in (n - 1, n)
        assert info.frames == n
    finally:
        lib.sf_close(handle)


def test_the_prompts_words_count_and_an_explicit_setting_wins_saying_so(default_model):
    prompt = "funk beat with bass and chords in A minor at 122 bpm"
    r = default_model.render(GenerationRequest(prompt=prompt, bars=2, seed=4))
    music = r.extra["music"][0]
    assert music["bpm"] == 122.0 and music["key"] == "A minor" and music["notes"] == []
    assert {"drums", "bass", "keys"} <= set(music["roles"])
    assert music["set_by"] == {"bpm": "prompt", "key": "prompt"}
    r = default_model.render(GenerationRequest(prompt=prompt, bars=2, bpm=128.0, key="F minor", seed=4))
    music = r.extra["music"][0]
    assert music["bpm"] == 128.0 and music["key"] == "F minor"
    assert music["set_by"] == {"bpm": "bpm setting", "key": "key setting"}
    assert any("wins over the prompt's 122 bpm" in n for n in music["notes"])
    assert any("wins over the prompt's key" in n for n in music["notes"])
    assert {"bass", "keys"} <= set(music["roles"])


@pytest.mark.parametrize("prompt", ["deep bass line", "guitar riff", "drum pattern", "chord progression"])
def test_phrase_words_make_a_phrase_or_loop_not_a_one_shot(default_model, prompt):
    r = default_model.render(GenerationRequest(prompt=prompt, length=2.0, seed=1))
    assert r.extra.get("music"), prompt  # the score path, not a one-shot hit
    x = r.audio[0].mean(axis=0)
    quarters = np.sqrt(np.mean(x[: x.size // 4 * 4].reshape(4, -1) ** 2, axis=1))
    assert np.sum(quarters > 0.05 * quarters.max()) >= 3, (prompt, quarters)  # sound all through


def test_a_seed_steers_the_drums_the_prompt_asks_for(default_model):
    """A rhythmic seed (noise bursts) with "hip hop drum loop": drums at every strength."""
    from diffhost.engine.default.training.evaluate_loops import noise_burst_seed
    from diffhost.engine.request import SeedClip

    audio, _ = noise_burst_seed(90.0, np.random.default_rng(5))
    clip = SeedClip(audio, 44100)
    for strength in (0.3, 0.6, 0.9):
        r = default_model.render(
            GenerationRequest(
                prompt="hip hop drum loop", seed_clip=clip, strength=strength, seed=7, variations=4
            )
        )
        for music in r.extra["music"]:
            assert "drums" in music["roles"], (strength, music)
            assert music["bpm"] == round(music["bpm"])  # a tempo read from a seed is a whole number


def _loop_points(path: Path) -> tuple[float, float, bool, tuple[int, int]]:
    """(acid tempo, acid beats, acid says loop, smpl loop (start, end)) read back by riff_chunks."""
    chunks = riff_chunks(path)
    flags, _, _, _, beats, _, _, tempo = struct.unpack("<IHHfIHHf", chunks[b"acid"])
    assert struct.unpack("<9I", chunks[b"smpl"][:36])[7] == 1  # one loop
    _, kind, start, end, _, _ = struct.unpack("<6I", chunks[b"smpl"][36:60])
    assert kind == 0  # forward
    return tempo, beats, not flags & 1, (start, end)


@pytest.mark.parametrize(
    "finishing, bpm, bars",
    [
        # trimming and a tail would cut or pad a loop's bars: skipped, the loop stays 2 bars at 97
        ({"trim_silence": {"threshold_db": -20.0}, "tail_s": 0.5}, 97.0, 2.0),
        # a tempo fit moves the loop to 120 bpm: still 2 bars, exactly, at the new tempo
        ({"tempo_fit": {"source_bpm": 97.0, "target_bpm": 120.0}}, 120.0, 2.0),
        # re-looped to 1 bar at 128 bpm: the file and its chunks say 1 bar at 128
        ({"loop": {"bpm": 128.0, "bars": 1.0, "crossfade_ms": 10.0}}, 128.0, 1.0),
    ],
)
def test_a_file_that_finishing_trims_or_reloops_keeps_a_correct_loop(
    default_model, tmp_path, finishing, bpm, bars
):
    r = default_model.render(
        GenerationRequest(prompt="boom bap drum loop", bars=2, bpm=97.0, seed=4, sample_rate=48000)
    )
    saved = Finisher(Recipe.from_dict({"finishing": {**finishing, "sample_rate": 44100}})).finish(
        r, tmp_path
    )[0]
    n = expected(bars, bpm, 44100)
    audio, sr = sf.read(saved.path, always_2d=True)
    assert sr == 44100 and audio.shape[0] == n
    tempo, beats, loop, points = _loop_points(saved.path)
    assert tempo == pytest.approx(bpm, abs=1e-3) and beats == round(bars * 4) and loop
    assert points == (0, n - 1)
    side = json.loads(saved.sidecar.read_text())
    file_music = side["post"].get("music") or side["music"]
    assert file_music["bpm"] == pytest.approx(bpm) and file_music["bars"] == bars and file_music["loop"]
    assert side["music"]["bpm"] == 97.0  # the sidecar's own music still describes the dry render


def test_a_phrase_that_finishing_loops_gains_a_loop(default_model, tmp_path):
    """A phrase (no loop asked) cut to 2 bars at 100 bpm by finishing becomes a loop a sampler reads."""
    r = default_model.render(GenerationRequest(prompt="solo piano melody", length=6.0, bpm=100.0, seed=2))
    assert not r.extra["music"][0]["loop"]
    recipe = Recipe.from_dict({"finishing": {"loop": {"bpm": 100.0, "bars": 2.0}}})
    saved = Finisher(recipe).finish(r, tmp_path)[0]
    n = expected(2, 100.0, 44100)
    assert sf.info(str(saved.path)).frames == n
    assert _loop_points(saved.path) == (pytest.approx(100.0), 8, True, (0, n - 1))
