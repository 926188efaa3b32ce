"""Tempo and key in the window: the one Tempo sets the session's bpm and the pads' grid,
values set over OSC show up, bad values are refused inline; a render shows the music it used; and
recording a seed and rendering from it is one click, on the real sounddevice path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PyQt6.QtCore import Qt

from diffhost.engine.request import BPM_RANGE, parse_key_name
from diffhost.gui.params_panel import KEY_NAMES
from tests.jackd import Peer


def _type(qtbot, field, text: str) -> None:
    field.setFocus()
    field.clear()
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def test_key_box_offers_the_24_keys_and_auto_with_the_request_parser(window):
    box = window.params.key
    names = [box.itemText(i) for i in range(box.count()) if box.itemData(i) is not None]
    assert box.itemText(0) == "auto" and len(names) == 24 and names == list(KEY_NAMES)
    assert sorted(parse_key_name(n) for n in names) == sorted((p, m) for p in range(12) for m in (False, True))


def test_tempo_and_key_fields_set_the_session_and_refuse_bad_values_inline(qtbot, window):
    p, s = window.params, window.session
    assert p.bpm_auto.isChecked() and s.params.bpm is None and p.bpm.text() == "120"
    _type(qtbot, p.bpm, "124")  # auto on: the tempo is the pads', renders choose theirs
    assert s.params.bpm is None and p.bpm.text() == "124" and window.pads.tempo.text() == "124 BPM"
    p.bpm_auto.click()  # auto off: renders are made at the tempo
    assert s.params.bpm == 124.0
    length = p.length.value()
    assert p.tempo_note.text() == f"BPM · {length * 124 / 240:.2f} bars"

    for bad, why in (("400", "out of range"), ("fast", "expected a number"), ("39.9", "out of range")):
        _type(qtbot, p.bpm, bad)
        assert p.field_error.isVisible(), bad
        assert why in p.field_error.text() and "Tempo stays 124" in p.field_error.text()
        assert s.params.bpm == 124.0 and p.bpm.text() == "124"  # nothing changed
        assert window.pads.tempo.text() == "124 BPM"
    assert f"{BPM_RANGE[0]}..{BPM_RANGE[1]}" in p.field_error.text()  # the session's own range

    _type(qtbot, p.bpm, "120")  # a good value clears the message
    assert not p.field_error.isVisible() and s.params.bpm == 120.0
    p.length.setValue(4.0)
    assert p.tempo_note.text() == "BPM · 2 bars"  # whole bars: it loops
    qtbot.keyClick(p.bpm, Qt.Key.Key_Up)  # arrows step it, like a spin box
    assert s.params.bpm == 121.0 and p.bpm.text() == "121"

    p.key.setCurrentIndex(p.key.findData("F# minor"))
    p.key.activated.emit(p.key.currentIndex())  # what choosing it in the list emits
    assert s.params.key == "F# minor"
    _type(qtbot, p.bpm, "auto")  # typing auto (or clearing the field) is the toggle
    assert p.bpm_auto.isChecked() and s.params.bpm is None and p.bpm.text() == "121"
    p.key.setCurrentIndex(0)
    p.key.activated.emit(0)
    assert s.params.key is None
    assert window.render() is not None  # a render goes out with auto tempo and key
    qtbot.waitUntil(lambda: not window.jobs, timeout=30000)

    # Ctrl+R with a refused tempo still in the field renders nothing and says why.
    p.bpm.setText("999")
    assert window.render() is None and "Render: bpm: 999.0 is out of range" in window.status_message.text()
    assert s.params.bpm is None and p.bpm.text() == "121"


def test_tempo_and_key_set_over_osc_show_in_the_window(qtbot, window):
    from pythonosc.udp_client import SimpleUDPClient

    from diffhost.osc import server as osc_server

    server = osc_server.OscServer(window.session, osc_server.OscConfig(port=0)).start()
    try:
        client = SimpleUDPClient(*server.address)
        client.send_message("/diffhost/param/set", ["bpm", 96])
        client.send_message("/diffhost/param/set", ["key", "D# major"])  # found as the box spells it
        qtbot.waitUntil(lambda: window.params.bpm.text() == "96", timeout=5000)
        assert not window.params.bpm_auto.isChecked() and window.pads.tempo.text() == "96 BPM"
        qtbot.waitUntil(lambda: window.params.key.currentText() == "Eb major", timeout=5000)
        assert window.session.params.bpm == 96.0 and window.session.params.key == "D# major"
        client.send_message("/diffhost/param/set", ["bpm", 0])  # 0 clears it (docs/osc.md)
        qtbot.waitUntil(lambda: window.params.bpm_auto.isChecked(), timeout=5000)
        assert window.params.bpm.text() == "96"  # the tempo stays; renders choose theirs
    finally:
        server.stop()


@pytest.fixture
def tempo_window(qtbot, host_audio, session, settings):
    from diffhost.gui.main_window import MainWindow

    host_audio.set_tempo(120.0)
    session.audio = host_audio
    w = MainWindow(session, settings=settings)
    w.autoplay.setChecked(False)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()
    host_audio.set_tempo(120.0)
    session.audio = None


def test_one_tempo_for_renders_and_pads(qtbot, tempo_window, host_audio):
    w, s = tempo_window, tempo_window.session
    assert w.pads.tempo.text() == "120 BPM" and w.params.bpm.text() == "120" and s.params.bpm is None
    _type(qtbot, w.params.bpm, "132")
    assert host_audio.tempo == 132.0 and s.params.bpm is None  # quantize moves; renders on auto
    qtbot.waitUntil(lambda: w.pads.tempo.text() == "132 BPM", timeout=2000)
    w.params.bpm_auto.click()
    assert s.params.bpm == 132.0  # a loop rendered now lands on the pads' grid

    s.set_param("bpm", 90)  # what OSC /diffhost/param/set bpm 90 calls: the pads follow
    qtbot.waitUntil(lambda: host_audio.tempo == 90.0 and w.pads.tempo.text() == "90 BPM", timeout=2000)
    assert w.params.bpm.text() == "90"

    s.set_tempo(100.0)  # OSC /diffhost/tempo 100 (or a MIDI CC): renders follow the grid
    qtbot.waitUntil(lambda: s.params.bpm == 100.0 and w.params.bpm.text() == "100", timeout=2000)

    w.params.bpm_auto.click()  # auto: renders choose; the grid stays where it was
    assert s.params.bpm is None and host_audio.tempo == 100.0
    s.set_tempo(110.0)
    qtbot.waitUntil(lambda: w.params.bpm.text() == "110" and w.pads.tempo.text() == "110 BPM", timeout=2000)
    assert s.params.bpm is None

    _type(qtbot, w.params.bpm, "500")  # refused: neither the renders' tempo nor the grid moves
    assert w.params.field_error.isVisible() and s.params.bpm is None and host_audio.tempo == 110.0
    assert w.params.bpm.text() == "110"
    _type(qtbot, w.params.bpm, "112")  # a good one answers the message
    assert not w.params.field_error.isVisible() and host_audio.tempo == 112.0


def _bars(path: Path, bpm: float) -> float:
    info = sf.info(str(path))
    return info.frames / info.samplerate * bpm / 240.0


def test_render_at_a_tempo_and_key_shows_its_music_and_sidecar(qtbot, window):
    p = window.params
    p.prompt.setText("house drum loop with bass")
    p.length.setValue(5.0)
    _type(qtbot, p.bpm, "96")  # 5 s at 96 BPM = 2 bars
    p.bpm_auto.click()
    p.key.setCurrentIndex(p.key.findData("A minor"))
    p.key.activated.emit(p.key.currentIndex())
    assert window.render() is not None
    qtbot.waitUntil(lambda: not window.jobs and window.current is not None, timeout=60000)

    path = window.current.path
    assert _bars(path, 96.0) == pytest.approx(2.0, abs=1e-4)
    music = json.loads(path.with_name(path.name + ".json").read_text())["music"]
    assert (music["bpm"], music["key"], music["bars"], music["loop"]) == (96.0, "A minor", 2.0, True)
    assert window.waveform.music.text() == "96 BPM · A minor · 2 bars · loop"
    assert "96 BPM · A minor · 2 bars · loop" in window.status_message.text()

    from diffhost.gui.history import COLUMNS

    qtbot.waitUntil(lambda: window.history.table.rowCount() == 1, timeout=5000)
    assert window.history.table.item(0, COLUMNS.index("Music")).text() == "96 BPM · A minor · 2 bars · loop"
    # A one-shot (auto tempo and key) has no music: the header shows none.
    p.prompt.setText("punchy analog kick")
    p.length.setValue(0.5)
    p.bpm_auto.click()
    p.key.setCurrentIndex(0)
    p.key.activated.emit(0)
    assert window.render() is not None
    qtbot.waitUntil(lambda: not window.jobs and window.current.path != path, timeout=60000)
    assert window.waveform.music.text() == ""


def test_history_without_a_library_shows_the_music_of_session_renders(qtbot, engine, tmp_path, settings):
    from diffhost.gui.history import COLUMNS
    from diffhost.gui.main_window import MainWindow
    from diffhost.host.session import Session

    session = Session(engine, renders_dir=tmp_path / "plain")
    w = MainWindow(session, settings=settings, unavailable={"library": "off in this test"})
    w.autoplay.setChecked(False)
    qtbot.addWidget(w)
    try:
        session.update_params(prompt="boom bap drum loop", length=4.0, bpm=120, key="C minor")
        w.params.set_values({"prompt": "boom bap drum loop", "length": 4.0, "bpm": 120, "key": "C minor"})
        assert w.render() is not None
        qtbot.waitUntil(lambda: w.history.table.rowCount() == 1, timeout=60000)
        assert w.history.table.item(0, COLUMNS.index("Music")).text() == "120 BPM · C minor · 2 bars · loop"
    finally:
        w.close()
        session.close()


# -- record -> render ---------------------------------------------------------------------------
@pytest.fixture
def recording_audio(host_audio, tmp_path):
    """HostAudio with an input, on the JACK server host_audio started, fed by the peer."""
    from diffhost.host.audio import open_host_audio

    audio = open_host_audio(output="JACK", input="JACK", input_channels=1, sample_rate=48000, block_size=128)
    peer = Peer(os.environ["JACK_DEFAULT_SERVER"], tmp_path)
    try:
        peer.connect()
        yield audio, peer
    finally:
        peer.close()
        audio.close()


def test_record_then_render_is_one_click(qtbot, recording_audio, session, settings, tmp_path):
    from diffhost.gui.main_window import MainWindow

    audio, peer = recording_audio
    session.audio = audio
    w = MainWindow(session, settings=settings)
    w.autoplay.setChecked(False)
    qtbot.addWidget(w)
    w.show()
    try:
        w.params.prompt.setText("drum loop")
        w.params.length.setValue(2.0)
        _type(qtbot, w.params.bpm, "120")  # 2 s at 120 BPM = 1 bar
        w.params.bpm_auto.click()
        w.seed_panel.seconds.setValue(1.0)
        # A tapped rhythm: short noise bursts every 250 ms, for longer than the recording.
        rate = 48000
        taps = np.zeros((2, 4 * rate), np.float32)
        rng = np.random.default_rng(11)
        for k in range(16):
            taps[:, k * rate // 4 : k * rate // 4 + 480] = rng.uniform(-0.5, 0.5, 480)
        peer.play(taps)

        assert w.seed_panel.record_render.isEnabled()
        qtbot.mouseClick(w.seed_panel.record_render, Qt.MouseButton.LeftButton)  # the one gesture
        assert not w.seed_panel.record_render.isEnabled()  # while it records, and says so
        assert w.seed_panel.record_render.text() == "● Recording…" and not w.seed_panel.record.isEnabled()
        qtbot.waitUntil(lambda: session.seed_clip is not None, timeout=10000)
        clip = session.seed_clip
        assert clip.sample_rate == rate and clip.audio.shape == (1, rate)
        assert np.max(np.abs(clip.audio)) == pytest.approx(0.5, abs=0.01)  # the taps, not silence
        qtbot.waitUntil(lambda: w.current is not None and not w.jobs, timeout=60000)

        path = w.current.path
        side = json.loads(path.with_name(path.name + ".json").read_text())
        assert side["params"]["seed_clip"]["samples"] == rate  # rendered from the recording
        assert side["music"]["bpm"] == 120.0 and side["music"]["bars"] == 1.0
        assert _bars(path, 120.0) == pytest.approx(1.0, abs=1e-4)
        assert w.seed_panel.record_render.isEnabled() and "recording" in w.seed_panel.name.text()
        assert w.seed_panel.record_render.text() == "● Rec → Render"
    finally:
        w.close()
        session.audio = None


def test_following_a_clock_the_renders_take_its_tempo_unless_auto(qtbot, host_audio, session, settings):
    from diffhost.gui.main_window import MainWindow
    from diffhost.host.live.rig import LiveRig

    host_audio.set_tempo(120.0)
    session.audio = host_audio
    live = LiveRig(session)
    w = MainWindow(session, settings=settings, live=live)
    qtbot.addWidget(w)
    try:
        w.params.bpm_auto.click()  # renders at the tempo
        assert session.params.bpm == 120.0
        w.live_menu.set_tempo_source("midi clock")
        qtbot.waitUntil(lambda: not w.params.bpm.isEnabled(), timeout=2000)
        live.sync.update("midi clock", 127.96)  # what the clock follower reports
        qtbot.waitUntil(lambda: session.params.bpm == 128.0, timeout=2000)  # to 0.1 BPM: clock jitter
        assert host_audio.tempo == pytest.approx(127.96) and w.params.bpm.text() == "128"
        w.params.bpm_auto.click()  # auto: the clock moves the pads only
        live.sync.update("midi clock", 90.0)
        qtbot.waitUntil(lambda: w.params.bpm.text() == "90", timeout=2000)
        assert session.params.bpm is None and w.pads.tempo.text() == "90 BPM"
    finally:
        w.close()
        live.close()
        host_audio.set_tempo(120.0)
        session.audio = None


def test_tempo_and_key_come_back_with_the_window(qtbot, window, settings):
    from diffhost.gui.main_window import MainWindow

    p = window.params
    _type(qtbot, p.bpm, "87.5")
    p.bpm_auto.click()
    p.key.setCurrentIndex(p.key.findData("G minor"))
    p.key.activated.emit(p.key.currentIndex())
    window.close()  # saves its state
    session = window.session
    session.update_params(bpm=None, key=None)
    again = MainWindow(session, settings=settings, unavailable={"audio": "no audio device in this test"})
    qtbot.addWidget(again)
    try:
        assert (session.params.bpm, session.params.key) == (87.5, "G minor")
        assert again.params.bpm.text() == "87.5" and not again.params.bpm_auto.isChecked()
        assert again.params.key.currentText() == "G minor" and again.pads.tempo.text() == "87.5 BPM"
    finally:
        again.close()


def test_a_pads_tempo_renders_cannot_take_is_said_and_render_still_goes(qtbot, tempo_window, host_audio):
    w, s = tempo_window, tempo_window.session
    _type(qtbot, w.params.bpm, "124")
    w.params.bpm_auto.click()
    s.set_tempo(320.0)  # OSC /diffhost/tempo takes 20..999; renders take 40..300
    qtbot.waitUntil(lambda: w.pads.tempo.text() == "320 BPM", timeout=2000)
    assert w.params.field_error.isVisible() and "renders stay at 124 BPM" in w.params.field_error.text()
    assert s.params.bpm == 124.0
    w.params.prompt.setText("techno drum loop")
    w.params.length.setValue(0.5)
    assert w.render() is not None  # at 124: the note does not block rendering
    qtbot.waitUntil(lambda: not w.jobs, timeout=30000)
    s.set_tempo(126.0)
    qtbot.waitUntil(lambda: s.params.bpm == 126.0, timeout=2000)
    assert not w.params.field_error.isVisible()
    # Auto off at a tempo renders cannot take: said, auto stays on, and Render still goes out.
    w.params.bpm_auto.click()  # auto on
    s.set_tempo(330.0)
    qtbot.waitUntil(lambda: w.params.bpm.text() == "330", timeout=2000)
    w.params.bpm_auto.click()  # try auto off at 330
    assert w.params.bpm_auto.isChecked() and s.params.bpm is None
    assert "out of range" in w.params.field_error.text() and "renders stay on auto" in w.params.field_error.text()
    assert w.render() is not None
    qtbot.waitUntil(lambda: not w.jobs, timeout=30000)


def test_length_in_bars_renders_exactly_those_bars(qtbot, window):
    """Length ▸ bars: 3 bars at 97 BPM (a bar that is no whole number of samples) are exactly
    round(3 x 240/97 x 44100) samples; back to seconds, the session's bars are cleared."""
    p, s = window.params, window.session
    p.prompt.setText("boom bap drum loop")
    _type(qtbot, p.bpm, "97")
    p.bpm_auto.click()
    p.length_unit.setCurrentIndex(p.length_unit.findData("bars"))
    p.length_unit.activated.emit(p.length_unit.currentIndex())
    assert p.bars.isVisibleTo(p) and not p.length.isVisibleTo(p)
    p.bars.setValue(3.0)
    assert s.params.bars == 3.0 and p.tempo_note.text() == "BPM · 3 bars"
    assert window.render() is not None
    qtbot.waitUntil(lambda: not window.jobs and window.current is not None, timeout=60000)
    path = window.current.path
    assert sf.info(str(path)).frames == round(3 * 240 / 97 * 44100)
    assert window.waveform.music.text() == "97 BPM · " + json.loads(
        path.with_name(path.name + ".json").read_text()
    )["music"]["key"] + " · 3 bars · loop"
    p.length_unit.setCurrentIndex(p.length_unit.findData("s"))
    p.length_unit.activated.emit(p.length_unit.currentIndex())
    assert s.params.bars is None and p.length.isVisibleTo(p)
    # Seconds that are not whole bars: a drum loop snaps to whole bars, and the window says so.
    p.length.setValue(5.0)
    assert window.render() is not None
    qtbot.waitUntil(lambda: not window.jobs and window.current.path != path, timeout=60000)
    assert sf.info(str(window.current.path)).frames == round(2 * 240 / 97 * 44100)
    assert "5 s is not whole bars at 97 bpm: rendered 2 bars" in window.status_message.text()


