"""Render a Score to stereo audio: recorded bank samples plus the procedural voices.

Timing: a bar is 4 beats of 4 sixteenth steps; odd sixteenths are delayed by the swing.
A loop (length = whole bars) is rendered past its end and the overhang is added back
onto its start, so every note's tail rings into the next repeat exactly as it would in
a continuous performance: the seam is as smooth as any other point of the clip. Noise
beds are crossfaded across the seam instead. A phrase that is not whole bars stops
starting notes a beat before its end and fades its last tenth to silence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt

from diffhost.engine.default.music import voices
from diffhost.engine.default.music.bank import Bank
from diffhost.engine.default.music.score import CHORD_BARS, DRUM_LANES, MELODY_STEPS, STEPS, Score

SR = 44100
ROLE_GAIN = {"drums": 1.0, "bass": 0.75, "keys": 0.45, "pad": 0.4, "arp": 0.35, "lead": 0.6, "texture": 0.45}
LANE_GAIN = {
    "kick": 1.0, "snare": 0.8, "clap": 0.7, "closed_hat": 0.45, "open_hat": 0.4, "perc": 0.45,
    "tom": 0.6, "ride": 0.3, "hat_roll": 0.3,
}  # fmt: skip
LANE_PAN = {"closed_hat": 0.25, "open_hat": 0.25, "hat_roll": 0.25, "perc": -0.3, "tom": -0.2, "ride": 0.35}
LOFI_DRUMS_HZ = 5000.0
SEVENTH_STYLES = {"lofi", "boombap", "funk", "house"}
RELEASE_S = {
    "warm_pad": 0.5, "strings": 0.4, "analog_pad": 0.5, "organ": 0.06, "flute": 0.08, "violin": 0.15,
    "saw_lead": 0.08,
}  # fmt: skip


@dataclass(frozen=True)
class Timing:
    tempo: float
    swing: float

    @property
    def step_s(self) -> float:
        return 60.0 / self.tempo / 4

    @property
    def bar_s(self) -> float:
        return 240.0 / self.tempo

    def at(self, step: int) -> float:
        """Seconds from the start to sixteenth `step` (global index), swung."""
        return step * self.step_s + (self.swing * self.step_s if step % 2 else 0.0)


class Mixer:
    """Stereo bus of n samples plus overhang; add mono notes with gain and pan."""

    def __init__(self, n: int, overhang: int, loop: bool):
        self.n, self.loop = n, loop
        self.buf = np.zeros((2, n + overhang), dtype=np.float32)

    def add(self, x: np.ndarray, t_s: float, gain: float, pan: float = 0.0) -> None:
        i = int(round(t_s * SR))
        if i < 0:  # a seed onset slightly before the downbeat: the end of the previous repeat
            if self.loop:
                i += self.n
            else:
                x, i = x[-i:], 0
        if i >= self.buf.shape[1] or x.size == 0:
            return
        m = min(x.size, self.buf.shape[1] - i)
        left, right = np.sqrt(0.5 * (1 - pan)), np.sqrt(0.5 * (1 + pan))
        self.buf[0, i : i + m] += gain * left * x[:m]
        self.buf[1, i : i + m] += gain * right * x[:m]


def _fade_in(x: np.ndarray, n: int = 32) -> np.ndarray:
    """1 ms-ish fade so no sample starts with a step (a click) even where the recording does."""
    x = np.array(x, dtype=np.float32, copy=True)
    m = min(n, x.size)
    x[:m] *= np.linspace(0, 1, m, dtype=np.float32)
    return x


def pitched_note(
    bank: Bank, voice: str, note: int, dur: float, velocity: float, rng, cache: dict | None = None
) -> np.ndarray:
    """A mono note of `dur` seconds plus its release, from the bank (resampled) or a synth voice.

    Recorded notes repeat within a loop (the same chord every four bars), so one render caches them."""
    if cache is not None and voice not in voices.SYNTH_NOTE_VOICES:
        k = (voice, note, round(dur, 3))
        if k not in cache:
            cache[k] = pitched_note(bank, voice, note, dur, 1.0, rng)
        return cache[k] * velocity
    if voice in voices.SYNTH_NOTE_VOICES:
        return voices.SYNTH_NOTE_VOICES[voice](note, dur, velocity, rng)
    x, ratio, sample = bank.get(voice, note)
    hold = sample.hold / SR
    release = RELEASE_S.get(voice, 0.12)
    out_len = int((min(dur, hold) + release) * SR) if dur < hold else int(x.size / ratio)
    pos = np.arange(min(out_len, int(x.size / ratio) - 1)) * ratio
    y = np.interp(pos, np.arange(x.size), x).astype(np.float32)
    if dur < hold:
        t = np.arange(y.size) / SR
        y *= np.where(t < dur, 1.0, np.exp(-(t - dur) / release * 6.9)).astype(np.float32)
    return _fade_in(y * velocity)


def _midi(score: Score, degree: int, base: int) -> int:
    """Scale degree (any integer) above the tonic placed at or above `base`."""
    sc = score.scale
    octave, idx = divmod(degree, 7)
    root = base + (score.tonic - base) % 12
    return root + 12 * octave + sc[idx]


def chord_notes(score: Score, root_degree: int, base: int = 52, size: int = 3) -> list[int]:
    return [_midi(score, root_degree + 2 * k, base) for k in range(size)]


def render_score(
    score: Score,
    bank: Bank,
    length_s: float,
    loop: bool,
    rng: np.random.Generator,
    num_samples: int | None = None,
    stems: dict[str, np.ndarray] | None = None,
    events: list[tuple[str, float, int, float, float]] | None = None,
) -> np.ndarray:
    """(2, samples) float32 at SR, peak-normalised to -1 dBFS.

    num_samples: the loop's exact length (round(bars x bar x SR)); default round(length_s x SR).
    stems: filled with each part's own audio (role -> (2, samples)), scaled like the mix, so the
    parts sum to the mix. events: filled with every note played, (role, seconds, MIDI note,
    seconds held, velocity 0..1); drum notes use the General MIDI drum map."""
    n = int(round(length_s * SR)) if num_samples is None else int(num_samples)
    timing = Timing(score.tempo, score.swing)
    total_steps = int(np.ceil(length_s / timing.step_s)) + 1
    # A phrase starts no note in its last beat (or last 10 %), so it can end in silence.
    last_onset = length_s if loop else max(length_s - max(4 * timing.step_s, 0.1 * length_s), 0.25 * length_s)
    overhang = int(6.0 * SR)
    buses = {}
    cache: dict = {}

    def bus(role: str) -> Mixer:
        if role not in buses:
            buses[role] = Mixer(n, overhang, loop)
        return buses[role]

    def steps():
        for g in range(total_steps):
            t = timing.at(g)
            # 1 us of slack: the next loop's downbeat (step 16 N, a float sum) must never sneak in.
            if t < last_onset - 1e-6 and t < length_s - 1e-6:
                yield g, t

    def played(role: str, t: float, note: int, dur: float, vel: float) -> None:
        if events is not None:
            events.append((role, float(t), int(note), float(dur), float(vel)))

    drum_times = score.extra.get("drum_times")  # {global step: exact seconds} from a seed clip
    if "drums" in score.roles:
        m = bus("drums")
        for g, t in steps():
            row = score.drums[g % STEPS]
            when = drum_times.get(g, t) if drum_times else t
            for j, lane in enumerate(DRUM_LANES):
                v = row[j]
                if v <= 0:
                    continue
                pan = LANE_PAN.get(lane, 0.0)
                if lane == "hat_roll":
                    x = score.extra.get("hat") or bank.drum(score.kit, "closed_hat")
                    for k in range(3):
                        played("drums", when + k * timing.step_s / 3, GM_DRUMS[lane], timing.step_s / 3, v)
                        m.add(
                            _fade_in(x),
                            when + k * timing.step_s / 3,
                            LANE_GAIN[lane] * v * (0.9 - 0.2 * k),
                            pan,
                        )
                    continue
                x = score.extra.get("voice_sample") if lane == score.extra.get("voice_lane") else None
                if x is None:
                    x = bank.drum(score.kit, lane)
                played("drums", when, GM_DRUMS[lane], timing.step_s, v)
                m.add(_fade_in(x), when, LANE_GAIN[lane] * v**1.5, pan)

    def bar_chord(g: int) -> int:
        return score.chords[(g // STEPS) % CHORD_BARS]

    if "bass" in score.roles:
        m = bus("bass")
        onsets = [(g, t) for g, t in steps() if score.bass_on[g % STEPS] > 0]
        for k, (g, t) in enumerate(onsets):
            nxt = onsets[k + 1][1] if k + 1 < len(onsets) else t + 4 * timing.step_s
            dur = min(nxt - t, 8 * timing.step_s) * 0.92
            note = _midi(score, bar_chord(g) + int(score.bass_degree[g % STEPS]), 28)
            v = score.bass_on[g % STEPS]
            played("bass", t, note, dur, v)
            m.add(pitched_note(bank, score.voices["bass"], note, dur, v, rng, cache), t, 1.0)

    if "keys" in score.roles or "pad" in score.roles:
        for role in ("keys", "pad"):
            if role not in score.roles:
                continue
            m = bus(role)
            voice = score.voices[role]
            size = 4 if score.style in SEVENTH_STYLES and role == "keys" else 3
            comp = score.comp if role == "keys" else "sustain"
            hits = _comp_hits(comp)
            for g, t in steps():
                s = g % STEPS
                if s not in hits:
                    continue
                dur_steps, vel, strum = hits[s]
                dur = min(dur_steps * timing.step_s, length_s - t if not loop else 1e9) * 0.95
                notes = chord_notes(score, bar_chord(g), 48 if role == "pad" else 52, size)
                if role == "keys":
                    notes = [notes[0] - 12, *notes]  # a low root under the comping voicing
                if strum:  # a guitar strum: strings 12 ms apart, down or up
                    order = notes if strum > 0 else notes[::-1]
                    for k, note in enumerate(order):
                        played(role, t + 0.012 * k, note, dur, vel)
                        m.add(
                            pitched_note(bank, voice, note, dur, vel, rng, cache),
                            t + 0.012 * k,
                            0.7,
                            0.2 - 0.1 * k,
                        )
                else:
                    for k, note in enumerate(notes):
                        pan = 0.3 * (k / max(1, len(notes) - 1) - 0.5) * (2 if role == "pad" else 1)
                        played(role, t, note, dur, vel)
                        m.add(pitched_note(bank, voice, note, dur, vel, rng, cache), t, 0.8, pan)

    if "arp" in score.roles:
        m = bus("arp")
        every = 2 if score.arp_rate == "eighths" else 1
        k = 0
        for g, t in steps():
            if g % every:
                continue
            tones = chord_notes(score, bar_chord(g), 60, 3)
            if score.arp_octaves == 2:
                tones += [x + 12 for x in tones]
            seq = _arp_sequence(tones, score.arp_shape)
            note = seq[k % len(seq)]
            k += 1
            vel = 0.9 if (g % 4 == 0) else 0.7
            played("arp", t, note, every * timing.step_s * 0.9, vel)
            m.add(
                pitched_note(bank, score.voices["arp"], note, every * timing.step_s * 0.9, vel, rng, cache),
                t,
                0.9,
                0.2,
            )

    if "lead" in score.roles:
        m = bus("lead")
        melody = score.extra.get("melody_notes")  # exact (time, midi, dur) from a seed clip
        if melody is None:
            onsets = [(g, t) for g, t in steps() if score.melody_on[g % MELODY_STEPS] > 0]
            melody = []
            for k, (g, t) in enumerate(onsets):
                nxt = onsets[k + 1][1] if k + 1 < len(onsets) else t + 4 * timing.step_s
                dur = min(nxt - t, 8 * timing.step_s) * 0.95
                midi = _midi(score, int(score.melody_degree[g % MELODY_STEPS]), 57)
                melody.append((t, midi, dur, float(score.melody_on[g % MELODY_STEPS])))
        for t, midi, dur, vel in melody:
            if t < last_onset:
                dur = dur if loop else min(dur, max(length_s - t - 0.05, 0.05))
                played("lead", t, int(midi), dur, vel)
                m.add(pitched_note(bank, score.voices["lead"], int(midi), dur, vel, rng, cache), t, 1.0)

    mix = np.zeros((2, n + overhang), dtype=np.float32)
    parts: dict[str, np.ndarray] = {}
    for role, m in buses.items():
        x = m.buf
        if role == "drums" and (score.bright < 0.4 or score.style == "lofi"):  # dusty, muffled drums
            fc = 3500 * (12000 / 3500) ** (min(max(score.bright, 0.0), 0.4) / 0.4)
            # Lo-fi drums are dusty whatever the brightness: that muffled top is the style.
            x = _lowpass(x, min(fc, LOFI_DRUMS_HZ) if score.style == "lofi" else fc)
        part = ROLE_GAIN[role] * _normalize(x)
        if stems is not None:
            parts[role] = part
        mix += part
    # Filters (the lo-fi drum low-pass) run on the whole buffer before the fold: folding a linear
    # filter's output is the loop's steady state, so the seam stays as smooth as the rest.
    out = _wrap(mix, n) if loop else mix[:, :n].copy()
    if "texture" in score.roles:
        tex = _texture_layer(score, n, loop, rng)
        level = 0.45 if len(score.roles) == 1 else 0.2
        tex = level * _normalize(tex)
        out += tex
        if stems is not None:
            parts["texture"] = tex
    fade = None if loop else _end_fade(n, length_s)
    if fade is not None:
        out *= fade
    peak = float(np.max(np.abs(out)))
    gain = 10 ** (-1.0 / 20) / peak if peak > 0 else 1.0
    out *= gain
    if stems is not None:
        # The same folds, fade and gain as the mix, part by part: the parts sum to the mix.
        for role, x in parts.items():
            y = x if x.shape[1] == n else (_wrap(x, n) if loop else x[:, :n].copy())
            if fade is not None:
                y = y * fade
            stems[role] = (y * gain).astype(np.float32)
    return out.astype(np.float32)


# General MIDI drum notes (channel 10) for the drum lanes.
GM_DRUMS = {
    "kick": 36, "snare": 38, "clap": 39, "closed_hat": 42, "open_hat": 46, "perc": 37, "tom": 45,
    "ride": 51, "hat_roll": 42,
}  # fmt: skip


def _comp_hits(comp: str) -> dict[int, tuple[int, float, int]]:
    """Step in bar -> (length in steps, velocity, strum direction 0/1/-1)."""
    if comp == "sustain":
        return {0: (16, 0.8, 0)}
    if comp == "halves":
        return {0: (8, 0.8, 0), 8: (8, 0.7, 0)}
    if comp == "offbeat":
        return {2: (2, 0.8, 0), 6: (2, 0.75, 0), 10: (2, 0.8, 0), 14: (2, 0.75, 0)}
    # strum: down, down-up, up-down-up
    return {
        0: (4, 0.85, 1),
        4: (2, 0.7, 1),
        6: (4, 0.6, -1),
        10: (2, 0.6, -1),
        12: (2, 0.75, 1),
        14: (2, 0.6, -1),
    }


def _arp_sequence(tones: list[int], shape: str) -> list[int]:
    if shape == "up":
        return tones
    if shape == "down":
        return tones[::-1]
    if shape == "updown":
        return tones + tones[-2:0:-1]
    return [tones[i % len(tones)] for i in (0, 2, 1, 2, 0, 2, 1, 3)]


def _texture_layer(score: Score, n: int, loop: bool, rng) -> np.ndarray:
    kind = score.voices["texture"]
    if kind == "evolving_pad" or kind == "drone":
        return voices.texture(kind, n, score.tonic, score.minor, score.bright, rng)  # periodic in n
    if not loop:
        return voices.texture(kind, n, score.tonic, score.minor, score.bright, rng)
    xf = min(n // 4, SR // 2)
    x = voices.texture(kind, n + xf, score.tonic, score.minor, score.bright, rng)
    # Equal-power crossfade of the overhang onto the start: noise joins itself without a seam.
    w = np.sin(np.linspace(0, np.pi / 2, xf))
    out = x[:, :n].copy()
    out[:, :xf] = out[:, :xf] * w + x[:, n : n + xf] * w[::-1]
    return out


def _normalize(x: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(x)))
    return x / peak if peak > 0 else x


def _wrap(x: np.ndarray, n: int) -> np.ndarray:
    """Fold everything past n back onto the start (tails ring into the next repeat)."""
    out = x[:, :n].copy()
    for i in range(n, x.shape[1], n):
        seg = x[:, i : i + n]
        out[:, : seg.shape[1]] += seg
    return out


def _lowpass(x: np.ndarray, fc: float) -> np.ndarray:
    return sosfilt(butter(2, min(fc, SR * 0.45), "lowpass", fs=SR, output="sos"), x, axis=-1).astype(
        np.float32
    )


def _highpass(x: np.ndarray, fc: float) -> np.ndarray:
    return sosfilt(butter(2, fc, "highpass", fs=SR, output="sos"), x, axis=-1).astype(np.float32)


def _end_fade(n: int, length_s: float) -> np.ndarray:
    """Exponential fade over the last 10 % (at least 50 ms) down to -80 dB: a phrase ends in silence."""
    m = min(n, max(int(0.1 * n), int(0.05 * SR)))
    env = np.ones(n, dtype=np.float32)
    env[n - m :] = 10 ** (-80 * np.linspace(0, 1, m) ** 1.5 / 20)
    return env
