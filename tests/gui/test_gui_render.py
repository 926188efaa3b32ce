"""Render from the window with the embedded default model: waveform, file, history; cancel; errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PyQt6.QtCore import Qt


def _done(window):
    return not window.jobs and window.current is not None


def test_click_render_shows_waveform_file_and_history_row(qtbot, window):
    window.params.prompt.setText("punchy analog kick")
    window.params.length.setValue(0.5)
    qtbot.mouseClick(window.render_button, Qt.MouseButton.LeftButton)
    assert window.jobs, "clicking Render queued nothing"
    qtbot.waitUntil(lambda: _done(window), timeout=30000)

    files = sorted(window.session.renders_dir.glob("*.wav"))
    assert len(files) == 1
    path = files[0]
    assert window.current.path == path
    audio, sr = sf.read(path, dtype="float32", always_2d=True)
    assert sr == 44100 and audio.shape[0] == 22050
    # The waveform shows this file: its envelope spans the file's true peaks, and is not silence.
    x, y = window.waveform.curve.getData()
    assert len(x) > 100
    assert np.isclose(x.max(), 0.5, atol=0.01)
    assert np.isclose(np.max(np.abs(y)), np.max(np.abs(audio.mean(axis=1))), rtol=1e-4)
    assert np.max(np.abs(y)) > 0.05
    assert window.waveform.image.image is not None and window.waveform.image.image.shape[1] == 257
    # The seed it used is shown, and matches the sidecar that reproduces it.
    sidecar = json.loads(path.with_name(path.name + ".json").read_text())
    assert window.params.seed.text() == str(sidecar["params"]["seed"])
    # A history row for it, carrying the file for drag-out.
    qtbot.waitUntil(lambda: window.history.table.rowCount() == 1, timeout=5000)
    assert window.history.table.item(0, 1).text() == "punchy analog kick"
    mime = window.history.table.mimeData([window.history.table.item(0, 1)])
    assert [u.toLocalFile() for u in mime.urls()] == [str(path)]
    assert window.progress.value() == 1000


def test_ctrl_r_renders_with_locked_seed_reproducibly(qtbot, window):
    window.params.prompt.setText("tight snare")
    window.params.length.setValue(0.25)
    window.params.seed.setText("1234")
    window.params.lock.setChecked(True)
    for target in (window.params.prompt, window):  # from the prompt field too, while typing
        qtbot.keyClick(target, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
        assert window.jobs
        qtbot.waitUntil(lambda: not window.jobs, timeout=30000)
    files = sorted(window.session.renders_dir.glob("*.wav"))
    assert len(files) == 2
    a, b = (sf.read(f, dtype="float32")[0] for f in files)
    assert np.array_equal(a, b), "the same locked seed must give identical audio"
    assert "s1234" in files[0].name


def test_escape_cancels_a_running_render(qtbot, window):
    window.params.prompt.setText("pad swell")
    window.params.length.setValue(4.0)
    window.params.steps.setValue(1000)  # long enough to be mid-render when Esc arrives
    qtbot.mouseClick(window.render_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: 0 < window.progress.value() < 1000, timeout=30000)
    assert window.cancel_button.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.jobs, timeout=30000)
    assert window.progress.format() == "cancelled"
    assert "cancelled" in window.status_message.text()
    assert not list(window.session.renders_dir.glob("*.wav"))
    assert not window.cancel_button.isEnabled()


def test_render_error_goes_to_status_bar_and_app_carries_on(qtbot, window, tmp_path):
    window.params.prompt.setText("riser")
    window.params.model.setCurrentText(str(tmp_path / "no-such-model"))
    window.params.model.lineEdit().editingFinished.emit()
    qtbot.mouseClick(window.render_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.jobs, timeout=30000)
    text = window.status_message.text()
    # Refused before queuing (the model spec is checked when it is used), named, with the options.
    assert text.startswith("Render: model: ") and "no-such-model" in text and "valid is 'default'" in text, text
    # and the next render works
    window.params.model.setCurrentText("default")
    window.params.model.lineEdit().editingFinished.emit()
    window.params.length.setValue(0.25)
    qtbot.mouseClick(window.render_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _done(window), timeout=30000)
    assert len(list(window.session.renders_dir.glob("*.wav"))) == 1


@pytest.fixture(scope="module")
def tiny_dance(tmp_path_factory):
    """A tiny random-weight DanceDiffusion folder: unconditional, 2 kHz, 0.012–2.048 s."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
    import tiny

    folder = tmp_path_factory.mktemp("models") / "tiny-dance"
    tiny.build("DanceDiffusionPipeline", folder)
    return folder