def test_history_filters_by_key_tempo_bars_and_loop_and_marks_stems_and_midi(qtbot, window):
    """Beside the search box: a key, a tempo range, bars and loops-or-not narrow the History; a
    render with stems and MIDI says so in its Parts column. All of it fits the smallest window."""
    from diffhost.gui.history import COLUMNS

    s, h = window.session, window.history
    s.update_params(prompt="boom bap drum loop", bars=2, bpm=96, key="A minor", stems=True, midi=True)
    s.render(tag="test")
    qtbot.waitUntil(lambda: h.table.rowCount() == 1, timeout=60000)
    s.update_params(prompt="punchy analog kick", length=0.5, bpm=None, key=None, stems=False, midi=False)
    s.render(tag="test")
    qtbot.waitUntil(lambda: h.table.rowCount() == 2, timeout=60000)

    def shown() -> list[str]:
        return sorted(h.table.item(r, COLUMNS.index("Prompt")).text() for r in range(h.table.rowCount()))

    def wait_for(prompts: list[str]) -> None:
        qtbot.waitUntil(lambda: shown() == prompts, timeout=5000)

    loop_row = next(
        r for r in range(2) if h.table.item(r, COLUMNS.index("Prompt")).text() == "boom bap drum loop"
    )
    assert h.table.item(loop_row, COLUMNS.index("Parts")).text() == "stems · MIDI"
    assert h.table.item(1 - loop_row, COLUMNS.index("Parts")).text() == ""

    h.key_filter.setCurrentText("A minor")
    wait_for(["boom bap drum loop"])
    h.key_filter.setCurrentText("C major")
    wait_for([])
    h.key_filter.setCurrentIndex(0)
    wait_for(["boom bap drum loop", "punchy analog kick"])
    h.bpm_filter.setText("90-100")
    wait_for(["boom bap drum loop"])
    h.bpm_filter.setText("100-120")
    wait_for([])
    h.bpm_filter.setText("fast")  # not a tempo: left out of the query, and shown in red
    wait_for(["boom bap drum loop", "punchy analog kick"])
    assert "e05050" in h.bpm_filter.styleSheet()
    h.bpm_filter.clear()
    h.bars_filter.setCurrentText("2 bars")
    wait_for(["boom bap drum loop"])
    h.bars_filter.setCurrentText("4 bars")
    wait_for([])
    h.bars_filter.setCurrentIndex(0)
    h.loop_filter.setCurrentText("Not loops")
    wait_for(["punchy analog kick"])
    h.loop_filter.setCurrentText("Loops")
    wait_for(["boom bap drum loop"])

    window.resize(1280, 760)
    qtbot.wait(50)
    inside = window.rect()
    for widget in (h.search, h.key_filter, h.bpm_filter, h.bars_filter, h.loop_filter, h.favorites):
        top_left = widget.mapTo(window, widget.rect().topLeft())
        bottom_right = widget.mapTo(window, widget.rect().bottomRight())
        assert inside.contains(top_left) and inside.contains(bottom_right), widget
        assert widget.width() >= min(widget.sizeHint().width(), 60), widget
