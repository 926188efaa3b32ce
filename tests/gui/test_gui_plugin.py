"""The window's Plugin row: diffhost Bridge instances listed by track name, where a render goes,
and a render from the window landing on the chosen pad (a Python peer speaks the plugin's side of
the protocol over real UDP to a real OSC server)."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import Qt

from tests.bridge.plugin_peer import PluginPeer


@pytest.fixture
def rigged(qtbot, session, settings, tmp_path, monkeypatch):
    from diffhost.gui.main_window import MainWindow
    from diffhost.host.live.rig import LiveRig
    from diffhost.osc.server import OscConfig, OscServer

    cache = tmp_path / "clips"
    monkeypatch.setenv("DIFFHOST_CLIP_CACHE", str(cache))
    live = LiveRig(session)
    server = OscServer(session, OscConfig(port=0), live=live).start()
    w = MainWindow(
        session, settings=settings, osc=server, live=live, unavailable={"audio": "none in this test"}
    )
    w.autoplay.setChecked(False)
    qtbot.addWidget(w)
    peers: list[PluginPeer] = []

    def peer(**kw) -> PluginPeer:
        p = PluginPeer(server.address[1], cache, **kw)
        peers.append(p)
        return p

    yield w, peer
    for p in peers:
        p.bye()
        p.close()
    w.close()
    server.stop()
    live.close()


def test_instances_are_listed_by_track_and_renders_go_where_shown(qtbot, rigged):
    window, make_peer = rigged
    panel = window.plugin_panel
    assert not panel.send_button.isEnabled()
    drums, bass = make_peer(track="Drums"), make_peer(track="Bass", sample_rate=44100.0)
    drums.hello()
    bass.hello()
    panel.poll()
    names = [panel.instance.itemText(k) for k in range(panel.instance.count())]
    assert sorted(names) == ["Bass", "Drums"]
    panel.instance.setCurrentIndex(panel.instance.findText("Bass"))
    panel.pad.setValue(6)
    assert panel.where.text() == "Send goes to Bass, pad 6"
    panel.follow.setChecked(True)
    assert panel.where.text() == "Renders go to Bass, pad 6"

    window.params.prompt.setText("warm bass pluck")
    window.params.length.setValue(0.5)
    qtbot.mouseClick(window.render_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.jobs and window.current is not None, timeout=30000)
    held = bass.receive_load()
    assert held["pad"] == 6 and held["hash_ok"] and held["sample_rate"] == 44100
    assert held["audio"].shape[-1] == 22050

    panel.follow.setChecked(False)
    assert window.session is not None and panel.link.target is None
    panel.instance.setCurrentIndex(panel.instance.findText("Drums"))
    panel.pad.setValue(2)
    qtbot.mouseClick(panel.send_button, Qt.MouseButton.LeftButton)
    held = drums.receive_load()
    assert held["pad"] == 2 and held["sample_rate"] == 48000 and held["audio"].shape[-1] == 24000
