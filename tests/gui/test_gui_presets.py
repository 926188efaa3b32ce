"""Presets menu: load shows the preset's values; save as writes one the store can load back."""

from __future__ import annotations

import pytest

from diffhost.host import presets


def test_load_preset_shows_its_values(qtbot, window):
    store = window.session.presets
    params = {"prompt": "open hat", "length": 0.75, "temperature": 0.6, "steps": 12, "seed": 99}
    fields = {f for f in presets.Preset.__dataclass_fields__}
    values = {
        "name": "hat test",
        "version": 1,
        "params": params,
        "effects": [{"effect": "Reverb", "params": {"room_size": 0.3}, "bypass": False}],
        "finishing": {},
        "export": {},
    }
    store.save("hat test", presets.Preset(**{k: v for k, v in values.items() if k in fields}))
    window.preset_control.refresh()
    qtbot.waitUntil(lambda: "hat test" in window.presets_menu.names, timeout=5000)
    window.preset_control.load("hat test")
    qtbot.waitUntil(lambda: window.params.prompt.text() == "open hat", timeout=5000)
    assert window.params.length.value() == 0.75
    assert window.params.temperature.value() == 0.6
    assert window.params.steps.value() == 12
    assert window.params.seed.text() == "99" and window.params.seed_locked
    assert [e["effect"] for e in window.effects.chain()] == ["Reverb"]
    assert window.effects.chain()[0]["params"]["room_size"] == 0.3


def test_save_as_round_trips(qtbot, window):
    window.params.prompt.setText("chord stab")
    window.params.temperature.setValue(1.3)
    window.render_button.setFocus()
    window.session.update_params(prompt="chord stab", temperature=1.3)
    window.preset_control.save("my stab")
    qtbot.waitUntil(lambda: "my stab" in window.presets_menu.names, timeout=5000)
    loaded = window.session.presets.load("my stab")
    assert loaded.params["prompt"] == "chord stab" and loaded.params["temperature"] == 1.3


def _snare_preset(window):
    store = window.session.presets
    store.save(
        "tight snare",
        presets.Preset(
            name="tight snare",
            params={"prompt": "tight snare", "length": 0.5},
            effects=[{"effect": "Compressor", "params": {"threshold_db": -18.0, "ratio": 4.0}}],
            finishing={"trim_silence": {"threshold_db": -60.0, "pad_ms": 1.0}, "fade_out_ms": 20.0},
            tags=("drums", "snare"),
        ),
    )


def test_preset_finishing_is_shown_and_no_preset_clears_chain_finishing_and_tags(qtbot, window):
    import json

    _snare_preset(window)
    window.preset_control.load("tight snare")
    fin = window.finishing
    qtbot.waitUntil(lambda: window.preset_state.text() == "Preset: tight snare", timeout=5000)
    assert fin.trim.isChecked() and fin.trim_db.value() == -60.0 and fin.fade_out.value() == 20.0
    # a preset that names no DC mode was written before there were modes: it keeps the high-pass
    assert fin.dc_remove.isChecked() and window.session._finish.recipe.finishing.dc_remove is True
    assert window.presets_menu.current == "tight snare"
    assert [e["effect"] for e in window.effects.chain()] == ["Compressor"]
    fin.fade_out.setValue(25.0)  # and keeps it when the preset is edited, or the box ticked again
    qtbot.waitUntil(lambda: window.session._finish.recipe.finishing.fade_out_ms == 25.0, timeout=5000)
    assert window.session._finish.recipe.finishing.dc_remove is True
    fin.dc_remove.setChecked(False)
    qtbot.waitUntil(lambda: window.session._finish.recipe.finishing.dc_remove is False, timeout=5000)
    fin.dc_remove.setChecked(True)
    qtbot.waitUntil(lambda: window.session._finish.recipe.finishing.dc_remove is True, timeout=5000)

    # "No preset" from the Presets menu: chain, finishing and the preset's name and tags all go.
    window.presets_menu.no_preset_action.trigger()
    assert window.preset_state.text() == "No preset" and window.presets_menu.current is None
    assert window.effects.chain() == [] and not fin.trim.isChecked() and fin.fade_out.value() == 0.0
    recipe = window.session._finish.recipe
    assert recipe.preset is None and recipe.tags == () and recipe.chain.specs == ()
    assert recipe.finishing.trim_silence is None and recipe.finishing.fade_out_ms == 0.0
    assert recipe.finishing.dc_remove == "loop_mean"  # a new render's default

    # So a later 2 s render is 2 s (no trim), untagged, and says no preset.
    window.params.prompt.setText("bright tonal hit")
    window.params.length.setValue(2.0)
    window.render()
    qtbot.waitUntil(lambda: not window.jobs and window.current is not None, timeout=30000)
    side = json.loads(window.current.path.with_name(window.current.path.name + ".json").read_text())
    assert side["preset"] is None and side["preset_tags"] == [] and side["tags"] == []
    assert side["post"]["length_s"] == 2.0 and [s["step"] for s in side["post"]["steps"]] == [
        "dc_remove",
        "normalize_peak",
    ]


def test_finishing_edits_apply_to_the_next_render_and_save_with_the_preset(qtbot, window):
    import json

    fin = window.finishing
    fin.fade_out.setValue(50.0)
    fin.normalize.setCurrentIndex(fin.normalize.findData("lufs"))
    qtbot.waitUntil(lambda: window.session._finish.recipe.finishing.fade_out_ms == 50.0, timeout=5000)
    qtbot.waitUntil(lambda: (window.session._finish.recipe.finishing.normalize or {}).get("mode") == "lufs", timeout=5000)
    assert fin.level.suffix() == " LUFS" and fin.level.value() == -14.0
    window.params.prompt.setText("pad")
    window.params.length.setValue(1.0)
    window.render()
    qtbot.waitUntil(lambda: not window.jobs and window.current is not None, timeout=30000)
    side = json.loads(window.current.path.with_name(window.current.path.name + ".json").read_text())
    assert side["finishing"]["fade_out_ms"] == 50.0 and side["finishing"]["normalize"]["mode"] == "lufs"
    assert side["finishing"]["dc_remove"] == "loop_mean"  # editing other fields keeps the DC mode
    assert side["post"]["loudness_lufs"] == pytest.approx(-14.0, abs=0.1) or side["post"]["peak_dbfs"] == pytest.approx(-1.0, abs=0.01)
    fin.format.setCurrentText("FLAC 16-bit (dithered)")
    qtbot.waitUntil(lambda: window.session._finish.recipe.export.format == "flac", timeout=5000)
    window.preset_control.save("soft pad")
    qtbot.waitUntil(lambda: "soft pad" in window.presets_menu.names, timeout=5000)
    saved = window.session.presets.load("soft pad")
    assert saved.finishing["fade_out_ms"] == 50.0 and saved.export == {"format": "flac", "bit_depth": 16}
    assert saved.finishing["dc_remove"] == "loop_mean"
    window.render()
    qtbot.waitUntil(lambda: not window.jobs and window.current is not None and window.current.path.suffix == ".flac", timeout=30000)
    side = json.loads(window.current.path.with_name(window.current.path.name + ".json").read_text())
    assert side["encoding"]["dither"]["bit_depth"] == 16  # recorded, because it was applied
