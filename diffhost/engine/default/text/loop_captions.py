"""Captions for v2 training scores in everyday words, and tempo/key parsing of prompts.

Training captions use STYLE_WORDS, ROLE_WORDS, VOICE_WORDS, the feel words and
TRAIN_TEMPLATES. The evaluation writes prompts with EVAL_TEMPLATES and EVAL_STYLE_WORDS,
which no training caption uses (tests check that).
"""

from __future__ import annotations

import re

import numpy as np

from diffhost.engine.default.music.score import BEATLESS_STYLES, NOTE_NAMES, STYLES, VOICES, Score
from diffhost.engine.request import parse_key_name

STYLE_WORDS: dict[str, tuple[str, ...]] = {
    "house": ("house", "deep house", "four-on-the-floor house", "classic house", "disco house"),
    "techno": ("techno", "driving techno", "minimal techno", "warehouse techno", "peak time techno"),
    "boombap": ("boom bap", "boom-bap", "90s hip hop", "old school hip hop", "golden era hip hop"),
    "trap": ("trap", "modern trap", "808 trap", "trap with hat rolls", "southern trap"),
    "breakbeat": ("breakbeat", "breaks", "big beat", "funky breaks", "nu skool breaks"),
    "dnb": ("drum and bass", "dnb", "drum & bass", "jungle", "liquid drum and bass"),
    "funk": ("funk", "funky", "70s funk", "groovy funk", "p-funk"),
    "rock": ("rock", "classic rock", "indie rock", "straight rock", "garage rock"),
    "lofi": ("lo-fi", "lofi hip hop", "lo-fi hip hop", "chillhop", "dusty lo-fi"),
    "dembow": ("dembow", "reggaeton", "reggaeton dembow", "latin dembow", "perreo"),
    "afrobeat": ("afrobeat", "afrobeats", "afro beat", "afropop", "afro groove"),
    "jazz": ("jazz", "swing jazz", "jazzy", "bebop", "jazz trio", "smoky jazz club", "swinging"),
    "orchestral": (
        "orchestral",
        "cinematic",
        "epic orchestral",
        "film score",
        "symphonic",
        "movie soundtrack",
    ),
    "ambient": ("ambient", "beatless ambient", "atmospheric", "meditative", "dreamy ambient", "new age"),
    "reggae": ("reggae", "roots reggae", "dub", "one drop reggae", "dub reggae", "rocksteady"),
    "bossa": (
        "bossa nova",
        "bossa",
        "brazilian bossa nova",
        "latin bossa",
        "cafe bossa nova",
        "brazilian jazz",
    ),
    "salsa": ("salsa", "salsa dura", "cuban salsa", "son montuno", "latin salsa", "mambo", "timba"),
}
# Held out: only the evaluation uses these spellings.
EVAL_STYLE_WORDS: dict[str, tuple[str, ...]] = {
    "house": ("chicago house",), "techno": ("berlin techno",), "boombap": ("boom bap hip-hop",),
    "trap": ("trap music",), "breakbeat": ("breakbeat style",), "dnb": ("drum n bass",),
    "funk": ("funk music",), "rock": ("rock and roll",), "lofi": ("lo fi hip-hop",), "dembow": ("dembow riddim",),
    "afrobeat": ("afrobeat style",), "jazz": ("straight-ahead jazz",), "orchestral": ("cinematic orchestra",),
    "ambient": ("ambient music",), "reggae": ("reggae music",), "bossa": ("bossa nova style",),
    "salsa": ("salsa music",),
}  # fmt: skip
DRUM_NOUNS = ("drum loop", "beat", "drum groove", "groove", "drums", "drum pattern", "rhythm", "drum beat")
ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "bass": ("bassline", "bass line", "bass loop", "bass groove"),
    "keys": ("chords", "chord progression", "keys", "comping chords"),
    "pad": ("pad", "pads", "pad chords", "sustained pad"),
    "arp": ("arpeggio", "arp", "arpeggiated line", "arpeggiated pattern"),
    "lead": ("melody", "lead", "lead line", "tune", "melodic line"),
}
VOICE_WORDS: dict[str, tuple[str, ...]] = {
    "finger_bass": ("electric bass", "bass guitar", "fingered bass"),
    "synth_bass": ("synth bass", "analog bass", "moog-style bass"),
    "upright_bass": ("upright bass", "double bass", "acoustic bass"),
    "sub_808": ("808 bass", "sub bass", "booming 808"),
    "piano": ("piano", "grand piano", "acoustic piano"),
    "electric_piano": ("electric piano", "rhodes", "e-piano"),
    "organ": ("organ", "hammond organ", "church organ"),
    "steel_guitar": ("acoustic guitar", "steel-string guitar", "strummed guitar"),
    "warm_pad": ("warm pad", "soft synth pad", "warm analog pad"),
    "strings": ("strings", "string ensemble", "lush strings"),
    "analog_pad": ("analog pad", "synth pad", "detuned pad"),
    "synth_pluck": ("synth pluck", "plucky synth", "pluck"),
    "vibraphone": ("vibraphone", "vibes", "bell-like"),
    "marimba": ("marimba", "mallet", "wooden mallet"),
    "flute": ("flute", "airy flute", "wooden flute"),
    "saw_lead": ("synth lead", "saw lead", "analog lead"),
    "nylon_guitar": ("nylon guitar", "classical guitar", "spanish guitar"),
    "violin": ("violin", "fiddle", "solo violin"),
    "low_strings": ("cellos", "low strings", "cello section"),
    "brass": ("brass", "brass section", "horns"),
    "choir": ("choir", "choral pad", "vocal choir"),
    "harp": ("harp", "concert harp", "plucked harp"),
    "trumpet": ("trumpet", "muted trumpet", "jazz trumpet"),
    "sax": ("saxophone", "sax", "tenor sax"),
    "french_horn": ("french horn", "solo horn", "noble horn"),
}
TEXTURE_WORDS: dict[str, tuple[str, ...]] = {
    "rain": ("rain", "rain on a window", "rainfall", "light rain ambience", "rain sounds"),
    "wind": ("wind", "wind ambience", "howling wind", "breeze", "windy atmosphere"),
    "vinyl": ("vinyl crackle", "record crackle", "vinyl noise", "dusty vinyl hiss", "crackling record"),
    "drone": ("drone", "dark drone", "ambient drone", "sustained drone", "low drone"),
    "evolving_pad": ("evolving pad", "evolving texture", "ambient texture", "slowly evolving soundscape"),
}
FEEL_WORDS = {
    "slow": ("slow", "laid-back", "downtempo"),
    "fast": ("fast", "uptempo", "high-tempo"),
    "minor": ("sad", "moody", "melancholic", "minor-key"),
    "major": ("happy", "uplifting", "cheerful", "major-key"),
    "calm": ("chill", "mellow", "sparse", "gentle"),
    "busy": ("energetic", "busy", "intense", "driving"),
    "swung": ("swung", "shuffled", "with swing"),
    "dark": ("dark", "muffled", "warm-sounding"),
    "bright": ("crisp", "bright", "airy"),
}
# Nouns for a whole piece in a style, naming no part; the evaluation's noun ("piece") is held out.
PIECE_NOUNS = ("track", "song", "instrumental", "cue", "composition", "soundtrack")
STYLE_ONLY_SHARE = 0.15
TRAIN_TEMPLATES = ("{x}", "a {x}", "{x} loop", "{x}, loopable", "{x} for a track", "some {x}")
EVAL_TEMPLATES = ("give me a {x}", "I need a {x} please", "make me a {x}", "{x} for my song")
COMBO_JOINERS = (" with ", " plus ", " and ", ", ")


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[rng.integers(len(options))]


