"""Training scores for the v2 default model: per-style pattern generators and chord/melody writers.

`random_score(rng)` draws a scene (which roles play), a style, voices, tempo, swing, energy,
brightness and mode, then writes the drum grid, bass line, chord progression, melody and
arpeggio the way producers commonly do for that style, with seeded randomness on top.
The drum templates are one bar of 16 steps; a character per step:
  X  always, accented      x  always, softer      o  with probability 0.3 + 0.5 * energy
  .  with probability 0.25 * energy (ghost notes)   -  never
"""

from __future__ import annotations

import numpy as np

from diffhost.engine.default.music.score import (
    ARP_RATES,
    ARP_SHAPES,
    BEATLESS_STYLES,
    CHORD_BARS,
    COMP_RHYTHMS,
    DRUM_LANES,
    MELODY_STEPS,
    ROLES,
    STEPS,
    STYLES,
    SWING_MAX,
    VOICES,
    Score,
)

# style -> (tempo range, swing range, kit weights {kit: weight}, {lane: [alternative templates]})
DRUM_STYLES: dict[str, dict] = {
    "house": dict(
        tempo=(118, 128), swing=(0.0, 0.1), kits={"electronic": 3, "tr808": 1},
        lanes={
            "kick": ["X---X---X---X---"],
            "clap": ["----X-------X---", "----X-------X--."],
            "closed_hat": ["..x...x...x...x.", "x-x-x-x-x-x-x-x-"],
            "open_hat": ["--x---x---x---x-", "--o---x---o---x-"],
            "perc": ["-------o------o-", "---o-----o------"],
        },
    ),
    "techno": dict(
        tempo=(126, 140), swing=(0.0, 0.05), kits={"electronic": 3, "tr808": 1},
        lanes={
            "kick": ["X---X---X---X---"],
            "clap": ["----o-------o---", "----------------"],
            "closed_hat": ["xxxxxxxxxxxxxxxx", "x.x.x.x.x.x.x.x."],
            "open_hat": ["--x---x---x---x-"],
            "ride": ["..x...x...x...x.", "x-x-x-x-x-x-x-x-"],
            "perc": ["o--o--o--o--o-o-", "---x------x--x--"],
        },
    ),
    "boombap": dict(
        tempo=(84, 96), swing=(0.25, 0.5), kits={"standard": 2, "room": 2},
        lanes={
            "kick": ["X-----o-X-o-----", "X------xX-----o-", "X-----X---X---o-"],
            "snare": ["----X-------X---", "----X-----.-X---"],
            "closed_hat": ["x-x-x-x-x-x-x-x-", "x-x-x-x-x-x-x-xo"],
            "open_hat": ["--------------o-", "----------------"],
        },
    ),
    "trap": dict(
        tempo=(130, 150), swing=(0.0, 0.05), kits={"tr808": 4},
        lanes={
            "kick": ["X-----o---X-o---", "X--o----o-X-----", "X-------X-o--o--"],
            "snare": ["--------X-------"],
            "clap": ["--------X-------", "--------X------o"],
            "closed_hat": ["x-x-x-x-x-x-x-x-", "xxxxx-x-xxx-x-xx"],
            "hat_roll": ["------o-----o--o", "---o-----o----o-", "-----------o-o-o"],
            "open_hat": ["----------------", "-------o--------"],
        },
    ),
    "breakbeat": dict(
        tempo=(125, 140), swing=(0.0, 0.15), kits={"standard": 2, "room": 2, "electronic": 1},
        lanes={
            "kick": ["X-----.-X-X-----", "X-X-------X-----", "X---------X--o--"],
            "snare": ["----X--.-o--X--.", "----X-------X-o-"],
            "closed_hat": ["x-x-x-x-x-x-x-x-", "x-xxx-x-x-xxx-x-"],
            "open_hat": ["--------------o-", "------o---------"],
            "ride": ["X---------------", "----------------"],
        },
    ),
    "dnb": dict(
        tempo=(165, 178), swing=(0.0, 0.05), kits={"standard": 2, "room": 1, "electronic": 2},
        lanes={
            "kick": ["X---------X-----", "X-------o-X-----", "X---------X--o--"],
            "snare": ["----X-------X---", "----X--.----X--."],
            "closed_hat": ["x-x-x-x-x-x-x-x-", "x-xxx-x-x-xxx-xx"],
            "ride": ["x---x---x---x---", "----------------"],
            "open_hat": ["------o-------o-", "----------------"],
        },
    ),
    "funk": dict(
        tempo=(94, 112), swing=(0.05, 0.2), kits={"standard": 2, "room": 2},
        lanes={
            "kick": ["X--o--X---o-o---", "X-X---X---o--X--", "X-----X-o-X-----"],
            "snare": ["----X--.-.--X--.", "----X-..-.--X-.."],
            "closed_hat": ["xxxxxxxxxxxxxxxx", "x.x.x.x.x.x.x.x."],
            "open_hat": ["------o-------o-", "--------------x-"],
        },
    ),
    "rock": dict(
        tempo=(100, 140), swing=(0.0, 0.05), kits={"standard": 2, "room": 3},
        lanes={
            "kick": ["X-------X-o-----", "X-----X-X-------", "X-X-----X-X-----"],
            "snare": ["----X-------X---"],
            "closed_hat": ["x-x-x-x-x-x-x-x-"],
            "ride": ["o---------------"],
            "tom": ["------------oooo", "----------------", "----------------"],
        },
    ),
    "lofi": dict(
        tempo=(70, 90), swing=(0.3, 0.55), kits={"standard": 2, "room": 2},
        lanes={
            "kick": ["X------oX-o-----", "X-----X---o-----", "X--------xX-----"],
            "snare": ["----x-------x---", "----x-------x--."],
            "closed_hat": ["x-x-x-x-x-x-x-x-", "x.x.x.x.x.x.x.x."],
            "perc": ["------o---------", "----------------"],
        },
    ),
    "dembow": dict(
        tempo=(90, 104), swing=(0.0, 0.05), kits={"electronic": 2, "tr808": 2},
        lanes={
            "kick": ["X---X---X---X---"],
            "snare": ["---X--X----X--X-"],
            "closed_hat": ["x-x-x-x-x-x-x-x-", "o-x-o-x-o-x-o-x-"],
            "perc": ["---o--o----o--o-", "----------------"],
            "open_hat": ["--------------o-", "----------------"],
        },
    ),
    "afrobeat": dict(
        tempo=(100, 116), swing=(0.05, 0.2), kits={"standard": 2, "room": 2},
        lanes={
            "kick": ["X-----x---X-----", "X--o--x---X--o--"],
            "perc": ["X--x--x---x-x---"],
            "snare": ["------------X---", "----o-------X---"],
            "closed_hat": ["xxxxxxxxxxxxxxxx", "x.xxx.xxx.xxx.xx"],
            "tom": ["-------o------oo", "------o-------o-"],
        },
    ),
    # Swing jazz: the ride's "ding, ding-a" with the skip note on the swung eighth (EIGHTH_SWING_STYLES),
    # the hi-hat pedal on two and four, a feathered kick and snare comping around them.
    "jazz": dict(
        tempo=(100, 170), swing=(0.42, 0.6), kits={"jazz": 2, "brush": 2},
        lanes={
            "ride": ["x---X-x-x---X-x-", "x---X-x-x---X-xo"],
            "closed_hat": ["----x-------x---"],
            "kick": [".---.---.---.---", "------------o---", "--------------o-"],
            "snare": ["------.-----.--o", "---.------.---.-", "--------------.-"],
        },
    ),
    # Cinematic: a concert bass drum on the downbeats and timpani (the orchestra kit's tom) swelling into
    # the next bar; the strings, brass and slow chords carry the rest.
    "orchestral": dict(
        tempo=(60, 100), swing=(0.0, 0.05), kits={"orchestra": 1},
        lanes={
            "kick": ["X---------------", "X-------x-------"],
            "tom": ["------------oooo", "X-------o-------", "--------------xx"],
            "snare": ["----------------", "------------....", "--------o-------"],
        },
    ),
    # Beatless ambient: no lane plays; its scores have no drums at all.
    "ambient": dict(tempo=(60, 90), swing=(0.0, 0.05), kits={"standard": 1}, lanes={}),
    # Reggae one drop: kick and rim shot together on three, swung hats; steppers puts the kick on every beat.
    "reggae": dict(
        tempo=(66, 84), swing=(0.15, 0.35), kits={"standard": 2, "room": 1},
        lanes={
            "kick": ["--------X-------", "X---X---X---X---"],
            "perc": ["--------X-------", "--------X-----o-"],
            "closed_hat": ["x-x-x-x-x-x-x-x-", "x-xxx-xxx-xxx-xx"],
            "open_hat": ["--------------o-", "----------------"],
        },
    ),
    # Bossa nova: kick on one and three with its pickup, the rim click playing the bossa clave, soft hats.
    "bossa": dict(
        tempo=(120, 145), swing=(0.0, 0.05), kits={"brush": 2, "standard": 1},
        lanes={
            "kick": ["X------xX------x", "X-------X------x"],
            "perc": ["x--x--x---x--x--", "x--x---x--x--x--"],
            "closed_hat": ["xxxxxxxxxxxxxxxx", "x-x-x-x-x-x-x-x-"],
        },
    ),
    # Salsa, counted in cut time (a step is an eighth of the two-bar clave): the 3-2 son clave on the rim,
    # the cascara on the ride, the conga's open tones (the tom) on the "and" of four of each half, and a
    # soft kick on the bass's anticipation.
    "salsa": dict(
        tempo=(88, 105), swing=(0.0, 0.05), kits={"standard": 2, "room": 2},
        lanes={
            "perc": ["X--X--X---X-X---", "X--X---X--X-X---"],
            "ride": ["X-XX-X-XX-X-X-X-", "x-xx-x-xx-x-x-x-"],
            "tom": ["------X-------X-", "------XX------XX"],
            "kick": ["---o-------o----", "---o---o---o---o"],
        },
    ),
}  # fmt: skip
# Styles whose swing delays the off-beat eighth (toward a triplet) rather than the off-beat sixteenths.
EIGHTH_SWING_STYLES = ("jazz",)
# Bars per chord of the four-chord progression: slow harmonic rhythm for film music and ambient.
HARMONIC_BARS = {"orchestral": 2, "ambient": 2}

