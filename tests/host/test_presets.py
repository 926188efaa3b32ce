"""Presets: shipped ones validate, schema errors are clear, migration, user save/load/list."""

from __future__ import annotations

import json

import pytest

from diffhost.host.presets import SHIPPED_DIR, VERSION, PresetError, PresetStore, load_file, parse_preset

GOOD = {
    "version": VERSION,
    "name": "my kick",
    "params": {"prompt": "punchy analog kick", "length": 0.5},
    "effects": [{"effect": "Compressor", "params": {"threshold_db": -12.0, "ratio": 4.0}}],
    "finishing": {"normalize": {"mode": "peak", "peak_db": -1.0}},
    "export": {"format": "wav", "bit_depth": 24},
}


def test_at_least_eight_shipped_presets_all_valid(home):
    store = PresetStore()
    names = store.names()
    assert len(names) >= 8
    for wanted in (
        "808 kick",
        "tight snare",
        "lo-fi hats",
        "cinematic riser",
        "ambient pad",
        "vinyl texture",
        "trap hat roll",
        "big room clap",
    ):
        assert wanted in names
    for name in names:
        preset = store.load(name)
        assert preset.shipped and preset.version == VERSION and preset.description
        assert 0.25 <= preset.params["length"] <= 4.0  # what the embedded default model renders
        recipe = preset.recipe()
        assert recipe.preset == name and len(recipe.chain) >= 1


def test_shipped_files_are_named_for_their_preset():
    for f in SHIPPED_DIR.glob("*.json"):
        data = json.loads(f.read_text())
        assert data["version"] == VERSION
        assert PresetStore(user_dir=f.parent / "none").load(data["name"]).source == f.resolve()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"colour": "red"},
            r"unknown key 'colour'; valid are version, name, description, tags, params, effects",
        ),
        (
            {"params": {"prompt": "x", "lenght": 1.0}},
            r"params: unknown key 'lenght'; valid are prompt, seed_clip|params: unknown key 'lenght'; valid are prompt",
        ),
        ({"params": {"length": 9999}}, r"params.length: 9999 is out of range; valid is 0.05..600.0 s"),
        (
            {"effects": [{"effect": "Gain", "params": {"gain": 3}}]},
            r"unknown parameter 'gain' \(did you mean 'gain_db'\?\)",
        ),
        ({"finishing": {"fade_ms": 3}}, r"finishing: unknown key 'fade_ms'; valid are dc_remove"),
        ({"export": {"format": "wma"}}, r"export.format: 'wma' is not supported"),
        ({"version": 99}, r"version 99 is newer than this diffhost reads"),
        ({"name": ""}, r"name is required"),
    ],
)
def test_schema_errors_name_the_key(change, expected):
    with pytest.raises(PresetError, match=expected):
        parse_preset({**GOOD, **change}, where="my.json")


def test_version_1_presets_are_migrated():
    v1 = {
        "version": 1,
        "name": "old snare",
        "prompt": "tight snare",
        "length": 0.4,
        "temperature": 0.9,
        "chain": [
            {"type": "HighpassFilter", "cutoff_frequency_hz": 150.0},
            {"type": "Reverb", "room_size": 0.3},
        ],
        "normalize_db": -2.0,
    }
    p = parse_preset(v1)
    assert p.version == VERSION
    assert p.params == {"prompt": "tight snare", "length": 0.4, "temperature": 0.9}
    assert p.effects[1] == {"effect": "Reverb", "params": {"room_size": 0.3}}
    assert p.finishing == {"normalize": {"mode": "peak", "peak_db": -2.0}}
    with pytest.raises(PresetError, match="unknown key 'flavour'"):
        parse_preset({**v1, "flavour": "x"})


def test_bad_files_get_clear_errors(tmp_path):
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(PresetError, match="empty.json: the file is empty"):
        load_file(tmp_path / "empty.json")
    (tmp_path / "broken.json").write_text('{"name": "x",\n "params": }')
    with pytest.raises(PresetError, match=r"broken.json: not valid JSON \(line 2, column 12"):
        load_file(tmp_path / "broken.json")


def test_user_presets_save_load_list_without_silent_overwrite(home):
    store = PresetStore()
    path = store.save("My Kick", GOOD)
    assert path == home / "presets" / "my-kick.json"
    assert "My Kick" in store.names()
    loaded = store.load("my kick")
    assert loaded.params == GOOD["params"] and not loaded.shipped
    with pytest.raises(PresetError, match="a user preset with that name exists; pass overwrite=True"):
        store.save("My Kick", {**GOOD, "params": {"prompt": "other", "length": 1.0}})
    assert store.load("My Kick").params == GOOD["params"]
    with pytest.raises(PresetError, match="a shipped preset with that name exists"):
        store.save("808 kick", GOOD)
    store.save("My Kick", {**GOOD, "params": {"prompt": "other", "length": 1.0}}, overwrite=True)
    assert store.load("My Kick").params["prompt"] == "other"
    assert (home / "presets" / "trash" / "my-kick.json").is_file()  # the old one is kept
    with pytest.raises(PresetError, match=r"preset 'nope': not found; available are 808 kick"):
        store.load("nope")
    with pytest.raises(PresetError, match=r"params.length"):
        store.save("bad", {**GOOD, "params": {"length": -1}})
    assert not (home / "presets" / "bad.json").exists()


def test_a_session_state_round_trips_through_a_user_preset(home):
    from diffhost.engine.request import GenerationRequest
    from diffhost.host.presets import make_preset

    store = PresetStore()
    recipe = store.load("big room clap").recipe()
    preset = make_preset("my clap", GenerationRequest(prompt="clap, dirty", length=0.7, seed=3), recipe)
    store.save("my clap", preset)
    back = store.load("my clap")
    assert back.params["prompt"] == "clap, dirty" and back.params["seed"] == 3
    assert back.recipe().to_dict() == {**recipe.to_dict(), "preset": "my clap"}
