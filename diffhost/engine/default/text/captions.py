"""Captions written from synth parameters, and the lexicon that maps producer slang onto them.

Training captions use CATEGORY_WORDS, DESCRIPTOR_WORDS and TRAIN_TEMPLATES only.
The evaluation uses EVAL_TEMPLATES and the lexicon's alias words, which no
training caption contains (tests check that), so it measures prompts the model
never saw.
"""

from __future__ import annotations

import re

import numpy as np

from diffhost.engine.default.music.synth import CATEGORIES, DESCRIPTORS, Sound

CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "kick": ("kick", "kick drum", "kickdrum", "drum machine kick", "analog kick", "kick hit"),
    "snare": ("snare", "snare drum", "snare hit", "backbeat snare", "analog snare"),
    "clap": ("clap", "claps", "clap sound", "layered clap", "drum machine clap"),
    "rim": ("rimshot", "rim shot", "rim click", "side stick", "rim"),
    "closed_hat": ("closed hat", "closed hi-hat", "closed hi hat", "tick hat", "closed cymbal tick"),
    "open_hat": ("open hat", "open hi-hat", "open hi hat", "open cymbal hat"),
    "tom": ("tom", "tom drum", "floor tom", "rack tom", "tom-tom"),
    "cymbal": ("crash", "crash cymbal", "cymbal", "cymbal crash", "ride cymbal"),
    "bass": ("bass", "bass note", "sub bass", "synth bass", "bassline note", "bass tone"),
    "pluck": ("pluck", "plucked synth", "synth pluck", "pluck note", "plucked note"),
    "pad": ("pad", "pad swell", "synth pad", "swelling pad", "ambient pad"),
    "lead": ("lead", "lead stab", "synth lead", "lead synth note", "lead hit"),
    "chord": ("chord stab", "chord hit", "stab chord", "synth chord", "chord"),
    "riser": ("riser", "rising sweep", "uplifter", "build-up riser", "tension riser"),
    "downlifter": ("downlifter", "falling sweep", "down sweep", "descending fx", "drop fx"),
    "sweep": ("noise sweep", "white noise sweep", "filtered noise sweep", "noise fx", "filter sweep"),
    "zap": ("zap", "laser", "laser zap", "sci-fi zap", "pew"),
    "impact": ("impact", "cinematic impact", "trailer hit", "impact hit", "heavy impact"),
}

# (words for the low end of the control, words for the high end)
DESCRIPTOR_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "pitch": (
        ("low", "deep", "low-pitched", "low-tuned"),
        ("high", "high-pitched", "high-tuned", "tuned-up"),
    ),
    "decay": (("short", "tight", "clipped", "staccato"), ("long", "ringing", "sustained", "long-tailed")),
    "bright": (("dark", "muffled", "warm", "dull"), ("bright", "crisp", "airy", "brilliant")),
    "punch": (("soft", "gentle", "smooth", "rounded"), ("punchy", "hard", "snappy", "aggressive")),
    "drive": (("clean", "pure", "pristine", "polished"), ("dirty", "distorted", "gritty", "saturated")),
    "width": (("narrow", "mono", "centered", "focused"), ("wide", "stereo", "spacious", "broad")),
}

TRAIN_TEMPLATES = (
    "{d} {c}",
    "a {d} {c}",
    "{c}, {d}",
    "{d} {c} one-shot",
    "{d} {c} sample",
    "{c} that sounds {d}",
    "one {d} {c}",
    "{d} {c} sound",
)
EVAL_TEMPLATES = (
    "give me a {d} {c}",
    "{c} for my track, {d}",
    "I need a {d} {c} please",
    "make a {d} {c}",
)

# Everyday and producer words -> caption vocabulary. None of these occurs in a training caption.
ALIASES: dict[str, str] = {
    "bass drum": "kick drum",
    "bassdrum": "kick drum",
    "bd": "kick",
    "808": "deep long kick",
    "909": "punchy kick",
    "thud": "kick",
    "thump": "kick",
    "handclap": "clap",
    "hand clap": "clap",
    "snap": "clap",
    "finger snap": "clap",
    "hihat": "closed hi-hat",
    "hats": "closed hat",
    "shaker": "closed hat",
    "tambourine": "closed hat",
    "whoosh": "noise sweep",
    "swoosh": "noise sweep",
    "swish": "noise sweep",
    "wind": "noise sweep",
    "boom": "impact",
    "explosion": "impact",
    "blip": "zap",
    "reese": "bass",
    "keys": "chord",
    "string": "pluck",
    "strings": "pad",
    "build": "riser",
}
_ALIAS_RE = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(a) for a in sorted(ALIASES, key=len, reverse=True))
    + r")(?:-like)?(?![\w-])",
    re.IGNORECASE,
)


def expand_aliases(prompt: str) -> str:
    """Rewrite slang the captions never use ("808", "handclap", "whoosh") into caption words."""
    return _ALIAS_RE.sub(lambda m: ALIASES[m.group(1).lower()], prompt)


def descriptor_words(sound: Sound, rng: np.random.Generator, threshold: float = 0.35) -> list[str]:
    """Words for the controls far from the middle, each mentioned with probability 0.75."""
    words = []
    for i, name in enumerate(DESCRIPTORS):
        v = sound.controls[i]
        if abs(v) > threshold and rng.uniform() < 0.75:
            lo, hi = DESCRIPTOR_WORDS[name]
            pool = hi if v > 0 else lo
            words.append(pool[rng.integers(len(pool))])
    rng.shuffle(words)
    return words


def caption(sound: Sound, rng: np.random.Generator, templates: tuple[str, ...] = TRAIN_TEMPLATES) -> str:
    names = CATEGORY_WORDS[sound.category]
    c = names[rng.integers(len(names))]
    words = descriptor_words(sound, rng)
    if len(words) > 2 and rng.uniform() < 0.5:
        d = ", ".join(words[:-1]) + " and " + words[-1]
    else:
        d = " ".join(words)
    t = templates[rng.integers(len(templates))]
    return re.sub(r"\s+", " ", t.format(d=d, c=c)).strip(" ,")


def describe(category: str, **descriptors: int) -> str:
    """A plain prompt from a category and descriptor signs, e.g. describe("kick", bright=+1)."""
    words = []
    for name, sign in descriptors.items():
        lo, hi = DESCRIPTOR_WORDS[name]
        words.append(hi[0] if sign > 0 else lo[0])
    return " ".join(words + [CATEGORY_WORDS[category][0]])


assert set(CATEGORY_WORDS) == set(CATEGORIES)