def _feel(s: Score, rng: np.random.Generator) -> list[str]:
    words = []
    if s.tempo < 88 and rng.uniform() < 0.5:
        words.append(_pick(rng, FEEL_WORDS["slow"]))
    if s.tempo > 138 and rng.uniform() < 0.5:
        words.append(_pick(rng, FEEL_WORDS["fast"]))
    if rng.uniform() < 0.35:
        words.append(_pick(rng, FEEL_WORDS["minor" if s.minor else "major"]))
    if abs(s.energy - 0.5) > 0.25 and rng.uniform() < 0.5:
        words.append(_pick(rng, FEEL_WORDS["busy" if s.energy > 0.5 else "calm"]))
    if s.swing > 0.25 and rng.uniform() < 0.4:
        words.append(_pick(rng, FEEL_WORDS["swung"]))
    if abs(s.bright - 0.5) > 0.3 and rng.uniform() < 0.4:
        words.append(_pick(rng, FEEL_WORDS["bright" if s.bright > 0.5 else "dark"]))
    rng.shuffle(words)
    return words


def _part(role: str, s: Score, rng: np.random.Generator, style_words: dict) -> str:
    style = _pick(rng, style_words[s.style]) if rng.uniform() < 0.5 else ""
    if role == "drums":
        return f"{_pick(rng, style_words[s.style])} {_pick(rng, DRUM_NOUNS)}"
    if role == "texture":
        texture = _pick(rng, TEXTURE_WORDS[s.voices["texture"]])
        return f"{style} {texture}".strip() if s.style == "ambient" else texture
    voice = _pick(rng, VOICE_WORDS[s.voices[role]]) if rng.uniform() < 0.7 else ""
    if role == "keys" and s.voices["keys"] == "steel_guitar" and s.comp == "strum" and rng.uniform() < 0.5:
        return f"{style} acoustic guitar strum".strip()
    if role == "lead" and rng.uniform() < 0.3:
        voice = ("solo " + voice) if voice else "solo"
    return " ".join(w for w in (style, voice, _pick(rng, ROLE_WORDS[role])) if w)


