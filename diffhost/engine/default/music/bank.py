"""The recorded sound bank of the v2 default model: soundfont notes rendered once by FluidSynth.

Two banks, both from soundfonts that Debian packages and scripts/setup.sh installs:
- "musescore" (the default): MuseScore General HQ (musescore-general-soundfont; MIT, with CC0
  and public-domain parts: the Splendid Grand piano, VSCO 2 ensemble strings, MuseScore
  Drumline), with the voices and kits of every style (brass, choir, harp, horns, jazz, brush
  and orchestra kits);
- "fluidr3": FluidR3 GM (fluid-soundfont-gm; MIT), exactly as the first loop model played it,
  so older renders re-render identically. It has no voice or kit of the newer styles; those
  play the nearest voice it has (FALLBACK).
`DIFFHOST_BANK` picks one (default "musescore"); `DIFFHOST_SOUNDFONT` points the chosen bank at
another copy of its soundfont. The bank is built by the `fluidsynth` program: one MIDI file per
voice, every third semitone of the voice's range held for a fixed time, rendered without reverb
or chorus, cut into notes and cached as one int16 array under the user cache folder. Later
loads memory-map the cache (milliseconds). `Bank.hash` is a sha256 of the rendered audio: the
sidecar records it, so a render names exactly the sounds it used. The sources and their
licences are listed in weights/SOUNDS.json.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diffhost import paths

SR = 44100
BANK_VERSION = 1
FLUIDR3_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)
MUSESCORE_CANDIDATES = (
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/sounds/sf3/MuseScore_General_Full.sf3",
    "/usr/share/sounds/sf2/MuseScore_General.sf2",
    "/usr/share/soundfonts/MuseScore_General.sf3",
)
SOUNDFONT_CANDIDATES = FLUIDR3_CANDIDATES  # the FluidR3 bank's (kept for callers that name it)
# name -> (General MIDI program, lowest note, highest note, hold s, release tail s)
PITCHED: dict[str, tuple[int, int, int, float, float]] = {
    "piano": (0, 36, 96, 2.6, 0.6),
    "electric_piano": (4, 36, 90, 2.6, 0.5),
    "organ": (17, 36, 90, 2.6, 0.25),
    "steel_guitar": (25, 40, 82, 2.6, 0.5),
    "nylon_guitar": (24, 40, 84, 2.4, 0.5),
    "finger_bass": (33, 28, 58, 2.0, 0.3),
    "synth_bass": (38, 28, 58, 2.0, 0.3),
    "upright_bass": (32, 28, 58, 2.0, 0.4),
    "warm_pad": (89, 36, 84, 4.2, 1.0),
    "strings": (48, 36, 88, 4.2, 0.8),
    "vibraphone": (11, 48, 96, 2.0, 0.6),
    "marimba": (12, 48, 96, 1.2, 0.3),
    "flute": (73, 59, 96, 2.6, 0.3),
    "saw_lead": (81, 45, 93, 2.6, 0.3),
    "violin": (40, 55, 96, 2.6, 0.4),
}
PITCH_STEP = 3  # every third semitone; a note plays the nearest sample resampled by at most 1.5 semitones
# kit -> General MIDI drum-kit program (bank 128)
KITS = {"standard": 0, "room": 8, "electronic": 24, "tr808": 25}
# The MuseScore bank: the same voices (its strings pad is the slow-attack ensemble), and the newer styles'.
MUSESCORE_PITCHED: dict[str, tuple[int, int, int, float, float]] = {
    **PITCHED,
    "strings": (49, 36, 88, 4.2, 0.8),
    "low_strings": (48, 28, 64, 2.6, 0.6),
    "brass": (61, 40, 84, 2.6, 0.4),
    "choir": (52, 45, 84, 4.2, 0.9),
    "harp": (46, 36, 96, 2.0, 0.8),
    "trumpet": (56, 52, 88, 2.6, 0.3),
    "sax": (66, 42, 84, 2.6, 0.3),
    "french_horn": (60, 38, 80, 2.6, 0.4),
}
MUSESCORE_KITS = {**KITS, "jazz": 32, "brush": 40, "orchestra": 48}
# What the FluidR3 bank plays for a voice or kit it was never built with.
FALLBACK = {
    "low_strings": "upright_bass", "brass": "organ", "choir": "warm_pad", "harp": "vibraphone",
    "trumpet": "flute", "sax": "flute", "french_horn": "violin",
    "kit:jazz": "kit:standard", "kit:brush": "kit:room", "kit:orchestra": "kit:standard",
}  # fmt: skip


@dataclass(frozen=True)
class BankSource:
    """A soundfont, where Debian installs it, and what of it the bank renders."""

    name: str
    package: str
    candidates: tuple[str, ...]
    version: int
    pitched: dict
    kits: dict


BANKS = {
    "musescore": BankSource(
        "musescore", "musescore-general-soundfont", MUSESCORE_CANDIDATES, 2, MUSESCORE_PITCHED, MUSESCORE_KITS
    ),
    "fluidr3": BankSource("fluidr3", "fluid-soundfont-gm", FLUIDR3_CANDIDATES, BANK_VERSION, PITCHED, KITS),
}
DEFAULT_BANK = "musescore"
# drum lane -> General MIDI percussion note
DRUM_NOTES = {
    "kick": 36, "snare": 38, "clap": 39, "closed_hat": 42, "open_hat": 46, "perc": 37,
    "tom": 47, "ride": 51, "crash": 49, "high_tom": 50, "shaker": 70,
}  # fmt: skip
DRUM_HOLD, DRUM_TAIL = 0.2, 1.6


class BankError(RuntimeError):
    """The bank cannot be built: no soundfont or no fluidsynth; the message says how to install them."""


@dataclass(frozen=True)
class Sample:
    offset: int
    length: int
    root: int  # MIDI note (pitched) or GM drum note
    hold: int  # samples the key was held for (the note's sustain; release follows)


class Bank:
    """Samples by (voice, note); audio is a float view of one int16 array (mono, 44.1 kHz)."""

    def __init__(self, audio: np.ndarray, index: dict[str, list[Sample]], meta: dict):
        self._audio = audio
        self.index = index
        self.meta = meta
        self.hash: str = meta["hash"]
        self.name: str = meta.get("bank", "fluidr3")
        # Recordings resampled to another render rate, kept with the bank (arrange.bank_at_rate fills it).
        self.at_rate: dict[tuple, np.ndarray] = {}

    def _key(self, key: str) -> str:
        return key if key in self.index else FALLBACK.get(key, key)

    def get(self, voice: str, note: int) -> tuple[np.ndarray, float, Sample]:
        """(float32 samples, playback rate ratio, sample) for the nearest recorded note."""
        options = self.index[self._key(voice)]
        s = min(options, key=lambda o: abs(o.root - note))
        return (
            self._audio[s.offset : s.offset + s.length].astype(np.float32) / 32767.0,
            2 ** ((note - s.root) / 12),
            s,
        )

    def drum(self, kit: str, lane: str) -> np.ndarray:
        s = self.index[self._key(f"kit:{kit}")][list(DRUM_NOTES).index(lane)]
        return self._audio[s.offset : s.offset + s.length].astype(np.float32) / 32767.0

    @property
    def voices(self) -> list[str]:
        return sorted(self.index)


def bank_source(name: str | None = None) -> BankSource:
    """The bank named, else DIFFHOST_BANK's, else the default; a clear error for an unknown name."""
    name = name or paths.env(paths.BANK_ENV) or DEFAULT_BANK
    if name not in BANKS:
        raise BankError(
            f"default model: bank {name!r} (DIFFHOST_BANK) is unknown; valid are {', '.join(BANKS)}"
        )
    return BANKS[name]


