"""Our reply encoder against python-osc's parser, and the argument helpers' contracts."""

from __future__ import annotations

import math

import pytest
from pythonosc.osc_message import OscMessage

from diffhost.osc import messages as out
from diffhost.osc.args import OscArgError, as_float, as_int


def test_encoded_replies_parse_with_python_osc_and_keep_types():
    data = out.encode(
        "/diffhost/job/done", 3, "/r/kick.wav", 0.5, 44100, 2**40, 1e300, float("nan"), None, True
    )
    m = OscMessage(data)
    assert m.address == "/diffhost/job/done"
    assert m.params == [3, "/r/kick.wav", 0.5, 44100, 2**40, 1e300, 0.0, "", 1]
    tags = data[data.index(b",") :].split(b"\x00")[0]
    assert tags == b",isfihdfsi"
    assert len(data) % 4 == 0


def test_reply_text_is_cut_and_nul_free():
    m = OscMessage(out.encode("/diffhost/error", "a\x00b" + "x" * 5000))
    assert m.params[0].startswith("a b") and len(m.params[0]) == out.MAX_REPLY_TEXT


def test_param_wire_values():
    assert out.param_value("steps", None) == -1 and out.param_value("guidance", None) == -1.0
    assert out.param_value("prompt", None) == "" and out.param_value("model", "x") == "x"
    assert out.param_value("sample_rate", 48000) == 48000 and out.param_value("length", 1) == 1.0


def test_numbers_from_float_only_clients_are_accepted():
    assert as_int("port", 12001.0, 1, 65535) == 12001
    with pytest.raises(OscArgError, match=r"port: expected a whole number in 1\.\.65535, got 1\.5"):
        as_int("port", 1.5, 1, 65535)
    with pytest.raises(OscArgError, match="got bool"):
        as_float("gain", True, 0, 4)
    with pytest.raises(OscArgError, match="out of range"):
        as_float("gain", math.inf, 0, 4)