def caption(
    s: Score,
    rng: np.random.Generator,
    templates: tuple[str, ...] = TRAIN_TEMPLATES,
    style_words: dict[str, tuple[str, ...]] = STYLE_WORDS,
) -> str:
    order = [r for r in ("drums", "bass", "keys", "pad", "arp", "lead", "texture") if r in s.roles]
    parts = [_part(r, s, rng, style_words) for r in order]
    if (s.roles == {"drums"} or s.style in BEATLESS_STYLES) and rng.uniform() < STYLE_ONLY_SHARE:
        # "an ambient track", "some techno music": people name a style and no part. Without such captions
        # the model never learns what a beatless style plays when no part is named, and guesses a lead.
        parts = [f"{_pick(rng, style_words[s.style])} {_pick(rng, PIECE_NOUNS)}"]
    if len(parts) > 1 and "drums" in s.roles and rng.uniform() < 0.3:
        parts[0] = _pick(rng, ("beat", "drums", "groove"))
    body = parts[0]
    for i, p in enumerate(parts[1:], 1):
        body += (" and " if i == len(parts) - 1 and len(parts) > 2 else _pick(rng, COMBO_JOINERS)) + p
    feel = _feel(s, rng)
    if feel:
        body = " ".join(feel) + " " + body
    x = _pick(rng, templates).format(x=body)
    if rng.uniform() < 0.3:
        x += _pick(rng, (" at {b} bpm", ", {b} bpm", " {b}bpm", " at {b} BPM")).format(b=int(round(s.tempo)))
    if rng.uniform() < 0.2 and order != ["drums"] and order != ["texture"]:
        x += f" in {key_text(s.tonic, s.minor, rng)}"
    return re.sub(r"\s+", " ", x).strip(" ,")


def key_text(tonic: int, minor: bool, rng: np.random.Generator | None = None) -> str:
    name = NOTE_NAMES[tonic]
    if rng is not None and "#" in name and rng.uniform() < 0.5:
        name = FLAT_NAMES[tonic]
    return f"{name} {'minor' if minor else 'major'}"


FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")

# -- parsing tempo and key out of a prompt ---------------------------------------------------------
_BPM_RE = re.compile(r"(?<![\w.])(\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats per minute)\b", re.IGNORECASE)
_KEY_RE = re.compile(
    r"\b(?:in(?: the key of)?|key(?: of)?)\s+([A-Ga-g])\s*(#|♯|b|♭|sharp|flat)?(?:\s*|-)"
    r"(major|minor|maj|min|m)?(?![\w#])",
    re.IGNORECASE,
)
_KEY_BARE_RE = re.compile(r"(?<![\w#])([A-G])(#|♯|b|♭)?\s*(major|minor|maj|min)\b")
_PITCH = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}


def parse_bpm(prompt: str | None) -> float | None:
    """'lofi beat at 90 bpm' -> 90.0; None when the prompt names no tempo."""
    if not prompt:
        return None
    m = _BPM_RE.search(prompt)
    return float(m.group(1)) if m else None


def parse_key(text: str | None) -> tuple[int, bool | None] | None:
    """'in F# minor' / 'A minor' / 'key of Eb' -> (pitch class, minor?) (minor None if unsaid)."""
    if not text:
        return None
    m = _KEY_RE.search(text) or _KEY_BARE_RE.search(text)
    if not m:
        return None
    letter, accidental, quality = m.group(1), m.group(2), m.group(3)
    if m.re is _KEY_RE and letter.islower() and accidental is None and quality is None:
        return None  # "in a groove", "in b..." are words, not keys
    pc = _PITCH[letter.lower()]
    if accidental:
        pc += 1 if accidental.lower() in {"#", "♯", "sharp"} else -1
    minor = None
    if quality:
        minor = quality.lower() in {"minor", "min", "m"}
    return pc % 12, minor