def find_soundfont(source: BankSource | None = None) -> Path:
    source = source or BANKS["fluidr3"]
    override = paths.soundfont_override()
    for p in ([override] if override else []) + list(source.candidates):
        if p and Path(p).is_file():
            return Path(p)
    raise BankError(
        f"default model: the {source.name} sound bank needs its soundfont (Debian/Ubuntu package "
        f"{source.package}; run scripts/setup.sh), or set DIFFHOST_SOUNDFONT to a soundfont file"
    )


def cache_root() -> Path:
    return paths.bank_cache_dir()


def spec(source: BankSource | None = None) -> dict:
    source = source or BANKS["fluidr3"]
    return {
        "version": source.version,
        "sr": SR,
        "pitched": source.pitched,
        "pitch_step": PITCH_STEP,
        "kits": source.kits,
        "drum_notes": DRUM_NOTES,
        "drum": [DRUM_HOLD, DRUM_TAIL],
    }


def _cache_dir(sf2: Path, source: BankSource | None = None) -> Path:
    st = sf2.stat()
    key = json.dumps([spec(source), str(sf2.resolve()), st.st_size, int(st.st_mtime)], sort_keys=True)
    return cache_root() / hashlib.sha256(key.encode()).hexdigest()[:16]


def load_bank(build: bool = True, name: str | None = None) -> Bank:
    """The cached bank (`name`, else DIFFHOST_BANK, else the MuseScore one); built on first use
    (about 10-60 s on two cores)."""
    source = bank_source(name)
    sf2 = find_soundfont(source)
    folder = _cache_dir(sf2, source)
    meta_file = folder / "bank.json"
    if not meta_file.is_file():
        if not build:
            raise BankError(f"default model: the sound bank is not built yet ({folder})")
        build_bank(sf2, folder, source)
    meta = {**json.loads(meta_file.read_text()), "bank": source.name}
    audio = np.load(folder / "bank.npy", mmap_mode="r")
    index = {k: [Sample(*s) for s in v] for k, v in meta["index"].items()}
    return Bank(audio, index, meta)


