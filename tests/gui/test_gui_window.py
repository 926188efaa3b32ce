"""The window as a musician plays it on a laptop: it fits 1280x800 and 1366x768 whatever the labels
hold, nothing moves when a label changes, the keyboard plays the pads, the right pad loads (and a
replaced one comes back), a refused value never sticks, presets only set the next render, and the
feedback (queue, progress, A/B level, delete, kits, labels, silence) says what happened."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtWidgets import QApplication

from tests.gui.windows import live_window_of

LONG = "a very long name that a musician might give a render or a preset " * 4


def _render(qtbot, window, prompt, length=0.25):
    window.params.prompt.setText(prompt)
    window.params.length.setValue(length)
    job = window.render()
    assert job is not None, window.status_message.text()
    qtbot.waitUntil(lambda: not window.jobs and window.current is not None, timeout=30000)
    return job


def _type(qtbot, field, text):
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


@pytest.fixture
def live_window(qtbot, host_audio, session, settings):
    yield from live_window_of(qtbot, host_audio, session, settings, autoplay=False)


# -- it fits -------------------------------------------------------------------------------------
def test_minimum_size_fits_a_laptop_with_long_labels_elided_whole_in_tooltips(qtbot, window):
    from diffhost.gui.fit import SMALL_SCREENS
    from diffhost.gui.theme import apply_theme

    apply_theme(QApplication.instance())  # the real app's padding and fonts
    # Everything that shows a name or a figure gets a long one, as in a real session.
    window.preset_state.setText(f"Preset: {LONG} (edited)")
    window.waveform.title.setText(f"{LONG}.wav")
    window.waveform.info.setText("123.45 s · 48 kHz · 2 ch · peak -1.0 dBFS " * 3)
    window.waveform.music.setText("124 BPM · F# minor · 16 bars · loop " * 3)
    window.seed_panel.name.setText(LONG)
    window.report(LONG)
    window.engine_label.setText(f"Engine (remote): rendering 12 on {LONG}")
    window.audio_label.setText("Audio 192 kHz · 4096 · xruns 123456 " * 3)
    window.params.model.setCurrentText(f"/home/someone/models/{LONG}")
    window.pads.tempo_source.setText("midi clock " * 5)
    window.pad_control.grid.set_state(1, "ready", LONG)
    window.params.tempo_note.setText("BPM · 123.45 bars " * 4)
    qtbot.wait(50)

    hint = window.minimumSizeHint()
    for width, height in SMALL_SCREENS:
        # a window manager's title bar and a desktop panel take about 40 px of the height
        assert hint.width() <= width and hint.height() <= height - 40, (hint, width, height)
    assert hint.width() <= 1240  # with room to spare for the dock separators of a real WM
    # Elided, and whole in the tooltip.
    assert window.preset_state.is_elided() and LONG in window.preset_state.toolTip()
    assert window.status_message.text() == LONG and LONG in window.status_message.toolTip()

    # Shrunk to the smallest screen, every control the musician needs is on screen, full size.
    window.resize(1280, 760)
    qtbot.wait(50)
    inside = window.rect()
    for widget in (
        window.params.prompt, window.render_button, window.params.length, window.params.strength,
        window.pads.pads[15], window.pads.gain, window.pads.pan, window.pads.choke, window.pads.quantize,
        window.history.table, window.status_message, window.audio_button, window.seed_panel.record_render,
    ):
        top_left = widget.mapTo(window, widget.rect().topLeft())
        bottom_right = widget.mapTo(window, widget.rect().bottomRight())
        assert inside.contains(top_left) and inside.contains(bottom_right), widget
        assert widget.width() >= min(widget.sizeHint().width(), 60), widget
    for button in (window.play_button, window.ab_button, window.keep_button, window.replace_button):
        assert button.width() >= button.sizeHint().width()  # "Play", not "Pla"


def test_nothing_moves_when_labels_change(qtbot, window):
    row = (
        window.render_button, window.cancel_button, window.progress, window.queue_label,
        window.presets_button, window.play_button, window.autoplay, window.ab_button,
        window.keep_button, window.replace_button,
    )
    qtbot.wait(20)
    before = [w.geometry() for w in row]
    window.play_button.setText("■ Stop")
    window.ab_button.setEnabled(True)
    window.ab_button.setChecked(True)
    window.reprocess._update()
    assert window.ab_button.text() == "B: dry"
    window.ab_offset.setText("B -12.3 dB")
    window.queue_label.setText("12 in queue")
    window.preset_state.setText(f"Preset: {LONG}")
    window.progress.setFormat("render #12: saving 16/16")
    window.seed_panel.set_recording(True, then_render=True)
    rec = window.seed_panel.record_render.geometry()
    window.seed_panel.set_recording(False)
    qtbot.wait(20)
    assert [w.geometry() for w in row] == before
    assert window.seed_panel.record_render.geometry() == rec


def test_model_box_shows_the_start_of_its_name_and_presets_has_one_arrow(window):
    box = window.params.model
    assert box.currentText().startswith("Embedded")
    assert box.lineEdit().cursorPosition() == 0  # not scrolled to the end ("Ξmbedded")
    box.setCurrentText("stabilityai/stable-audio-open-1.0")
    assert box.lineEdit().cursorPosition() == 0 and "stable-audio-open-1.0" in box.toolTip()
    assert window.presets_button.text() == "Presets"  # the button draws the menu arrow itself


# -- the keyboard plays -----------------------------------------------------------------------------
def test_clicking_a_pad_takes_the_keys_from_the_prompt_and_esc_leaves_a_field(qtbot, live_window):
    window = live_window
    prompt = window.params.prompt
    prompt.setFocus()
    qtbot.keyClicks(prompt, "deep house")
    assert prompt.hasFocus()
    qtbot.mouseClick(window.pads.pads[5], Qt.MouseButton.LeftButton)
    assert not prompt.hasFocus() and window.pads.hasFocus()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_1)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Q)
    assert prompt.text() == "deep house"  # "1q" did not land in the prompt
    assert window.status_message.text() == "Pad 5: slot 5: is empty; assign a clip first"  # Q fired pad 5

    prompt.setFocus()  # a click on the grid's free space takes the keys too
    qtbot.mouseClick(window.pads, Qt.MouseButton.LeftButton, pos=window.pads.status.geometry().center())
    assert not prompt.hasFocus()

    prompt.setFocus()
    qtbot.keyClick(prompt, Qt.Key.Key_Escape)  # Esc leaves the field, cancels nothing
    assert not prompt.hasFocus() and prompt.text() == "deep house"
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_W)
    assert window.status_message.text() == "Pad 6: slot 6: is empty; assign a clip first"


def test_pad_fields_take_typed_values_on_purpose_and_pan_reads_l_c_r(qtbot, live_window, host_audio):
    w = live_window
    w.pads.select(2)
    pan = w.pads.pan
    assert pan.text() == "C"
    # A plain click on the field does not take the keys: "-1" fires pad 1 as the musician meant.
    qtbot.mouseClick(pan.lineEdit(), Qt.MouseButton.LeftButton)
    assert not pan.hasFocus()
    # A double-click does: "L30" Enter pans pad 2 left and gives the keys back to the pads.
    qtbot.mouseDClick(pan.lineEdit(), Qt.MouseButton.LeftButton)
    assert pan.hasFocus()
    pan.lineEdit().selectAll()
    qtbot.keyClicks(pan.lineEdit(), "L30")
    qtbot.keyClick(pan.lineEdit(), Qt.Key.Key_Return)
    assert host_audio.slot_options(2).pan == pytest.approx(-0.3)
    assert pan.text() == "L30" and not pan.hasFocus()
    pan.setValue(45)
    assert pan.text() == "R45" and host_audio.slot_options(2).pan == pytest.approx(0.45)
    # Tab reaches the gain field too; a typed value over the range is clamped and said.
    w.pads.gain.setFocus(Qt.FocusReason.TabFocusReason)
    said = []
    w.pads.gain.adjusted.connect(said.append)
    w.pads.gain.selectAll()
    qtbot.keyClicks(w.pads.gain, "20")
    qtbot.keyClick(w.pads.gain, Qt.Key.Key_Return)
    assert said == ["Gain 20 dB is above the maximum 12 dB: set to 12 dB"]
    assert host_audio.slot_options(2).gain == pytest.approx(10 ** (12 / 20))
    # Esc leaves a pad field too, and the keys play pads again.
    w.pads.choke.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.keyClick(w.pads.choke, Qt.Key.Key_Escape)
    assert w.pads.hasFocus()
    # The pad face says its gain, pan and choke group.
    w.pads.choke.setValue(3)
    assert "+12.0 dB · R45 · choke 3" in w.pads.pads[1].text()
    assert w.pads.pads[1].face_options == "+12 dB R45 ch3"


# -- the right pad, never silently replaced ----------------------------------------------------------------
def test_assign_to_pad_n_loads_pad_n_and_a_replaced_pad_comes_back(qtbot, live_window, host_audio):
    w = live_window
    _render(qtbot, w, "punchy analog kick")
    _render(qtbot, w, "tight snare")
    qtbot.waitUntil(lambda: w.history.table.rowCount() == 2, timeout=5000)
    rows = {r.prompt: r for r in w.history.rows}

    def assign_from_menu(prompt, pad):
        for v in range(w.history.table.rowCount()):
            if w.history.row_at(v).prompt == prompt:
                w.history.table.setCurrentCell(v, 1)
        w.history._menu(QPoint(0, 0))
        pads_menu = next(a.menu() for a in w.history.last_menu.actions() if a.text() == "Assign to pad")
        labels = [a.text() for a in pads_menu.actions()]
        assert labels == [f"Pad {n}" for n in range(1, 17)]
        w.history.last_menu.close()
        pads_menu.actions()[pad - 1].trigger()

    assign_from_menu("punchy analog kick", 1)
    qtbot.waitUntil(lambda: host_audio.slot_state(1) == "ready", timeout=5000)
    assert host_audio.slot_source(1).path == rows["punchy analog kick"].path
    assert host_audio.slot_state(2) == "empty"  # not the pad after it
    assign_from_menu("tight snare", 16)  # the last pad is reachable
    qtbot.waitUntil(lambda: host_audio.slot_state(16) == "ready", timeout=5000)
    assert host_audio.slot_source(16).path == rows["tight snare"].path

    # Replacing a loaded pad says so, and Ctrl+Z puts the old clip (and its options) back.
    host_audio.set_slot_options(1, gain=0.5, choke_group=2)
    assign_from_menu("tight snare", 1)
    qtbot.waitUntil(lambda: host_audio.slot_source(1).path == rows["tight snare"].path, timeout=5000)
    qtbot.waitUntil(lambda: "replaced" in w.status_message.text(), timeout=2000)
    assert "Ctrl+Z" in w.status_message.text() and w.undo_action.isEnabled()
    w.activateWindow()  # the context menu had the keyboard
    qtbot.waitUntil(w.isActiveWindow, timeout=2000)
    qtbot.keyClick(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: host_audio.slot_source(1).path == rows["punchy analog kick"].path, timeout=5000)
    o = host_audio.slot_options(1)
    assert (o.gain, o.choke_group) == (0.5, 2)
    qtbot.waitUntil(lambda: "punchy analog kick" in w.pads.pads[0].text(), timeout=2000)


def test_a_loop_render_lands_on_its_pad_in_loop_mode(qtbot, live_window, host_audio):
    w = live_window
    w.params.bpm_auto.click()  # renders at the tempo: a loop
    _render(qtbot, w, "boom bap beat", length=2.0)
    assert (w.current.music or {}).get("loop")
    w.pads.assign_current.emit(4)  # what right-click > Assign current render emits
    qtbot.waitUntil(lambda: host_audio.slot_state(4) == "ready", timeout=5000)
    qtbot.waitUntil(lambda: host_audio.slot_options(4).mode == "loop", timeout=2000)
    assert "loop" in w.pads.pads[3].text()


# -- a refusal never sticks; numbers say what they did --------------------------------------------------
def test_a_refused_tempo_blocks_nothing_afterwards(qtbot, window):
    p = window.params
    p.bpm_auto.click()
    for bad in ("999", "20"):
        _type(qtbot, p.bpm, bad)
        assert p.field_error.isVisible(), bad
        assert window.render() is None  # the field holds a refused value: said, not rendered
    _type(qtbot, p.bpm, "120")  # the tempo still in force, typed again
    assert not p.field_error.isVisible()
    job = _render(qtbot, window, "boom bap beat", length=2.0)  # one bar at 120: a loop
    assert job is not None and window.session.params.bpm == 120.0
    assert window.current.music["bpm"] == 120


def test_number_fields_say_when_they_change_what_was_typed(qtbot, window):
    p = window.params
    top = p.length.maximum()
    _type(qtbot, p.length, "9999")
    assert p.length.value() == top
    assert p.field_error.isVisible()
    assert p.field_error.text() == f"⚠ Length 9999 s is above the maximum {top:g} s: set to {top:g} s"
    _type(qtbot, p.temperature, "0.123")
    assert p.temperature.value() == 0.12
    assert "Temperature 0.123 is more precise than 2 decimals: set to 0.12" in p.field_error.text()
    _render(qtbot, window, "kick")
    assert not p.field_error.isVisible()  # answered by rendering
    # The finishing editor's fields say it too (in the status bar and at the field).
    window.tabs.setCurrentIndex(2)
    fade = window.finishing.fade_in
    _type(qtbot, fade, "99999")
    assert fade.value() == 60000.0
    assert window.status_message.text() == "Fade in 99999 ms is above the maximum 60000 ms: set to 60000 ms"


# -- presets do what they say ---------------------------------------------------------------------------
def test_a_preset_sets_the_next_render_keeps_a_typed_prompt_and_leaves_the_loaded_render(qtbot, window):
    from diffhost.host.presets import Preset

    store = window.session.presets
    store.save("lo-fi hats", Preset(
        name="lo-fi hats",
        params={"prompt": "closed hihat, dirty, short", "length": 0.3},
        effects=[{"effect": "Bitcrush", "params": {"bit_depth": 6}}],
    ))
    _render(qtbot, window, "deep house loop", length=1.0)
    qtbot.waitUntil(lambda: window.reprocess.source is not None, timeout=10000)
    loaded = window.current.path
    window.preset_control.load("lo-fi hats")
    qtbot.waitUntil(lambda: window.preset_state.text() == "Preset: lo-fi hats", timeout=5000)
    qtbot.wait(300)  # anything it would have started has had time to show
    assert window.params.prompt.text() == "deep house loop"  # the typed prompt stays
    assert window.session.params.prompt == "deep house loop"
    assert window.params.length.value() == pytest.approx(0.3)  # the preset's sound is set
    assert window.reprocess.preview is None and window.current.path == loaded  # the loop is untouched
    assert not window.keep_button.isEnabled()

    window.presets_menu.apply_action.trigger()  # asked for: the loaded render gets the preset's chain
    qtbot.waitUntil(lambda: window.reprocess.preview is not None, timeout=10000)
    assert window.keep_button.isEnabled()

    window.params.prompt.setText("")  # an empty prompt takes the preset's words
    window.preset_control.load("lo-fi hats")
    qtbot.waitUntil(lambda: window.params.prompt.text() == "closed hihat, dirty, short", timeout=5000)


# -- feedback ---------------------------------------------------------------------------------------------
def test_queue_count_and_progress_that_never_runs_backwards_through_named_stages(qtbot, window):
    values, formats = [], []
    window.progress.valueChanged.connect(values.append)
    window.progress.valueChanged.connect(lambda _v: formats.append(window.progress.format()))
    window.params.prompt.setText("kick")
    window.params.length.setValue(0.25)
    window.params.variations.setValue(8)  # eight files to save: the saving stage has steps
    first = window.render()
    second = window.render()
    assert first and second and window.queue_label.text() == "2 in queue"
    qtbot.waitUntil(lambda: not window.jobs, timeout=60000)
    assert window.queue_label.text() == ""
    per_job: dict[str, list[int]] = {}
    for value, text in zip(values, formats, strict=True):
        per_job.setdefault(text.split(":")[0], []).append(value)
    for job_values in per_job.values():
        assert job_values == sorted(job_values), job_values  # never backwards within a render
    stages = {t.split(": ", 1)[1].split(" ")[0] for t in formats if ": " in t}
    assert {"rendering", "saving"} <= stages
    assert window.progress.value() == 1000 and window.progress.format() == f"render #{second}: done"
    # With step times known, a render says how long it has left.
    window.params.variations.setValue(1)
    formats.clear()
    _render(qtbot, window, "pad swell", length=8.0)
    assert any(" left" in t or "(about " in t for t in formats), formats


def test_delete_goes_to_the_trash_and_comes_back_with_undo(qtbot, window):
    _render(qtbot, window, "tight snare")
    table = window.history.table
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=5000)
    row = window.history.rows[0]
    window.history.delete(row)
    qtbot.waitUntil(lambda: table.rowCount() == 0, timeout=5000)
    assert not row.path.exists()
    assert "Ctrl+Z" in window.status_message.text()
    assert window.undo_action.text() == f"Undo delete of {row.path.name}"
    window.undo()
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=5000)
    assert row.path.exists() and window.history.rows[0].id == row.id


def test_kits_have_their_own_folder_and_extension(qtbot, host_audio, session, settings, tmp_path, wav):
    from diffhost.gui.live_menu import KIT_FILTER
    from diffhost.gui.main_window import MainWindow
    from diffhost.host.live.kit import KIT_SUFFIX, KitStore
    from diffhost.host.live.rig import LiveRig

    session.audio = host_audio
    store = KitStore(tmp_path / "config")
    live = LiveRig(session, kits=store)
    w = MainWindow(session, settings=settings, live=live)
    qtbot.addWidget(w)
    try:
        assert w.live_menu.kits_dir() == store.dir and store.dir.is_dir()
        assert KIT_FILTER.startswith(f"diffhost kits (*{KIT_SUFFIX})")
        host_audio.assign_file(2, wav)
        w.live_menu.save_kit_to(tmp_path / "set", asked=True)  # typed without an extension
        saved = tmp_path / f"set{KIT_SUFFIX}"
        assert saved.is_file() and json.loads(saved.read_text())["format"] == "diffhost-kit"
        assert w.status_message.text() == f"Kit saved: set{KIT_SUFFIX}"
        before = saved.read_bytes()
        host_audio.clear_slot(2)
        w.live_menu.save_kit_to(tmp_path / "set", asked=True)  # a name we completed is never replaced
        assert saved.read_bytes() == before and w.status_message.text().startswith("Kit: ")
    finally:
        w.close()
        live.close()
        host_audio.clear_slot(2)
        session.audio = None


def test_pad_labels_survive_a_restart(qtbot, host_audio, session, settings, tmp_path):
    """A clip kept only by the kit (a file named by its hash) and a fresh pad keep their names."""
    from diffhost.gui.main_window import MainWindow
    from diffhost.host.live.kit import KitStore
    from diffhost.host.live.rig import LiveRig

    session.audio = host_audio
    session.set_param("prompt", "tight snare")
    session.set_param("length", 0.25)
    store = KitStore(tmp_path / "config")
    live = LiveRig(session, kits=store)
    tone = (0.3 * np.sin(np.linspace(0, 200, 12000))).astype(np.float32)[None, :].repeat(2, 0)
    host_audio.assign(5, tone, 48000, label="hummed bass")  # in memory only, like a recording
    w = MainWindow(session, settings=settings, live=live)
    qtbot.addWidget(w)
    try:
        w.pads.fresh_requested.emit(3, True)
        qtbot.waitUntil(lambda: host_audio.slot_state(3) == "ready", timeout=60000)
        kit = tmp_path / "gig.dhkit"
        live.save_kit(kit)
        w.close()
        live.close()
        for n in (3, 5):
            host_audio.clear_slot(n)

        live = LiveRig(session, kits=store)  # the next start: the kit comes back
        w = MainWindow(session, settings=settings, live=live)
        qtbot.addWidget(w)
        w.live_menu.load_kit_from(kit)
        qtbot.waitUntil(lambda: w.status_message.text().startswith("Kit loaded"), timeout=10000)
        assert host_audio.slot_source(5).path.name != "hummed bass"  # its file is named by a hash
        assert w.pads.pads[4].sample == "hummed bass"
        assert w.pads.pads[2].sample == "fresh: tight snare"
    finally:
        w.close()
        live.close()
        for n in (3, 5):
            host_audio.clear_slot(n)
        session.audio = None


def test_a_silent_recording_is_said_and_the_input_meter_is_labelled(window):
    panel = window.seed_panel
    assert panel.meter_label.text() == "Input" and panel.meter_label.isVisible()
    said = panel.check_recording(np.zeros((2, 48000), dtype=np.float32))
    assert said == "-inf dBFS" and panel.warning.isVisible() and "silent" in panel.warning.text()
    hiss = np.full((2, 48000), 10 ** (-70 / 20), dtype=np.float32)
    assert panel.check_recording(hiss) == "-70 dBFS"
    voice = (0.2 * np.sin(np.linspace(0, 3000, 48000))).astype(np.float32)[None, :].repeat(2, 0)
    assert panel.check_recording(voice) is None and not panel.warning.isVisible()


# -- files where users expect them -------------------------------------------------------------------------
def test_window_settings_honour_diffhost_config_dir(monkeypatch, tmp_path):
    from diffhost.gui.app import open_settings
    from diffhost.paths import WINDOW_SETTINGS_FILE as WINDOW_SETTINGS

    monkeypatch.setenv("DIFFHOST_CONFIG_DIR", str(tmp_path / "cfg"))
    s = open_settings()
    s.setValue("autoplay", False)
    s.sync()
    assert (tmp_path / "cfg" / WINDOW_SETTINGS).is_file()
    assert "autoplay=false" in (tmp_path / "cfg" / WINDOW_SETTINGS).read_text()
    assert open_settings(tmp_path / "given.ini").fileName() == str(tmp_path / "given.ini")


def test_the_windows_renders_go_to_the_librarys_data_folder(monkeypatch, tmp_path):
    from diffhost.commands.gui import options, renders_dir
    from diffhost.host.library import default_library_dir

    monkeypatch.setenv("DIFFHOST_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    args = argparse.Namespace(
        renders_dir=None, library=None, model=None, device="cpu", engine=None, no_audio=True, no_osc=True,
        osc_port=12000,
    )
    assert renders_dir(args) == default_library_dir() / "renders" == tmp_path / "home" / "library" / "renders"
    assert options(args).renders_dir == tmp_path / "home" / "library" / "renders"
    args.library = tmp_path / "lib"
    assert renders_dir(args) == tmp_path / "lib" / "renders"
    args.renders_dir = tmp_path / "mine"
    assert renders_dir(args) == tmp_path / "mine"


NAMED_CLIENT = """
import jack, json, os
import diffhost.host.audio as host_audio  # imports sounddevice: PortAudio's JACK client opens here
from diffhost.commands.gui import name_jack_client