def test_length_box_follows_the_model_and_says_what_it_refuses_before_render(qtbot, window, tiny_dance):
    p = window.params
    qtbot.waitUntil(lambda: p.model_info is not None, timeout=30000)
    assert (p.length.minimum(), p.length.maximum()) == (0.25, 30.0)  # the embedded default's range
    assert "0.25–30 s" in p.length.toolTip()
    # A length from outside the box (OSC, a preset) beyond the model's range is refused when it is
    # set, naming the range; nothing changes.
    with pytest.raises(ValueError, match=r"valid is 0\.25\.\.30 s"):
        window.session.set_param("length", 120.0)
    assert window.session.params.length != 120.0
    p.length.setValue(3.0)  # fine for the default model, too long for the next one

    # Another model: its own range, and what it cannot do (it is unconditional).
    p.prompt.setText("kick")
    p.model.setCurrentText(str(tiny_dance))
    p.model.lineEdit().editingFinished.emit()
    qtbot.waitUntil(lambda: p.length.maximum() == pytest.approx(2.048), timeout=60000)
    assert p.length.minimum() == pytest.approx(0.05)  # the engine's floor is above the model's 0.012
    assert "tiny-dance (DanceDiffusionPipeline) is unconditional and takes no prompt" in p.limits.text()
    # The session's 3 s, kept from the last model, is outside this one's range: said inline.
    assert "Length 3 s is outside model tiny-dance" in p.limits.text()
    assert "range 0.05–2.048 s: Render uses 2.048 s" in p.limits.text()
    p.prompt.setText("")
    p.length.setValue(2.0)
    assert not p.limits.isVisible()

    p.model.setCurrentText("default")
    p.model.lineEdit().editingFinished.emit()
    qtbot.waitUntil(lambda: p.length.maximum() == 30.0, timeout=30000)


def test_saving_is_a_visible_progress_stage(qtbot, window):
    seen = []
    window.bridge.received.connect(
        lambda ev: ev.kind == "message" and ev.name == "saving" and seen.append(window.progress.format())
    )
    window.params.prompt.setText("closed hat")
    window.params.length.setValue(0.25)
    window.params.variations.setValue(8)
    job = window.render()
    qtbot.waitUntil(lambda: _done(window), timeout=60000)
    assert seen[0] == f"render #{job}: saving 0/8" and seen[-1] == f"render #{job}: saving 8/8"
    assert len(seen) == 9 and window.progress.format() == f"render #{job}: done"


def test_bad_value_from_a_field_is_refused_with_its_range(qtbot, window):
    window.session.set_param("length", 1.0)
    window.params.changed.emit("temperature", 9.0)
    assert window.status_message.text() == "Parameter: temperature: 9.0 is out of range; valid is 0.0..4.0"
    assert window.session.params.temperature != 9.0


def test_space_plays_the_render_with_a_moving_playhead(qtbot, host_audio, session, settings):
    from diffhost.gui.main_window import MainWindow

    session.audio = host_audio
    w = MainWindow(session, settings=settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    try:
        w.autoplay.setChecked(False)
        w.params.prompt.setText("pad swell")
        w.params.length.setValue(2.0)
        w.render()
        qtbot.waitUntil(lambda: _done(w), timeout=30000)
        w.render_button.setFocus()
        qtbot.keyClick(w, Qt.Key.Key_Space)
        qtbot.waitUntil(host_audio.is_playing, timeout=2000)
        qtbot.waitUntil(
            lambda: w.waveform.playheads[0].isVisible() and w.waveform.playheads[0].value() > 0.2,
            timeout=3000,
        )
        assert w.play_button.text() == "■ Stop"
        qtbot.keyClick(w, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: not host_audio.is_playing(), timeout=2000)
        qtbot.waitUntil(lambda: w.play_button.text() == "▶ Play", timeout=2000)
    finally:
        w.close()
        session.audio = None


def _osc_listener():
    """A real UDP socket subscribed to the window's session over OSC (from its own address, so it
    hears each message once)."""
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(30.0)
    return sock


def _receive_until(sock, address: str) -> list[tuple[str, list]]:
    """Every OSC message up to and including the first one at `address`."""
    from pythonosc.osc_message import OscMessage

    got = []
    while True:
        data, _ = sock.recvfrom(65536)
        msg = OscMessage(data)
        got.append((msg.address, list(msg.params)))
        if msg.address == address:
            return got


def test_render_sends_only_the_fields_that_changed(qtbot, window):
    """Render from the window: an OSC subscriber hears the one field the session did not hold yet,
    then the job; a second Render with nothing changed sends no param message at all."""
    from diffhost.osc import server as osc_server
    from diffhost.osc.messages import encode

    server = osc_server.OscServer(window.session, osc_server.OscConfig(port=0)).start()
    sock = _osc_listener()
    try:
        sock.sendto(encode("/diffhost/subscribe", sock.getsockname()[1]), server.address)
        _receive_until(sock, "/diffhost/subscribed")
        window.params.length.setValue(0.25)  # an edit: sent at once, as the field changes
        window.params.prompt.setText("dusty rim shot")  # set without an edit signal: Render sends it
        assert _receive_until(sock, "/diffhost/param") == [("/diffhost/param", ["length", 0.25])]

        first = window.render()
        got = _receive_until(sock, "/diffhost/job/done")
        params = [args for address, args in got if address == "/diffhost/param"]
        assert params == [["prompt", "dusty rim shot"]]  # one message, not one per field
        assert ("/diffhost/job/accepted", [first]) in got
        assert window.session.params.prompt == "dusty rim shot"

        second = window.render()
        got = _receive_until(sock, "/diffhost/job/done")
        assert [a for a, _ in got if a == "/diffhost/param"] == []
        assert ("/diffhost/job/accepted", [second]) in got
        qtbot.waitUntil(lambda: not window.jobs, timeout=30000)
        assert len(list(window.session.renders_dir.glob("*.wav"))) == 2
    finally:
        sock.close()
        server.stop()
