"""Presets and the effects chain -> Session: load, save as, and applying the edited chain."""

from __future__ import annotations

import dataclasses
from typing import Any

from diffhost.gui.effects_editor import EffectsEditor
from diffhost.gui.errors import describe
from diffhost.gui.params_panel import ParamsPanel
from diffhost.gui.presets_menu import PresetsMenu
from diffhost.host.presets import Preset


class PresetControl:
    """window supplies session, tasks, report() and reason(). Store access runs as tasks (disk)."""

    def __init__(self, window: Any, menu: PresetsMenu, params: ParamsPanel, effects: EffectsEditor):
        self.window = window
        self.menu = menu
        self.params = params
        self.effects = effects
        menu.load_requested.connect(self.load)
        menu.save_requested.connect(self.save)

    def refresh(self) -> None:
        w = self.window
        if w.session.presets is not None:
            w.tasks.run(
                w.session.list_presets, self.menu.set_names, lambda e: w.report(f"Presets: {describe(e)}")
            )

    def load(self, name: str) -> None:
        w = self.window

        def applied(preset: Any) -> None:
            self.params.set_values({**dataclasses.asdict(w.session.params), "model": w.session.model})
            effects = getattr(preset, "effects", None)
            if effects is not None:
                self.effects.set_chain(list(effects))  # the session's finisher already has it
            w.report(f"Preset loaded: {name}")

        w.tasks.run(
            lambda: w.session.load_preset(name), applied, lambda e: w.report(f"Preset {name}: {describe(e)}")
        )

    def save(self, name: str) -> None:
        """Save the current params and chain as a user preset (the store refuses to overwrite)."""
        w = self.window
        store = w.session.presets
        if store is None:
            w.report(f"Save preset: {w.reason('presets')}")
            return
        params = {k: v for k, v in w.session.params.to_dict().items() if k != "seed_clip"}
        if w.session.model:
            params["model"] = w.session.model
        values = {"name": name, "params": params, "effects": self.effects.chain()}

        def save() -> Any:
            fields = {f.name for f in dataclasses.fields(Preset)}
            return store.save(name, Preset(**{k: v for k, v in values.items() if k in fields}))

        def saved(_v: Any) -> None:
            w.report(f"Preset saved: {name}")
            self.refresh()

        w.tasks.run(save, saved, lambda e: w.report(f"Save preset {name}: {describe(e)}"))


class ChainApplier:
    """Applies the edited chain to the session's finisher; the newest edit wins.

    Applying may load plug-ins from disk, so it runs as a task; edits that arrive
    meanwhile are coalesced into one apply of the newest chain.
    """

    def __init__(self, window: Any, editor: EffectsEditor):
        self.window = window
        self.editor = editor
        self.pending: list[dict] | None = None
        self.busy = False
        editor.chain_changed.connect(self.changed)

    def changed(self, chain: list[dict]) -> None:
        if getattr(self.window.session, "set_effects", None) is None:
            self.window.report(
                "Effects chain: kept with presets; this session has no post-processing to apply it"
            )
            return
        first = self.pending is None
        self.pending = chain
        if first and not self.busy:
            self._apply()

    def _apply(self) -> None:
        chain, self.pending = self.pending, None
        if chain is None:
            self.busy = False
            return
        self.busy = True
        w = self.window

        def done(_v: Any) -> None:
            self.editor.error.setText("")
            self._apply()

        def failed(exc: BaseException) -> None:
            self.editor.error.setText(describe(exc))
            w.report(f"Effects: {describe(exc)}")
            self._apply()

        w.tasks.run(lambda: w.session.set_effects(chain), done, failed)
