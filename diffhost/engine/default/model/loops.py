"""v2 of the default model: loops and phrases of 1-30 s from a diffused parametric score.

Prompt -> MiniLM embedding -> DDIM over the 330-d score (score.py) with classifier-free
guidance -> decode -> render with the recorded bank and the procedural voices (arrange.py).
Tempo and key come from the request, else the prompt ("at 90 bpm", "in F# minor"), else
the model (a whole-number tempo, nudged at most 12 % so the length is whole bars and loops).
A loop is exactly round(bars x bar x rate) samples at any rate: it is rendered at 44.1 kHz to
round(bars x bar x 44100) samples with every tail folded onto its start, and resampled as a circle.
When a loop is meant (bars=, a prompt that says loop / groove / beat, or a set tempo with drums or
bass playing) a length in seconds that is not whole bars snaps to the nearest whole bars; the
result's music says what was rendered and which setting chose the tempo and the key.
Known values are imposed by inpainting during sampling: a given tempo or mode for every
step; a seed clip's drum grid or melody for the first (1 - strength) of the steps, so low
strength follows the clip closely and 1 ignores it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diffhost import paths
from diffhost.engine.audio import fit_length, resample, resample_loop
from diffhost.engine.default.model.nets import ParamDenoiser, PromptHeads, Router
from diffhost.engine.default.model.sampler import DDIMSampler, denoise
from diffhost.engine.default.music import arrange, patterns, score, seedsteer
from diffhost.engine.default.music.bank import Bank, load_bank
from diffhost.engine.default.text import captions, loop_captions
from diffhost.engine.errors import UnsupportedRequestError
from diffhost.engine.model import StepMonitor
from diffhost.engine.request import GenerationRequest, bar_seconds, loop_samples

SR = 44100
ONE_SHOT_MAX_S = 4.0
ROUTER_THRESHOLD = 0.9
# v1's category words, plus the v2 voice words that name a sound the one-shot synth makes as a hit
# ("808 bass, dirty" at 1 s is an 808 hit, not a bar of bassline).
ONE_SHOT_WORDS = tuple(w for words in captions.CATEGORY_WORDS.values() for w in words) + (
    "808 bass",
    "booming 808",
)
# What the prompt heads must be sure of before their answer is imposed (see `_heard`).
STYLE_SURE = 0.4
ROLE_ON, ROLE_OFF = 0.8, 0.5
VOICE_SURE = 0.8
# A length this close to whole bars is whole bars: lengths are typed to 0.01 s (two bars at 90 bpm
# are 5.333... s, typed 5.33); the loop keeps the exact tempo and its last sixteenth is that much short.
WHOLE_BARS_TOLERANCE_S = 0.01
SNAP_TOLERANCE = 0.12  # a free tempo moves at most this much to make the length whole bars
STYLE_TEMPO_SLACK = 0.06  # how far past its style's usual tempo range a free groove tempo may snap
MAX_LOOP_S = 30.0  # the model's longest render
# Words that ask for something to loop (a "phrase", "melody" or "riff" may end instead).
_LOOP_WORDS = re.compile(r"(?<![\w-])(loop(?:s|able|ing|ed)?|grooves?|beats?|vamps?|ostinato)(?![\w-])", re.I)
L = score.LAYOUT


@dataclass(frozen=True)
class Plan:
    """What one request resolved to before sampling."""

    bpm: float | None
    key: tuple[int, bool | None] | None
    analysis: seedsteer.SeedAnalysis | None
    seed_audio: np.ndarray | None
    bpm_from: str = "model"  # "bpm setting", "prompt", "seed clip" or "model": who chose the tempo
    key_from: str = "model"
    notes: tuple[str, ...] = ()  # what overrode what, in words


# Words that make a phrase or a loop of whatever they name ("deep bass line" is not one bass hit).
_PHRASE_WORDS = re.compile(
    r"(?<![\w-])(lines?|basslines?|riffs?|grooves?|patterns?|progressions?|loop(?:s|able|ing)?|"
    r"melod(?:y|ies)|arpeggios?|sequences?|phrases?)(?![\w-])",
    re.I,
)
# Words that name a part; "no drums" / "without bass" name one that must stay out.
_ROLE_WORDS = {
    "drums": r"drums?|beats?|breakbeats?|percussion|kicks?|snares?|hi-?hats?|hats",
    "bass": r"bass(?:lines?)?|808s?|sub(?:-| )?bass",
    "keys": r"chords?|piano|keys|rhodes|electric piano|organ|comping|strum(?:s|ming)?",
    "pad": r"pads?|strings",
    "arp": r"arp(?:s|eggios?|eggiated)?",
    "lead": r"melod(?:y|ies)|leads?|hooks?|solos?|flute|violin",
    "texture": r"rain|vinyl|crackle|wind|drones?|ambience|atmosphere|textures?|soundscapes?",
}
_DNB = re.compile(r"drum\s*(?:n|and|&|'n'|'n|n')\s*bass", re.I)
_ROLE_RES = {r: re.compile(rf"(?<![\w-])({w})(?![\w-])", re.I) for r, w in _ROLE_WORDS.items()}
_NEGATED = re.compile(r"(?<![\w-])(?:no|without|minus)\s+(?:any\s+|the\s+)?([\w-]+(?:\s+[\w-]+)?)", re.I)
# "pad chords" are the chords a pad holds (a pad word of the training captions), not a second, comped part.
_PAD_CHORDS = re.compile(r"(?<![\w-])(pads?)\s+chords?(?![\w-])", re.I)
# From this mix on, "pad chords" name the pad alone and an ambient piece that names no part is its pad.
PAD_READING_MIX = 4
# From this mix on, a pad asked for with no style word is a song's pad (see `_song_pad`), played at the
# request's tempo, else at this neutral one (most DAWs open a new song at 120 bpm).
SONG_PAD_MIX = 4
SONG_PAD_BPM = 120.0
# From this mix on, an ambient piece (see `_heard`) with no tempo set keeps its style's slow tempo range and,
# when its length snaps to whole bars, an even number of them: its chords change every two bars, so an odd
# count would cut the last chord to one bar at every repeat of the loop.
AMBIENT_PIECE_MIX = 4


def named_roles(prompt: str | None, mix: int = arrange.MIX) -> dict[str, bool]:
    """{role: plays?} for the parts a prompt names in so many words: 'drum loop with bass and chords'
    -> drums, bass, keys on; 'beat without drums' -> drums off. A piano named with a melody is the
    melody's voice, not chords; 'warm pad chords' names the pad only (mixes before PAD_READING_MIX
    also heard keys in it, and keep doing so, so their clips render again as they were)."""
    if not prompt:
        return {}
    out: dict[str, bool] = {}
    # "drum n bass" is a style, not two parts.
    prompt = _DNB.sub(" ", loop_captions._STYLE_RE.sub(" ", prompt))
    if mix >= PAD_READING_MIX:
        prompt = _PAD_CHORDS.sub(r"\1", prompt)
    negated = " ".join(m.group(1) for m in _NEGATED.finditer(prompt))
    text = _NEGATED.sub(" ", prompt)
    for role, rx in _ROLE_RES.items():
        if rx.search(negated):  # "a beat without drums": the refusal is the more specific word
            out[role] = False
        elif rx.search(text):
            out[role] = True
    if out.get("lead") and out.get("keys") and not re.search(r"chords?|comping|strum", text, re.I):
        del out["keys"]  # "piano melody": the piano plays the melody
    return out


def _song_pad(
    prompt: str | None, style: str | None, roles: dict[str, bool], voices: dict[str, str], mix: int
) -> bool:
    """Does the prompt ask for a song's pad: it names the pad (its part or one of its instruments) and
    no other part, and no style word, and nothing but the beatless default gave it a style? "warm pad
    chords" is what a producer drops into a song: sustained chords that change with the song's bars,
    at its tempo. Earlier mixes played such a prompt as an ambient piece (slow chords drifting every two
    bars), because pads with no style word were trained as ambient so that no drum style's rhythm
    would come with them; a song's pad has none either (a pad only holds chords, in every style). A
    texture ("evolving pad" is one) stays ambient, and a style word ("house pad") keeps its style."""
    if mix < SONG_PAD_MIX or not prompt or loop_captions.named_style(prompt) is not None:
        return False
    if style is not None and style not in score.BEATLESS_STYLES:
        return False  # the heads heard a style in other words ("chamber ensemble pad")
    named = {r for r, on in named_roles(prompt, mix).items() if on} | set(voices)
    return named == {"pad"} and not any(on for r, on in roles.items() if r not in ("pad", "texture"))


def asks_for_loop(prompt: str | None) -> bool:
    """'techno loop', 'funk groove', 'trap beat': the producer wants whole bars that repeat."""
    return bool(prompt and _LOOP_WORDS.search(prompt))


class LoopMaker:
    def __init__(
        self,
        folder: Path,
        sampler: DDIMSampler,
        device: torch.device,
        dtype: torch.dtype,
        classes: dict[str, Any] | None = None,
    ):
        classes = classes or {}  # model_index.json's classes (nets.component_classes)
        self.denoiser = (
            classes.get("score_denoiser", ParamDenoiser)
            .from_pretrained(folder / "score_denoiser", dtype=dtype)
            .to(device)
            .eval()
        )
        self.router = classes.get("router", Router).from_pretrained(folder / "router").eval()
        heads = folder / "prompt_heads"
        self.heads = (
            classes.get("prompt_heads", PromptHeads).from_pretrained(heads).eval() if heads.is_dir() else None
        )
        self.sampler = sampler
        self.device, self.dtype = device, dtype
        self._banks: dict[str | None, Bank] = {}
        self._folder, self._classes = folder, classes
        self._old_nets: dict[int, tuple[ParamDenoiser, PromptHeads | None]] = {}

    def nets(self, mix: int) -> tuple[ParamDenoiser, PromptHeads | None]:
        """(score denoiser, prompt heads) for a mix version. A folder whose networks were retrained keeps
        the networks every older mix was made with beside the new ones: score_denoiser_v<k>/ and
        prompt_heads_v<k>/ serve mix k and the mixes before it that have no folder of their own (loaded
        on first use), so a clip made with an older mix renders again as it was. The newest mixes use
        score_denoiser/ and prompt_heads/."""
        kept = [k for k in arrange.MIX_VERSIONS if k >= mix and (self._folder / f"score_denoiser_v{k}").is_dir()]
        if not kept:
            return self.denoiser, self.heads
        k = kept[0]
        if k not in self._old_nets:
            old = self._folder / f"score_denoiser_v{k}"
            denoiser = ParamDenoiser.from_pretrained(old, dtype=self.dtype).to(self.device).eval()
            heads_dir = self._folder / f"prompt_heads_v{k}"
            heads = PromptHeads.from_pretrained(heads_dir).eval() if heads_dir.is_dir() else None
            self._old_nets[k] = (denoiser, heads)
        return self._old_nets[k]

    def bank(self, mix: int = arrange.MIX) -> Bank:
        """The recorded bank a mix version plays: $DIFFHOST_BANK's when it is set, else the one that mix
        was made with (arrange.MIX_BANKS: the first mix knew only FluidR3), else the default bank."""
        name = None if paths.env(paths.BANK_ENV) else arrange.MIX_BANKS.get(mix)
        if name not in self._banks:  # memory-mapped cache; built from the soundfont on first use
            self._banks[name] = load_bank(name=name)
        return self._banks[name]

    # -- routing ---------------------------------------------------------------------------
    def plan(self, request: GenerationRequest) -> Plan:
        prompt = request.prompt or ""
        said_bpm, said_key = loop_captions.parse_bpm(prompt), loop_captions.parse_key(prompt)
        notes = []
        bpm, bpm_from = request.bpm, "bpm setting"
        if bpm is None:
            bpm, bpm_from = said_bpm, "prompt" if said_bpm is not None else "model"
        elif said_bpm is not None and said_bpm != bpm:
            notes.append(f"the bpm setting ({bpm:g}) wins over the prompt's {said_bpm:g} bpm")
        key: tuple[int, bool | None] | None
        if request.key:
            key, key_from = loop_captions.key_arg(request.key), "key setting"
            if said_key is not None and said_key != key:
                notes.append(f"the key setting ({request.key}) wins over the prompt's key")
        else:
            key, key_from = said_key, "prompt" if said_key is not None else "model"
        analysis = audio = None
        if request.seed_clip is not None:
            audio = resample(request.seed_clip.audio, request.seed_clip.sample_rate, SR).mean(axis=0)
            analysis = seedsteer.analyze(audio)
        return Plan(bpm, key, analysis, audio, bpm_from, key_from, tuple(notes))

    def wants_loop(self, request: GenerationRequest, plan: Plan, cond: torch.Tensor) -> bool:
        if request.length > ONE_SHOT_MAX_S or request.bars is not None:
            return True
        if request.prompt and _PHRASE_WORDS.search(request.prompt):
            return True  # "deep bass line", "guitar riff": a phrase, never one hit
        if plan.analysis is not None and (plan.analysis.is_rhythmic or plan.analysis.is_melodic):
            return True
        timed = plan.bpm is not None or plan.key is not None
        if not (request.prompt and request.prompt.strip()):
            return timed
        if loop_captions.asks_for_music(request.prompt, ONE_SHOT_WORDS):
            return True
        # At one-shot lengths a prompt is a one-shot unless the router is sure it asks for a loop:
        # v1's own prompts ("snare for my track") sit near 0.5-0.8, loop prompts near 1.
        with torch.inference_mode():
            if bool(self.router(cond)[0] > ROUTER_THRESHOLD):
                return True
        # A tempo or key (the session's, set for the pads) makes a loop of what is not plainly a
        # one-shot, but "punchy analog kick" at 120 bpm is still a kick, not a 0.5-bar phrase.
        return timed and not loop_captions.names_any(request.prompt, ONE_SHOT_WORDS)

    def _heard(
        self, prompt: str | None, cond: torch.Tensor, mix: int = arrange.MIX
    ) -> tuple[str | None, dict[str, bool], dict[str, str], bool]:
        """(style, {role: plays?}, {role: voice}, an ambient piece?) the prompt asks for, to impose
        while sampling.

        Words of the training vocabulary are read directly (`named_style`, `named_voices`); the
        prompt heads add what MiniLM generalises ("drum n bass", "lo fi hip-hop") and which roles
        the prompt asks for and which it does not, so a "drum loop" gets no lead line. Only sure
        answers are imposed; the rest is the denoiser's to choose."""
        heads = self.nets(mix)[1]
        style = loop_captions.named_style(prompt)
        voices = loop_captions.named_voices(prompt)
        if mix == 1:  # the first mix's renders knew only the older vocabulary: the same words, the same clip
            style = style if style in score.STYLES[: score.LEGACY_SIZES["style"]] else None
            voices = {
                r: v
                for r, v in voices.items()
                if v in score.VOICES[r][: score.LEGACY_SIZES.get(f"voice_{r}", 99)]
            }
        roles: dict[str, bool] = {}
        if heads is None or not (prompt and prompt.strip()):
            return style, roles, voices, False
        with torch.inference_mode():
            p_style, p_roles, p_voices = heads(cond.float().cpu())
        if style is None:
            top = torch.topk(p_style[0], 2)
            if float(top.values[0]) >= STYLE_SURE and float(top.values[0]) >= 2 * float(top.values[1]):
                style = score.STYLES[int(top.indices[0])]
        named = {r for r in voices}
        if float(p_roles[0].max()) >= ROLE_ON or named:
            # The prompt names its parts: those it names play, those below even odds stay out.
            for j, role in enumerate(score.ROLES):
                p = float(p_roles[0, j])
                if role in named or p >= ROLE_ON:
                    roles[role] = True
                elif p < ROLE_OFF:
                    roles[role] = False
        if (
            mix >= 2
            and style is None
            and any(roles.values())
            and all(r in ("pad", "texture") for r, on in roles.items() if on)
        ):
            style = "ambient"  # pads and textures with no style word: no drum style's rhythm under them
        piece = (
            mix >= PAD_READING_MIX
            and style in score.BEATLESS_STYLES
            and not voices
            and not any(roles.values())
            and not named_roles(prompt, mix)
        )
        if piece:
            # A style named alone is that style's core part: "a techno track" is its drums (the only
            # scores captioned with a drum style alone are drum parts), and an ambient piece is its pad,
            # the part most ambient scenes are built on. The networks learned this less well for the
            # beatless style: its style-only captions also went to rain, wind or vinyl heard on their
            # own (a texture with no style word is trained as ambient), so a piece came out as a
            # texture, often crackle or rain. A texture, lead or arp plays when the prompt names it.
            roles.update({r: r == "pad" for r in score.ROLES})
        voiced = [r for r in score.ROLES if r in score.VOICES]
        for j, role in enumerate(voiced):
            if role in voices or not roles.get(role):
                continue
            p = p_voices[j][0]
            if float(p.max()) >= VOICE_SURE:
                voices[role] = score.VOICES[role][int(p.argmax())]
        return style, roles, voices, piece

    # -- sampling ----------------------------------------------------------------------------
    @torch.inference_mode()
    def render(
        self,
        request: GenerationRequest,
        plan: Plan,
        cond: torch.Tensor,
        uncond: torch.Tensor,
        *,
        seed: int,
        steps: int,
        guidance: float,
        monitor: StepMonitor,
    ) -> tuple[np.ndarray, dict]:
        """A loop or phrase for the request: (audio (variations, 2, samples), extra with "music"
        and, when asked for, "stems" and "midi")."""
        # 1. The noise each variation starts from, and the noise known values are imposed with; the
        #    networks of the mix version asked for (an old recipe's clip renders again as it was).
        mix = arrange.mix_version(request.mix)
        dim = self.nets(mix)[0].config["param_dim"]
        gen = torch.Generator("cpu").manual_seed(seed)
        noise = torch.randn((request.variations, dim), generator=gen) * request.temperature
        clamp_noise = torch.randn((1, dim), generator=gen)
        # 2. What is known before sampling (tempo, key, style, parts, voices, a seed clip's notes).
        known = self._known(request, plan, cond, np.random.default_rng([seed, 77]), mix)
        # 3. Sample the scores with the known values imposed.
        x = self._sample(noise, clamp_noise, known, cond, uncond, steps=steps, guidance=guidance, monitor=monitor)
        # 4. Decode them into scores that follow their style's grammar.
        scores = _decode(x, known)
        # 5. The tempo, whether it loops, and how many bars and seconds it lasts.
        timing = _timing(request, plan, scores, known)
        # 6. Play each score with the recorded bank and the synth voices.
        audio, music, stems, notes_played = self._play(request, plan, scores, known, timing, seed)
        # 7. Fit the audio (and its stems) to the sample rate and length asked for.
        return _fit(request, audio, timing, music, stems, notes_played)

    def _known(
        self, request: GenerationRequest, plan: Plan, cond: torch.Tensor, rng: np.random.Generator, mix: int
    ) -> Known:
        """Step 2: the tempo and key (the request's, the prompt's, else a seed clip's estimate), the
        style, parts and voices the prompt asks for, and a seed clip's rhythm or melody."""
        known = np.zeros(score.SCORE_DIM, dtype=bool)
        values = np.zeros(score.SCORE_DIM, dtype=np.float32)
        always = np.zeros(score.SCORE_DIM, dtype=bool)
        bpm, bpm_from, key_from = plan.bpm, plan.bpm_from, plan.key_from
        seed_info: dict = {}
        a = plan.analysis
        if a is not None and bpm is None and (a.is_rhythmic or a.is_melodic):
            times = a.onsets if a.is_rhythmic else np.array([n.start for n in a.notes])
            estimate = seedsteer.estimate_tempo(times)
            if estimate is not None:
                bpm, bpm_from = float(round(estimate)), "seed clip"  # a whole number
        key = plan.key
        if a is not None and a.is_melodic and (key is None or key[1] is None):
            tonic, minor = seedsteer.estimate_key(a.notes)
            key = (key[0], minor) if key is not None else (tonic, minor)
            key_from = "seed clip" if plan.key is None else key_from
        if bpm is not None:
            i = L["controls"].start + score.CONTROLS.index("tempo")
            known[i] = always[i] = True
            values[i] = score.tempo_to_unit(bpm)
        if key is not None and key[1] is not None:
            i = L["controls"].start + score.CONTROLS.index("mode")
            known[i] = always[i] = True
            values[i] = -1.0 if key[1] else 1.0
        style, roles, voices, piece = self._heard(request.prompt, cond, mix)
        roles.update(named_roles(request.prompt, mix))  # the prompt's own words beat the heads' guesses
        song_pad = _song_pad(request.prompt, style, roles, voices, mix)
        if song_pad:
            # The pad alone, in a style whose chords change every bar, at a song tempo; which such
            # style is the denoiser's choice (a pad holds its chords the same way in all of them).
            roles = {r: r == "pad" for r in score.ROLES}
            style = None
            sl = L["style"]
            for j, st in enumerate(score.STYLES):
                if st in score.BEATLESS_STYLES or st in patterns.HARMONIC_BARS:
                    known[sl.start + j] = always[sl.start + j] = True
                    values[sl.start + j] = -1.0
            if bpm is None:
                bpm = SONG_PAD_BPM
                i = L["controls"].start + score.CONTROLS.index("tempo")
                known[i] = always[i] = True
                values[i] = score.tempo_to_unit(bpm)
        if style is not None:  # a named style is imposed the same way (the pattern follows it)
            sl = L["style"]
            known[sl] = always[sl] = True
            values[sl] = [1.0 if st == style else -1.0 for st in score.STYLES]
        for role, on in roles.items():
            i = L["roles"].start + score.ROLES.index(role)
            known[i] = always[i] = True
            values[i] = 1.0 if on else -1.0
        for role, voice in voices.items():
            # An instrument the prompt names is imposed like a named tempo: the voice and its role.
            sl = L[f"voice_{role}"]
            known[sl] = always[sl] = True
            values[sl] = [1.0 if v == voice else -1.0 for v in score.VOICES[role]]
            i = L["roles"].start + score.ROLES.index(role)
            known[i] = always[i] = True
            values[i] = 1.0
        tonic = key[0] if key is not None else int(rng.integers(12))
        if song_pad:
            # A song's chord changes: a progression of the songs the generator writes (in the key's mode,
            # else one drawn as often minor as in training). Prompted towards pads with no style, the
            # networks drift between one or two near chords, as an ambient piece does.
            mode = L["controls"].start + score.CONTROLS.index("mode")
            minor = bool(key[1]) if key is not None and key[1] is not None else bool(rng.uniform() < 0.6)
            known[mode] = always[mode] = True
            values[mode] = -1.0 if minor else 1.0
            chords = -np.ones((score.CHORD_BARS, 7), dtype=np.float32)
            chords[np.arange(score.CHORD_BARS), patterns.progression(minor, rng)] = 1.0
            known[L["chords"]] = always[L["chords"]] = True
            values[L["chords"]] = chords.ravel()
        if a is not None and a.is_rhythmic and bpm is not None:
            seed_info = _seed_rhythm(a, bpm, known, values)
        elif a is not None and a.is_melodic and bpm is not None:
            # A hummed line goes to the part the prompt asks for: "bass line" puts it on the bass.
            part = "bass" if roles.get("bass") and not roles.get("lead") else "lead"
            seed_info = _seed_melody(a, bpm, tonic, bool(key[1]) if key else True, known, values, part=part)
        # A seed steers the parts; the prompt chooses them: the parts it names stay as it says.
        for role, on in roles.items():
            values[L["roles"].start + score.ROLES.index(role)] = 1.0 if on else -1.0
        for role in voices:
            values[L["roles"].start + score.ROLES.index(role)] = 1.0
        return Known(
            known=known,
            always=always,
            values=values,
            bpm=bpm,
            bpm_from=bpm_from,
            key=key,
            key_from=key_from,
            tonic=tonic,
            seed_info=seed_info,
            strength=request.strength if seed_info else 1.0,
            mix=mix,
            ambient_piece=piece and mix >= AMBIENT_PIECE_MIX and not seed_info,
        )

    def _sample(
        self,
        noise: torch.Tensor,
        clamp_noise: torch.Tensor,
        known: Known,
        cond: torch.Tensor,
        uncond: torch.Tensor,
        *,
        steps: int,
        guidance: float,
        monitor: StepMonitor,
    ) -> np.ndarray:
        """Step 3: denoise with the known values imposed by inpainting: each step they are put back,
        noised to the step's level; a seed clip's only for the first (1 - strength) of the steps."""
        v = noise.shape[0]
        # Weights trained on the older, smaller score layout sample in it (see score.legacy_index).
        denoiser = self.nets(known.mix)[0]
        legacy = denoiser.config["param_dim"] != score.SCORE_DIM
        clamp_until = int(round(steps * (1.0 - known.strength)))
        mask_all = torch.tensor(known.known)
        mask_always = torch.tensor(known.always)
        target = torch.tensor(known.values)[None].expand(v, -1)
        idx = torch.tensor(score.legacy_index()) if legacy else slice(None)

        def impose(k: int, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            mask = (mask_all if k < clamp_until else mask_always)[idx]
            if mask.any():
                noised = self.sampler.add_noise(target[:, idx], clamp_noise.expand(v, -1), t.repeat(v))
                x = torch.where(mask, noised, x)
            return x

        x = denoise(
            denoiser,
            self.sampler,
            noise,
            cond,
            uncond,
            timesteps=self.sampler.timesteps(steps),
            steps=steps,
            guidance=float(guidance),
            device=self.device,
            dtype=self.dtype,
            monitor=monitor,
            impose=impose,
        )
        if legacy:  # the newer one-hot entries stay off unless imposed below
            x = torch.full((v, score.SCORE_DIM), -1.0).index_copy(1, idx, x)
        final = mask_all if clamp_until >= steps else mask_always
        return torch.where(final, target, x).numpy()

    def _play(
        self,
        request: GenerationRequest,
        plan: Plan,
        scores: list[score.Score],
        known: Known,
        timing: Timing,
        seed: int,
    ) -> tuple[list[np.ndarray], list[dict], list[dict[str, np.ndarray]], list]:
        """Step 6: each score at the resolved tempo and key, played at the mix's render rate (the output
        rate, or 44.1 kHz for the older mixes): (audio, music info, stems, the notes played) per variation."""
        key, seed_info = known.key, known.seed_info
        tempo, bars, length, loop = timing.tempo, timing.bars, timing.length, timing.loop
        audio, music, stems, notes_played = [], [], [], []
        for i, s in enumerate(scores):
            s.tempo = tempo
            if key is not None and key[1] is not None:
                s.minor = key[1]
            if seed_info.get("roles"):
                s.roles |= seed_info["roles"]
            _apply_seed_extras(s, seed_info, plan, known.strength, np.random.default_rng([seed, i, 5]))
            parts: dict[str, np.ndarray] | None = {} if request.stems else None
            events: list | None = [] if request.midi else None
            audio.append(
                arrange.render_mixed(
                    known.mix,
                    s,
                    self.bank(known.mix),
                    length,
                    loop,
                    np.random.default_rng([seed, i]),
                    num_samples=timing.n_native,
                    rate=timing.rate,
                    stems=parts,
                    events=events,
                    drum_lanes=False,
                )
            )
            if parts is not None:
                stems.append(parts)
            if events is not None:
                notes_played.append([list(e) for e in events])
            music.append(
                {
                    "bpm": round(tempo, 3),
                    "key": s.key_name,
                    "bars": round(bars, 4),
                    "loop": loop,
                    "length_s": round(length, 6),
                    "beats": round(bars * 4, 4),
                    "set_by": {"bpm": known.bpm_from, "key": known.key_from},
                    "notes": timing.notes,
                    "roles": sorted(s.roles),
                    "style": s.style,
                    "voices": {r: s.voices[r] for r in sorted(s.roles) if r in s.voices},
                    "bank": self.bank(known.mix).hash,
                    "mix": known.mix,
                }
            )
        return audio, music, stems, notes_played


@dataclass(frozen=True)
class Known:
    """Step 2's answer: the score values imposed while sampling, and who chose the tempo and key."""

    known: np.ndarray  # (SCORE_DIM,) bool: imposed for the first (1 - strength) of the steps
    always: np.ndarray  # (SCORE_DIM,) bool: imposed at every step (a set tempo, key, style, part)
    values: np.ndarray  # (SCORE_DIM,) the values imposed
    bpm: float | None
    bpm_from: str
    key: tuple[int, bool | None] | None
    key_from: str
    tonic: int  # the key's tonic, drawn when nothing names it
    seed_info: dict  # what a seed clip contributed ("kind": "rhythm" or "melody", its roles)
    strength: float  # how far a seed clip is re-imagined (1.0 without one)
    mix: int  # the mix version (arrange.MIX_VERSIONS): its networks, decoding rules and renderer
    ambient_piece: bool = False  # an ambient piece naming no part: its style's tempo, whole chords at the seam


@dataclass(frozen=True)
class Timing:
    """Step 5's answer: what the render lasts."""

    tempo: float
    loop: bool
    bars: float
    length: float  # seconds
    n_native: int  # samples at the render rate
    rate: int  # the rate the score is rendered at (arrange.render_rate): the output rate, or SR for old mixes
    notes: list[str]  # what overrode what, in words


def _decode(x: np.ndarray, known: Known) -> list[score.Score]:
    """Step 4: sampled vectors -> scores whose drums and bass follow their style's grammar."""
    scores = [score.decode(x[i], tonic=known.tonic) for i in range(x.shape[0])]
    for s in scores:
        if known.mix >= 2:  # (the first mix decoded neither rule: its clips render again as they were)
            if s.style in score.BEATLESS_STYLES:  # ambient has no beat: its parts play without drums
                s.roles = (s.roles - {"drums"}) or {"pad"}
            s.swing = float(np.clip(s.swing, *patterns.DRUM_STYLES[s.style]["swing"]))  # jazz swings
        # Decode the smeared grid cells onto the style's grammar; a seed's rhythm is its own.
        if known.seed_info.get("kind") != "rhythm":
            s.drums = patterns.fit_drums(s.style, s.drums)
        s.bass_on = patterns.fit_bass_rhythm(s.style, s.bass_on)
    return scores


def _timing(request: GenerationRequest, plan: Plan, scores: list[score.Score], known: Known) -> Timing:
    """Step 5: the tempo (the set one, else the sampled one made whole), whether it loops, and its
    bars and length; a length that is not whole bars of a loop snaps to them, and says so."""
    bpm = known.bpm
    # Guidance can push a free tempo past anything in training (65-178 bpm); keep it inside, and
    # a groove inside its style's own tempo range (funk at 120 or techno at 110 is another style).
    sampled = float(np.clip(scores[0].tempo, 65.0, 178.0))
    style_range = style_tempo_range(scores[0]) if bpm is None else None
    # An ambient piece is slow like its style (a set tempo still wins) and, when it loops, lasts whole pairs
    # of bars, so each of its two-bar chords is heard whole, also across the seam.
    piece = known.ambient_piece and bpm is None
    if piece:
        lo, hi = patterns.DRUM_STYLES[scores[0].style]["tempo"]
        style_range = float(lo), float(hi)
    if style_range is not None:
        sampled = float(np.clip(sampled, *style_range))
    groove = any(("drums" in sc.roles or "bass" in sc.roles) for sc in scores)
    meant = request.bars is not None or asks_for_loop(request.prompt) or (bpm is not None and groove)
    tempo, loop, bars = _resolve_tempo(
        sampled, bpm, request.length, style_range, bars=request.bars, loop_meant=meant, even_bars=piece
    )
    length = bars * bar_seconds(tempo) if loop else request.length
    if length > MAX_LOOP_S + 1e-6:
        raise UnsupportedRequestError(
            f"bars: {bars:g} bars at {tempo:g} bpm last {length:.2f} s, out of range for model "
            f"diffhost-default; valid is at most {MAX_LOOP_S:g} s ({int(MAX_LOOP_S / bar_seconds(tempo))} bars "
            f"at {tempo:g} bpm)"
        )
    rate = arrange.render_rate(known.mix, request.sample_rate)
    n_native = loop_samples(bars, tempo, rate) if loop else int(round(length * rate))
    notes = list(plan.notes)
    if loop and request.bars is None and abs(length - request.length) > 0.5 / request.sample_rate:
        notes.append(
            f"{request.length:g} s is not whole bars at {tempo:g} bpm: rendered {bars:g} bar"
            f"{'' if bars == 1 else 's'} ({length:.3f} s) so it loops"
        )
    return Timing(tempo=tempo, loop=loop, bars=bars, length=length, n_native=n_native, rate=rate, notes=notes)


def _fit(
    request: GenerationRequest,
    audio: list[np.ndarray],
    timing: Timing,
    music: list[dict],
    stems: list[dict[str, np.ndarray]],
    notes_played: list,
) -> tuple[np.ndarray, dict]:
    """Step 7: the audio to the asked rate and exact length. A loop is resampled as a circle, so
    the seam stays smooth. With stems, each part is resampled once and the mix is their sum
    (resampling is linear): the stems add up to the mix exactly, and the mix is not resampled a
    second time."""
    loop = timing.loop
    extra: dict = {"music": music}
    m = loop_samples(timing.bars, timing.tempo, request.sample_rate) if loop else request.num_samples

    def fit(x: np.ndarray) -> np.ndarray:
        """A part panned to the centre (bass, lead) has two equal channels: one is resampled."""
        if request.sample_rate == timing.rate and x.shape[-1] == m:
            return x
        # (the first samples tell most stereo parts apart without comparing all of them)
        if x.shape[0] == 2 and np.array_equal(x[0, :64], x[1, :64]) and np.array_equal(x[0], x[1]):
            return np.repeat(fit(x[:1]), 2, axis=0)
        if loop:
            return resample_loop(x, m)
        return fit_length(resample(x, timing.rate, request.sample_rate), m)

    if request.stems:
        extra["stems"] = [{role: fit(x) for role, x in sorted(p.items())} for p in stems]
        # Each mix is its stems added up in place, one after another (the same sums, no stacked copy).
        out = np.empty((len(stems), 2, m), dtype=np.float32)
        for mixed, p in zip(out, extra["stems"], strict=True):
            first, *rest = p.values()
            mixed[:] = first
            for x in rest:
                mixed += x
    elif request.sample_rate != timing.rate:
        out = np.stack([fit(a) for a in audio])
    else:
        out = np.stack(audio)
    if request.sample_rate != SR:
        extra["native_sample_rate"] = request.sample_rate
    if loop:
        extra["num_samples"] = m
    if request.midi:
        # The notes each variation played (part, seconds, MIDI note, seconds held, velocity 0..1);
        # the host writes them as a Standard MIDI File with the tempo, key and voices in "music".
        extra["score_notes"] = notes_played
    return out, extra


def style_tempo_range(s: score.Score) -> tuple[float, float] | None:
    """The tempo range a groove's style is played at (the training patterns' range), when drums play."""
    if "drums" not in s.roles:
        return None
    lo, hi = patterns.DRUM_STYLES[s.style]["tempo"]
    return float(lo), float(hi)


def _resolve_tempo(
    sampled: float,
    bpm: float | None,
    length: float,
    style_range: tuple[float, float] | None = None,
    *,
    bars: float | None = None,
    loop_meant: bool = False,
    even_bars: bool = False,
) -> tuple[float, bool, float]:
    """(tempo, loops?, bars). A loop lasts bars x 240 / tempo; a phrase lasts `length`.

    A tempo the model chooses is a whole number: the sampled one nudged (at most 12 %, and within
    STYLE_TEMPO_SLACK of a groove's style range, inside it if it can) so the length is whole bars
    (to WHOLE_BARS_TOLERANCE_S: 10 s is 5 bars at 120, 8 s of funk 3 bars at 90).
    When a loop is meant, a length that fits no such tempo snaps to the nearest whole bars (at
    least one) at the nearest whole tempo; otherwise it stays a phrase of the length asked for.
    A set tempo (the request's or the prompt's) is kept as it is. With even_bars a length that snaps
    does so to an even number of bars (two-bar chords then wrap whole at the seam); bars asked for
    are kept as asked."""
    lo, hi = style_range or score.TEMPO_RANGE
    if bars is not None:
        if bpm is not None:
            return float(bpm), True, float(bars)
        fastest = math.floor(score.TEMPO_RANGE[1])
        slowest = max(math.ceil(bars * 240.0 / MAX_LOOP_S), math.ceil(score.TEMPO_RANGE[0]))
        tempo = int(round(np.clip(sampled, math.ceil(lo), math.floor(hi))))
        return float(min(max(tempo, slowest), fastest)), True, float(bars)
    if bpm is not None:
        step = 2 if even_bars else 1
        whole = max(step, step * round(length * bpm / 240.0 / step))
        if whole * 240.0 / bpm > MAX_LOOP_S + 1e-9 and whole > step:
            whole -= step
        if loop_meant or abs(length - whole * 240.0 / bpm) <= WHOLE_BARS_TOLERANCE_S:
            return float(bpm), True, float(whole)
        return float(bpm), False, float(length * bpm / 240.0)
    fits = []
    for tempo in range(
        math.ceil(sampled * (1 - SNAP_TOLERANCE)), math.floor(sampled * (1 + SNAP_TOLERANCE)) + 1
    ):
        if not score.TEMPO_RANGE[0] <= tempo <= score.TEMPO_RANGE[1]:
            continue
        if not lo * (1 - STYLE_TEMPO_SLACK) <= tempo <= hi * (1 + STYLE_TEMPO_SLACK):
            continue
        step = 2 if even_bars else 1
        n = length * tempo / 240.0 / step
        for b in {step * max(1, math.floor(n)), step * max(1, math.ceil(n))}:
            seconds = b * 240.0 / tempo
            if seconds > MAX_LOOP_S + 1e-9:
                continue
            exact = abs(seconds - length) <= WHOLE_BARS_TOLERANCE_S
            if not (exact or loop_meant):
                continue
            cost = abs(math.log(seconds / length)) + 0.25 * abs(math.log(tempo / sampled))
            fits.append((not exact, not lo <= tempo <= hi, cost, tempo, b))
    if fits:
        _, _, _, tempo, b = min(fits)
        return float(tempo), True, float(b)
    whole_bpm = float(round(sampled))
    if loop_meant:
        return _resolve_tempo(whole_bpm, whole_bpm, length, loop_meant=True, even_bars=even_bars)
    return whole_bpm, False, float(length * whole_bpm / 240.0)


def _seed_rhythm(a: seedsteer.SeedAnalysis, bpm: float, known: np.ndarray, values: np.ndarray) -> dict:
    """Onsets -> one bar of drum grid (lane by brightness or beat position) and exact per-step offsets."""
    step_s = 60.0 / bpm / 4
    t0 = a.onsets[0] if a.onsets.size else 0.0
    t0 = t0 if t0 < step_s / 2 else 0.0  # a clip that starts on its first hit
    grid = np.zeros((score.STEPS, len(score.DRUM_LANES)))
    offsets: dict[int, list[float]] = {}
    spread = np.ptp(np.log(a.centroids + 1)) if a.centroids.size else 0.0
    for t, cent in zip(a.onsets, a.centroids, strict=True):
        g = int(round((t - t0) / step_s))
        s = g % score.STEPS
        offsets.setdefault(s, []).append(t - t0 - g * step_s)
        if spread > 0.7:  # distinct sounds: low -> kick, middle -> snare, bright -> hat
            lane = "kick" if cent < 700 else ("snare" if cent < 3500 else "closed_hat")
        else:  # one kind of sound (taps, noise bursts): kicks on 1 and 3, snares on 2 and 4, hats between
            lane = "kick" if s in (0, 8) else ("snare" if s in (4, 12) else "closed_hat")
        grid[s, score.DRUM_LANES.index(lane)] = 0.9
    known[L["drums"]] = True
    values[L["drums"]] = np.where(grid > 0, grid, -1.0).ravel()
    i = L["roles"].start + score.ROLES.index("drums")
    known[i], values[i] = True, 1.0
    return {
        "kind": "rhythm",
        "roles": {"drums"},
        "grid": grid,
        "offsets": {s: float(np.mean(o)) + t0 for s, o in offsets.items()},
    }


def _seed_melody(
    a: seedsteer.SeedAnalysis,
    bpm: float,
    tonic: int,
    minor: bool,
    known: np.ndarray,
    values: np.ndarray,
    *,
    part: str = "lead",
) -> dict:
    """Notes -> the two-bar melody grid as scale degrees; exact pitches kept for rendering.
    part: who plays the line ("lead", or "bass" when the prompt asks for a bass line); the grid
    carries it either way, and the bass plays it two octaves down."""
    step_s = 60.0 / bpm / 4
    t0 = a.notes[0].start
    t0 = t0 if t0 < step_s / 2 else 0.0
    scale = score.MINOR if minor else score.MAJOR
    base = 57 + (tonic - 57) % 12
    mids = np.array([n.midi for n in a.notes])
    shift = 12 * int(np.floor((np.min(mids) - base) / 12))  # the lowest note in the lead range's first octave
    on = np.zeros(score.MELODY_STEPS)
    degree = np.full(score.MELODY_STEPS, 7)
    notes = {}
    for n in a.notes:
        g = int(round((n.start - t0) / step_s))
        if g >= score.MELODY_STEPS:
            break
        rel = n.midi - shift - base
        octave, pc = divmod(int(round(rel)), 12)
        deg = 7 * octave + int(np.argmin([min(abs(pc - s), 12 - abs(pc - s)) for s in scale]))
        on[g] = 0.85
        degree[g] = int(np.clip(deg, 0, 14))
        notes[g] = (n.start - t0 - g * step_s, n.midi - shift, n.end - n.start)
    known[L["melody_on"]] = True
    values[L["melody_on"]] = np.where(on > 0, on, -1.0)
    known[L["melody_pitch"]] = True
    values[L["melody_pitch"]] = np.clip((degree - score.MELODY_RANGE) / score.MELODY_RANGE, -1, 1)
    # A hummed line plays alone (on its part) while the clip holds; the freer steps may add parts.
    known[L["roles"]] = True
    values[L["roles"]] = [1.0 if r == part else -1.0 for r in score.ROLES]
    return {"kind": "melody", "roles": {part}, "notes": notes, "t0": t0, "part": part}


BASS_LOWEST = 28  # E1, the lowest note the bass patterns play


def _apply_seed_extras(s: score.Score, info: dict, plan: Plan, strength: float, rng) -> None:
    """Exact timing and pitch from the seed clip where the generated score agrees with it."""
    step_s = 60.0 / s.tempo / 4
    if info.get("kind") == "rhythm":
        # Where sampling still strayed from the seed: a hit off the seed's steps survives with
        # probability strength^2, a seed step left empty gets the seed's hit back with 1 - strength^2.
        grid = info["grid"]
        keep = strength**2
        for k in range(score.STEPS):
            seed_hit, gen_hit = grid[k].any(), s.drums[k].any()
            if gen_hit and not seed_hit and rng.uniform() >= keep:
                s.drums[k] = 0.0
            elif seed_hit and not gen_hit and rng.uniform() >= keep:
                s.drums[k] = grid[k]
            if seed_hit and strength < 0.5:
                s.drums[k, score.DRUM_LANES.index("hat_roll")] = 0.0  # a roll's extra hits are off the seed
        times = {}
        offsets = info["offsets"]
        for g in range(int(np.ceil(30.0 / step_s)) + 1):
            if g % score.STEPS in offsets:
                times[g] = g * step_s + offsets[g % score.STEPS]
        s.extra["drum_times"] = times
        s.swing = 0.0 if strength < 0.5 else s.swing  # the seed's own feel replaces the grid's swing
    elif info.get("kind") == "melody":
        seed_notes = info["notes"]
        keep = strength**2  # as for rhythm: off-seed notes survive, missing seed notes return, by strength
        for k in range(score.MELODY_STEPS):
            if s.melody_on[k] > 0 and k not in seed_notes and rng.uniform() >= keep:
                s.melody_on[k] = 0.0
            elif s.melody_on[k] <= 0 and k in seed_notes and rng.uniform() >= keep:
                s.melody_on[k] = 0.85
        out = []
        period = score.MELODY_STEPS
        total = int(np.ceil(30.0 / step_s))
        for g in range(total):
            k = g % period
            if s.melody_on[k] <= 0:
                continue
            base = 57 + (s.tonic - 57) % 12
            midi = arrange._midi(s, int(s.melody_degree[k]), base)
            t = arrange.Timing(s.tempo, s.swing).at(g)
            if k in seed_notes and rng.uniform() >= strength * 0.5:
                off, seed_midi, _dur = seed_notes[k]
                if abs(seed_midi - midi) <= 2 or strength < 0.5:
                    midi, t = int(round(seed_midi)), g * step_s + off + info["t0"]
            nxt = next((j for j in range(g + 1, g + period + 1) if s.melody_on[j % period] > 0), g + 4)
            dur = min((nxt - g) * step_s, 8 * step_s) * 0.95
            out.append((t, midi, dur, float(s.melody_on[k])))
        if info.get("part") == "bass":
            # The line in the bass's register (two octaves down, no lower than E1): the bass plays
            # the seed's notes instead of its pattern, and no lead doubles it (the prompt asked
            # for a bass line, not a melody).
            down = -24
            while out and min(m for _, m, _, _ in out) + down < BASS_LOWEST:
                down += 12
            s.extra["bass_notes"] = [(t, midi + down, dur, vel) for t, midi, dur, vel in out]
            s.roles.discard("lead")
        else:
            s.extra["melody_notes"] = out
        s.swing = 0.0 if strength < 0.5 else s.swing
    if plan.analysis is not None and plan.analysis.is_one_shot and plan.seed_audio is not None:
        # A one-shot seed becomes a voice: the user's own sound on the drum lane it resembles.
        x = plan.seed_audio[: int(1.5 * SR)].astype(np.float32)
        x = x / (np.max(np.abs(x)) + 1e-9)
        cent = plan.analysis.centroids[0] if plan.analysis.centroids.size else 1000.0
        kind = "kick" if cent < 500 else ("snare" if cent < 3000 else "closed_hat")
        # The lane of that kind the groove actually plays (a house groove claps where others snare).
        lanes = {
            "kick": ("kick",),
            "snare": ("snare", "clap", "perc"),
            "closed_hat": ("closed_hat", "ride", "perc"),
        }
        playing = [ln for ln in lanes[kind] if s.drums[:, score.DRUM_LANES.index(ln)].any()]
        s.extra["voice_lane"] = playing[0] if playing else kind
        s.extra["voice_sample"] = x
        s.roles.add("drums")
