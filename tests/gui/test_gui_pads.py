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
    window.pad_control.assign(2, wav)
    assert window.status_message.text() == "Pad 3: no audio device in this test"
    assert window.pads.pads[2].state == "empty"
    window.pads.tempo_changed.emit(128.0)
    assert window.status_message.text() == "Tempo: audio: no audio device is open in this session"


def test_pad_key_triggers_the_host_slot_and_shows_its_state(qtbot, host_audio, session, settings, wav):
    from diffhost.gui.main_window import MainWindow

    session.audio = host_audio
    w = MainWindow(session, settings=settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    try:
        assert w.pads.pads[4].isEnabled()
        w.pad_control.assign(4, wav)  # pad 5, key Q
        qtbot.waitUntil(lambda: w.pads.pads[4].state == "ready", timeout=5000)
        assert host_audio.slot_state(4) == "ready"
        w.setFocus()
        qtbot.keyClick(w, Qt.Key.Key_Q)
        qtbot.waitUntil(lambda: host_audio.slot_state(4) == "playing", timeout=2000)
        qtbot.waitUntil(lambda: w.pads.pads[4].state == "playing", timeout=2000)
        qtbot.waitUntil(lambda: host_audio.slot_state(4) == "ready", timeout=3000)  # the 0.5 s tone ends
        qtbot.waitUntil(lambda: w.pads.pads[4].state == "ready", timeout=2000)
        qtbot.keyClick(w, Qt.Key.Key_V)  # pad 16 is empty: the host says so
        assert w.status_message.text() == "Pad 16: slot 15: is empty; assign a clip first"
    finally:
        w.close()
        session.audio = None
