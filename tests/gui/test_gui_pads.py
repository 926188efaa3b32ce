"""Pads: keys, clicks and the per-pad controls reach the session; states arrive as pushed events;
without host audio they say why. Pads are numbered 1..16 here as everywhere."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import Qt

from tests.gui.windows import live_window_of


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
    window.pad_control.assign(3, wav)
    assert window.status_message.text() == "Pad 3: no audio device in this test"
    assert window.pads.pads[2].state == "empty"
    # The one Tempo without audio: the pads show it (they start at it once audio is on), renders
    # take it once auto is off; nothing complains.
    window.params.bpm.setText("128")
    window.params.commit_bpm()
    assert window.pads.tempo.text() == "128 BPM" and window.session.params.bpm is None
    window.params.bpm_auto.click()
    assert window.session.params.bpm == 128.0 and not window.params.field_error.isVisible()
    assert window.pads.status.text() == "Pads unavailable: no audio device in this test"


@pytest.fixture
def live_window(qtbot, host_audio, session, settings):
    yield from live_window_of(qtbot, host_audio, session, settings, autoplay=None)


def test_pad_key_triggers_the_host_slot_and_shows_its_pushed_state(qtbot, live_window, host_audio, wav):
    w = live_window
    assert w.pads.pads[4].isEnabled()
    w.pad_control.assign(5, wav)  # pad 5, key Q
    qtbot.waitUntil(lambda: w.pads.pads[4].state == "ready", timeout=5000)
    assert host_audio.slot_state(5) == "ready"
    assert "tone" in w.pads.pads[4].text()
    w.setFocus()
    qtbot.keyClick(w, Qt.Key.Key_Q)
    qtbot.waitUntil(lambda: host_audio.slot_state(5) == "playing", timeout=2000)
    qtbot.waitUntil(lambda: w.pads.pads[4].state == "playing", timeout=2000)
    # the 0.5 s tone ends in the audio thread: the pad hears it as a pushed event, nothing polls
    assert not hasattr(w.pad_control, "poll")
    qtbot.waitUntil(lambda: w.pads.pads[4].state == "ready", timeout=3000)
    qtbot.keyClick(w, Qt.Key.Key_V)  # pad 16 is empty: the host says so, with the same number
    assert w.status_message.text() == "Pad 16: slot 16: is empty; assign a clip first"


def test_mode_menu_and_pad_controls_set_the_slot_and_show_the_mode(qtbot, live_window, host_audio, wav):
    w = live_window
    w.pads.mode_changed.emit(3, "loop")  # what Right-click -> Mode -> loop emits
    assert host_audio.slot_options(3).mode == "loop"
    assert "loop" in w.pads.pads[2].text()
    assert not w.status_message.text().startswith("Pad 3")  # no TypeError, no complaint

    w.pads.select(3)
    assert w.pads.mode.currentData() == "loop"
    w.pads.gain.setValue(-6.0)
    w.pads.pan.setValue(-50)
    w.pads.choke.setValue(2)
    w.pads.pad_quantize.setCurrentIndex(w.pads.pad_quantize.findData(0.25))
    w.pads.pad_quantize.activated.emit(w.pads.pad_quantize.currentIndex())
    o = host_audio.slot_options(3)
    assert o.gain == pytest.approx(10 ** (-6 / 20))
    assert (o.pan, o.choke_group, o.quantize) == (-0.5, 2, 0.25)

    w.pads.select(4)  # another pad shows its own options
    assert (w.pads.mode.currentData(), w.pads.gain.value(), w.pads.choke.value()) == ("oneshot", 0.0, 0)
    assert host_audio.slot_options(3).gain == pytest.approx(10 ** (-6 / 20))  # showing changed nothing


def test_pad_keys_never_change_the_tempo_field(qtbot, live_window, host_audio, wav):
    w = live_window
    try:
        qtbot.mouseClick(w.params.bpm, Qt.MouseButton.LeftButton)  # the musician types a tempo
        qtbot.keyClicks(w.params.bpm, "60")
        qtbot.keyClick(w.params.bpm, Qt.Key.Key_Return)
        assert w.focusWidget() is not w.params.bpm  # Enter hands the keyboard back to the pads
        assert host_audio.tempo == 60.0 and w.session.params.bpm is None  # renders on auto
        for _ in range(3):
            qtbot.keyClick(w.focusWidget() or w, Qt.Key.Key_2)
        assert w.params.bpm.text() == "60" and host_audio.tempo == 60.0
        assert w.status_message.text() == "Pad 2: slot 2: is empty; assign a clip first"  # the key fired pad 2
    finally:
        host_audio.set_tempo(120.0)


def test_kits_and_the_tempo_source_from_the_live_menu(qtbot, host_audio, session, settings, tmp_path, wav):
    from diffhost.gui.main_window import MainWindow
    from diffhost.host.live.kit import KitStore
    from diffhost.host.live.rig import LiveRig

    session.audio = host_audio
    live = LiveRig(session, kits=KitStore(tmp_path / "config"))
    w = MainWindow(session, settings=settings, live=live)
    qtbot.addWidget(w)
    w.show()
    try:
        host_audio.assign_file(2, wav)
        host_audio.set_slot_options(2, mode="gate")
        w.live_menu.save_kit_to(tmp_path / "set.json")
        assert w.status_message.text() == "Kit saved: set.json"
        host_audio.clear_slot(2)
        host_audio.set_slot_options(2, mode="oneshot")
        qtbot.waitUntil(lambda: w.pads.pads[1].state == "empty", timeout=2000)
        w.live_menu.load_kit_from(tmp_path / "set.json")
        qtbot.waitUntil(lambda: w.status_message.text().startswith("Kit loaded: set.json"), timeout=5000)
        assert "Ctrl+Z puts the pads back" in w.status_message.text()
        # the pad's new state reaches the window with the audio's next event poll, not with the status line
        qtbot.waitUntil(lambda: w.pads.pads[1].state == "ready" and "gate" in w.pads.pads[1].text(), timeout=5000)
        assert "tone" in w.pads.pads[1].text() and host_audio.slot_options(2).mode == "gate"

        # a kit loaded by mistake is taken back: the pads as they were (pad 2 empty, one-shot)
        assert w.undo_action.text() == "Undo kit load (set.json)"
        w.undo()
        qtbot.waitUntil(lambda: w.status_message.text().startswith("Pads are back"), timeout=5000)
        assert host_audio.slot_source(2) is None and host_audio.slot_options(2).mode == "oneshot"
        qtbot.waitUntil(lambda: w.pads.pads[1].state == "empty", timeout=5000)
        w.live_menu.load_kit_from(tmp_path / "set.json")  # and loaded again for what follows
        qtbot.waitUntil(lambda: host_audio.slot_options(2).mode == "gate", timeout=5000)

        w.live_menu.set_tempo_source("midi clock")
        qtbot.waitUntil(lambda: w.pads.tempo_source.text() == "midi clock", timeout=2000)
        assert not w.params.bpm.isEnabled()  # the clock sets it; typing it here would be overridden
        assert w.params.tempo_note.text() == "BPM · MIDI clock"
        assert w.live_menu.tempo_actions["midi clock"].isChecked()
        w.live_menu.set_tempo_source("session")
        assert w.params.bpm.isEnabled()
    finally:
        w.close()
        live.close()
        host_audio.clear_slot(2)
        host_audio.set_slot_options(2, mode="oneshot")
        session.audio = None


def test_a_fresh_pad_from_the_pad_menu_fills_itself_and_shows_it(qtbot, host_audio, session, settings, tmp_path):
    from diffhost.gui.main_window import MainWindow
    from diffhost.host.live.rig import LiveRig

    session.audio = host_audio
    session.set_param("prompt", "tight snare")
    session.set_param("length", 0.25)
    live = LiveRig(session)
    w = MainWindow(session, settings=settings, live=live)
    qtbot.addWidget(w)
    w.show()
    try:
        w.pads.fresh_requested.emit(3, True)  # what the pad menu's "Fresh" toggle emits
        assert w.pads.pads[2].fresh and "fresh" in w.pads.pads[2].text()
        qtbot.waitUntil(lambda: host_audio.slot_state(3) == "ready", timeout=60000)
        qtbot.waitUntil(lambda: w.pads.pads[2].state == "ready", timeout=2000)
        first = host_audio.slot_source(3).label
        qtbot.waitUntil(lambda: live.fresh.pool_size(3) >= 1, timeout=60000)
        w.pad_control.trigger(3)
        qtbot.waitUntil(lambda: host_audio.slot_source(3).label != first, timeout=2000)  # the next one is in
        assert live.fresh.stats(3).fresh_hits == 1
        w.pads.fresh_requested.emit(3, False)
        assert not live.fresh.is_fresh(3) and "fresh" not in w.pads.pads[2].text()
    finally:
        w.close()
        live.close()
        host_audio.stop_all()
        host_audio.clear_slot(3)
        session.audio = None
