"""Kits: the 16 pads (clip, mode, gain, pan, choke group, quantize) plus the MIDI map, as a file.

A kit file is JSON, written atomically (host.atomic). Each pad names its clip by path and by
the SHA-256 of the file's bytes, so a clip that changed since the kit was saved is noticed. A
pad whose clip exists only in memory (no file) gets one: a float32 WAV named by its hash in the
kit store's clips folder, so nothing is lost and saving twice writes the same bytes.

    store = KitStore(config_dir)
    kit = capture_kit(audio, midi_map, store.clips_dir)
    save_kit(kit, path, overwrite=True)
    problems = apply_kit(load_kit(path), audio)

The last kit comes back on restart: the runtime saves the bank as `kits/last.json` in the
config folder when it closes (and after each kit load or save) and applies it when it starts.

Kits saved by name (over OSC) are `<name>.dhkit` files in the kits folder. A kit never replaces a
file that is not itself a kit, so a sidecar, a render or anything else diffhost did not write as a
kit survives any save. A kit loaded from the network may only name clips inside the folders the
caller allows (`apply_kit(..., allowed=...)`); a pad whose clip is missing, unreadable or outside
them gets one and the same line, so a kit cannot be used to learn which files exist elsewhere.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from diffhost import paths
from diffhost.host.audio.host_audio import SlotOptions, check_slot_options
from diffhost.host.live.midi.mapping import MidiMap
from diffhost.host.live.padclip import read_pad_clip
from diffhost.host.render.atomic import atomic_write_bytes

KIT_FORMAT = "diffhost-kit"
KIT_VERSION = 1
MAX_NAME_BYTES = 200  # a kit name, in UTF-8 (file names stop at 255 bytes)
KIT_SUFFIX = ".dhkit"  # a kit saved by name; older kits (and last.json) are .json and still load
LAST_KIT = "last.json"
CLIP_UNAVAILABLE = "cannot be loaded: it is missing, unreadable or outside the allowed folders"


@dataclass(frozen=True)
class KitPad:
    number: int  # 1..16
    clip: Path | None = None
    sha256: str | None = None
    label: str = ""
    options: SlotOptions = field(default_factory=SlotOptions)
    fresh: dict[str, Any] | None = None  # a fresh pad's sound: prompt, length, pool, evolve_bars...

    def to_dict(self) -> dict[str, Any]:
        o = self.options
        return {
            "fresh": self.fresh,
            "pad": self.number,
            "clip": None if self.clip is None else str(self.clip),
            "sha256": self.sha256,
            "label": self.label,
            "mode": o.mode,
            "gain": o.gain,
            "pan": o.pan,
            "choke_group": o.choke_group,
            "quantize": o.quantize,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KitPad:
        options = SlotOptions(
            gain=float(d.get("gain", 1.0)),
            pan=float(d.get("pan", 0.0)),
            mode=str(d.get("mode", "oneshot")),
            choke_group=int(d.get("choke_group", 0)),
            quantize=None if d.get("quantize") is None else float(d["quantize"]),
        )
        check_slot_options(options)
        clip = d.get("clip")
        fresh = d.get("fresh")
        if fresh is not None and not isinstance(fresh, dict):
            raise ValueError(f"pad {d.get('pad')}: fresh: expected an object of render settings")
        return cls(
            int(d["pad"]), None if clip is None else Path(clip), d.get("sha256"), str(d.get("label", "")), options, fresh
        )


@dataclass(frozen=True)
class Kit:
    pads: tuple[KitPad, ...]
    tempo: float = 120.0
    quantize: float = 0.0
    midi: MidiMap = field(default_factory=MidiMap)

    def to_json(self) -> bytes:
        body = {
            "format": KIT_FORMAT,
            "version": KIT_VERSION,
            "tempo": self.tempo,
            "quantize": self.quantize,
            "pads": [p.to_dict() for p in self.pads],
            "midi": self.midi.to_dict(),
        }
        return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes, source: str = "kit") -> Kit:
        try:
            d = json.loads(data)
            if not isinstance(d, dict) or d.get("format") != KIT_FORMAT:
                raise ValueError(f"not a diffhost kit (expected \"format\": \"{KIT_FORMAT}\")")
            if int(d.get("version", 0)) > KIT_VERSION:
                raise ValueError(f"kit version {d['version']} is newer than this diffhost reads ({KIT_VERSION})")
            pads = tuple(KitPad.from_dict(p) for p in d.get("pads", []))
            numbers = [p.number for p in pads]
            if len(set(numbers)) != len(numbers) or any(not 1 <= n <= 64 for n in numbers):
                raise ValueError("pads: each pad number 1..16 may appear once")
            return cls(pads, float(d.get("tempo", 120.0)), float(d.get("quantize", 0.0)), MidiMap.from_dict(d.get("midi", {})))
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"{source}: cannot be read as a kit ({exc})") from None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def clip_wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """A float32 WAV of (channels, samples) audio: the samples come back bit for bit."""
    buf = io.BytesIO()
    sf.write(buf, np.ascontiguousarray(audio.T), int(sample_rate), format="WAV", subtype="FLOAT")
    return buf.getvalue()


def capture_kit(
    audio: Any, midi: MidiMap | None, clips_dir: Path, fresh: dict[int, dict[str, Any]] | None = None
) -> Kit:
    """The bank as a kit; clips held only in memory are written to clips_dir (named by hash).
    fresh: pad -> its fresh-pad settings (host.fresh.FreshPads.specs())."""
    pads = []
    for n in range(1, audio.num_slots + 1):
        src = audio.slot_source(n)
        clip = sha = None
        label = ""
        if src is not None:
            label = src.label
            if src.path is not None and Path(src.path).is_file():
                clip, sha = Path(src.path).resolve(), file_sha256(Path(src.path))
            else:
                data = clip_wav_bytes(src.audio, src.sample_rate)
                sha = hashlib.sha256(data).hexdigest()
                clip = (Path(clips_dir) / f"{sha[:24]}.wav").resolve()
                if not clip.is_file():
                    atomic_write_bytes(clip, data)
        spec = (fresh or {}).get(n)
        pads.append(KitPad(n, clip, sha, label, audio.slot_options(n), dict(spec) if spec else None))
    return Kit(tuple(pads), audio.tempo, audio.quantize, midi or MidiMap())


def is_kit_file(path: Path) -> bool:
    """True for a regular file (not a symlink) that holds a diffhost kit: the only kind of
    existing file a kit save may replace."""
    path = Path(path)
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 4 << 20:
            return False
        d = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(d, dict) and d.get("format") == KIT_FORMAT


def save_kit(kit: Kit, path: Path, *, overwrite: bool = False) -> Path:
    """Write the kit atomically; an existing file is replaced only with overwrite=True, and only
    when it is a kit itself (a sidecar, a render or any other file is never replaced)."""
    path = Path(path).expanduser()
    if overwrite and (path.exists() or path.is_symlink()) and not is_kit_file(path):
        raise ValueError(
            f"path: {path} exists and is not a diffhost kit; a kit only ever replaces a kit, "
            "choose another name"
        )
    atomic_write_bytes(path, kit.to_json(), overwrite=overwrite)
    return path


def load_kit(path: Path) -> Kit:
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"{path}: no such kit file")
    return Kit.from_json(path.read_bytes(), str(path))


def apply_kit(kit: Kit, audio: Any, allowed: Callable[[Path], Path] | None = None) -> list[str]:
    """Put the kit's clips and options into the bank (pads it does not name are emptied).

    allowed: checks a clip path and returns where it resolves, raising ValueError for a path the
    caller does not allow (a kit that came over the network names files only inside the allowed
    folders). Such a pad, a missing file and an unreadable one all get the same line, which says
    nothing about what exists outside. Returns one plain line per pad that could not be loaded as
    saved; the rest load anyway.
    """
    problems = []
    audio.set_tempo(kit.tempo)
    audio.set_quantize(kit.quantize)
    named = {p.number: p for p in kit.pads}
    for n in range(1, audio.num_slots + 1):
        pad = named.get(n)
        o = pad.options if pad is not None else SlotOptions()
        audio.set_slot_options(n, gain=o.gain, pan=o.pan, mode=o.mode, choke_group=o.choke_group, quantize=o.quantize)
        if pad is None or pad.clip is None:
            audio.clear_slot(n)
            continue
        clip = pad.clip
        if allowed is not None:
            try:
                clip = allowed(clip)
                with open(clip, "rb"):
                    pass
            except (ValueError, OSError):
                audio.clear_slot(n)
                problems.append(f"pad {n}: clip {str(pad.clip)[:200]!r} {CLIP_UNAVAILABLE}")
                continue
        try:
            if not clip.is_file():
                raise ValueError(f"{pad.clip} is missing")
            if pad.sha256 and file_sha256(clip) != pad.sha256:
                problems.append(f"pad {n}: {pad.clip.name} changed since the kit was saved (loaded as it is now)")
            data, rate, trimmed = read_pad_clip(clip)  # at most MAX_PAD_S s, read in blocks
            if trimmed:
                problems.append(f"pad {n}: {trimmed}")
            audio.assign(n, data, rate, path=clip, label=pad.label or pad.clip.stem)
        except (ValueError, OSError) as exc:
            audio.clear_slot(n)
            problems.append(f"pad {n}: {exc}")
    for extra in sorted(set(named) - set(range(1, audio.num_slots + 1))):
        problems.append(f"pad {extra}: this session has {audio.num_slots} pads")
    return problems


class KitStore:
    """Where kits live by default: <config>/kits, with the clips kits had to write and the last kit."""

    def __init__(self, config_dir: Path | None = None):
        self.dir = paths.kits_dir(config_dir)
        self.clips_dir = self.dir / "clips"

    def named(self, name: str) -> Path:
        """Where a kit saved by name goes: `<kits>/<name>.dhkit` (the suffix may be given)."""
        stem = name[: -len(KIT_SUFFIX)] if name.endswith(KIT_SUFFIX) else name
        if len(stem.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:  # file systems take 255 bytes
            raise ValueError(
                f"name: a kit name of {len(stem)} characters is too long; the limit is {MAX_NAME_BYTES} bytes"
            )
        if not stem or stem in (".", "..") or "/" in stem or "\\" in stem or "\x00" in stem or stem.startswith("."):
            raise ValueError(
                f"name: {name[:200]!r} is not a kit name; give a plain file name such as 'set1' "
                f"(saved as set1{KIT_SUFFIX} in {self.dir})"
            )
        return self.dir / f"{stem}{KIT_SUFFIX}"

    @property
    def last_path(self) -> Path:
        return self.dir / LAST_KIT

    def save_last(self, audio: Any, midi: MidiMap | None, fresh: dict[int, dict[str, Any]] | None = None) -> Path:
        # Replaced on purpose: it is the state the app had when it last closed.
        return save_kit(capture_kit(audio, midi, self.clips_dir, fresh), self.last_path, overwrite=True)

    def load_last(self) -> Kit | None:
        return load_kit(self.last_path) if self.last_path.is_file() else None
