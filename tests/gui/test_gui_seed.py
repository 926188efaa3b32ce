"""Seed audio panel: a corrupt file shows an error and changes nothing; a dropped file loads."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPoint, QPointF, Qt
from PyQt6.QtGui import QDragEnterEvent, QDropEvent
from PyQt6.QtWidgets import QApplication

from diffhost.gui.dragout import file_mime


def test_corrupt_seed_file_shows_error_and_app_keeps_working(qtbot, window, tmp_path, wav):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage that is not audio" * 4)
    window.load_seed(bad)
    qtbot.waitUntil(lambda: window.seed_panel.error.isVisible(), timeout=5000)
    message = window.seed_panel.error.text()
    assert "broken.wav" in message and "cannot read audio" in message
    assert "broken.wav" in window.status_message.text()
    assert window.session.seed_clip is None  # nothing changed

    # The app keeps working: a good file loads and shows.
    window.load_seed(wav)
    qtbot.waitUntil(lambda: window.session.seed_clip is not None, timeout=5000)
    qtbot.waitUntil(lambda: "tone.wav" in window.seed_panel.name.text(), timeout=5000)
    assert "0.50 s" in window.seed_panel.name.text() and "44100 Hz" in window.seed_panel.name.text()
    assert not window.seed_panel.error.isVisible()
    x, y = window.seed_panel.curve.getData()
    assert np.isclose(np.max(y), 0.5, atol=0.01)
    assert window.session.seed_clip.audio.shape == (2, 22050)


def test_dropping_an_audio_file_on_the_seed_panel_loads_it(qtbot, window, wav):
    panel = window.seed_panel
    mime = file_mime([wav])
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(panel, enter)  # a real drag enters before it drops
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(panel, drop)
    assert drop.isAccepted()
    qtbot.waitUntil(lambda: window.session.seed_clip is not None, timeout=5000)
    assert window.session.seed_clip.sample_rate == 44100


def test_seed_clear_and_record_without_audio_say_why(qtbot, window, wav):
    window.load_seed(wav)
    qtbot.waitUntil(lambda: window.seed_panel.clear.isEnabled(), timeout=5000)
    qtbot.mouseClick(window.seed_panel.clear, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "No seed audio" in window.seed_panel.name.text(), timeout=5000)
    assert window.session.seed_clip is None
    assert not window.seed_panel.record.isEnabled()
    window.record_seed(1.0)
    assert window.status_message.text() == "Record: no audio device in this test"
