"""The parametric score the v2 default model diffuses over: one 330-d vector per loop or phrase.

A score is a small multi-track arrangement: which roles play (drums, bass, keys, pad,
arp, lead, texture), the drum style and kit, each role's voice, tempo, swing, energy,
brightness and mode, a one-bar drum step grid (16 steps x 9 lanes, velocities), a one-bar
bass line relative to each bar's chord, a four-bar chord progression with a comping
rhythm, a two-bar melody and an arpeggio figure. Every entry lies in [-1, 1]: flags and
one-hots are {-1, +1}, grids hold -1 for "no note" and a velocity above 0 for a note.
The key's tonic is not in the vector: it comes from the prompt, the key argument or the seed.

`encode` / `decode` convert between the vector and a `Score`; arrange.py renders a Score.
Pure numpy: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diffhost.engine.request import key_name as spell_key

ROLES = ("drums", "bass", "keys", "pad", "arp", "lead", "texture")
STYLES = (
    "house", "techno", "boombap", "trap", "breakbeat", "dnb", "funk", "rock", "lofi", "dembow", "afrobeat",
    "jazz", "orchestral", "ambient", "reggae", "bossa", "salsa",
)  # fmt: skip
# Styles whose drums, when they play at all, are not a beat: ambient never plays drums.
BEATLESS_STYLES = ("ambient",)
KITS = ("standard", "room", "electronic", "tr808", "jazz", "brush", "orchestra")
# Voices per role: "gm:<program>" is a General MIDI program of the recorded bank, "synth:<category>" the
# procedural synth, "noise:<kind>" the texture generator.
# New voices go at the end of their role's list: the score layout of older weights is a prefix of each
# section (LEGACY_SIZES), which lets training start from them.
VOICES: dict[str, tuple[str, ...]] = {
    "bass": ("finger_bass", "synth_bass", "upright_bass", "sub_808", "low_strings"),
    "keys": ("piano", "electric_piano", "organ", "steel_guitar", "nylon_guitar", "brass"),
    "pad": ("warm_pad", "strings", "analog_pad", "choir"),
    "arp": ("synth_pluck", "vibraphone", "marimba", "harp"),
    "lead": ("piano", "flute", "saw_lead", "nylon_guitar", "violin", "trumpet", "sax", "french_horn"),
    "texture": ("rain", "wind", "vinyl", "drone", "evolving_pad"),
}
CONTROLS = ("tempo", "swing", "energy", "bright", "mode")
DRUM_LANES = ("kick", "snare", "clap", "closed_hat", "open_hat", "perc", "tom", "ride", "hat_roll")
STEPS = 16  # sixteenth notes in a 4/4 bar
MELODY_STEPS = 32  # two bars
CHORD_BARS = 4
# charleston: jazz comping (beat one and the "and" of two); skank: reggae's short chops on two and
# four; bossa: the syncopated nylon-guitar pattern of bossa nova; montuno: the salsa piano's syncopated
# chord stabs locked to the clave.
COMP_RHYTHMS = ("sustain", "halves", "offbeat", "strum", "charleston", "skank", "bossa", "montuno")
ARP_SHAPES = ("up", "down", "updown", "pattern")
ARP_RATES = ("eighths", "sixteenths")
BASS_RANGE = 7  # bass pitch lane: scale degrees -7..+7 around the chord root
MELODY_RANGE = 7  # melody pitch lane: scale degrees 0..14 above the tonic, encoded around 7

TEMPO_RANGE = (60.0, 180.0)
SWING_MAX = 0.6  # share of a sixteenth the off-beat sixteenths are delayed by at full swing

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def _sizes(**override: int) -> list[tuple[str, int]]:
    sizes = [
        ("roles", len(ROLES)),
        ("style", len(STYLES)),
        ("kit", len(KITS)),
        *[(f"voice_{r}", len(v)) for r, v in VOICES.items()],
        ("controls", len(CONTROLS)),
        ("drums", STEPS * len(DRUM_LANES)),
        ("bass_on", STEPS),
        ("bass_pitch", STEPS),
        ("chords", CHORD_BARS * 7),
        ("comp", len(COMP_RHYTHMS)),
        ("melody_on", MELODY_STEPS),
        ("melody_pitch", MELODY_STEPS),
        ("arp_shape", len(ARP_SHAPES)),
        ("arp_rate", len(ARP_RATES)),
        ("arp_octaves", 1),
    ]
    return [(name, override.get(name, n)) for name, n in sizes]


def _layout(sizes: list[tuple[str, int]]) -> dict[str, slice]:
    out, i = {}, 0
    for name, n in sizes:
        out[name] = slice(i, i + n)
        i += n
    return out


LAYOUT = _layout(_sizes())
SCORE_DIM = max(s.stop for s in LAYOUT.values())
# The 330-d layout of the weights trained before the jazz, orchestral, ambient, reggae and bossa styles:
# every section of it is a prefix of today's, so `legacy_index` maps its dims onto the current ones.
LEGACY_SIZES = {
    "style": 11, "kit": 4, "voice_bass": 4, "voice_keys": 4, "voice_pad": 3, "voice_arp": 3, "voice_lead": 5,
    "comp": 4,
}  # fmt: skip


def legacy_index() -> np.ndarray:
    """For each dim of the legacy layout, its index in the current layout."""
    old = _layout(_sizes(**LEGACY_SIZES))
    return np.concatenate(
        [np.arange(LAYOUT[k].start, LAYOUT[k].start + (sl.stop - sl.start)) for k, sl in old.items()]
    )


# Older training data, by its vector width: each older layout is today's with some one-hot sections shorter
# (styles, kits, voices and comping rhythms were only ever added at the end of their section), so its dims map
# onto today's by `older_index`. 349: before salsa and the montuno comping rhythm.
OLDER_SIZES: dict[int, dict[str, int]] = {330: LEGACY_SIZES, 349: {"style": 16, "comp": 7}}


def older_index(dim: int) -> np.ndarray:
    """For each dim of the older layout `dim` wide (a key of OLDER_SIZES), its index in the current
    layout. The current dims left out are one-hot entries the older data could not name."""
    if dim not in OLDER_SIZES:
        known = ", ".join(str(d) for d in sorted(OLDER_SIZES))
        raise ValueError(f"score vectors {dim} wide have no known layout; known older widths are {known}")
    old = _layout(_sizes(**OLDER_SIZES[dim]))
    return np.concatenate(
        [np.arange(LAYOUT[k].start, LAYOUT[k].start + (sl.stop - sl.start)) for k, sl in old.items()]
    )


@dataclass
class Score:
    """A decoded score. Grids: drums (STEPS, lanes) velocity 0..1 (0 = none); bass/melody onsets likewise."""

    roles: set[str]
    style: str
    kit: str
    voices: dict[str, str]
    tempo: float
    swing: float  # 0..SWING_MAX
    energy: float  # 0..1
    bright: float  # 0..1
    minor: bool
    drums: np.ndarray  # (STEPS, len(DRUM_LANES))
    bass_on: np.ndarray  # (STEPS,)
    bass_degree: np.ndarray  # (STEPS,) int, scale degrees relative to the bar's chord root
    chords: list[int]  # CHORD_BARS scale degrees (0 = tonic)
    comp: str
    melody_on: np.ndarray  # (MELODY_STEPS,)
    melody_degree: np.ndarray  # (MELODY_STEPS,) int, scale degrees above the tonic (0..14)
    arp_shape: str
    arp_rate: str
    arp_octaves: int
    tonic: int = 9  # pitch class (A); set from the prompt/key argument/seed, not diffused
    extra: dict = field(default_factory=dict)  # render-time extras (exact seed onset times, seed notes)

    @property
    def scale(self) -> tuple[int, ...]:
        return MINOR if self.minor else MAJOR

    @property
    def key_name(self) -> str:
        return spell_key(self.tonic, self.minor)


def _onehot(options: tuple[str, ...], value: str) -> np.ndarray:
    v = -np.ones(len(options), dtype=np.float32)
    v[options.index(value)] = 1.0
    return v


def tempo_to_unit(bpm: float) -> float:
    lo, hi = TEMPO_RANGE
    return float(np.clip(2 * (np.log(bpm) - np.log(lo)) / (np.log(hi) - np.log(lo)) - 1, -1, 1))


def unit_to_tempo(u: float) -> float:
    lo, hi = TEMPO_RANGE
    return float(np.exp(np.log(lo) + (np.clip(u, -1, 1) + 1) / 2 * (np.log(hi) - np.log(lo))))


def _grid(vel: np.ndarray) -> np.ndarray:
    """Velocities 0..1 (0 = no note) -> -1 for none, the velocity (0.3..1) for a note."""
    return np.where(vel > 0, np.clip(vel, 0.3, 1.0), -1.0).astype(np.float32)


def _ungrid(v: np.ndarray) -> np.ndarray:
    return np.where(v > 0, np.clip(v, 0.3, 1.0), 0.0)


def encode(s: Score) -> np.ndarray:
    x = np.zeros(SCORE_DIM, dtype=np.float32)
    x[LAYOUT["roles"]] = [1.0 if r in s.roles else -1.0 for r in ROLES]
    x[LAYOUT["style"]] = _onehot(STYLES, s.style)
    x[LAYOUT["kit"]] = _onehot(KITS, s.kit)
    for r, options in VOICES.items():
        x[LAYOUT[f"voice_{r}"]] = _onehot(options, s.voices[r])
    x[LAYOUT["controls"]] = [
        tempo_to_unit(s.tempo),
        2 * s.swing / SWING_MAX - 1,
        2 * s.energy - 1,
        2 * s.bright - 1,
        -1.0 if s.minor else 1.0,
    ]
    x[LAYOUT["drums"]] = _grid(s.drums).ravel()
    x[LAYOUT["bass_on"]] = _grid(s.bass_on)
    x[LAYOUT["bass_pitch"]] = np.clip(s.bass_degree / BASS_RANGE, -1, 1)
    chords = -np.ones((CHORD_BARS, 7), dtype=np.float32)
    chords[np.arange(CHORD_BARS), np.asarray(s.chords) % 7] = 1.0
    x[LAYOUT["chords"]] = chords.ravel()
    x[LAYOUT["comp"]] = _onehot(COMP_RHYTHMS, s.comp)
    x[LAYOUT["melody_on"]] = _grid(s.melody_on)
    x[LAYOUT["melody_pitch"]] = np.clip((s.melody_degree - MELODY_RANGE) / MELODY_RANGE, -1, 1)
    x[LAYOUT["arp_shape"]] = _onehot(ARP_SHAPES, s.arp_shape)
    x[LAYOUT["arp_rate"]] = _onehot(ARP_RATES, s.arp_rate)
    x[LAYOUT["arp_octaves"]] = [-1.0 if s.arp_octaves == 1 else 1.0]
    return x


def decode(x: np.ndarray, tonic: int = 9) -> Score:
    x = np.asarray(x, dtype=np.float64)

    def pick(name: str, options: tuple[str, ...]) -> str:
        return options[int(np.argmax(x[LAYOUT[name]]))]

    roles = {r for r, v in zip(ROLES, x[LAYOUT["roles"]], strict=True) if v > 0}
    if not roles:  # the arg-max role, so a score always plays something
        roles = {ROLES[int(np.argmax(x[LAYOUT["roles"]]))]}
    c = x[LAYOUT["controls"]]
    return Score(
        roles=roles,
        style=pick("style", STYLES),
        kit=pick("kit", KITS),
        voices={r: pick(f"voice_{r}", options) for r, options in VOICES.items()},
        tempo=unit_to_tempo(c[0]),
        swing=float(np.clip((c[1] + 1) / 2, 0, 1) * SWING_MAX),
        energy=float(np.clip((c[2] + 1) / 2, 0, 1)),
        bright=float(np.clip((c[3] + 1) / 2, 0, 1)),
        minor=bool(c[4] < 0),
        drums=_ungrid(x[LAYOUT["drums"]].reshape(STEPS, len(DRUM_LANES))),
        bass_on=_ungrid(x[LAYOUT["bass_on"]]),
        bass_degree=np.round(np.clip(x[LAYOUT["bass_pitch"]], -1, 1) * BASS_RANGE).astype(int),
        chords=[int(i) for i in np.argmax(x[LAYOUT["chords"]].reshape(CHORD_BARS, 7), axis=1)],
        comp=pick("comp", COMP_RHYTHMS),
        melody_on=_ungrid(x[LAYOUT["melody_on"]]),
        melody_degree=np.round(
            np.clip(x[LAYOUT["melody_pitch"]], -1, 1) * MELODY_RANGE + MELODY_RANGE
        ).astype(int),
        arp_shape=pick("arp_shape", ARP_SHAPES),
        arp_rate=pick("arp_rate", ARP_RATES),
        arp_octaves=1 if x[LAYOUT["arp_octaves"]][0] < 0 else 2,
        tonic=int(tonic) % 12,
    )
