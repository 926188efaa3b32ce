"""What you hear is what you shaped: the current render re-processed from its dry audio whenever the
chain or finishing changes, an A/B switch between dry and processed, and Keep / Replace.

The dry audio is read once when a render is opened (a task); each re-process runs the session's
current recipe on it in memory (a task: no engine job, no file) and becomes what the waveform shows
and Play plays. Nothing is written until Keep (a new version beside the file) or Replace (the old
processed file goes to the trash); the dry audio is never touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtWidgets import QPushButton, QToolButton

from diffhost.gui import display
from diffhost.gui.errors import describe
from diffhost.host.render import reprocess as rp


class ReprocessControl:
    """window supplies session, tasks, current, waveform, playback, history, report() and
    open_render(); the buttons are the window's (transport row)."""

    def __init__(self, window: Any, ab: QToolButton, keep: QPushButton, replace: QPushButton):
        self.window = window
        self.ab = ab
        self.keep_button = keep
        self.replace_button = replace
        self.source: rp.DrySource | None = None
        self.dry: display.DisplayData | None = None
        self.processed: display.DisplayData | None = None
        self.preview: rp.Reprocessed | None = None  # re-processed, not saved yet
        self.missing = ""  # why the current render cannot be re-processed
        self.busy = False
        self.again = False
        ab.toggled.connect(self._ab_toggled)
        keep.clicked.connect(lambda: self.keep(replace=False))
        replace.clicked.connect(lambda: self.keep(replace=True))
        self._update()

    # -- the current render's dry audio ------------------------------------------------------
    def open(self, path: Path) -> None:
        """A render became current: forget any unsaved preview and read its dry audio."""
        w = self.window
        self.source, self.dry, self.preview, self.missing = None, None, None, ""
        self.ab.setChecked(False)
        self._update()

        def load() -> tuple[rp.DrySource, display.DisplayData]:
            source = rp.load_source(Path(path), w.session.library)
            return source, display.from_audio(source.audio, source.sample_rate, source.path)

        def loaded(pair: tuple[rp.DrySource, display.DisplayData]) -> None:
            if w.current is None or w.current.path != Path(path):
                return  # another render became current meanwhile
            self.source, self.dry = pair
            self.processed = w.current
            self._update()

        def failed(exc: BaseException) -> None:
            self.missing = describe(exc)
            self._update()

        w.tasks.run(load, loaded, failed)

    # -- re-processing -----------------------------------------------------------------------------
    def request(self) -> None:
        """Re-process the current render with the session's recipe now (coalesced while one runs)."""
        if self.source is None:
            if self.missing:  # the edit still applies to the next render; say why this one stays
                self.window.report(f"The change applies to the next render; this one: {self.missing}")
            return
        if self.busy:
            self.again = True
            return
        self.busy = True
        w = self.window
        source = self.source

        def work() -> tuple[rp.Reprocessed, display.DisplayData]:
            rep = w.session.reprocess(source)
            return rep, display.from_audio(rep.audio, rep.sample_rate, source.path)

        def done(pair: tuple[rp.Reprocessed, display.DisplayData]) -> None:
            self._finished()
            rep, data = pair
            if self.source is not source:
                return  # another render is current now
            self.preview, self.processed = rep, data
            w.report(
                f"Re-processed in {rep.seconds * 1000:.0f} ms (no new render) — "
                "Keep saves it as a new version, Replace swaps the file"
            )
            self._show(restart=True)
            self._update()

        def failed(exc: BaseException) -> None:
            self._finished()
            w.report(f"Re-process: {describe(exc)}")

        w.tasks.run(work, done, failed)

    def _finished(self) -> None:
        self.busy = False
        if self.again:
            self.again = False
            self.request()

    # -- A/B --------------------------------------------------------------------------------------
    def audible(self) -> display.DisplayData | None:
        """What Play plays: the dry audio with A/B on B, else the processed render (or its preview)."""
        if self.ab.isChecked() and self.dry is not None:
            return self.dry
        return self.window.current

    def _ab_toggled(self, _on: bool) -> None:
        self._show(restart=True)
        self._update()

    def _show(self, restart: bool) -> None:
        """Put the processed (or, on B, the dry) audio on screen; keep playing from the same spot."""
        w = self.window
        if self.processed is not None:
            w.current = self.processed
        shown = self.audible()
        if shown is None:
            return
        w.waveform.show_data(shown)
        title = shown.path.name if shown.path else ""
        if self.ab.isChecked():
            title += " — B: dry (as rendered)"
        elif self.preview is not None:
            title += " — edited, not saved"
        w.waveform.title.setText(title)
        playback = w.playback
        if restart and playback.playing_current and w.session.audio is not None:
            position = playback.offset_s + w.session.audio.position()
            playback.play_current(min(position, max(0.0, shown.duration_s - 0.05)))

    # -- keep ---------------------------------------------------------------------------------
    def keep(self, replace: bool) -> None:
        w = self.window
        rep = self.preview
        if rep is None:
            w.report("Nothing to keep: change the effects or finishing of the current render first")
            return

        def kept(saved: Any) -> None:
            self.preview = None
            w.report(
                f"Replaced {saved.path.name} (the old file is in the trash)"
                if replace
                else f"Kept as a new version: {saved.path.name}"
            )
            w.history.refresh()
            w.open_render(saved.path)

        w.tasks.run(
            lambda: w.session.keep_reprocessed(rep, replace=replace),
            kept,
            lambda e: w.report(f"{'Replace' if replace else 'Keep'}: {describe(e)}"),
        )

    def _update(self) -> None:
        has_dry = self.source is not None
        self.ab.setEnabled(has_dry)
        self.ab.setText("B: dry" if self.ab.isChecked() else "A: processed")
        self.ab.setToolTip(
            "A/B: hear the render as processed (A) or dry, as the model made it (B)"
            if has_dry
            else f"A/B needs the render's dry audio{': ' + self.missing if self.missing else ''}"
        )
        for b in (self.keep_button, self.replace_button):
            b.setEnabled(self.preview is not None)
