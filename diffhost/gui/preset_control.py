"""Presets, the effects chain and the finishing steps -> Session: load, "No preset", save as, and
applying the edited chain / finishing (after which the current render is re-processed).

A preset sets the sound and post-processing of the next render. It keeps a prompt the musician
typed (a preset's prompt fills an empty one) and leaves the loaded render as it is, unless the
musician chooses Presets ▸ Apply to this render."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from PyQt6.QtWidgets import QLabel

from diffhost.gui.effects_editor import EffectsEditor
from diffhost.gui.errors import describe
from diffhost.gui.finishing_editor import DEFAULT as DEFAULT_FINISHING
from diffhost.gui.finishing_editor import FinishingEditor
from diffhost.gui.params_panel import ParamsPanel
from diffhost.gui.presets_menu import PresetsMenu
from diffhost.host.presets import Preset


class PresetControl:
    """window supplies session, tasks, report(), reason() and reprocess_current(). Store access
    runs as tasks (disk). `state` shows which preset's recipe later renders get, or "No preset"."""

    def __init__(
        self,
        window: Any,
        menu: PresetsMenu,
        params: ParamsPanel,
        effects: EffectsEditor,
        finishing: FinishingEditor,
        state: QLabel,
    ):
        self.window = window
        self.menu = menu
        self.params = params
        self.effects = effects
        self.finishing = finishing
        self.state = state
        self.current: str | None = None
        menu.load_requested.connect(self.load)
        menu.save_requested.connect(self.save)
        menu.clear_requested.connect(self.clear)
        menu.apply_requested.connect(self.apply_to_current)
        effects.chain_changed.connect(lambda _c: self.edited())
        finishing.finishing_changed.connect(lambda _f: self.edited())
        recipe = window.session.recipe  # what the session's finisher holds now (a runtime may preload one)
        finishing.set_finishing(recipe.finishing.to_dict())
        finishing.set_export(recipe.export.to_dict())
        self._show(recipe.preset)

    def refresh(self) -> None:
        w = self.window
        if w.session.presets is not None:
            w.tasks.run(
                w.session.list_presets, self.menu.set_names, lambda e: w.report(f"Presets: {describe(e)}")
            )

    def load(self, name: str) -> None:
        w = self.window
        # What the musician typed stays; the preset's words only fill empty fields.
        typed = {k: self.params.value(k) for k in ("prompt", "negative_prompt")}
        typed = {k: v for k, v in typed.items() if v}

        def load() -> tuple[Any, Any]:
            preset = w.session.load_preset(name)
            if typed:
                w.session.update_params(**typed)
            return preset, preset.recipe()

        def applied(loaded: tuple[Any, Any]) -> None:
            preset, recipe = loaded
            self.params.set_values({**dataclasses.asdict(w.session.params), "model": w.session.model})
            self.effects.set_chain(list(getattr(preset, "effects", None) or []))  # the finisher has it
            self.finishing.set_finishing(recipe.finishing.to_dict())
            self.finishing.set_export(recipe.export.to_dict())
            self._show(name)
            kept = " (your prompt kept)" if "prompt" in typed else ""
            w.report(f"Preset loaded: {name}: for the next render{kept}; Presets ▸ Apply to this render re-processes the loaded one")

        w.tasks.run(load, applied, lambda e: w.report(f"Preset {name}: {describe(e)}"))

    def clear(self) -> None:
        """No preset: later renders get no effects, the default finishing and no preset name/tags."""
        w = self.window
        try:
            w.session.clear_preset()
        except (ValueError, RuntimeError) as exc:
            w.report(f"No preset: {describe(exc)}")
            return
        self.effects.set_chain([])
        self.finishing.set_finishing(DEFAULT_FINISHING)
        self.finishing.set_export({"format": "wav", "bit_depth": 24})
        self._show(None)
        w.report("No preset: the next render gets no effects and the default finishing")

    def apply_to_current(self) -> None:
        """Asked for: re-process the loaded render with the recipe now in force (chain, finishing)."""
        w = self.window
        if w.current is None:
            w.report("Apply to this render: no render is loaded")
            return
        w.reprocess_current()

    def _show(self, name: str | None) -> None:
        self.current = name
        self.menu.set_current(name)
        self.state.setText(f"Preset: {name}" if name else "No preset")
        self.state.setToolTip(
            f"Later renders are finished with the preset {name!r}'s effects and finishing; "
            "Presets ▸ No preset resets them"
            if name
            else "Later renders get no effects and the default finishing"
        )

    def edited(self) -> None:
        """The chain or finishing was edited by hand: the recipe is no longer the preset's as shipped."""
        if self.current is not None and not self.state.text().endswith("(edited)"):
            self.state.setText(f"Preset: {self.current} (edited)")

    def save(self, name: str) -> None:
        """Save the current params, chain and finishing as a user preset (never overwrites)."""
        w = self.window
        store = w.session.presets
        if store is None:
            w.report(f"Save preset: {w.reason('presets')}")
            return
        params = {k: v for k, v in w.session.params.to_dict().items() if k != "seed_clip"}
        if w.session.model:
            params["model"] = w.session.model
        values: dict[str, Any] = {
            "name": name,
            "params": params,
            "effects": self.effects.chain(),
            "finishing": self.finishing.finishing(),
            "export": self.finishing.export(),
        }

        def save() -> Any:
            fields = {f.name for f in dataclasses.fields(Preset)}
            return store.save(name, Preset(**{k: v for k, v in values.items() if k in fields}))

        def saved(_v: Any) -> None:
            w.report(f"Preset saved: {name}")
            self.refresh()

        w.tasks.run(save, saved, lambda e: w.report(f"Save preset {name}: {describe(e)}"))