BASS_RHYTHMS: dict[str, list[str]] = {
    "house": ["--X---X---X---X-", "--X---X---X---XX"],
    "techno": ["-xxx-xxx-xxx-xxx", "--x---x---x---x-"],
    "boombap": ["X-----X---X-----", "X-----X-X-----o-"],
    "trap": ["X-----o---X-o---", "X-------X-o-----"],
    "breakbeat": ["X--X--X---X-X---", "X-X-----X-X--X--"],
    "dnb": ["X---------X-----", "X-------X-X-----"],
    "funk": ["X--X-xX-X--x-X-x", "X-xX--x-X-x--xX-"],
    "rock": ["X-X-X-X-X-X-X-X-", "X---X---X---X-X-"],
    "lofi": ["X-----X---X---x-", "X-------X---x---"],
    "dembow": ["X---X---X---X---", "X--X---XX--X---X"],
    "afrobeat": ["X--X---X--X--X--", "X-----X-X--X----"],
    "jazz": ["X---x---X---x---", "X---x---X---x--."],  # walking quarter notes
    "orchestral": ["X---------------", "X-------X-------"],
    "ambient": ["X---------------"],
    "reggae": ["X--x--x-X-------", "X---x-x---X-x---", "X-----xX--x-----"],
    "bossa": ["X------xX------x", "X-------X-------"],
    "salsa": ["---X--X----X--X-", "---X---X---X---X"],  # the tumbao: anticipations, never the downbeat
}  # fmt: skip
# Bass degrees relative to the chord root per onset (cycled): roots, fifths (4), octaves (7), approach notes.
BASS_FIGURES = ([0], [0, 0, 7, 0], [0, 4, 7, 4], [0, 0, 0, 4], [0, 7], [0, 2, 4, 2], [0, 0, -1, 0])
STYLE_BASS_FIGURES = {
    "jazz": ([0, 2, 4, 5], [0, 1, 2, 4], [0, 4, 5, 6], [0, 2, 4, -1], [0, 4, 2, 1]),  # walking lines
    "bossa": ([0, 4], [0, 4, 7, 4], [0, -3]),  # root and fifth
    "orchestral": ([0], [0, 4]),
    "ambient": ([0],),
    "salsa": ([4, 0, 0, 4], [4, 0, 4, 0]),  # tumbao: the fifth, then the root ahead of the chord
}

