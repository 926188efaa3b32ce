"""History from the render library: rows appear, search, favorite, delete to trash."""

from __future__ import annotations


def _render(qtbot, window, prompt, length=0.25):
    window.params.prompt.setText(prompt)
    window.params.length.setValue(length)
    assert window.render() is not None
    qtbot.waitUntil(lambda: not window.jobs, timeout=30000)


def test_search_favorite_and_delete_to_trash(qtbot, window):
    _render(qtbot, window, "punchy analog kick")
    _render(qtbot, window, "tight snare")
    table = window.history.table
    qtbot.waitUntil(lambda: table.rowCount() == 2, timeout=5000)

    window.history.search.setText("snare")
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=5000)
    assert table.item(0, 1).text() == "tight snare"
    row = window.history.rows[0]

    window.history.toggle_favorite(row)
    qtbot.waitUntil(lambda: table.item(0, 0).text() == "★", timeout=5000)
    window.history.search.setText("")
    window.history.favorites.setChecked(True)
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=5000)
    assert window.session.library.get(row.id).favorite is True

    path = row.path
    assert path.exists()
    window.history.delete(window.history.rows[0])
    qtbot.waitUntil(lambda: table.rowCount() == 0, timeout=5000)
    assert not path.exists()
    assert "Moved to trash" in window.status_message.text()


def test_rerender_from_history_is_bit_identical(qtbot, window):
    import numpy as np
    import soundfile as sf

    _render(qtbot, window, "rim")
    table = window.history.table
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=5000)
    original = window.history.rows[0]
    window.rerender(original.id)
    assert window.jobs
    qtbot.waitUntil(lambda: not window.jobs and table.rowCount() == 2, timeout=30000)
    again = next(r for r in window.history.rows if r.id != original.id)
    assert again.path != original.path
    a, sr_a = sf.read(original.path, dtype="float32")
    b, sr_b = sf.read(again.path, dtype="float32")
    assert sr_a == sr_b and np.array_equal(a, b)


def _cell_click(qtbot, table, row, column):
    from PyQt6.QtCore import Qt

    rect = table.visualItemRect(table.item(row, column))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_star_toggles_on_click(qtbot, window):
    _render(qtbot, window, "rim")
    table = window.history.table
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=5000)
    assert table.item(0, 0).text() == "☆"
    _cell_click(qtbot, table, 0, 0)
    qtbot.waitUntil(lambda: table.item(0, 0).text() == "★", timeout=5000)
    assert window.session.library.get(window.history.rows[0].id).favorite is True
    _cell_click(qtbot, table, 0, 0)
    qtbot.waitUntil(lambda: table.item(0, 0).text() == "☆", timeout=5000)
    _cell_click(qtbot, table, 0, 1)  # any other column only selects
    assert table.item(0, 0).text() == "☆" and window.history.selected_row().prompt == "rim"


def test_variation_and_seed_columns_and_sorting_by_any_column(qtbot, window):
    from PyQt6.QtCore import Qt

    from diffhost.gui.history import COLUMNS

    window.params.seed.setText("100")
    window.params.lock.setChecked(True)
    window.params.variations.setValue(3)
    _render(qtbot, window, "open hat")
    table = window.history.table
    qtbot.waitUntil(lambda: table.rowCount() == 3, timeout=5000)
    var, seed, length = COLUMNS.index("Take"), COLUMNS.index("Seed"), COLUMNS.index("Length")
    table.sortByColumn(seed, Qt.SortOrder.AscendingOrder)  # what a header click does
    assert [table.item(r, seed).text() for r in range(3)] == ["100", "101", "102"]
    assert [table.item(r, var).text() for r in range(3)] == ["1 of 3", "2 of 3", "3 of 3"]
    table.sortByColumn(seed, Qt.SortOrder.DescendingOrder)
    assert [table.item(r, seed).text() for r in range(3)] == ["102", "101", "100"]
    # Rows know their render after sorting: the top row is variation 3, seed 102.
    assert window.history.row_at(0).variation == 2 and window.history.row_at(0).seed == 102
    window.params.variations.setValue(1)
    window.params.lock.setChecked(False)
    _render(qtbot, window, "long pad", length=3.0)
    qtbot.waitUntil(lambda: table.rowCount() == 4, timeout=5000)
    table.sortByColumn(length, Qt.SortOrder.DescendingOrder)  # numerically: 3.00 s above 0.25 s
    assert table.item(0, length).text() == "3.00 s" and window.history.row_at(0).prompt == "long pad"


