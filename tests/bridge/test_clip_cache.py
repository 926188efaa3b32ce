"""The content-addressed clip cache and clips made for a plugin's pads (no runtime needed)."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
import soundfile as sf

from diffhost.host.live.bridge.cache import ClipCache, default_cache_dir
from diffhost.host.live.bridge.clips import ClipSpec, make_clip


def tone(seconds: float, sr: int, channels: int = 2) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return np.stack([0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)]).astype(
        np.float32
    )


def test_same_audio_same_bytes_same_name(tmp_path):
    cache = ClipCache(tmp_path)
    a = tone(0.5, 48000)
    h1 = cache.put(a, 48000)
    first = cache.path_of(h1).read_bytes()
    os.utime(cache.path_of(h1), (0, 0))
    h2 = ClipCache(tmp_path).put(a.copy(), 48000)  # written again later: nothing changes
    assert h1 == h2 == hashlib.sha256(first).hexdigest()
    assert cache.path_of(h1) == tmp_path / h1[:2] / f"{h1}.wav"
    assert cache.path_of(h1).stat().st_mtime == 0  # not rewritten
    back, sr = sf.read(cache.path_of(h1), dtype="float32", always_2d=True)
    assert sr == 48000 and sf.info(cache.path_of(h1)).subtype == "FLOAT"
    assert np.array_equal(back.T, a)
    mono = cache.put(a[0], 48000)
    assert sf.info(cache.path_of(mono)).channels == 1 and mono != h1
    assert not list(tmp_path.rglob(".*part*"))


def test_the_plugin_is_told_once_the_file_is_whole_and_a_torn_clip_is_made_whole(tmp_path):
    cache = ClipCache(tmp_path)
    a = tone(0.5, 48000)
    seen = []

    def told(h: str) -> None:  # what the plugin would read at that moment
        seen.append((h, cache.path_of(h).read_bytes()))

    h = cache.put(a, 48000, then=told)
    whole = cache.path_of(h).read_bytes()
    assert seen == [(h, whole)] and hashlib.sha256(whole).hexdigest() == h
    # A power cut between the link into place and the fsync could leave a short file under the
    # name: the next put of the same clip makes it whole (the name is the hash of those bytes).
    cache.path_of(h).write_bytes(whole[:100])
    assert cache.put(a, 48000) == h
    assert cache.path_of(h).read_bytes() == whole
    assert not list(tmp_path.rglob(".incoming*"))


def test_bad_clips_change_nothing(tmp_path):
    cache = ClipCache(tmp_path)
    bad = tone(0.1, 8000)
    bad[1, 5] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        cache.put(bad, 8000)
    late = tone(3.0, 48000)  # a NaN in a later piece: found while writing; the partial file goes
    late[0, -10] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        cache.put(late, 48000)
    with pytest.raises(ValueError, match="3 channels; valid is 1..2"):
        cache.put(tone(0.1, 8000, channels=3), 8000)
    with pytest.raises(ValueError, match="hash: 'x' is not a clip hash"):
        cache.path_of("x")
    assert not any(tmp_path.iterdir())


def test_cache_folder_follows_the_protocol(monkeypatch, tmp_path):
    monkeypatch.setenv("DIFFHOST_CLIP_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("DIFFHOST_CLIP_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "diffhost" / "clips"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "diffhost" / "clips"


@pytest.mark.parametrize("rate", [44100, 48000, 96000, 22050])
def test_a_loop_is_whole_bars_at_any_rate_and_wraps_cleanly(rate):
    sr, bpm, bars = 44100, 120.0, 2.0
    n = int(round(bars * 4 * 60 / bpm * sr))
    t = np.arange(n) / sr
    period = n / sr
    loop = np.stack([np.sin(2 * np.pi * 16 * t / period), np.cos(2 * np.pi * 24 * t / period)]).astype(
        np.float32
    )
    clip = make_clip(loop, sr, ClipSpec(rate, bars, 4, bpm))
    assert clip.shape == (2, int(round(bars * 4 * 60 / bpm * rate)))
    tt = np.arange(clip.shape[1]) / rate
    want = np.sin(2 * np.pi * 16 * tt / (clip.shape[1] / rate))
    assert np.max(np.abs(clip[0] - want)) < 1e-4  # no shift: the clip starts on the bar line
    steps = np.abs(np.diff(clip, axis=-1)).max()
    assert np.abs(clip[:, 0] - clip[:, -1]).max() <= steps * 1.01  # the wrap is an ordinary step


def test_clip_spec_refuses_values_naming_them():
    with pytest.raises(ValueError, match="sample_rate: 7 is out of range"):
        ClipSpec(7)
    with pytest.raises(ValueError, match="bars: 100 is out of range"):
        ClipSpec(48000, 100, 4, 120.0)
    with pytest.raises(ValueError, match="bpm: None is out of range for a loop"):
        ClipSpec(48000, 2, 4, None)