# Common progressions as scale degrees (0 = I/i), four bars.
PROGRESSIONS_MAJOR = (
    (0, 4, 5, 3), (5, 3, 0, 4), (0, 3, 4, 3), (0, 5, 3, 4), (1, 4, 0, 0), (0, 3, 0, 4), (3, 4, 2, 5),
    (0, 0, 3, 4), (0, 2, 3, 4),
)  # fmt: skip
PROGRESSIONS_MINOR = (
    (0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2), (0, 5, 3, 4), (0, 0, 3, 3), (5, 6, 0, 0),
    (0, 2, 6, 5), (0, 3, 0, 4),
)  # fmt: skip
# ii-V-I and its turnarounds for jazz (and bossa nova, which borrows them).
JAZZ_MAJOR = ((1, 4, 0, 0), (1, 4, 0, 5), (0, 5, 1, 4), (2, 5, 1, 4), (0, 3, 1, 4))
JAZZ_MINOR = ((1, 4, 0, 0), (0, 3, 1, 4), (0, 5, 1, 4), (3, 4, 0, 0))
# Salsa's two-chord vamps and the I-IV-V-IV of son montuno.
SALSA_MAJOR = ((0, 3, 4, 3), (0, 4, 0, 4), (1, 4, 1, 4), (0, 3, 4, 4))
SALSA_MINOR = ((0, 3, 4, 4), (0, 4, 0, 4), (0, 3, 0, 4), (0, 6, 5, 4))