server = os.environ["JACK_DEFAULT_SERVER"]
probe = jack.Client("diffhost-name-probe", servername=server, no_start_server=True)
before = {p.name for p in probe.get_ports(is_audio=True)}
name_jack_client()  # what `diffhost gui` does before it opens the audio
audio = host_audio.open_host_audio(output="JACK", input=False, sample_rate=48000, block_size=128)
after = {p.name for p in probe.get_ports(is_audio=True)}
print(json.dumps(sorted({n.split(":")[0] for n in after - before})))
audio.close()
probe.close()
"""


def test_the_windows_audio_client_is_named_diffhost_in_jack(host_audio):
    """In its own process (PortAudio is re-initialized there), as `diffhost gui` starts: the JACK
    client whose ports appear is called diffhost, not PortAudio."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "JACK_NO_START_SERVER": "1"}
    out = subprocess.run(
        [sys.executable, "-c", NAMED_CLIENT], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr[-2000:]
    clients = json.loads(out.stdout.strip().splitlines()[-1])  # the clients whose ports appeared
    assert clients and all(c.startswith("diffhost") for c in clients), clients  # "diffhost" or "diffhost-01"


def test_the_pads_grow_with_a_wide_window(qtbot, window):
    """Maximized on a 1920x1080 screen, the pads keep their share of the width instead of the centre
    taking all the new room; and back on a laptop they shrink again."""
    window.resize(1280, 760)
    qtbot.waitUntil(lambda: window.width() == 1280, timeout=2000)
    qtbot.wait(50)
    narrow = window.perform_dock.width()
    share = narrow / window.width()
    window.resize(1920, 1040)
    qtbot.waitUntil(lambda: window.width() == 1920, timeout=2000)
    qtbot.waitUntil(lambda: window.perform_dock.width() > narrow * 1.3, timeout=2000)
    assert abs(window.perform_dock.width() / 1920 - share) < 0.03, (narrow, window.perform_dock.width())
    pad = window.pads.pads[0]
    assert pad.width() > 1.2 * pad.minimumSizeHint().width()  # the pads themselves are bigger
    window.resize(1280, 760)
    qtbot.waitUntil(lambda: window.perform_dock.width() < narrow * 1.1, timeout=2000)