class RecipeApplier:
    """Applies an edited part of the recipe (the chain, the finishing) to the session's finisher;
    the newest edit wins, then the current render is re-processed.

    Applying may load plug-ins from disk, so it runs as a task; edits that arrive meanwhile are
    coalesced into one apply of the newest value.
    """

    def __init__(
        self, window: Any, apply: Callable[[Any], Any], error: QLabel, what: str, reprocess: bool = True
    ):
        self.window = window
        self.reprocess = reprocess
        self.apply = apply
        self.error = error
        self.what = what
        self.pending: Any = None
        self.busy = False

    def changed(self, value: Any) -> None:
        first = self.pending is None
        self.pending = value
        if first and not self.busy:
            self._apply()

    def _apply(self) -> None:
        value, self.pending = self.pending, None
        if value is None:
            self.busy = False
            return
        self.busy = True
        w = self.window

        def done(_v: Any) -> None:
            self.error.setText("")
            if self.pending is None and self.reprocess:
                w.reprocess_current()
            self._apply()

        def failed(exc: BaseException) -> None:
            self.error.setText(describe(exc))
            w.report(f"{self.what}: {describe(exc)}")
            self._apply()

        w.tasks.run(lambda: self.apply(value), done, failed)


class ChainApplier(RecipeApplier):
    def __init__(self, window: Any, editor: EffectsEditor):
        super().__init__(window, lambda chain: window.session.set_effects(chain), editor.error, "Effects")
        self.editor = editor
        editor.chain_changed.connect(self.changed)


class FinishingApplier(RecipeApplier):
    def __init__(self, window: Any, editor: FinishingEditor):
        super().__init__(
            window, lambda fin: window.session.set_finishing(fin), editor.error, "Finishing"
        )
        editor.finishing_changed.connect(self.changed)


class ExportApplier(RecipeApplier):
    """The file format: applied for later renders and Keep/Replace; nothing to re-process."""

    def __init__(self, window: Any, editor: FinishingEditor):
        super().__init__(
            window, lambda spec: window.session.set_export(spec), editor.error, "File format", reprocess=False
        )
        editor.export_changed.connect(self.changed)
