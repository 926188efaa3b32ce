"""Effects chains: order, bypass, latency, Convolution, and the errors users see."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from diffhost.host.render.effects import EffectChain, EffectError, builtin_effects, parse_chain, parse_effect

SR = 48000


def tone(amp: float = 0.5, seconds: float = 0.5, freq: float = 1000.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return np.tile((amp * np.sin(2 * np.pi * freq * t)).astype(np.float32), (2, 1))


def peak_db(x: np.ndarray) -> float:
    return 20 * math.log10(float(np.max(np.abs(x))))


def test_builtins_are_read_from_pedalboard():
    fx = builtin_effects()
    for name in ("Compressor", "Reverb", "LadderFilter", "Convolution", "PitchShift", "Bitcrush", "Limiter"):
        assert name in fx
    assert fx["Compressor"].params["threshold_db"].unit == "dB"
    assert fx["Reverb"].params["room_size"].default == 0.5
    assert "LPF24" in fx["LadderFilter"].params["mode"].choices


def test_chain_order_matters_as_physics_says():
    # Clip at -6 dBFS then +12 dB gain peaks at +6 dBFS; gain first then clip peaks at -6 dBFS.
    x = tone(0.5)
    clip_then_gain = EffectChain(
        parse_chain(
            [
                {"effect": "Clipping", "params": {"threshold_db": -6.0}},
                {"effect": "Gain", "params": {"gain_db": 12.0}},
            ]
        )
    )
    gain_then_clip = EffectChain(
        parse_chain(
            [
                {"effect": e["effect"], "params": e["params"]}
                for e in [
                    {"effect": "Gain", "params": {"gain_db": 12.0}},
                    {"effect": "Clipping", "params": {"threshold_db": -6.0}},
                ]
            ]
        )
    )
    assert peak_db(clip_then_gain.process(x, SR)) == pytest.approx(6.0, abs=0.05)
    assert peak_db(gain_then_clip.process(x, SR)) == pytest.approx(-6.0, abs=0.05)


def test_bypass_skips_an_effect_but_keeps_it_in_the_chain():
    x = tone(0.25)
    chain = EffectChain(
        parse_chain(
            [
                {"effect": "Gain", "params": {"gain_db": -6.0}},
                {"effect": "Gain", "params": {"gain_db": 20.0}, "bypass": True},
            ]
        )
    )
    assert len(chain) == 2 and len(chain.active) == 1
    assert peak_db(chain.process(x, SR)) == pytest.approx(20 * math.log10(0.25) - 6.0, abs=0.01)
    assert chain.describe()[1]["bypass"] is True


def test_latency_of_an_effect_is_compensated():
    # PitchShift reports latency to pedalboard; an impulse must come out where it went in.
    x = np.zeros((2, SR), np.float32)
    x[:, 12000] = 1.0
    chain = EffectChain(
        parse_chain(
            [
                {"effect": "PitchShift", "params": {"semitones": 0.0}},
                {"effect": "Gain", "params": {"gain_db": 0.0}},
            ]
        )
    )
    y = chain.process(x, SR)
    assert y.shape == x.shape
    assert abs(int(np.argmax(np.abs(y[0]))) - 12000) <= 2


def test_convolution_with_an_impulse_response_file(tmp_path):
    ir = np.zeros(4800, np.float32)
    ir[0], ir[2400] = 0.5, 0.25  # direct sound and one echo 50 ms later
    sf.write(tmp_path / "echo.wav", ir, SR, subtype="FLOAT")
    chain = EffectChain(
        parse_chain(
            [{"effect": "Convolution", "params": {"impulse_response_filename": "echo.wav", "mix": 1.0}}],
            base_dir=tmp_path,
        )
    )
    x = np.zeros((1, SR // 2), np.float32)
    x[0, 1000] = 1.0
    y = chain.process(x, SR)[0]
    big = np.flatnonzero(np.abs(y) > 0.2 * np.max(np.abs(y)))  # JUCE normalizes the IR's energy
    assert list(big) == [1000, 3400]
    assert y[1000] / y[3400] == pytest.approx(2.0, rel=0.02)
    described = chain.describe(SR)[0]
    assert len(described["impulse_response_sha256"]) == 64


def test_unknown_effect_lists_valid_names():
    with pytest.raises(EffectError) as err:
        parse_effect({"effect": "Revreb"}, where="effects[1]")
    msg = str(err.value)
    assert "effects[1]: unknown effect 'Revreb' (did you mean 'Reverb'?)" in msg
    assert "Compressor" in msg and "LadderFilter" in msg and "plugin" in msg


def test_unknown_parameter_lists_valid_ones_with_units():
    with pytest.raises(
        EffectError,
        match=r"unknown parameter 'threshold'.*valid are threshold_db \(dB\), ratio, attack_ms \(ms\)",
    ):
        parse_effect({"effect": "Compressor", "params": {"threshold": -10}})


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"effect": "Gain", "params": {"gain_db": 100}},
            r"gain_db: 100 is out of range; valid is -96..48 dB",
        ),
        (
            {"effect": "Limiter", "params": {"threshold_db": 3}},
            r"threshold_db: 3 is out of range; valid is -60..0 dB",
        ),
        (
            {"effect": "Reverb", "params": {"room_size": 2.0}},
            r"room_size=2.0: Room Size value must be between 0.0 and 1.0",
        ),
        (
            {"effect": "Delay", "params": {"delay_seconds": 100}},
            r"delay_seconds=100.0: Delay .* between 0.0s and 30s",
        ),
        (
            {"effect": "LadderFilter", "params": {"mode": "LP"}},
            r"mode: 'LP' is not valid; choose one of LPF12, HPF12",
        ),
        ({"effect": "Gain", "params": {"gain_db": "loud"}}, r"gain_db: expected a number in dB, got 'loud'"),
        ({"effect": "Reverb", "bypas": True}, r"unknown key 'bypas'; valid are effect, params, bypass"),
    ],
)
def test_out_of_range_values_say_the_valid_range(entry, expected):
    with pytest.raises(EffectError, match=expected):
        parse_effect(entry)


def test_cutoff_above_nyquist_is_reported_at_the_sample_rate():
    chain = EffectChain(
        parse_chain([{"effect": "LowpassFilter", "params": {"cutoff_frequency_hz": 30000.0}}])
    )
    with pytest.raises(
        EffectError, match=r"30000 Hz is at or above half the sample rate \(24000 Hz at 48000 Hz\)"
    ):
        chain.process(tone(), SR)


def test_plugin_that_fails_to_load_says_why(tmp_path):
    with pytest.raises(EffectError, match=r"cannot load: .*missing.vst3 does not exist"):
        parse_effect({"effect": "plugin", "path": str(tmp_path / "missing.vst3")})
    (tmp_path / "notes.txt").write_text("not a plugin")
    with pytest.raises(EffectError, match=r"\.txt is not a plugin format diffhost loads; expected \.vst3"):
        parse_effect({"effect": "plugin", "path": str(tmp_path / "notes.txt")})
    fake = tmp_path / "Broken.vst3"  # a bundle folder with no binary inside
    (fake / "Contents").mkdir(parents=True)
    with pytest.raises(
        EffectError, match=r"plugin Broken.vst3\): cannot load: .*Unable to scan plugin .*Broken.vst3"
    ):
        parse_effect({"effect": "plugin", "path": str(fake)})
    with pytest.raises(EffectError, match="state is not valid base64"):
        parse_effect({"effect": "plugin", "path": str(fake), "state": "%%%", "bypass": True})


def test_chain_reports_nan_instead_of_writing_it():
    x = tone(0.5)
    x[0, 10] = np.nan
    chain = EffectChain(parse_chain([{"effect": "Gain", "params": {"gain_db": 0.0}}]))
    with pytest.raises(EffectError, match="NaN"):
        chain.process(x, SR)
