"""Pads: the key and click paths reach the session; without host audio they say why."""

from __future__ import annotations

from PyQt6.QtCore import Qt


def test_pad_key_reaches_session_and_shows_why_without_audio(qtbot, window):
    window.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_W)  # pad 6
    assert window.status_message.text() == "Pad 6: audio: no audio device is open in this session"
    assert not window.pads.pads[5].isEnabled()
    assert window.pads.status.text() == "Pads unavailable: no audio device in this test"


def test_pad_keys_do_not_fire_while_typing_a_prompt(qtbot, window):
    window.params.prompt.setFocus()
    qtbot.keyClicks(window.params.prompt, "qwer")
    assert window.params.prompt.text() == "qwer"
    assert not window.status_message.text().startswith("Pad")


def test_assign_and_tempo_without_audio_report_and_change_nothing(qtbot, window, wav):
    window.assign_pad(2, wav)
    assert window.status_message.text() == "Pad 3: no audio device in this test"
    assert window.pads.pads[2].state == "empty"
    window.pads.tempo_changed.emit(128.0)
    assert window.status_message.text() == "Tempo: audio: no audio device is open in this session"
