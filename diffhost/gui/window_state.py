"""What the window remembers between runs (QSettings): geometry, docks, parameters, chain, pads."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from typing import Any

from PyQt6.QtCore import QByteArray

from diffhost.gui.errors import describe

PANEL_PARAMS = (
    "prompt",
    "negative_prompt",
    "length",
    "sample_rate",
    "temperature",
    "steps",
    "guidance",
    "seed",
    "variations",
    "strength",
    "bpm",
    "key",
    "bars",  # None: the length is in seconds
)


def restore(window: Any) -> None:
    """Last settings into the session and the widgets; anything stale is dropped with a message."""
    s = window.settings
    stored = s.value("params/json", "", type=str)
    if stored:
        try:
            values = json.loads(stored)
            window.session.update_params(
                **{k: v for k, v in values.items() if k in PANEL_PARAMS or k == "model"}
            )
        except (ValueError, TypeError) as exc:
            window.report(f"Last settings not restored: {describe(exc)}")
    window.params.set_values({**dataclasses.asdict(window.session.params), "model": window.session.model})
    window.params.lock.setChecked(s.value("params/seed_locked", False, type=bool))
    chain = s.value("effects/json", "", type=str)
    if chain:
        with contextlib.suppress(ValueError, KeyError, TypeError):  # a stale chain is dropped
            window.effects.set_chain(json.loads(chain))
            if window.effects.chain():
                window.chain_applier.changed(window.effects.chain())  # renders use what the editor shows
    window.autoplay.setChecked(s.value("autoplay", True, type=bool))
    window.tempo_control.restore(s.value("pads/tempo", 120.0, type=float))
    geometry = s.value("window/geometry", QByteArray(), type=QByteArray)
    if not geometry.isEmpty():
        window.restoreGeometry(geometry)
    state = s.value("window/state", QByteArray(), type=QByteArray)
    if not state.isEmpty():
        window.restoreState(state)


def save(window: Any) -> None:
    s = window.settings
    s.setValue("window/geometry", window.saveGeometry())
    s.setValue("window/state", window.saveState())
    s.setValue("params/json", json.dumps(window.params.values()))
    s.setValue("params/seed_locked", window.params.seed_locked)
    s.setValue("effects/json", json.dumps(window.effects.chain()))
    s.setValue("autoplay", window.autoplay.isChecked())
    s.setValue("pads/tempo", window.pads.tempo_bpm)
    s.sync()