def key_arg(key: str) -> tuple[int, bool | None]:
    """The `key` argument: 'A minor', 'F#', 'Eb major', 'c#m' -> (pitch class, minor or None)."""
    return parse_key_name(key)


assert set(STYLE_WORDS) == set(STYLES) == set(EVAL_STYLE_WORDS)


# -- instruments named in a prompt ---------------------------------------------------------------
_LEAD_NOUNS = re.compile(r"\b(melody|melodies|lead|tune|solo|line|riff|hook)\b", re.IGNORECASE)
_VOICE_ROLES = {v: r for r, vs in VOICES.items() for v in vs if r != "lead"}
_VOICE_ROLES.update({v: "lead" for v in VOICES["lead"] if v not in _VOICE_ROLES})
_NAMED = sorted(
    [(w, v) for v, words in VOICE_WORDS.items() for w in words if w not in {"pluck", "bell-like", "mallet"}]
    + [(w, v) for v, words in TEXTURE_WORDS.items() for w in words]
    + [
        ("guitar strum", "steel_guitar"),
        ("strum", "steel_guitar"),
        ("rain", "rain"),
        ("guitar", "nylon_guitar"),
    ],
    key=lambda p: -len(p[0]),
)
_NAMED_RE = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(w) for w, _ in _NAMED) + r")(?![\w-])", re.IGNORECASE
)


def named_voices(prompt: str | None) -> dict[str, str]:
    """Instruments and textures a prompt names, as {role: voice}: 'solo piano melody' -> {'lead': 'piano'}.

    The score denoiser learned styles and roles from the captions better than the instrument
    words inside them, so a named instrument is imposed like a named tempo (see loops.py)."""
    if not prompt:
        return {}
    lookup = {w.lower(): v for w, v in _NAMED}
    wants_lead = bool(_LEAD_NOUNS.search(prompt))
    out: dict[str, str] = {}
    for m in _NAMED_RE.finditer(prompt):
        word = m.group(1).lower()
        voice = lookup[word]
        if voice in TEXTURE_WORDS:
            out.setdefault("texture", voice)
            continue
        if voice == "nylon_guitar" and "strum" in prompt.lower():
            voice = "steel_guitar"
        if wants_lead and voice in VOICES["lead"]:
            role = "lead"
        elif word == "guitar" and not wants_lead:  # a plain "guitar" accompanying is strummed steel strings
            role, voice = "keys", "steel_guitar"
        else:
            role = _VOICE_ROLES[voice]
        out.setdefault(role, voice)
    return out


_LOOP_NOUNS = re.compile(
    r"(?<![\w-])(loops?|beats?|grooves?|melod(?:y|ies)|basslines?|bass lines?|progressions?|arpeggios?|arps?|"
    r"riffs?|phrases?|patterns?|rhythms?|strum|strumming|comping|chords|ambience|soundscape|atmosphere)(?![\w-])",
    re.IGNORECASE,
)


def asks_for_music(prompt: str | None, one_shot_words: tuple[str, ...]) -> bool:
    """Whether a prompt plainly asks for a loop or phrase (a loop noun, or an instrument or texture
    the one-shot synth cannot make), once the one-shot vocabulary ('bassline note', 'synth pad') is removed."""
    if not prompt:
        return False
    shots = {w.lower() for w in one_shot_words}
    if any(m.group(1).lower() not in shots for m in _NAMED_RE.finditer(prompt)):
        return True
    text = prompt.lower()
    for w in sorted(shots, key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(w)}(?![\w-])", " ", text)
    return bool(_LOOP_NOUNS.search(text))


def names_any(prompt: str | None, words: tuple[str, ...]) -> bool:
    """Whether the prompt holds any of the words as a whole word or phrase."""
    text = (prompt or "").lower()
    return any(re.search(rf"(?<![\w-]){re.escape(w.lower())}(?![\w-])", text) for w in words)


_STYLE_NAMES = sorted(((w, s) for s, words in STYLE_WORDS.items() for w in words), key=lambda p: -len(p[0]))
_STYLE_RE = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(w) for w, _ in _STYLE_NAMES) + r")(?![\w-])", re.IGNORECASE
)


def named_style(prompt: str | None) -> str | None:
    """The drum style a prompt names in the training vocabulary ('deep house', 'jungle', 'boom bap'), if any."""
    m = _STYLE_RE.search(prompt or "")
    if not m:
        return None
    lookup = {w.lower(): s for w, s in _STYLE_NAMES}
    return lookup[m.group(1).lower()]
