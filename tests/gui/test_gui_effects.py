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


def _render(qtbot, window, prompt, length=1.0):
    window.params.prompt.setText(prompt)
    window.params.length.setValue(length)
    assert window.render() is not None
    qtbot.waitUntil(lambda: not window.jobs and window.current is not None, timeout=30000)
    qtbot.waitUntil(lambda: window.reprocess.source is not None, timeout=10000)  # dry audio loaded


def test_reprocessing_changes_what_play_sends_without_a_new_engine_job(qtbot, host_audio, session, settings):
    """Add a reverb to the current render: Play sends the re-processed audio to the device at once,
    A/B sends the dry audio, Keep writes exactly what was heard, and the engine never runs again."""
    import numpy as np

    from diffhost.engine.audio import read_audio
    from diffhost.gui.main_window import MainWindow
    from diffhost.host.render.post import postprocess

    session.audio = host_audio
    sent = []
    real_play = host_audio.play

    def play(audio, sample_rate):  # the real device call, with a note of the buffer it was given
        sent.append((np.array(audio, copy=True), sample_rate))
        return real_play(audio, sample_rate)

    host_audio.play = play
    w = MainWindow(session, settings=settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    try:
        w.autoplay.setChecked(False)
        _render(qtbot, w, "big clap", length=3.0)
        engine_events = session.engine.subscribe()  # from here on: no engine job may start
        original, sr = read_audio(w.current.path)
        w.playback.play_current()
        qtbot.waitUntil(host_audio.is_playing, timeout=2000)
        assert np.array_equal(sent[-1][0], original) and sent[-1][1] == sr

        w.effects.add_effect("Reverb", {"room_size": 0.9, "wet_level": 0.7})
        qtbot.waitUntil(lambda: w.reprocess.preview is not None, timeout=10000)
        assert "edited, not saved" in w.waveform.title.text()
        w.playback.play_current()
        processed = sent[-1][0]
        assert processed.shape == original.shape and not np.allclose(processed, original, atol=1e-3)
        expected = postprocess(w.reprocess.source.audio, sr, session._finish.recipe).audio
        assert np.array_equal(processed, expected)  # exactly the dry audio through the new chain
        assert session._finish.recipe.chain.specs[0].effect == "Reverb"

        # A/B while playing: B goes on from the same spot with the dry audio, as the model made it.
        qtbot.waitUntil(lambda: host_audio.position() > 0.05, timeout=10000)  # under way, not at 0
        dry = w.reprocess.source.audio
        count = len(sent)
        w.ab_button.click()
        assert w.ab_button.text() == "B: dry"
        assert len(sent) == count + 1
        b_buffer = sent[-1][0]
        # B is the dry audio at the gain that makes it as loud as A (the offset is shown).
        from diffhost.host.render.finishing import loudness_lufs

        offset = w.reprocess.offset_db
        assert offset != 0.0 and w.ab_offset.text() == f"B {offset:+.1f} dB"
        gain = np.float32(10 ** (offset / 20))
        assert 0 < b_buffer.shape[-1] < dry.shape[-1]
        assert np.allclose(b_buffer, dry[:, -b_buffer.shape[-1] :] * gain, atol=1e-6)
        matched = w.reprocess.audible().audio
        assert abs(loudness_lufs(matched, sr) - loudness_lufs(processed, sr)) < 0.1
        w.ab_button.click()
        w.playback.play_current()
        assert np.array_equal(sent[-1][0], processed)

        # Keep: a new version on disk is what was heard (24-bit), and the old file is untouched.
        old_bytes = w.reprocess.source.path.read_bytes()
        old_path = w.reprocess.source.path
        qtbot.mouseClick(w.keep_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: w.current is not None and w.current.path != old_path, timeout=10000)
        kept, _ = read_audio(w.current.path)
        assert np.max(np.abs(kept - processed)) <= 2.0**-23
        assert old_path.read_bytes() == old_bytes
        qtbot.waitUntil(lambda: w.history.table.rowCount() == 2, timeout=5000)
        assert engine_events.empty()  # re-processing, A/B and Keep never touched the engine
        session.engine.unsubscribe(engine_events)
        w.playback.toggle()
        qtbot.waitUntil(lambda: not host_audio.is_playing(), timeout=2000)
    finally:
        host_audio.play = real_play
        w.close()
        session.audio = None


def test_finishing_edits_reprocess_and_the_effect_tail_rings_past_the_end(qtbot, window):
    _render(qtbot, window, "snare", length=0.5)
    n = window.current.audio.shape[-1]
    window.effects.add_effect("Delay", {"delay_seconds": 0.3, "feedback": 0.5, "mix": 0.5})
    qtbot.waitUntil(lambda: window.reprocess.preview is not None, timeout=10000)
    assert window.current.audio.shape[-1] == n  # cut at the render length
    window.finishing.tail.setValue(1.0)  # the effect tail, in seconds
    qtbot.waitUntil(
        lambda: window.reprocess.preview is not None
        and window.reprocess.preview.audio.shape[-1] == n + 44100,
        timeout=10000,
    )
    assert window.session._finish.recipe.finishing.tail_s == 1.0
    tail = window.current.audio[:, n:]
    assert float(abs(tail).max()) > 0.01  # the delay repeats after the clip's end
    # Replace: the processed file is swapped, the old one goes to the trash, the dry audio stays.
    old = window.reprocess.source
    qtbot.mouseClick(window.replace_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.reprocess.source is not None and window.reprocess.source is not old, timeout=10000)
    assert window.reprocess.source.path == old.path and window.reprocess.source.dry_path == old.dry_path
    assert window.current.audio.shape[-1] == n + 44100
    assert len(list(window.session.library.trash_dir.glob("*.wav"))) == 1


def test_effect_parameters_have_readable_names_and_units(qtbot, window):
    ed = window.effects
    ed.add_effect("Reverb")
    labels = [ed.form.itemAt(i, ed.form.ItemRole.LabelRole).widget().text() for i in range(ed.form.rowCount())]
    assert "Room size (0–1)" in labels and "Freeze (≥ 0.5 holds the tail)" in labels
    assert not any("_" in label for label in labels)
    ed.add_effect("Compressor")
    fields = [ed.form.itemAt(i, ed.form.ItemRole.FieldRole).widget() for i in range(ed.form.rowCount())]
    labels = [ed.form.itemAt(i, ed.form.ItemRole.LabelRole).widget().text() for i in range(ed.form.rowCount())]
    assert labels == ["Threshold", "Ratio", "Attack", "Release"]
    assert [f.suffix() for f in fields] == [" dB", " : 1", " ms", " ms"]
