"""History from the render library: rows appear, search, favorite, delete to trash."""

from __future__ import annotations

import pytest

pytest.importorskip("diffhost.host.library", reason="the render library component (issue 4) is not merged yet")


def _render(qtbot, window, prompt):
    window.params.prompt.setText(prompt)
    window.params.length.setValue(0.25)
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