# Scenes: role sets and how often training draws them.
SCENES: tuple[tuple[frozenset[str], float], ...] = tuple(
    (frozenset(roles.split()), w)
    for roles, w in (
        ("drums", 0.30), ("bass", 0.07), ("keys", 0.08), ("pad", 0.06), ("arp", 0.06), ("lead", 0.10),
        ("texture", 0.08), ("drums bass", 0.06), ("drums bass keys", 0.05), ("drums bass keys lead", 0.03),
        ("keys lead", 0.02), ("pad lead", 0.02), ("pad arp", 0.03), ("texture pad", 0.02), ("drums keys", 0.02),
    )
)  # fmt: skip
# Ambient has no drums: its scenes are pads, textures and sparse lines over them.
AMBIENT_SCENES: tuple[tuple[frozenset[str], float], ...] = tuple(
    (frozenset(roles.split()), w)
    for roles, w in (
        ("pad", 0.25), ("texture", 0.15), ("texture pad", 0.2), ("pad lead", 0.1), ("pad arp", 0.1),
        ("bass pad", 0.05), ("keys", 0.05), ("keys pad", 0.05), ("texture pad lead", 0.05),
    )
)  # fmt: skip
# Without a style word, pads and textures on their own are ambient this often in training, so such a
# prompt learns no drum style's rhythm.
AMBIENT_SHARE = 0.6

