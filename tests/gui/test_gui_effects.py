"""Effects chain editor: add, edit, bypass, reorder, remove; the chain is remembered."""

from __future__ import annotations

from PyQt6.QtCore import Qt

from diffhost.gui.effects_catalog import catalog


def test_chain_editing_produces_the_json_chain(qtbot, window):
    ed = window.effects
    seen = []
    ed.chain_changed.connect(seen.append)
    ed.add_effect("HighpassFilter")
    ed.add_effect("Reverb")
    ed.add_effect("Compressor")
    ed.set_param(1, "room_size", 0.8)
    ed.set_bypass(2, True)
    ed.list.setCurrentRow(2)
    ed.move_selected(-2)
    assert [e["effect"] for e in ed.chain()] == ["Compressor", "HighpassFilter", "Reverb"]
    assert ed.chain()[0]["bypass"] is True
    assert ed.chain()[2]["params"]["room_size"] == 0.8
    ed.list.setCurrentRow(1)
    qtbot.mouseClick(ed.remove, Qt.MouseButton.LeftButton)
    assert [e["effect"] for e in ed.chain()] == ["Compressor", "Reverb"]
    assert seen[-1] == ed.chain()
    # the parameter form shows the selected effect's values with units
    ed.list.setCurrentRow(1)
    assert ed.form.rowCount() == len(catalog()["Reverb"]) >= 5
    ed.add_vst3(window.session.renders_dir / "Some Synth.vst3")
    assert ed.chain()[-1] == {
        "effect": "plugin",
        "path": str(window.session.renders_dir / "Some Synth.vst3"),
        "params": {},
        "bypass": False,
    }
    assert ed.list.item(2).text() == "VST3 · Some Synth.vst3"


def test_chain_and_params_are_remembered_across_windows(qtbot, session, settings):
    from diffhost.gui.main_window import MainWindow

    first = MainWindow(session, settings=settings)
    qtbot.addWidget(first)
    first.effects.set_chain([{"name": "Delay", "params": {"mix": 0.2}}])  # the older "name" form is read too
    first.params.prompt.setText("808 bass")
    first.params.length.setValue(2.5)
    first.close()

    second = MainWindow(session, settings=settings)
    qtbot.addWidget(second)
    assert [e["effect"] for e in second.effects.chain()] == ["Delay"]
    assert second.params.prompt.text() == "808 bass"
    assert second.params.length.value() == 2.5
    assert session.params.length == 2.5
    second.close()


def test_edited_chain_applies_to_the_next_render(qtbot, window):
    import json

    ed = window.effects
    ed.add_effect("Reverb")
    ed.set_param(0, "room_size", 0.9)
    ed.set_param(0, "room_size", 7.0)  # out of range: refused with the reason, the last good chain stays
    qtbot.waitUntil(lambda: "room_size" in ed.error.text(), timeout=5000)
    assert "between 0.0 and 1.0" in ed.error.text()
    ed.set_param(0, "room_size", 0.8)
    qtbot.waitUntil(lambda: not window.chain_applier.busy and ed.error.text() == "", timeout=5000)
    window.params.prompt.setText("clap")
    window.params.length.setValue(0.5)
    window.render()
    qtbot.waitUntil(lambda: not window.jobs, timeout=30000)
    (path,) = window.session.renders_dir.glob("*.wav")
    side = json.loads(path.with_name(path.name + ".json").read_text())
    (fx,) = side["effects"]
    assert (fx["effect"], fx["params"]["room_size"], fx["bypass"]) == ("Reverb", 0.8, False)