def test_a_loaded_preset_tags_the_preset_not_later_renders(qtbot, window):
    store = window.session.presets
    from diffhost.host import presets

    store.save(
        "tight snare",
        presets.Preset(name="tight snare", params={"prompt": "tight snare", "length": 0.5}, tags=("snare",)),
    )
    window.preset_control.refresh()
    qtbot.waitUntil(lambda: "tight snare" in window.presets_menu.names, timeout=5000)
    window.preset_control.load("tight snare")
    qtbot.waitUntil(lambda: window.params.prompt.text() == "tight snare", timeout=5000)
    _render(qtbot, window, "tight snare")
    _render(qtbot, window, "punchy kick")  # the preset is still loaded: its recipe, not its words
    table = window.history.table
    qtbot.waitUntil(lambda: table.rowCount() == 2, timeout=5000)
    window.history.search.setText("snare")
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=5000)
    assert table.item(0, 1).text() == "tight snare"
    assert all(r.preset == "tight snare" for r in window.session.library.list())


def test_empty_prompt_is_not_called_seed_audio_and_names_keep_their_letters(qtbot, window):
    _render(qtbot, window, "")
    _render(qtbot, window, "für Elise")
    table = window.history.table
    qtbot.waitUntil(lambda: table.rowCount() == 2, timeout=5000)
    labels = {table.item(r, 1).text() for r in range(2)}
    assert labels == {"(no prompt)", "für Elise"}
    names = [p.name for p in window.session.renders_dir.glob("*.wav")]
    assert any("-für-elise-" in n for n in names), names


def test_export_save_as_and_reveal_from_the_menus(qtbot, window, tmp_path):
    import soundfile as sf

    from diffhost.gui.history import EXPORTS, reveal_command, reveal_label

    _render(qtbot, window, "soft rimshot")
    table = window.history.table
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=5000)
    row = window.history.rows[0]
    # The File menu acts on the current render; the context menu on its row: both carry all three.
    file_menu = window.menuBar().actions()[0].menu()
    texts = [a.text() for a in file_menu.actions()]
    assert "Export" in texts and "Save As…" in texts and reveal_label() in texts
    qtbot.waitUntil(lambda: window.current is not None, timeout=5000)
    assert window.current_row().id == row.id

    exported = []
    window.history.exported.connect(exported.append)
    window.history.export(row, EXPORTS["MP3 V0"])
    qtbot.waitUntil(lambda: len(exported) == 1, timeout=10000)
    assert exported[0].suffix == ".mp3" and sf.info(str(exported[0])).format == "MP3"
    window.history.save_as(row, tmp_path / "für kick.flac")
    qtbot.waitUntil(lambda: len(exported) == 2, timeout=10000)
    assert exported[1] == tmp_path / "für kick.flac" and sf.info(str(exported[1])).subtype == "PCM_24"
    qtbot.waitUntil(lambda: table.rowCount() == 3, timeout=5000)  # both are library rows
    assert reveal_command(row.path, "darwin") == ["open", "-R", str(row.path)]
    assert reveal_command(row.path, "win32") == ["explorer", f"/select,{row.path}"]


def test_the_drag_label_drags_the_current_file(qtbot, window):
    from PyQt6.QtCore import QEvent, QPointF, Qt
    from PyQt6.QtGui import QMouseEvent
    from PyQt6.QtWidgets import QApplication

    _render(qtbot, window, "clap")
    label = window.waveform.hint
    qtbot.waitUntil(label.isVisible, timeout=5000)  # shown with the render
    dragged = []
    window.drag_label.start = lambda source, paths: dragged.append((source, paths))

    def send(kind, x):
        buttons = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseButtonRelease else Qt.MouseButton.NoButton
        ev = QMouseEvent(kind, QPointF(x, 5), QPointF(x, 5), Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(label, ev)

    send(QEvent.Type.MouseButtonPress, 2)
    send(QEvent.Type.MouseMove, 3)  # under the drag distance: nothing yet
    assert dragged == []
    send(QEvent.Type.MouseMove, 2 + QApplication.startDragDistance() + 2)
    assert dragged == [(label, [window.current.path])]