# Voices that suit a style when a combination is drawn (others are still possible, less often).
STYLE_VOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "house": {"bass": ("synth_bass", "finger_bass"), "keys": ("piano", "organ", "electric_piano")},
    "techno": {"bass": ("synth_bass", "sub_808"), "keys": ("organ", "electric_piano")},
    "boombap": {"bass": ("upright_bass", "finger_bass"), "keys": ("piano", "electric_piano")},
    "trap": {"bass": ("sub_808",), "keys": ("piano", "electric_piano")},
    "breakbeat": {"bass": ("synth_bass", "finger_bass"), "keys": ("organ", "piano")},
    "dnb": {"bass": ("sub_808", "synth_bass"), "keys": ("electric_piano", "piano")},
    "funk": {"bass": ("finger_bass",), "keys": ("electric_piano", "organ", "steel_guitar")},
    "rock": {"bass": ("finger_bass",), "keys": ("steel_guitar", "organ", "piano")},
    "lofi": {"bass": ("upright_bass", "finger_bass"), "keys": ("electric_piano", "piano")},
    "dembow": {"bass": ("sub_808", "synth_bass"), "keys": ("piano", "steel_guitar")},
    "afrobeat": {"bass": ("finger_bass", "synth_bass"), "keys": ("electric_piano", "steel_guitar", "organ")},
    "jazz": {
        "bass": ("upright_bass",), "keys": ("piano", "electric_piano"), "lead": ("sax", "trumpet", "piano"),
        "arp": ("vibraphone",),
    },
    "orchestral": {
        "bass": ("low_strings",), "keys": ("brass",), "pad": ("strings", "choir"),
        "lead": ("french_horn", "violin", "flute"), "arp": ("harp",),
    },
    "ambient": {
        "bass": ("low_strings", "synth_bass"), "keys": ("piano", "electric_piano"),
        "pad": ("warm_pad", "analog_pad", "choir", "strings"), "lead": ("flute", "piano"),
        "arp": ("harp", "vibraphone", "synth_pluck"),
    },
    "reggae": {"bass": ("finger_bass", "synth_bass"), "keys": ("organ", "steel_guitar", "piano")},
    "bossa": {
        "bass": ("upright_bass", "finger_bass"), "keys": ("nylon_guitar", "piano"), "lead": ("flute", "sax"),
        "arp": ("vibraphone",),
    },
    "salsa": {
        "bass": ("upright_bass", "finger_bass"), "keys": ("piano",), "lead": ("trumpet", "flute", "sax"),
        "pad": ("strings",), "arp": ("vibraphone", "marimba"),
    },
}  # fmt: skip
STYLE_COMP = {
    "house": ("offbeat", "halves"), "techno": ("offbeat", "sustain"), "boombap": ("sustain", "halves"),
    "trap": ("sustain", "halves"), "breakbeat": ("halves", "offbeat"), "dnb": ("sustain",),
    "funk": ("offbeat", "strum"), "rock": ("strum", "halves"), "lofi": ("sustain", "halves"),
    "dembow": ("offbeat", "strum"), "afrobeat": ("offbeat", "strum"), "jazz": ("charleston", "halves"),
    "orchestral": ("sustain", "halves"), "ambient": ("sustain",), "reggae": ("skank", "offbeat"),
    "bossa": ("bossa",), "salsa": ("montuno",),
}  # fmt: skip


