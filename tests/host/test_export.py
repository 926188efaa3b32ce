"""Export formats, atomic never-overwriting writes, and clear errors for bad audio files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from diffhost.engine.audio import AudioFileError, read_audio
from diffhost.host.render.export import ExportError, parse_export, unique_path, write_audio

SR = 44100


@pytest.fixture
def audio() -> np.ndarray:
    t = np.arange(SR) / SR
    x = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 660 * t)])
    return x.astype(np.float32)


@pytest.mark.parametrize(
    ("spec", "subtype", "tolerance"),
    [
        ({"format": "wav", "bit_depth": 32}, "FLOAT", 0.0),
        ({"format": "wav", "bit_depth": 24}, "PCM_24", 2.0**-23),
        ({"format": "wav", "bit_depth": 16}, "PCM_16", 2.0**-15 * 1.5),  # +-1 LSB TPDF dither + rounding
        ({"format": "flac", "bit_depth": 24}, "PCM_24", 2.0**-23),
        ({"format": "flac", "bit_depth": 16}, "PCM_16", 2.0**-15 * 1.5),
    ],
)
def test_lossless_formats_round_trip(tmp_path, audio, spec, subtype, tolerance):
    parsed = parse_export(spec)
    path = tmp_path / f"x{parsed.suffix}"
    written = write_audio(path, audio, SR, parsed, dither_seed=5)
    assert written.path == path and written.sample_rate == SR and written.notes == ()
    assert sf.info(str(path)).subtype == subtype
    back, sr = read_audio(path)
    assert sr == SR and back.shape == audio.shape
    assert np.max(np.abs(back - audio)) <= tolerance
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_sixteen_bit_dither_is_deterministic_per_seed(tmp_path, audio):
    spec = parse_export({"format": "wav", "bit_depth": 16})
    a = read_audio(write_audio(tmp_path / "a.wav", audio, SR, spec, dither_seed=1).path)[0]
    b = read_audio(write_audio(tmp_path / "b.wav", audio, SR, spec, dither_seed=1).path)[0]
    c = read_audio(write_audio(tmp_path / "c.wav", audio, SR, spec, dither_seed=2).path)[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_ogg_and_mp3_are_written_and_decoded(tmp_path, audio):
    ogg = write_audio(tmp_path / "x.ogg", audio, SR, parse_export("ogg"))
    back, sr = read_audio(ogg.path)
    assert sr == SR and back.shape == audio.shape
    mp3 = write_audio(tmp_path / "x.mp3", audio, SR, parse_export({"format": "mp3", "quality": "320 kbps"}))
    back, sr = read_audio(mp3.path)
    assert sr == SR and back.shape[0] == 2 and back.shape[1] >= SR  # plus encoder delay/padding
    spectrum = np.abs(np.fft.rfft(back[0]))
    assert np.fft.rfftfreq(back.shape[1], 1 / SR)[np.argmax(spectrum)] == pytest.approx(440, abs=2)


def test_mp3_at_an_unsupported_rate_is_resampled_and_says_so(tmp_path, audio):
    written = write_audio(tmp_path / "x.mp3", audio, 22050, parse_export("mp3"))
    assert written.sample_rate == 44100
    assert any("resampled 22050 -> 44100 Hz" in n for n in written.notes)
    assert read_audio(written.path)[1] == 44100
    w96 = write_audio(tmp_path / "y.mp3", audio, 96000, parse_export("mp3"))
    assert w96.sample_rate == 48000


def test_never_overwrites(tmp_path, audio):
    spec = parse_export("flac")
    path = tmp_path / "take.flac"
    write_audio(path, audio, SR, spec)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="never overwrites"):
        write_audio(path, audio * 0.5, SR, spec)
    assert path.read_bytes() == before
    assert unique_path(path) == tmp_path / "take-2.flac"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.flac"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"format": "aiff"}, r"'aiff' is not supported; choose wav, flac, ogg, mp3"),
        ({"format": "wav", "bit_depth": 8}, r"8 is not valid for wav; choose 16, 24, 32 \(float\)"),
        ({"format": "mp3", "quality": "best"}, r"'best' is not valid for mp3; choose V0, V1"),
        ({"format": "flac", "quality": "V0"}, r"flac is lossless and has no quality setting"),
        (
            {"format": "wav", "depth": 16},
            r"unknown key 'depth'; valid are format, bit_depth, quality, dither",
        ),
    ],
)
def test_bad_export_settings_name_the_choices(spec, expected):
    with pytest.raises(ExportError, match=expected):
        parse_export(spec)


def test_export_spec_round_trips_through_its_dict():
    for spec in (
        {"format": "mp3", "quality": "V2"},
        {"format": "wav", "bit_depth": 16, "dither": False},
        "flac",
    ):
        parsed = parse_export(spec)
        assert parse_export(parsed.to_dict()) == parsed


# -- bad input files ---------------------------------------------------------------------------------
def _wav_bytes(tmp_path, audio) -> bytes:
    sf.write(tmp_path / "ok.wav", audio.T, SR, subtype="PCM_16")
    return (tmp_path / "ok.wav").read_bytes()


def test_empty_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioFileError, match=r"empty.wav: the file is empty"):
        read_audio(tmp_path / "empty.wav")


def test_truncated_wav(tmp_path, audio):
    data = _wav_bytes(tmp_path, audio)
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    with pytest.raises(
        AudioFileError, match=r"cut.wav: the file is truncated: its header promises 176400 bytes"
    ):
        read_audio(tmp_path / "cut.wav")


def test_truncated_flac(tmp_path, audio):
    sf.write(tmp_path / "ok.flac", audio.T, SR)
    data = (tmp_path / "ok.flac").read_bytes()
    (tmp_path / "cut.flac").write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioFileError, match=r"cut.flac: cannot read audio \(.*lost sync"):
        read_audio(tmp_path / "cut.flac")


def test_corrupt_files(tmp_path, audio):
    rng = np.random.default_rng(0)
    (tmp_path / "noise.wav").write_bytes(rng.bytes(4000))
    with pytest.raises(AudioFileError, match=r"noise.wav: cannot read audio \(.*Format not recognised"):
        read_audio(tmp_path / "noise.wav")
    (tmp_path / "noise.mp3").write_bytes(rng.bytes(4000))
    with pytest.raises(
        AudioFileError, match=r"noise.mp3: cannot read audio \(.*does not seem to contain audio"
    ):
        read_audio(tmp_path / "noise.mp3")
    header_only = _wav_bytes(tmp_path, audio)[:30]
    (tmp_path / "header.wav").write_bytes(header_only)
    with pytest.raises(AudioFileError, match=r"header.wav: cannot read audio"):
        read_audio(tmp_path / "header.wav")


def test_unsupported_and_missing_files(tmp_path):
    (tmp_path / "notes.txt").write_text("a shopping list, not audio")
    with pytest.raises(AudioFileError, match=r"notes.txt: cannot read audio \(.*Format not recognised"):
        read_audio(tmp_path / "notes.txt")
    with pytest.raises(AudioFileError, match=r"nothing.wav: no such audio file"):
        read_audio(tmp_path / "nothing.wav")


def test_default_is_24_bit_wav_with_an_extensible_header_soxi_reads_cleanly(tmp_path, audio):
    import shutil
    import subprocess

    spec = parse_export(None)
    assert (spec.format, spec.bit_depth, spec.dither) == ("wav", 24, False)
    assert "dither" not in spec.to_dict()  # nothing to dither at 24 bit: the sidecar claims none
    written = write_audio(tmp_path / "x.wav", audio, SR, spec, dither_seed=3)
    assert written.encoding == {}
    info = sf.info(str(written.path))
    assert (info.format, info.subtype) == ("WAVEX", "PCM_24")
    assert written.path.read_bytes()[20:22] == b"\xfe\xff"  # WAVE_FORMAT_EXTENSIBLE
    soxi = shutil.which("soxi")
    assert soxi, "sox is in scripts/setup.sh's APT_PACKAGES"
    out = subprocess.run([soxi, str(written.path)], capture_output=True, text=True, check=True)
    assert "WARN" not in out.stderr + out.stdout and "24-bit Signed Integer PCM" in out.stdout


def test_dither_is_recorded_only_when_applied(tmp_path, audio):
    sixteen = write_audio(tmp_path / "a.wav", audio, SR, parse_export({"format": "wav", "bit_depth": 16}), dither_seed=9)
    assert sixteen.encoding["dither"] == {"kind": "TPDF", "lsb": 1, "bit_depth": 16, "seed": 9}
    assert parse_export({"format": "wav", "bit_depth": 16}).to_dict()["dither"] is True
    plain = write_audio(
        tmp_path / "b.wav", audio, SR, parse_export({"format": "wav", "bit_depth": 16, "dither": False})
    )
    assert "dither" not in plain.encoding
    for spec in ({"format": "wav", "bit_depth": 32}, {"format": "flac", "bit_depth": 24}, "mp3"):
        parsed = parse_export(spec)
        assert parsed.dither is False and "dither" not in parsed.to_dict()
        assert parse_export(parsed.to_dict()) == parsed


def test_mp3_encoder_delay_is_recorded_and_a_click_lines_up_on_reimport(tmp_path):
    """A click at a known sample: a gapless decoder (libsndfile) finds it there; a decoder that
    ignores the LAME tag finds it exactly the recorded offset later."""
    from pedalboard.io import AudioFile

    click_at = 10000
    x = np.zeros((2, SR), dtype=np.float32)
    x[:, click_at] = 0.9
    written = write_audio(tmp_path / "click.mp3", x, SR, parse_export({"format": "mp3", "quality": "320 kbps"}))
    gapless = written.encoding["mp3_gapless"]
    assert gapless["encoder_delay_samples"] > 0 and gapless["padding_samples"] >= 0
    back, sr = sf.read(str(written.path), dtype="float32", always_2d=True)
    assert sr == SR and back.shape[0] == SR  # delay and padding trimmed: the same length
    assert int(np.argmax(np.abs(back[:, 0]))) == click_at
    with AudioFile(str(written.path)) as f:
        raw = f.read(f.frames)
    assert int(np.argmax(np.abs(raw[0]))) == click_at + gapless["offset_without_gapless_samples"]
    assert raw.shape[-1] == SR + gapless["encoder_delay_samples"] + gapless["padding_samples"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("für Elise", "für-elise"),
        ("キック ドラム", "キック-ドラム"),
        ("हिन्दी ताल", "हिन्दी-ताल"),
        ('kick: "808" <dark>/|?*\\', "kick-808-dark"),
        ("CON", "con_"),
        ("lpt1", "lpt1_"),
        ("...", "render"),
        ("tab\tnew\nline", "tab-new-line"),
    ],
)
def test_slug_keeps_letters_of_any_script_and_is_safe_everywhere(text, expected):
    from diffhost.host.render.export import slug

    s = slug(text)
    assert s == expected
    assert not set(s) & set('<>:"/\\|?*') and s == s.strip(" .") and s.isprintable()
