"""What you hear is what you shaped: the current render re-processed from its dry audio whenever the
chain or finishing changes, an A/B switch between dry and processed, and Keep / Replace.

The dry audio is read once when a render is opened (a task); each re-process runs the session's
current recipe on it in memory (a task: no engine job, no file) and becomes what the waveform shows
and Play plays. A/B is loudness-matched: B (dry) plays at the gain that makes it as loud as A
(BS.1770 loudness; RMS for clips shorter than one 0.4 s block), with the offset shown, so the
comparison is of sound, not of level. Nothing is written until Keep (a new version beside the file) or Replace (the old
processed file goes to the trash); the dry audio is never touched.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtWidgets import QPushButton, QToolButton

from diffhost.gui import display
from diffhost.gui.errors import describe
from diffhost.host.render import reprocess as rp
from diffhost.host.render.finishing import loudness_lufs

MAX_MATCH_DB = 24.0  # a dry take that is near silence is not pushed up beyond this


def loudness_db(audio: np.ndarray, sample_rate: int) -> float | None:
    """Integrated loudness (LUFS) where the clip is long enough, else its RMS level in dBFS."""
    lufs = loudness_lufs(audio, sample_rate)
    if lufs is not None:
        return lufs
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    return 20 * math.log10(rms) if rms > 1e-9 else None


def match_offset_db(processed: display.DisplayData, dry: display.DisplayData) -> float:
    """The gain in dB that makes `dry` as loud as `processed` (0 when either is silent)."""
    a = loudness_db(processed.audio, processed.sample_rate)
    b = loudness_db(dry.audio, dry.sample_rate)
    if a is None or b is None:
        return 0.0
    return max(-MAX_MATCH_DB, min(MAX_MATCH_DB, a - b))


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
        self.offset_db = 0.0  # the gain B (dry) plays at to match A's loudness
        self._matched: tuple[Any, Any, display.DisplayData] | None = None  # (processed, dry, matched dry)
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
        """What Play plays: the dry audio (loudness-matched to A) with A/B on B, else the processed
        render (or its preview)."""
        if self.ab.isChecked() and self.dry is not None:
            return self.matched_dry()
        return self.window.current

    def matched_dry(self) -> display.DisplayData | None:
        """The dry audio at the gain that makes it as loud as the processed one (cached per pair)."""
        dry, processed = self.dry, self.processed
        if dry is None or processed is None:
            return dry
        if self._matched is None or self._matched[0] is not processed or self._matched[1] is not dry:
            self.offset_db = match_offset_db(processed, dry)
            gain = 10 ** (self.offset_db / 20)
            matched = dataclasses.replace(
                dry,
                audio=(dry.audio * gain).astype(np.float32),
                envelope=(dry.envelope * gain).astype(np.float32),
                spectrogram=(dry.spectrogram + self.offset_db).astype(np.float32),
            )
            self._matched = (processed, dry, matched)
        return self._matched[2]

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
            title += f" — B: dry (as rendered, {self.offset_db:+.1f} dB to match A's loudness)"
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
        label = getattr(self.window, "ab_offset", None)
        if label is not None:
            if has_dry and self.processed is not None:
                self.matched_dry()
                label.setText(f"B {self.offset_db:+.1f} dB")
            else:
                label.setText("")
