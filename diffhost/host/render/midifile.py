"""A rendered score as a Standard MIDI File (format 1, written with mido), on the host's side.

A model that renders a score (the default model) returns the notes it played
(GenerationResult.extra["score_notes"]) beside its tempo, key and voices (extra["music"]); the file is
written here, when it is saved, so asking for MIDI costs the render nothing.

Track 0 holds the tempo, the 4/4 time signature and the key; then one track per part that plays
notes (drums on channel 10 with the General MIDI drum map, every other part on its own channel
with the General MIDI program nearest its voice). Note times are the render's own (swing and a
seed clip's exact onsets included), so the MIDI lines up with the audio and its stems.
"""

from __future__ import annotations

import io
from typing import Any

import mido

from diffhost.engine.request import GenerationResult, parse_key_name

TICKS_PER_BEAT = 480
# The General MIDI program (0-based) nearest each voice of the score.
GM_PROGRAM = {
    "piano": 0, "electric_piano": 4, "organ": 16, "steel_guitar": 25, "nylon_guitar": 24,
    "finger_bass": 33, "synth_bass": 38, "upright_bass": 32, "sub_808": 38,
    "warm_pad": 89, "strings": 48, "analog_pad": 90,
    "synth_pluck": 84, "vibraphone": 11, "marimba": 12,
    "flute": 73, "saw_lead": 81, "violin": 40,
}  # fmt: skip
PART_ORDER = ("drums", "bass", "keys", "pad", "arp", "lead")
DRUM_CHANNEL = 9  # "channel 10" as musicians count


def _mido_key(key: str) -> str | None:
    """'F minor' -> 'Fm', 'Bb major' -> 'Bb' (mido's key_signature names); None when unreadable."""
    try:
        parse_key_name(key)
    except ValueError:
        return None
    parts = key.split()
    return parts[0] + ("m" if len(parts) > 1 and parts[1].lower() == "minor" else "")


def score_midi(
    events: list[tuple[str, float, int, float, float]],
    *,
    bpm: float,
    key: str | None,
    voices: dict[str, str],
    length_s: float,
    name: str = "diffhost",
) -> bytes:
    """The notes a render played (role, seconds, note, seconds held, velocity) as SMF bytes.

    Notes end by the clip's end (a loop's tails ring into its next repeat in the audio; in MIDI the
    clip is the loop)."""
    tempo = mido.bpm2tempo(bpm)
    per_second = TICKS_PER_BEAT * 1e6 / tempo  # what mido.second2tick computes, once

    def tick(seconds: float) -> int:
        return max(0, int(round(seconds * per_second)))

    end = tick(length_s)
    mf = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("track_name", name=name, time=0))
    meta.append(mido.MetaMessage("set_tempo", tempo=tempo, time=0))
    meta.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    if key and _mido_key(key):
        meta.append(mido.MetaMessage("key_signature", key=_mido_key(key), time=0))
    meta.append(mido.MetaMessage("end_of_track", time=end))
    mf.tracks.append(meta)
    channel = 0
    for role in PART_ORDER:
        notes = [e for e in events if e[0] == role]
        if not notes:
            continue
        if role == "drums":
            ch = DRUM_CHANNEL
        else:
            ch = channel
            channel += 1 + (channel + 1 == DRUM_CHANNEL)  # channel 10 is the drums'
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=role, time=0))
        # (tick, order, kind, note, velocity); offs sort before ons at the same tick, so a repeated
        # note is not cut by its own off. Messages are made once, with their delta times.
        timed: list[tuple[int, int, str, int, int]] = []
        if role != "drums":
            program = GM_PROGRAM.get(voices.get(role, ""), 0)
            track.append(mido.Message("program_change", channel=ch, program=program, time=0))
        for _, t, note, dur, vel in notes:
            on = tick(t)
            if on >= end:
                continue
            off = min(max(on + 1, tick(t + dur)), end)
            velocity = max(1, min(127, int(round(vel * 127))))
            note = max(0, min(127, int(note)))
            timed.append((on, 2, "note_on", note, velocity))
            timed.append((off, 1, "note_off", note, 0))
        timed.sort(key=lambda x: (x[0], x[1]))
        now = 0
        for at, _, kind, note, velocity in timed:
            track.append(mido.Message(kind, channel=ch, note=note, velocity=velocity, time=at - now))
            now = at
        track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
        mf.tracks.append(track)
    buf = io.BytesIO()
    mf.save(file=buf)
    return buf.getvalue()


def result_midi(result: GenerationResult, variation: int = 0) -> bytes | None:
    """One variation's notes (extra["score_notes"]) as SMF bytes, with the tempo, key and voices its
    extra["music"] says it has; None when the model returned no notes."""
    extra: dict[str, Any] = result.extra or {}
    notes, music = extra.get("score_notes"), extra.get("music")
    if not notes or not music:
        return None
    v = min(variation, len(notes) - 1)
    info = music[min(v, len(music) - 1)]
    return score_midi(
        [tuple(e) for e in notes[v]],
        bpm=float(info["bpm"]),
        key=info.get("key"),
        voices=dict(info.get("voices") or {}),
        length_s=float(info.get("length_s") or result.audio.shape[-1] / result.sample_rate),
    )
