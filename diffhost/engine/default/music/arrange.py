"""Render a Score to stereo audio: recorded bank samples plus the procedural voices.

Timing: a bar is 4 beats of 4 sixteenth steps; odd sixteenths are delayed by the swing.
A loop (length = whole bars) is rendered past its end and the overhang is added back
onto its start, so every note's tail rings into the next repeat exactly as it would in
a continuous performance: the seam is as smooth as any other point of the clip. Noise
beds are crossfaded across the seam instead. A phrase that is not whole bars stops
starting notes a beat before its end and fades its last tenth to silence.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from diffhost import paths
from diffhost.engine.audio import fit_length, resample, resample_loop
from diffhost.engine.default.music import arrange_v1, voices
from diffhost.engine.default.music.bank import Bank
from diffhost.engine.default.music.filters import butter, sosfilt
from diffhost.engine.default.music.patterns import EIGHTH_SWING_STYLES, HARMONIC_BARS
from diffhost.engine.default.music.score import CHORD_BARS, DRUM_LANES, MELODY_STEPS, STEPS, SWING_MAX, Score

SR = 44100  # the bank's rate, and the rate mixes 1-3 render at (then resampled to the output rate)
# Mix versions. A clip's sidecar names the one it was rendered with ("mix" in its music), so it renders
# again sample for sample after the mix improves: 1 is the renderer before per-part levels, the DC
# high-pass and the phrase fade-in (arrange_v1, kept unchanged; a sidecar with no "mix" is version 1);
# 2 is this module; 3 plays this module and bank too, with the score networks retrained (the prompt heads
# and score denoiser mix 2 used are kept in weights/score_denoiser_v2/ and prompt_heads_v2/, and mixes 1
# and 2 use them); 4 plays mix 3's score at the output rate instead of at 44.1 kHz and resampling the
# result (oscillators, envelopes, filters and onsets computed at that rate, the bank's notes and hits
# resampled once to it), so nothing is resampled per render (at 44.1 kHz its samples are mix 3's), and
# reads prompts for pads and ambient pieces better (model/loops.py: "pad chords" are the pad's chords,
# and an ambient piece that names no part is its pad).
# $DIFFHOST_MIX picks one, like $DIFFHOST_BANK picks the bank; a request's mix wins.
MIX_VERSIONS = (1, 2, 3, 4)
MIX = 4
# The first mix that renders at the output rate (older ones render at SR and are resampled after).
NATIVE_RATE_MIX = 4
# The recorded bank each mix version was made with, where it is not the default bank (bank.BANKS).
MIX_BANKS = {1: "fluidr3"}


class MixError(ValueError):
    """A mix version that does not exist; the message names the valid ones."""


def mix_version(value: int | str | None = None) -> int:
    """The mix version asked for (value, else $DIFFHOST_MIX, else the newest); a clear error otherwise."""
    raw = value if value is not None else paths.env(paths.MIX_ENV)
    if raw is None:
        return MIX
    try:
        version = int(str(raw).strip())
    except ValueError:
        version = -1
    if version not in MIX_VERSIONS or str(raw).strip() != str(version):
        raise MixError(
            f"default model: mix {raw!r} (DIFFHOST_MIX) is unknown; valid are "
            f"{', '.join(str(v) for v in MIX_VERSIONS)} ({MIX} is today's mix, 3 the one that rendered at 44.1 kHz and read pad and ambient prompts as before, 2 the one before its networks were retrained, 1 the one before per-part levels)"
        )
    return version


def render_rate(mix: int, sample_rate: int) -> int:
    """The rate a mix version's renderer plays at for output at sample_rate: the output rate itself
    from NATIVE_RATE_MIX on, else SR (the older mixes' audio is then resampled, as it always was)."""
    return int(sample_rate) if mix >= NATIVE_RATE_MIX else SR


def render_mixed(mix: int, score: Score, bank: Bank, length_s: float, loop: bool, rng: np.random.Generator, **kw):
    """render_score of the given mix version (same arguments: num_samples, stems, events, drum_lanes,
    rate). rate is render_rate(mix, output rate): mixes before NATIVE_RATE_MIX only render at SR."""
    rate = int(kw.pop("rate", SR))
    if rate != SR and mix < NATIVE_RATE_MIX:
        raise ValueError(f"rate: mix {mix} renders at {SR} Hz only, got {rate} Hz (render_rate gives the rate)")
    if mix == 1:
        # The first mix's renderer is kept as it was: it always adds the drum lanes to the stems
        # ("drums:<lane>", inside "drums"), which a producer's stems leave out.
        lanes = kw.pop("drum_lanes", True)
        out = arrange_v1.render_score(score, bank, length_s, loop, rng, **kw)
        stems = kw.get("stems")
        if stems is not None and not lanes:
            for name in [k for k in stems if ":" in k]:
                del stems[name]
        return out
    return render_score(score, bank, length_s, loop, rng, rate=rate, **kw)

# The mix: each part's level (its loudest 100 ms, K-weighted as loudness meters weigh it; see level_db)
# in dB against the loudest part's. Every part stays within 12 dB of the loudest, so none vanishes.
ROLE_DB = {"drums": 0.0, "bass": -2.0, "keys": -5.0, "pad": -6.0, "arp": -6.0, "lead": -3.0, "texture": -7.0}
STYLE_ROLE_DB = {
    "ambient": {"pad": 0.0, "texture": -3.0, "keys": -2.0, "lead": -2.0, "arp": -4.0, "bass": -4.0},
    "orchestral": {"pad": -2.0, "keys": -3.0, "lead": -2.0, "arp": -5.0},
    "jazz": {"bass": -1.0, "keys": -4.0},
    "reggae": {"bass": 0.0},
}  # fmt: skip
# Drum lanes against the kick, the same way: each kit's recorded hits are levelled first, so a kit whose
# hats were sampled 30 dB under its kick still gets audible off-beats.
# These are a full-velocity hit's levels; the patterns play hats and ghost notes softer on top.
LANE_DB = {
    "kick": 0.0, "snare": -1.0, "clap": -2.0, "closed_hat": -3.0, "open_hat": -1.0, "perc": -3.0,
    "tom": -2.0, "ride": -3.0, "hat_roll": -3.0,
}  # fmt: skip
STYLE_LANE_DB = {
    # Jazz time lives on the ride and the hi-hat pedal; the kick only feathers (meant to be quiet).
    "jazz": {"ride": 0.0, "closed_hat": -2.0, "kick": -9.0, "snare": -4.0},
    "orchestral": {"tom": 0.0, "snare": -5.0},
    "reggae": {"perc": 0.0},
    "bossa": {"perc": 0.0, "closed_hat": -5.0},
    # Salsa's time is the clave and the cascara; the conga's open tones answer them, the kick only hints.
    "salsa": {"perc": 0.0, "ride": -2.0, "tom": -1.0, "kick": -2.0},
    "lofi": {"closed_hat": -5.0},
}  # fmt: skip
# Lanes a style keeps more than 12 dB under its loudest on purpose (the evaluation exempts them).
QUIET_LANES = {"jazz": ("kick",)}
LANE_PAN = {"closed_hat": 0.25, "open_hat": 0.25, "hat_roll": 0.25, "perc": -0.3, "tom": -0.2, "ride": 0.35}
LOFI_DRUMS_HZ = 5000.0
DC_HZ = 20.0  # the mix's high-pass: no DC or sub-sonic drift out of the model (the lowest bass is 41 Hz)
START_FADE_S = 0.003  # a phrase starts from silence: no step at its first sample
SEVENTH_STYLES = {"lofi", "boombap", "funk", "house", "jazz", "bossa"}
RELEASE_S = {
    "warm_pad": 0.5, "strings": 0.4, "analog_pad": 0.5, "organ": 0.06, "flute": 0.08, "violin": 0.15,
    "saw_lead": 0.08, "choir": 0.5, "brass": 0.15, "low_strings": 0.25, "trumpet": 0.08, "sax": 0.08,
    "french_horn": 0.12,
}  # fmt: skip


def lane_db(style: str, lane: str) -> float:
    return STYLE_LANE_DB.get(style, {}).get(lane, LANE_DB[lane])


def role_db(style: str, role: str) -> float:
    return STYLE_ROLE_DB.get(style, {}).get(role, ROLE_DB[role])


_K_FILTERS: dict[int, list] = {}


def level_db(x: np.ndarray, frame_s: float = 0.1, rate: int = SR) -> float:
    """A part's level: the loudest 100 ms (hop 50 ms) of its K-weighted signal (ITU-R BS.1770's
    weighting, as loudness meters use), in dB; -inf for silence. The loudest window, not an
    average, so a sparse part (four kicks, one crash) is judged by how loud it is when it plays."""
    if rate not in _K_FILTERS:
        import pyloudnorm

        _K_FILTERS[rate] = [np.array([f.b, f.a]) for f in pyloudnorm.Meter(rate)._filters.values()]
    # The channels' mid: the parts are near mono, and one channel costs half as much (renders are timed).
    y = np.asarray(x, dtype=np.float32)
    y = y.mean(axis=0) if y.ndim == 2 else y
    for b, a in _K_FILTERS[rate]:
        y = sosfilt(np.concatenate([b, a])[None], y)
    e = 2.0 * y.astype(np.float64) ** 2
    hop = int(frame_s * rate / 2)
    if e.size < 2 * hop:
        return float(10 * np.log10(e.mean() + 1e-20)) if e.size else float("-inf")
    c = np.concatenate([[0.0], np.cumsum(e)])
    frames = (
        c[2 * hop :: hop][: (e.size - 2 * hop) // hop + 1]
        - c[: -2 * hop : hop][: (e.size - 2 * hop) // hop + 1]
    )
    peak = float(frames.max()) / (2 * hop)
    return 10 * np.log10(peak) if peak > 1e-20 else float("-inf")


@dataclass(frozen=True)
class Timing:
    tempo: float
    swing: float
    eighths: bool = False  # swing the off-beat eighth toward a triplet (jazz), not the off-beat sixteenths

    @property
    def step_s(self) -> float:
        return 60.0 / self.tempo / 4

    @property
    def bar_s(self) -> float:
        return 240.0 / self.tempo

    def at(self, step: int) -> float:
        """Seconds from the start to sixteenth `step` (global index), swung."""
        if self.eighths and step % 4 == 2:  # full swing puts the off-beat eighth on the last triplet
            return step * self.step_s + self.swing / SWING_MAX * (2 / 3) * self.step_s
        return step * self.step_s + (self.swing * self.step_s if step % 2 else 0.0)


class Mixer:
    """Stereo bus of n samples plus overhang; add mono notes with gain and pan."""

    def __init__(self, n: int, overhang: int, loop: bool, rate: int = SR):
        self.n, self.loop, self.rate = n, loop, rate
        self.buf = np.zeros((2, n + overhang), dtype=np.float32)
        # Every note so far was panned to the centre, so both channels hold the same samples and a
        # stem of this bus can be filtered and resampled as one channel.
        self.centred = True

    def add(self, x: np.ndarray, t_s: float, gain: float, pan: float = 0.0) -> None:
        i = int(round(t_s * self.rate))
        if i < 0:  # a seed onset slightly before the downbeat: the end of the previous repeat
            if self.loop:
                i += self.n
            else:
                x, i = x[-i:], 0
        if i >= self.buf.shape[1] or x.size == 0:
            return
        m = min(x.size, self.buf.shape[1] - i)
        left, right = np.sqrt(0.5 * (1 - pan)), np.sqrt(0.5 * (1 + pan))
        self.centred = self.centred and left == right
        self.buf[0, i : i + m] += gain * left * x[:m]
        self.buf[1, i : i + m] += gain * right * x[:m]


def _fade_in(x: np.ndarray, n: int = 32) -> np.ndarray:
    """1 ms-ish fade so no sample starts with a step (a click) even where the recording does."""
    x = np.array(x, dtype=np.float32, copy=True)
    m = min(n, x.size)
    x[:m] *= np.linspace(0, 1, m, dtype=np.float32)
    return x


# Bank recordings resampled to another rate are kept with the bank: (what, offset or lane, rate) ->
# samples. A render plays a few dozen (about 0.5 MB each at 48 kHz); the whole bank at 48 kHz would be
# 220 MB, so the oldest go once the kept ones pass this many bytes.
_AT_RATE_BYTES = 64 << 20
_AT_RATE_LOCK = threading.Lock()  # renders on other threads may share the bank


def bank_at_rate(bank: Bank, key: tuple, x: np.ndarray, rate: int) -> np.ndarray:
    """A bank recording (SR) at `rate`, resampled once (soxr VHQ) and kept with the bank, so a render at
    another rate pitches and plays it exactly as a render at SR plays the recording itself."""
    if rate == SR:
        return x
    cache = bank.at_rate
    k = (*key, rate)
    y = cache.get(k)
    if y is None:
        y = resample(x[None], SR, rate)[0]
        with _AT_RATE_LOCK:
            kept = sum(v.nbytes for v in cache.values())
            while cache and kept + y.nbytes > _AT_RATE_BYTES:
                kept -= cache.pop(next(iter(cache))).nbytes  # the oldest
            cache[k] = y
    return y


def drum_hit(bank: Bank, kit: str, lane: str, rate: int = SR) -> np.ndarray:
    """A kit's recorded hit at `rate`."""
    return bank_at_rate(bank, ("kit", kit, lane), bank.drum(kit, lane), rate)


def pitched_note(
    bank: Bank,
    voice: str,
    note: int,
    dur: float,
    velocity: float,
    rng,
    cache: dict | None = None,
    rate: int = SR,
) -> np.ndarray:
    """A mono note of `dur` seconds plus its release at `rate`, from the bank (resampled) or a synth voice.

    Recorded notes repeat within a loop (the same chord every four bars), so one render caches them."""
    if cache is not None and voice not in voices.SYNTH_NOTE_VOICES:
        k = (voice, note, round(dur, 3))
        if k not in cache:
            cache[k] = pitched_note(bank, voice, note, dur, 1.0, rng, rate=rate)
        return cache[k] * velocity
    if voice in voices.SYNTH_NOTE_VOICES:
        return voices.SYNTH_NOTE_VOICES[voice](note, dur, velocity, rng, sr=rate)
    x, ratio, sample = bank.get(voice, note)
    # At another rate the recording is first brought to it (once per bank), then pitched as at SR: the
    # linear interpolation below then works on the same band-limited signal, so it sounds the same.
    x = bank_at_rate(bank, ("note", sample.offset), x, rate)
    hold = sample.hold / SR  # (held for this many of the recording's own samples)
    release = RELEASE_S.get(voice, 0.12)
    out_len = int((min(dur, hold) + release) * rate) if dur < hold else int(x.size / ratio)
    pos = np.arange(min(out_len, int(x.size / ratio) - 1)) * ratio
    y = np.interp(pos, np.arange(x.size), x).astype(np.float32)
    if dur < hold:
        t = np.arange(y.size) / rate
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
    stems: dict[str, np.ndarray] | None = None,
    *,
    num_samples: int | None = None,
    events: list[tuple[str, float, int, float, float]] | None = None,
    drum_lanes: bool = True,
    rate: int = SR,
) -> np.ndarray:
    """(2, samples) float32 at `rate`, peak-normalised to -1 dBFS.

    num_samples: the loop's exact length (round(bars x bar x rate)); default round(length_s x rate).
    stems: filled with each part's own audio ("drums", "bass", ..., "texture"), through the same
    filters, folds, fades and gain as the mix, so the parts sum to the mix; and, for measuring the
    balance, each drum lane as "drums:<lane>" (those are inside "drums": not to be summed again).
    With stems the mix IS the sum of the parts (each part filtered and folded on its own), so they
    add up to it to float precision at no second render.
    drum_lanes: with stems, also the per-lane drum stems (for measuring; a producer's stems leave them
    out, which saves a bus per lane).
    events: filled with every note played, (role, seconds, MIDI note, seconds held, velocity 0..1);
    drum notes use the General MIDI drum map."""
    # 1. The grid the parts play on, and a bus per part (the notes share one random stream, so
    #    the parts must play in this order for a seed to give the same audio).
    band = _Band(
        score,
        bank,
        length_s,
        loop,
        rng,
        num_samples,
        lanes=stems is not None and drum_lanes,
        events=events,
        rate=rate,
    )
    # 2.-6. Each part the score has, onto its bus.
    if "drums" in score.roles:
        _play_drums(band)
    if "bass" in score.roles:
        _play_bass(band)
    if "keys" in score.roles or "pad" in score.roles:
        _play_chords(band)
    if "arp" in score.roles:
        _play_arp(band)
    if "lead" in score.roles:
        _play_lead(band)
    # 7. The mix: each part at its level in the style's balance, folded into a loop or faded.
    mix = _mix(band, parts=stems is not None)
    # 8. The stems, through the same steps as the mix, so they sum to it.
    if stems is not None:
        stems.update(_stems(band, mix))
    return mix.out.astype(np.float32)


class _Band:
    """What every part of one render shares: the grid, the buses, the random stream, the notes played."""

    def __init__(
        self,
        score: Score,
        bank: Bank,
        length_s: float,
        loop: bool,
        rng: np.random.Generator,
        num_samples: int | None,
        *,
        lanes: bool,
        events: list[tuple[str, float, int, float, float]] | None,
        rate: int = SR,
    ):
        self.score, self.bank, self.length_s, self.loop, self.rng = score, bank, length_s, loop, rng
        self.rate = int(rate)  # every sample count and filter of the render is at this rate
        self.n = int(round(length_s * rate)) if num_samples is None else int(num_samples)
        self.timing = Timing(score.tempo, score.swing, score.style in EIGHTH_SWING_STYLES)
        self.total_steps = int(np.ceil(length_s / self.timing.step_s)) + 1
        step_s = self.timing.step_s
        # A phrase starts no note in its last beat (or last 10 %), so it can end in silence.
        self.last_onset = length_s if loop else max(length_s - max(4 * step_s, 0.1 * length_s), 0.25 * length_s)
        self.overhang = int(6.0 * rate)
        self.buses: dict[str, Mixer] = {}
        self.cache: dict = {}
        self.lanes = lanes  # each drum lane on its own bus, for measuring the balance of the stems
        self.events = events
        # Beatless ambient floats off the grid: each onset moves by up to a third of a beat, chord notes
        # bloom one after another. Loops stay loops (the offsets come from a seeded stream, onsets wrap).
        self.drift = 0.33 * 4 * step_s if score.style == "ambient" else 0.0
        self.bars_per_chord = HARMONIC_BARS.get(score.style, 1)
        self.fc: float | None = None  # the drums' low-pass, for dusty and lo-fi drums
        if score.bright < 0.4 or score.style == "lofi":
            fc = 3500 * (12000 / 3500) ** (min(max(score.bright, 0.0), 0.4) / 0.4)
            # Lo-fi drums are dusty whatever the brightness: that muffled top is the style.
            self.fc = min(fc, LOFI_DRUMS_HZ) if score.style == "lofi" else fc

    def bus(self, name: str) -> Mixer:
        if name not in self.buses:
            self.buses[name] = Mixer(self.n, self.overhang, self.loop, self.rate)
        return self.buses[name]

    def steps(self):
        """(global sixteenth, seconds) of every step a note may start on."""
        for g in range(self.total_steps):
            t = self.timing.at(g)
            # 1 us of slack: the next loop's downbeat (step 16 N, a float sum) must never sneak in.
            if t < self.last_onset - 1e-6 and t < self.length_s - 1e-6:
                yield g, t

    def played(self, role: str, t: float, note: int, dur: float, vel: float) -> None:
        if self.events is not None:
            self.events.append((role, float(t), int(note), float(dur), float(vel)))

    def loose(self, t: float) -> float:
        return t + float(self.rng.uniform(0, self.drift)) if self.drift else t

    def bar_chord(self, g: int) -> int:
        return self.score.chords[(g // (STEPS * self.bars_per_chord)) % CHORD_BARS]

    def note(self, voice: str, note: int, dur: float, vel: float) -> np.ndarray:
        return pitched_note(self.bank, voice, note, dur, vel, self.rng, self.cache, self.rate)


def _play_drums(band: _Band) -> None:
    """2. The drum grid (or a seed clip's exact hit times), each lane at its level in the style."""
    score, bank, step_s = band.score, band.bank, band.timing.step_s
    drum_times = score.extra.get("drum_times")  # {global step: exact seconds} from a seed clip
    gains: dict[str, float] = {}
    hits: dict[str, np.ndarray] = {}

    def lane_gain(lane: str) -> float:
        """A lane's level in the style's balance; under the low-pass, plus the level the filter takes
        from that kit's hit (at most 12 dB), so muffled hats are darker, not gone."""
        if lane not in gains:
            hit = "closed_hat" if lane == "hat_roll" else lane
            gain = _drum_gain(bank, score.kit, hit, lane_db(score.style, lane))
            if band.fc is not None:
                lost = _lowpass_loss(bank, score.kit, hit, band.fc)
                gain *= 10 ** (min(max(lost, 0.0), 12.0) / 20) if np.isfinite(lost) else 1.0
            gains[lane] = gain
        return gains[lane]

    def lane_hit(lane: str) -> np.ndarray:
        """The lane's sample at the render's rate, faded in: made once per render, as every hit of a
        lane plays the same samples (Mixer.add only reads them)."""
        if lane not in hits:
            if lane == "hat_roll":
                x = score.extra.get("hat") or drum_hit(bank, score.kit, "closed_hat", band.rate)
            else:
                x = score.extra.get("voice_sample") if lane == score.extra.get("voice_lane") else None
                if x is not None and band.rate != SR:  # the seed's own sound (given at SR)
                    x = resample(x[None], SR, band.rate)[0]
                if x is None:
                    x = drum_hit(bank, score.kit, lane, band.rate)
                    if lane == "tom" and score.kit == "orchestra":
                        x = _timpani(x, score.tonic)
            hits[lane] = _fade_in(x)
        return hits[lane]

    for g, t in band.steps():
        row = score.drums[g % STEPS]
        when = drum_times.get(g, t) if drum_times else t
        for j, lane in enumerate(DRUM_LANES):
            v = row[j]
            if v <= 0:
                continue
            m = band.bus(f"drums:{lane}" if band.lanes else "drums")
            pan = LANE_PAN.get(lane, 0.0)
            if lane == "hat_roll":
                gain = lane_gain(lane)
                for k in range(3):
                    band.played("drums", when + k * step_s / 3, GM_DRUMS[lane], step_s / 3, v)
                    m.add(lane_hit(lane), when + k * step_s / 3, gain * v * (0.9 - 0.2 * k), pan)
                continue
            band.played("drums", when, GM_DRUMS[lane], step_s, v)
            m.add(lane_hit(lane), when, lane_gain(lane) * v**1.5, pan)


def _play_bass(band: _Band) -> None:
    """3. The bass line: each onset held until the next one, on the bar's chord; or, from a hummed
    seed that the prompt gave to the bass, exactly the seed's notes."""
    score, step_s = band.score, band.timing.step_s
    m = band.bus("bass")
    line = score.extra.get("bass_notes")  # exact (time, midi, dur, velocity) from a hummed seed
    if line is not None:
        for t, midi, dur, vel in line:
            if t < band.last_onset:
                dur = dur if band.loop else min(dur, max(band.length_s - t - 0.05, 0.05))
                band.played("bass", t, int(midi), dur, vel)
                m.add(band.note(score.voices["bass"], int(midi), dur, vel), t, 1.0)
        return
    onsets = [(g, t) for g, t in band.steps() if score.bass_on[g % STEPS] > 0]
    longest = 16 if score.style in HARMONIC_BARS else 8
    for k, (g, t) in enumerate(onsets):
        nxt = onsets[k + 1][1] if k + 1 < len(onsets) else t + 4 * step_s
        dur = min(nxt - t, longest * step_s) * 0.92
        note = _midi(score, band.bar_chord(g) + int(score.bass_degree[g % STEPS]), 28)
        v = score.bass_on[g % STEPS]
        at = band.loose(t)
        band.played("bass", at, note, dur, v)
        m.add(band.note(score.voices["bass"], note, dur, v), at, 1.0)


def _play_chords(band: _Band) -> None:
    """4. Keys (comped in the style's rhythm, strummed on a guitar) and pads (held chords)."""
    score, step_s, loop, length_s = band.score, band.timing.step_s, band.loop, band.length_s
    for role in ("keys", "pad"):
        if role not in score.roles:
            continue
        m = band.bus(role)
        voice = score.voices[role]
        size = 4 if score.style in SEVENTH_STYLES and role == "keys" else 3
        comp = score.comp if role == "keys" else "sustain"
        hits = _comp_hits(comp)
        for g, t in band.steps():
            s = g % STEPS
            if s not in hits:
                continue
            dur_steps, vel, strum = hits[s]
            if comp == "sustain" and band.bars_per_chord > 1:
                if (g // STEPS) % band.bars_per_chord:
                    continue  # the chord of a slow progression holds through its bars
                dur_steps *= band.bars_per_chord
            dur = min(dur_steps * step_s, length_s - t if not loop else 1e9) * 0.95
            notes = chord_notes(score, band.bar_chord(g), 48 if role == "pad" else 52, size)
            if role == "keys":
                notes = [notes[0] - 12, *notes]  # a low root under the comping voicing
            if strum:  # a guitar strum: strings 12 ms apart, down or up
                order = notes if strum > 0 else notes[::-1]
                for k, note in enumerate(order):
                    band.played(role, t + 0.012 * k, note, dur, vel)
                    m.add(band.note(voice, note, dur, vel), t + 0.012 * k, 0.7, 0.2 - 0.1 * k)
            else:
                for k, note in enumerate(notes):
                    pan = 0.3 * (k / max(1, len(notes) - 1) - 0.5) * (2 if role == "pad" else 1)
                    at = band.loose(t)
                    band.played(role, at, note, dur, vel)
                    m.add(band.note(voice, note, dur, vel), at, 0.8, pan)


def _play_arp(band: _Band) -> None:
    """5. The arpeggio: the bar's chord (over one or two octaves) in the score's shape and rate."""
    score, step_s = band.score, band.timing.step_s
    m = band.bus("arp")
    every = 2 if score.arp_rate == "eighths" else 1
    k = 0
    for g, t in band.steps():
        if g % every:
            continue
        tones = chord_notes(score, band.bar_chord(g), 60, 3)
        if score.arp_octaves == 2:
            tones += [x + 12 for x in tones]
        seq = _arp_sequence(tones, score.arp_shape)
        note = seq[k % len(seq)]
        k += 1
        vel = 0.9 if (g % 4 == 0) else 0.7
        band.played("arp", t, note, every * step_s * 0.9, vel)
        m.add(band.note(score.voices["arp"], note, every * step_s * 0.9, vel), t, 0.9, 0.2)


def _play_lead(band: _Band) -> None:
    """6. The melody: the score's, or a seed clip's exact notes."""
    score, step_s, loop, length_s = band.score, band.timing.step_s, band.loop, band.length_s
    m = band.bus("lead")
    melody = score.extra.get("melody_notes")  # exact (time, midi, dur) from a seed clip
    if melody is None:
        onsets = [(g, t) for g, t in band.steps() if score.melody_on[g % MELODY_STEPS] > 0]
        melody = []
        for k, (g, t) in enumerate(onsets):
            nxt = onsets[k + 1][1] if k + 1 < len(onsets) else t + 4 * step_s
            dur = min(nxt - t, 8 * step_s) * 0.95
            midi = _midi(score, int(score.melody_degree[g % MELODY_STEPS]), 57)
            melody.append((band.loose(t), midi, dur, float(score.melody_on[g % MELODY_STEPS])))
    for t, midi, dur, vel in melody:
        if t < band.last_onset:
            dur = dur if loop else min(dur, max(length_s - t - 0.05, 0.05))
            band.played("lead", t, int(midi), dur, vel)
            m.add(band.note(score.voices["lead"], int(midi), dur, vel), t, 1.0)


@dataclass
class _Mix:
    """Step 7's answer, and what the stems need to go through the same steps."""

    out: np.ndarray  # (2, n) the mix
    gains: dict[str, float]  # each part's gain in the balance
    lanes: list[str]  # the drum lanes' buses (only when stems are asked for)
    tex: np.ndarray | None  # the texture layer, as mixed
    # with stems: each part at its gain, filtered and folded (they sum to out); a centred part is one
    # channel, (1, n), which adds to both of the mix's
    parts: dict[str, np.ndarray]
    env: np.ndarray | None  # a phrase's fades
    scale: float  # the peak normalisation


def _mix(band: _Band, parts: bool = False) -> _Mix:
    """7. Each part to its level in the style's balance (the lo-fi low-pass before measuring the
    drums), high-passed, folded into a loop (or cut and faded as a phrase), peak-normalised.
    parts: the stems are wanted, so each part is filtered and folded on its own and the mix is their
    sum (the same linear steps, so nothing is rendered twice)."""
    score, buses, n, loop, rate = band.score, band.buses, band.n, band.loop, band.rate
    lanes = [k for k in buses if k.startswith("drums:")]  # only when stems are asked for
    if lanes or "drums" in buses:
        drums = band.bus("drums").buf
        for lane_bus in lanes:
            drums += buses[lane_bus].buf
            buses["drums"].centred = buses["drums"].centred and buses[lane_bus].centred
        if band.fc is not None:
            buses["drums"].buf = _lowpass(drums, band.fc, band.rate)
            for lane_bus in lanes:
                buses[lane_bus].buf = _lowpass(buses[lane_bus].buf, band.fc, band.rate)
    gains = {}
    for role in (r for r in buses if ":" not in r):
        level = level_db(buses[role].buf[:, : n + rate], rate=rate)  # the loop and a second of tails
        gains[role] = 10 ** ((role_db(score.style, role) - 12.0 - level) / 20) if np.isfinite(level) else 0.0
    # The DC high-pass runs on the folded loop as the circle it is (its steady state, so the seam is as
    # smooth as the rest), or on the phrase's own samples: the overhang is never filtered for nothing.
    def fold(x: np.ndarray) -> np.ndarray:
        return _wrap(x, n) if loop else x[:, :n]

    split: dict[str, np.ndarray] = {}
    if not parts:
        mix = np.zeros((2, n + band.overhang), dtype=np.float32)
        for role, g in gains.items():
            mix += g * buses[role].buf
        out = _dc_block(fold(mix), loop, rate)
    else:
        # A part panned to the centre goes through as one channel (the same samples as either of its
        # two): half the filtering, and the stems' resampling keeps it one channel.
        for role, g in gains.items():
            bus = buses[role]
            split[role] = _dc_block(np.float32(g) * fold(bus.buf[:1] if bus.centred else bus.buf), loop, rate)
        out = np.zeros((2, n), dtype=np.float32)
        for x in split.values():
            out += x
    tex = None
    if "texture" in score.roles:
        tex = _texture_part(score, n, loop, band.rng, rate, band.length_s)
        level = level_db(tex, rate=rate)
        db = role_db(score.style, "texture") if len(score.roles) > 1 else 0.0
        tex = tex * np.float32(10 ** ((db - 12.0 - level) / 20) if np.isfinite(level) else 0.0)
        out += tex
        if parts:
            split["texture"] = tex
    # What is left of any offset goes: a constant is seamless on a loop; a phrase then fades in and out.
    out -= out.mean(axis=1, keepdims=True)
    env = None
    if not loop:
        env = _end_fade(n, band.length_s, rate)
        head = min(n, int(START_FADE_S * rate))
        env[:head] *= np.sin(np.linspace(0, np.pi / 2, head)) ** 2
        out *= env
    peak = float(np.max(np.abs(out)))
    scale = 10 ** (-1.0 / 20) / peak if peak > 0 else 1.0
    out *= scale
    return _Mix(out=out, gains=gains, lanes=lanes, tex=tex, parts=split, env=env, scale=scale)


def _stems(band: _Band, mix: _Mix) -> dict[str, np.ndarray]:
    """8. Each part through the same linear steps as the mix (high-pass, fold, offset, fades, gain),
    so the parts sum to the mix; the drum lanes are for measuring the balance only."""
    n, loop, buses = band.n, band.loop, band.buses
    stems: dict[str, np.ndarray] = {}
    for role, y in mix.parts.items():
        y = y - y.mean(axis=1, keepdims=True)  # a new array: the rest may go in place
        if mix.env is not None:
            y *= mix.env
        y *= np.float32(mix.scale)
        y = y.astype(np.float32, copy=False)
        stems[role] = np.repeat(y, 2, axis=0) if y.shape[0] == 1 else y  # a centred part, as stereo
    for name in mix.lanes:
        b = buses[name].buf
        stems[name] = mix.gains["drums"] * mix.scale * (_wrap(b, n) if loop else b[:, :n])
    return stems


# General MIDI drum notes (channel 10) for the drum lanes.
GM_DRUMS = {
    "kick": 36, "snare": 38, "clap": 39, "closed_hat": 42, "open_hat": 46, "perc": 37, "tom": 45,
    "ride": 51, "hat_roll": 42,
}  # fmt: skip


def _drum_gain(bank: Bank, kit: str, lane: str, db: float) -> float:
    """Gain that puts a kit's recorded hit at `db` against a 0 dB kick of the same kit."""
    levels = bank.__dict__.setdefault("_levels", {})
    key = (kit, lane)
    if key not in levels:
        levels[key] = level_db(bank.drum(kit, lane))
    if (kit, "kick") not in levels:
        levels[(kit, "kick")] = level_db(bank.drum(kit, "kick"))
    return float(10 ** ((db + levels[(kit, "kick")] - levels[key]) / 20)) if np.isfinite(levels[key]) else 0.0


def _lowpass_loss(bank: Bank, kit: str, lane: str, fc: float) -> float:
    """dB a kit's hit loses to the drums' low-pass at fc (cached per bank, kit, lane and 10 Hz of fc)."""
    levels = bank.__dict__.setdefault("_levels", {})
    key = (kit, lane, round(fc, -1))
    if key not in levels:
        hit = bank.drum(kit, lane)
        levels[key] = level_db(hit) - level_db(_lowpass(hit, fc))
    return levels[key]


def _timpani(x: np.ndarray, tonic: int) -> np.ndarray:
    """The orchestra kit's timpani (recorded on B) retuned to the key's tonic, within a tritone."""
    shift = (tonic - 11 + 6) % 12 - 6
    ratio = 2 ** (shift / 12)
    pos = np.arange(int(x.size / ratio) - 1) * ratio
    return np.interp(pos, np.arange(x.size), x).astype(np.float32)


def _comp_hits(comp: str) -> dict[int, tuple[int, float, int]]:
    """Step in bar -> (length in steps, velocity, strum direction 0/1/-1)."""
    if comp == "sustain":
        return {0: (16, 0.8, 0)}
    if comp == "halves":
        return {0: (8, 0.8, 0), 8: (8, 0.7, 0)}
    if comp == "offbeat":
        return {2: (2, 0.8, 0), 6: (2, 0.75, 0), 10: (2, 0.8, 0), 14: (2, 0.75, 0)}
    if comp == "charleston":  # beat one and the (swung) "and" of two, held
        return {0: (4, 0.8, 0), 6: (6, 0.7, 0)}
    if comp == "skank":  # short chops on two and four
        return {4: (1, 0.85, 0), 12: (1, 0.85, 0)}
    if comp == "bossa":  # the bossa nova guitar: one, the "a" of one, the "and" of two, ...
        return {0: (3, 0.8, 0), 3: (3, 0.65, 0), 6: (2, 0.7, 0), 10: (3, 0.7, 0), 12: (2, 0.65, 0)}
    if comp == "montuno":  # the salsa piano: stabs on the "and"s, anticipating the clave's next hit
        return {0: (1, 0.8, 0), 3: (1, 0.7, 0), 5: (1, 0.7, 0), 7: (1, 0.75, 0), 10: (1, 0.7, 0), 12: (1, 0.7, 0), 14: (2, 0.75, 0)}
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


# Noise beds are made at SR at any rate and then resampled: the random draws, their level and the filters
# are then exactly those of a render at SR (a filter designed at another rate bends differently near
# the top, up to 2 dB at 16 kHz, and other draws have other peaks, which move the mix's normalisation).
# They cost the same with and without stems. The drone and the evolving pad are exact at any rate.
NOISE_TEXTURES = ("rain", "wind", "vinyl")


def _texture_part(score: Score, n: int, loop: bool, rng, rate: int, length_s: float) -> np.ndarray:
    """The texture part, n samples at `rate`: crossfaded into a loop, or high-passed as a phrase."""
    if rate != SR and score.voices["texture"] in NOISE_TEXTURES:
        x = _texture_part(score, int(round(length_s * SR)), loop, rng, SR, length_s)
        return resample_loop(x, n) if loop else fit_length(resample(x, SR, rate), n)
    if loop:
        return _texture_layer(score, n, loop, rng, rate)
    return _highpass(_texture_layer(score, n, loop, rng, rate), DC_HZ, rate)


def _texture_layer(score: Score, n: int, loop: bool, rng, rate: int = SR) -> np.ndarray:
    kind = score.voices["texture"]
    if kind == "evolving_pad" or kind == "drone":
        return voices.texture(kind, n, score.tonic, score.minor, score.bright, rng, sr=rate)  # periodic in n
    if not loop:
        return voices.texture(kind, n, score.tonic, score.minor, score.bright, rng, sr=rate)
    xf = min(n // 4, rate // 2)
    x = voices.texture(kind, n + xf, score.tonic, score.minor, score.bright, rng, sr=rate)
    # Equal-power crossfade of the overhang onto the start: noise joins itself without a seam.
    w = np.sin(np.linspace(0, np.pi / 2, xf))
    out = x[:, :n].copy()
    out[:, :xf] = out[:, :xf] * w + x[:, n : n + xf] * w[::-1]
    return out


def _wrap(x: np.ndarray, n: int) -> np.ndarray:
    """Fold everything past n back onto the start (tails ring into the next repeat)."""
    out = x[:, :n].copy()
    for i in range(n, x.shape[1], n):
        seg = x[:, i : i + n]
        out[:, : seg.shape[1]] += seg
    return out


def _lowpass(x: np.ndarray, fc: float, rate: int = SR) -> np.ndarray:
    return sosfilt(butter(2, min(fc, rate * 0.45), "lowpass", fs=rate, output="sos"), x, axis=-1).astype(
        np.float32
    )


def _highpass(x: np.ndarray, fc: float, rate: int = SR) -> np.ndarray:
    return sosfilt(_highpass_sos(fc, rate), x, axis=-1).astype(np.float32)


@lru_cache(maxsize=8)
def _highpass_sos(fc: float, rate: int = SR) -> np.ndarray:
    return butter(2, fc, "highpass", fs=rate, output="sos")


DC_WARMUP_S = 0.5  # the 20 Hz high-pass forgets its start within 0.2 s (to -140 dB); half a second is ample


def _dc_block(x: np.ndarray, loop: bool, rate: int = SR) -> np.ndarray:
    """The mix's DC high-pass. A phrase: filtered from silence. A loop (already folded): filtered as
    the circle it is, the filter's state first run in over the loop's own last half second (repeated
    when the loop is shorter), so sample 0 follows sample n-1 as every other sample follows the one
    before it: the loop's steady state, with no step at the seam."""
    sos = _highpass_sos(DC_HZ, rate)
    if not loop:
        return sosfilt(sos, x, axis=-1).astype(np.float32)
    n = x.shape[-1]
    warm = x[:, np.arange(-int(DC_WARMUP_S * rate), 0) % n]
    _, state = sosfilt(sos, warm, axis=-1, zi=np.zeros((sos.shape[0], x.shape[0], 2)))
    return sosfilt(sos, x, axis=-1, zi=state)[0].astype(np.float32)


def _end_fade(n: int, length_s: float, rate: int = SR) -> np.ndarray:
    """Exponential fade over the last 10 % (at least 50 ms) down to -80 dB: a phrase ends in silence."""
    m = min(n, max(int(0.1 * n), int(0.05 * rate)))
    env = np.ones(n, dtype=np.float32)
    env[n - m :] = 10 ** (-80 * np.linspace(0, 1, m) ** 1.5 / 20)
    return env
