"""The default model's stems and MIDI: every part as its own audio, summing to the mix, and the
score as a Standard MIDI File that mido reads back, lined up with the drum stem; from the CLI too.
Diffusers models say plainly that they have neither."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from diffhost.engine.request import GenerationRequest
from diffhost.host.render.finisher import Finisher
from diffhost.host.render.midifile import result_midi
from diffhost.host.render.post import Recipe

ROOT = Path(__file__).resolve().parents[2]


def _render(model, **kw):
    return model.render(GenerationRequest(stems=True, midi=True, seed=kw.pop("seed", 2), **kw))


def _db(x: float) -> float:
    return 20 * np.log10(max(x, 1e-30))


@pytest.mark.parametrize(
    "kw",
    [
        dict(bars=4, bpm=97.0, sample_rate=44100),
        dict(bars=2, bpm=140.0, sample_rate=48000),
        dict(length=7.3, bpm=100.0, sample_rate=48000),  # a phrase (no loop word), soxr-resampled
    ],
)
def test_stems_sum_to_the_mix_within_minus_90_dbfs(default_model, kw):
    r = _render(default_model, prompt="piano melody with bass and strings pad and drums", **kw)
    for v, parts in enumerate(r.extra["stems"]):
        assert set(parts) == set(r.extra["music"][v]["roles"])  # one stem per part that plays
        residual = r.audio[v] - sum(parts.values())
        assert _db(float(np.abs(residual).max())) < -90.0, kw
        assert all(p.shape == r.audio[v].shape for p in parts.values())


@pytest.mark.parametrize(
    "kw",
    [
        dict(prompt="house groove with bass and chords", bars=2, bpm=124.0, sample_rate=48000),
        dict(prompt="lofi hip hop with bass and lead melody", length=5.3, sample_rate=48000),
    ],
)
def test_asking_for_stems_leaves_the_mix_as_it_is_and_centred_parts_centred(default_model, kw):
    """With stems each part is filtered and resampled on its own (a part panned to the centre as one
    channel) and the mix is their sum: the same linear steps as a render without stems, so the two
    mixes differ only by float rounding. A loop whose 48 kHz length shares few factors with its
    44.1 kHz one, and a phrase."""
    plain = default_model.render(GenerationRequest(seed=5, **kw))
    r = _render(default_model, seed=5, **kw)
    assert r.audio.shape == plain.audio.shape
    assert _db(float(np.abs(r.audio - plain.audio).max())) < -120.0
    parts = r.extra["stems"][0]
    assert np.array_equal(parts["bass"][0], parts["bass"][1])  # the bass plays in the centre
    stereo = [role for role in ("drums", "keys") if role in parts]
    assert all(not np.array_equal(parts[role][0], parts[role][1]) for role in stereo)


def test_each_stem_holds_only_its_part(default_model):
    r = _render(default_model, prompt="boom bap drum loop with bass", bars=2, bpm=90.0)
    parts = r.extra["stems"][0]
    assert {"drums", "bass"} <= set(parts)
    bass = parts["bass"].mean(axis=0)
    spectrum = np.abs(np.fft.rfft(bass)) ** 2
    freqs = np.fft.rfftfreq(bass.size, 1 / 44100)
    assert spectrum[freqs < 400].sum() > 0.9 * spectrum.sum()  # the bass stem is bass
    # The drum stem's attacks are all drum notes: a bass note starting off the drum grid would show.
    mf = mido.MidiFile(file=io.BytesIO(result_midi(r, 0)))
    drums, bass = _note_times(mf, 9), _note_times(mf, 0)
    off_grid_bass = [t for t in bass if np.min(np.abs(drums - t)) > 0.02]
    heard = _onsets(parts["drums"], 44100)
    assert all(np.min(np.abs(drums - t)) <= 0.010 for t in heard)
    assert not any(np.min(np.abs(heard - t)) <= 0.005 for t in off_grid_bass) if heard.size else True


def _onsets(x: np.ndarray, sr: int) -> np.ndarray:
    """Attacks: 1 ms blocks whose peak jumps past 3x the loudest of the 5 ms before (and not near silence)."""
    block = sr // 1000
    mono = np.abs(x).max(axis=0)
    n = mono.size // block
    peaks = mono[: n * block].reshape(n, block).max(axis=1)
    floor = 0.02 * peaks.max()
    hits = [i for i in range(5, n) if peaks[i] > floor and peaks[i] > 3 * peaks[i - 5 : i].max()]
    merged = [h for k, h in enumerate(hits) if k == 0 or h - hits[k - 1] > 20]  # one per attack
    return np.array(merged) * block / sr


def _note_times(mf: mido.MidiFile, channel: int | None = None) -> np.ndarray:
    times, now = [], 0.0
    for msg in mf:  # merged tracks, in seconds (mido applies the tempo map)
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0 and (channel is None or msg.channel == channel):
            times.append(now)
    return np.array(sorted(times))


def test_midi_reads_back_with_tempo_key_parts_and_drums_on_channel_10(default_model, tmp_path):
    r = _render(default_model, prompt="funk beat with bass and chords in A minor", bars=2, bpm=97.0)
    saved = Finisher(Recipe()).finish(r, tmp_path)[0]
    side = json.loads(saved.sidecar.read_text())
    mf = mido.MidiFile(saved.path.parent / side["midi"])
    assert mf.type == 1 and mf.ticks_per_beat == 480
    meta = {m.type: m for m in mf.tracks[0] if m.is_meta}
    assert mido.tempo2bpm(meta["set_tempo"].tempo) == pytest.approx(side["music"]["bpm"], abs=0.01)
    assert meta["key_signature"].key == "Am" and side["music"]["key"] == "A minor"
    assert (meta["time_signature"].numerator, meta["time_signature"].denominator) == (4, 4)
    tracks = {t.name: t for t in mf.tracks[1:]}
    assert set(tracks) == set(side["music"]["roles"]) - {"texture"}
    drum_channels = {m.channel for m in tracks["drums"] if m.type == "note_on"}
    assert drum_channels == {9}
    programs = {t.name: [m.program for m in t if m.type == "program_change"] for t in mf.tracks[1:]}
    assert programs["drums"] == [] and all(len(p) == 1 for n, p in programs.items() if n != "drums")
    assert mf.length == pytest.approx(side["music"]["length_s"], abs=0.01)
    # The stems on disk sum to the dry render on disk.
    dry, _ = sf.read(saved.path.parent / side["dry"]["path"], dtype="float32", always_2d=True)
    total = sum(
        sf.read(saved.path.parent / f, dtype="float32", always_2d=True)[0]
        for f in side["stems"]["files"].values()
    )
    assert _db(float(np.abs(total - dry).max())) < -90.0


def test_midi_drum_onsets_match_the_drum_stem_within_10_ms(default_model):
    for seed, prompt in ((1, "boom bap drum loop"), (2, "house drum loop"), (3, "trap beat")):
        r = _render(default_model, prompt=prompt, bars=2, bpm=96.0, seed=seed)
        audio = r.extra["stems"][0]["drums"]
        heard = _onsets(audio, 44100)
        notes = np.unique(np.round(_note_times(mido.MidiFile(file=io.BytesIO(result_midi(r, 0))), 9), 4))
        assert heard.size >= 4 and notes.size >= 4
        # Every attack heard in the stem is a MIDI note, within 10 ms...
        assert all(np.min(np.abs(notes - t)) <= 0.010 for t in heard), (prompt, heard, notes)
        # ...and most MIDI notes are heard (a soft hat under a ringing kick need not jump 3x).
        found = np.mean([np.min(np.abs(heard - t)) <= 0.010 for t in notes])
        assert found >= 0.5, (prompt, found)


def cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "diffhost.cli", "render", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_cli_stems_and_midi_write_the_files_and_say_where(tmp_path):
    out = tmp_path / "groove.wav"
    proc = cli(
        "house groove with bass",
        "--bars",
        "2",
        "--bpm",
        "124",
        "--stems",
        "--midi",
        "--seed",
        "4",
        "--no-library",
        "-o",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    side = json.loads(out.with_name(out.name + ".json").read_text())
    assert "stems: " in proc.stdout and "midi: " in proc.stdout
    for f in side["stems"]["files"].values():
        assert (tmp_path / f).is_file() and sf.info(str(tmp_path / f)).frames == round(2 * 240 / 124 * 44100)
    assert mido.MidiFile(tmp_path / side["midi"]).tracks[0].name == "diffhost"


def test_a_one_shot_has_no_stems_or_midi_and_says_why(default_model, tmp_path):
    """A kick is one sound: no stems folder holding a copy of it and no MIDI file, but the reason in
    the result and the sidecar (the CLI and the window print it)."""
    r = _render(default_model, prompt="punchy analog kick", length=1.0)
    assert "music" not in r.extra and "stems" not in r.extra and "score_notes" not in r.extra
    assert "one-shot" in r.extra["no_parts"]
    saved = Finisher(Recipe()).finish(r, tmp_path)[0]
    side = json.loads(saved.sidecar.read_text())
    assert side["no_parts"] == r.extra["no_parts"] and "stems" not in side and "midi" not in side
    assert not list(tmp_path.glob("*.stems")) and not list(tmp_path.glob("*.mid"))
    audio, sr = sf.read(saved.path, always_2d=True)
    assert sr == 44100 and audio.shape[0] == 44100 and np.abs(audio).max() > 0.1  # the kick itself