# -- building -----------------------------------------------------------------------------------
def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def _midi_file(
    channel: int, program: int, notes: list[int], hold: float, slot: float, velocity: int
) -> bytes:
    """A type-0 MIDI file: program change, then each note held `hold` s, one every `slot` s (120 bpm, 480 ppq)."""
    tpq = 480
    tps = tpq * 2  # ticks per second at the default 120 bpm
    events: list[tuple[int, bytes]] = [(0, bytes([0xC0 | channel, program]))]
    for i, n in enumerate(notes):
        t = int(round(i * slot * tps))
        events.append((t, bytes([0x90 | channel, n, velocity])))
        events.append((t + int(round(hold * tps)), bytes([0x80 | channel, n, 0])))
    end = int(round(len(notes) * slot * tps))
    events.append((end, b"\xff\x2f\x00"))
    events.sort(key=lambda e: e[0])
    track, last = b"", 0
    for t, data in events:
        track += _vlq(t - last) + data
        last = t
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk" + struct.pack(">I", len(track)) + track


def _render_midi(sf2: Path, midi: bytes, workdir: Path, name: str) -> np.ndarray:
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise BankError(
            "default model: building the sound bank needs the `fluidsynth` program "
            "(Debian/Ubuntu package fluidsynth; run scripts/setup.sh)"
        )
    mid, raw = workdir / f"{name}.mid", workdir / f"{name}.raw"
    mid.write_bytes(midi)
    cmd = [exe, "-n", "-i", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(SR), "-O", "s16", "-T", "raw"]
    cmd += ["-o", "synth.cpu-cores=1", "-F", str(raw), str(sf2), str(mid)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    x = np.fromfile(raw, dtype="<i2").astype(np.float32).reshape(-1, 2)
    return x.mean(axis=1) / 32768.0


def _jobs(source: BankSource) -> list[tuple[str, int, int, list[int], float, float, int]]:
    """(bank key, channel, program, notes, hold, slot, velocity) per MIDI file."""
    jobs = []
    for name, (program, lo, hi, hold, tail) in source.pitched.items():
        notes = list(range(lo, hi + 1, PITCH_STEP))
        jobs.append((name, 0, program, notes, hold, hold + tail, 100))
    for kit, program in source.kits.items():
        jobs.append(
            (f"kit:{kit}", 9, program, list(DRUM_NOTES.values()), DRUM_HOLD, DRUM_HOLD + DRUM_TAIL, 110)
        )
    return jobs


def build_bank(sf2: Path, folder: Path, source: BankSource | None = None) -> None:
    source = source or BANKS["fluidr3"]
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        work = Path(tmp)
        jobs = _jobs(source)

        def run(job):
            key, ch, prog, notes, hold, slot, vel = job
            return _render_midi(
                sf2, _midi_file(ch, prog, notes, hold, slot, vel), work, key.replace(":", "_")
            )

        with ThreadPoolExecutor(max_workers=2) as pool:
            rendered = list(pool.map(run, jobs))
        chunks, index, offset = [], {}, 0
        for (key, _ch, _prog, notes, hold, slot, _vel), audio in zip(jobs, rendered, strict=True):
            n_slot = int(round(slot * SR))
            peak = max(float(np.max(np.abs(audio))), 1e-6)
            entries = []
            for i, note in enumerate(notes):
                x = audio[i * n_slot : (i + 1) * n_slot]
                x = _trim(x / peak * 0.9)
                chunks.append(np.round(x * 32767).astype(np.int16))
                entries.append([offset, int(x.size), int(note), int(round(hold * SR))])
                offset += x.size
            index[key] = entries
        audio = np.concatenate(chunks)
        stage = work / "out"
        stage.mkdir()
        np.save(stage / "bank.npy", audio)
        meta = {
            "hash": "sha256:" + hashlib.sha256(audio.tobytes()).hexdigest()[:16],
            "soundfont": str(sf2),
            "soundfont_sha256": _file_sha256(sf2),
            "spec": spec(source),
            "index": index,
        }
        (stage / "bank.json").write_text(json.dumps(meta) + "\n")
        if folder.exists():  # another process built it meanwhile
            return
        stage.rename(folder)


def _trim(x: np.ndarray) -> np.ndarray:
    """Drop leading silence (keep 1 ms) and the silent end (below -80 dB), with a 5 ms fade at the end."""
    a = np.abs(x)
    peak = a.max() if a.size else 0.0
    if peak <= 0:
        return x[:64]
    start = max(0, int(np.argmax(a > peak * 1e-3)) - SR // 1000)
    loud = np.nonzero(a > peak * 1e-4)[0]
    end = int(loud[-1]) + 1 if loud.size else x.size
    y = x[start:end].copy()
    fade = min(y.size, SR // 200)
    y[-fade:] *= np.linspace(1, 0, fade)
    return y


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