def _weighted(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[rng.choice(len(keys), p=p / p.sum())]


def template_velocities(template: str, energy: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(STEPS)
    for i, ch in enumerate(template):
        if ch == "X":
            out[i] = rng.uniform(0.85, 1.0)
        elif ch == "x":
            out[i] = rng.uniform(0.55, 0.8)
        elif ch == "o" and rng.uniform() < 0.3 + 0.5 * energy:
            out[i] = rng.uniform(0.5, 0.85)
        elif ch == "." and rng.uniform() < 0.25 * energy:
            out[i] = rng.uniform(0.3, 0.45)
    return out


def drum_grid(style: str, energy: float, rng: np.random.Generator) -> np.ndarray:
    grid = np.zeros((STEPS, len(DRUM_LANES)))
    for lane, alternatives in DRUM_STYLES[style]["lanes"].items():
        grid[:, DRUM_LANES.index(lane)] = template_velocities(
            alternatives[rng.integers(len(alternatives))], energy, rng
        )
    return grid


def bass_line(style: str, energy: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    rhythms = BASS_RHYTHMS[style]
    on = template_velocities(rhythms[rng.integers(len(rhythms))], energy, rng)
    figures = STYLE_BASS_FIGURES.get(style, BASS_FIGURES)
    figure = figures[rng.integers(len(figures))]
    degree = np.zeros(STEPS, dtype=int)
    k = 0
    for i in range(STEPS):
        if on[i] > 0:
            degree[i] = figure[k % len(figure)]
            k += 1
    return on, degree


def progression(minor: bool, rng: np.random.Generator, style: str = "") -> list[int]:
    table: tuple[tuple[int, ...], ...]
    if style in ("jazz", "bossa"):
        table = JAZZ_MINOR if minor else JAZZ_MAJOR
    elif style == "salsa":
        table = SALSA_MINOR if minor else SALSA_MAJOR
    else:
        table = PROGRESSIONS_MINOR if minor else PROGRESSIONS_MAJOR
    return list(table[rng.integers(len(table))])


def melody(
    chords: list[int], energy: float, rng: np.random.Generator, bars_per_chord: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Two bars: chord tones on strong beats, stepwise motion in between, a long note to end."""
    on = np.zeros(MELODY_STEPS)
    degree = np.full(MELODY_STEPS, 7, dtype=int)
    density = 0.25 + 0.5 * energy
    for i in range(MELODY_STEPS):
        strong = i % 4 == 0
        p = 0.85 if i % 8 == 0 else (0.6 if strong else (0.45 * density if i % 2 == 0 else 0.2 * density))
        if i >= MELODY_STEPS - 4 and i != MELODY_STEPS - 8:
            p *= 0.2  # leave room for the final long note
        if rng.uniform() < p:
            on[i] = rng.uniform(0.6, 1.0) if strong else rng.uniform(0.45, 0.8)
    on[0] = max(on[0], 0.8)
    current = 7 + int(rng.choice([0, 2, 4]))
    for i in np.nonzero(on)[0].tolist():
        chord_root = chords[(i // (STEPS * bars_per_chord)) % len(chords)]
        if i % 4 == 0:  # nearest chord tone
            tones = [chord_root + o + 7 * k for o in (0, 2, 4) for k in (0, 1, 2)]
            current = min(tones, key=lambda t: abs(t - current) + rng.uniform(0, 1.5))
        else:
            current += int(rng.choice([-2, -1, -1, 1, 1, 2, 0, 3, -3]))
        current = int(np.clip(current, 2, 14))
        degree[i] = current
    return on, degree


def random_score(
    rng: np.random.Generator, roles: frozenset[str] | None = None, style: str | None = None
) -> Score:
    named = style
    style = style or STYLES[rng.integers(len(STYLES))]
    if roles is None:
        scenes = AMBIENT_SCENES if style in BEATLESS_STYLES else SCENES
        w = np.array([s[1] for s in scenes])
        roles = scenes[rng.choice(len(scenes), p=w / w.sum())][0]
        if named is None and roles <= {"pad", "texture"} and rng.uniform() < AMBIENT_SHARE:
            style = "ambient"
    if style in BEATLESS_STYLES:
        roles = frozenset(roles - {"drums"}) or frozenset({"pad"})
    spec = DRUM_STYLES[style]
    energy = float(rng.uniform(0.1, 0.95)) if style != "ambient" else float(rng.uniform(0.05, 0.45))
    minor = bool(rng.uniform() < 0.6)
    tempo_lo, tempo_hi = spec["tempo"]
    if "drums" not in roles and style not in ("ambient", "orchestral") and rng.uniform() < 0.5:
        tempo_lo, tempo_hi = 65, 170  # melodic parts on their own come at any tempo
    tempo = float(rng.uniform(tempo_lo, tempo_hi))
    voices = {r: options[rng.integers(len(options))] for r, options in VOICES.items()}
    for role, suited in STYLE_VOICES[style].items():
        if rng.uniform() < 0.75:
            voices[role] = suited[rng.integers(len(suited))]
    chords = progression(minor, rng, style)
    bass_on, bass_degree = bass_line(style, energy, rng)
    melody_on, melody_degree = melody(chords, energy, rng, HARMONIC_BARS.get(style, 1))
    comp_choices = STYLE_COMP[style] if rng.uniform() < 0.7 else COMP_RHYTHMS
    comp = comp_choices[rng.integers(len(comp_choices))]
    if voices["keys"] == "steel_guitar" and comp not in ("skank", "bossa") and rng.uniform() < 0.8:
        comp = "strum"
    return Score(
        roles=set(roles),
        style=style,
        kit=_weighted(rng, spec["kits"]),
        voices=voices,
        tempo=tempo,
        swing=float(np.clip(rng.uniform(*spec["swing"]), 0, SWING_MAX)),
        energy=energy,
        bright=float(rng.uniform(0.05, 0.95)) if style != "lofi" else float(rng.uniform(0.0, 0.35)),
        minor=minor,
        drums=drum_grid(style, energy, rng),
        bass_on=bass_on,
        bass_degree=bass_degree,
        chords=chords,
        comp=comp,
        melody_on=melody_on,
        melody_degree=melody_degree,
        arp_shape=ARP_SHAPES[rng.integers(len(ARP_SHAPES))],
        arp_rate=ARP_RATES[rng.integers(len(ARP_RATES))],
        arp_octaves=int(rng.integers(1, 3)),
        tonic=int(rng.integers(12)),
    )


assert set(DRUM_STYLES) == set(STYLES) == set(BASS_RHYTHMS) == set(STYLE_VOICES)
assert all(len(t) == STEPS for s in DRUM_STYLES.values() for ts in s["lanes"].values() for t in ts)
assert all(len(t) == STEPS for ts in BASS_RHYTHMS.values() for t in ts)
assert {r for s, _ in SCENES for r in s} == set(ROLES) and CHORD_BARS == 4


# -- the style's grammar, for decoding sampled scores ------------------------------------------
_VELOCITY = {"X": (0.85, 1.0), "x": (0.55, 0.8), "o": (0.5, 0.85), ".": (0.3, 0.45)}  # as template_velocities


def _agreement(row: np.ndarray, template: str) -> tuple[int, int]:
    """How well a sampled row (velocity > 0 = a hit) fits a template: minus the template's fixed hits
    the row misses and the hits it puts on the template's rests (a count of matches would favour
    templates with many rests); on a tie, the template that keeps more of the row's hits wins."""
    violations = kept = 0
    for v, ch in zip(row, template, strict=True):
        if ch in "Xx":
            violations += int(v <= 0)
        elif ch == "-":
            violations += int(v > 0)
        kept += int(v > 0 and ch != "-")
    return -violations, kept


def fit_row(row: np.ndarray, templates: list[str]) -> np.ndarray:
    """A sampled 16-step row decoded onto the nearest of its templates: the template's fixed hits
    play (at the sampled velocity, kept in the template's accent range), its optional hits and
    ghost notes play where the sample put one, and its rests stay rests."""
    best = max(templates, key=lambda t: _agreement(row, t))
    out = np.zeros(STEPS)
    for i, ch in enumerate(best):
        if ch == "-":
            continue
        lo, hi = _VELOCITY[ch]
        if ch in "Xx":
            out[i] = np.clip(row[i], lo, hi) if row[i] > 0 else (lo + hi) / 2
        elif row[i] > 0:
            out[i] = np.clip(row[i], lo, hi)
    return out


def fit_drums(style: str, grid: np.ndarray) -> np.ndarray:
    """A sampled drum grid decoded onto its style's lanes and templates (see fit_row).

    The score denoiser gets a style's global choices right but smears its grid cells (a techno
    hat lane came out as scattered sixteenths, which reads as house); the training patterns are
    the grammar the model was taught, so decoding onto them keeps what the sample chose (which
    variation, which optional and ghost hits, velocities) and drops what no pattern of that
    style has. Lanes the style never uses fall silent."""
    out = np.zeros_like(grid)
    for lane, templates in DRUM_STYLES[style]["lanes"].items():
        j = DRUM_LANES.index(lane)
        out[:, j] = fit_row(grid[:, j], templates)
    return out


def fit_bass_rhythm(style: str, on: np.ndarray) -> np.ndarray:
    """The sampled bass onsets decoded onto the style's bass rhythms (see fit_row)."""
    return fit_row(on, BASS_RHYTHMS[style])
