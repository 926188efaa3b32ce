"""The user's audio choice (devices, sample rate, block size), remembered as JSON.

Stored in the platformdirs config folder (DIFFHOST_CONFIG_DIR overrides it, for
tests and portable installs) and written atomically: a crash mid-write leaves the
previous file intact. Devices are remembered by name, since indexes change when
hardware is plugged in.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from diffhost import paths
from diffhost.host.render.atomic import atomic_write_bytes

SAMPLE_RATES = (22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000)
BLOCK_SIZES = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
SETTINGS_FILE = "audio.json"


@dataclass(frozen=True)
class AudioSettings:
    output: str | None = None  # device name (or a unique part of it); None = system default
    input: str | None = None
    sample_rate: int = 48000
    block_size: int = 128
    input_channels: int = 1  # 1 = mono seed recordings, 2 = stereo
    max_record_s: float = 60.0

    def __post_init__(self) -> None:
        if self.sample_rate not in SAMPLE_RATES:
            raise ValueError(
                f"sample_rate: {self.sample_rate} Hz is not supported; use one of {', '.join(map(str, SAMPLE_RATES))}"
            )
        if self.block_size not in BLOCK_SIZES:
            raise ValueError(
                f"block_size: {self.block_size} frames is not supported; use one of {', '.join(map(str, BLOCK_SIZES))}"
            )
        if self.input_channels not in (1, 2):
            raise ValueError(f"input_channels: expected 1 (mono) or 2 (stereo), got {self.input_channels}")
        if not 0.5 <= self.max_record_s <= 600:
            raise ValueError(f"max_record_s: {self.max_record_s} s is out of range 0.5..600 s")

    def with_(self, **changes: Any) -> AudioSettings:
        return replace(self, **changes)


def settings_path(config_dir: Path | None = None) -> Path:
    return Path(config_dir if config_dir is not None else paths.config_dir()) / SETTINGS_FILE


def load_settings(config_dir: Path | None = None) -> AudioSettings:
    """The saved settings; defaults when none are saved. A damaged file raises, naming it."""
    path = settings_path(config_dir)
    if not path.is_file():
        return AudioSettings()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("expected a JSON object")
        known = {f.name for f in fields(AudioSettings)}
        return AudioSettings(**{k: v for k, v in raw.items() if k in known})
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: audio settings cannot be read ({exc}); fix or delete the file") from None


def save_settings(settings: AudioSettings, config_dir: Path | None = None) -> Path:
    """Write settings atomically (temp file in the same folder, fsync, rename over the old one)."""
    path = settings_path(config_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(asdict(settings), indent=2, sort_keys=True) + "\n").encode()
    # Replaced on purpose: the old value is the user's previous choice.
    atomic_write_bytes(path, data, overwrite=True)
    return path
