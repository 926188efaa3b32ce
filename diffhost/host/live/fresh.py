"""Fresh pads: a new pre-rendered variation on every hit, with the same one-block latency.

Each fresh pad keeps a pool of variations the engine renders at live priority: whenever the pool is
below `pool`, one job renders `batch` variations (a new random seed each time). Batches, not one
variation per hit: a job's fixed cost (prompt embedding, the denoiser's steps, events) is paid once
for all of them; the default model spends 31-36 ms of CPU on a lone one-shot and 7-9 ms on each of
16 (bench/fresh_pads.py has the figures at 16 hits a second). The variations are rendered at the
stream's rate (the engine resamples on its own thread), never saved (no file, no library row) and
not announced (Session.submit_internal).

The slot always holds the next variation, so a hit only starts it (nothing is rendered or
converted on the trigger path); right after the hit this thread swaps the following one in while
the hit rings out. When the pool runs dry the slot keeps its clip: the pad replays the last
variation rather than go silent.

Evolving loops: a loop pad can take a new variation every N bars, switched on the bar line
(the next variation starts exactly there and the old one fades out over 5 ms).
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import queue
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from diffhost.engine.errors import QueueFullError

if TYPE_CHECKING:
    from diffhost.host.session import Session

DEFAULT_POOL = 16  # variations kept ready: a second of hits at 16/s while the next batch renders
DEFAULT_BATCH = 16  # variations per refill job: 16 cost 6.8-8.5 ms of CPU each, 8 cost 10 ms, 1 cost 31-36 ms
PERIOD_S = 0.005


@dataclass
class FreshStats:
    hits: int = 0
    fresh_hits: int = 0  # hits that played a variation no earlier hit played
    replays: int = 0
    rendered: int = 0
    dry: int = 0  # swaps wanted while the pool was empty


@dataclass
class _Pad:
    overrides: dict[str, Any]
    pool_size: int
    batch: int = DEFAULT_BATCH
    pool: collections.deque = field(default_factory=collections.deque)  # (id, audio, rate)
    current: int = -1  # id of the variation the slot holds now
    played: set[int] = field(default_factory=set)
    job: int | None = None
    evolve_bars: int = 0
    next_bar: float | None = None
    stats: FreshStats = field(default_factory=FreshStats)


class FreshPads:
    def __init__(self, session: Session):
        self.session = session
        self.engine = session.engine
        self._pads: dict[int, _Pad] = {}
        self._lock = threading.Lock()
        self._hits: queue.Queue[int] = queue.Queue(4096)
        self._events = self.engine.subscribe()
        self._ids = itertools.count(1)
        self._audio: Any = None
        self.last_error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="diffhost-fresh", daemon=True)
        self._thread.start()

    def enable(
        self,
        slot: int,
        *,
        pool: int = DEFAULT_POOL,
        batch: int = DEFAULT_BATCH,
        evolve_bars: int = 0,
        **overrides: Any,
    ) -> None:
        """Make pad `slot` fresh: overrides (prompt, length, preset params...) describe its sound.

        pool: variations kept ready; batch: variations each refill job renders (the pool can hold
        up to pool + batch - 1 while a batch lands)."""
        if not 1 <= int(pool) <= 32:
            raise ValueError(f"pool: {pool} is out of range 1..32 variations")
        if not 1 <= int(batch) <= 16:
            raise ValueError(f"batch: {batch} is out of range 1..16 variations per render")
        if not 0 <= int(evolve_bars) <= 64:
            raise ValueError(f"evolve_bars: {evolve_bars} is out of range 0 (off)..64 bars")
        # the pad plays at the stream's rate: a rate of its own would only be resampled again
        overrides = {k: v for k, v in overrides.items() if k not in ("seed", "variations", "sample_rate")}
        self.session.build_request(**overrides)  # a bad prompt/length raises here, nothing changes
        audio = self.session.audio
        if audio is None:
            raise ValueError("fresh pad: no audio device is open in this session")
        audio.slot_state(slot)  # the slot number is checked (1..N)
        with self._lock:
            self._pads[int(slot)] = _Pad(dict(overrides), int(pool), int(batch), evolve_bars=int(evolve_bars))

    def disable(self, slot: int) -> None:
        with self._lock:
            pad = self._pads.pop(int(slot), None)
        if pad is not None and pad.job is not None:
            self.engine.cancel(pad.job)

    def specs(self) -> dict[int, dict[str, Any]]:
        """Every fresh pad's settings, as kits save them (enable(**spec) restores one)."""
        return {
            n: {**pad.overrides, "pool": pad.pool_size, "batch": pad.batch, "evolve_bars": pad.evolve_bars}
            for n, pad in list(self._pads.items())
        }

    def is_fresh(self, slot: int) -> bool:
        return int(slot) in self._pads

    def stats(self, slot: int) -> FreshStats:
        return self._pads[int(slot)].stats

    def pool_size(self, slot: int) -> int:
        return len(self._pads[int(slot)].pool)

    def _on_trigger(self, slot: int) -> None:  # on the trigger's thread: queue only
        if slot in self._pads:
            with contextlib.suppress(queue.Full):
                self._hits.put_nowait(slot)

    # -- the fresh thread ------------------------------------------------------------------
    def _attach(self) -> Any:
        audio = self.session.audio
        if audio is not self._audio:
            if self._audio is not None:
                self._audio.remove_trigger_listener(self._on_trigger)
            if audio is not None:
                audio.add_trigger_listener(self._on_trigger)
            self._audio = audio
        return audio

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception as exc:  # noqa: BLE001 - a failed render or a closed stream: keep going
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._stop.wait(0.1)

    def _step(self) -> None:
        audio = self._attach()
        try:
            slot = self._hits.get(timeout=PERIOD_S)
            self._hit(audio, slot)
            while True:
                self._hit(audio, self._hits.get_nowait())
        except queue.Empty:
            pass
        self._collect(audio)
        if audio is not None:
            self._refill(audio)
            self._evolve(audio)

    def _hit(self, audio: Any, slot: int) -> None:
        pad = self._pads.get(slot)
        if pad is None or audio is None:
            return
        s = pad.stats
        s.hits += 1
        if pad.current in pad.played:
            s.replays += 1
        else:
            s.fresh_hits += 1
            pad.played.add(pad.current)
        if pad.evolve_bars == 0:
            self._swap(audio, slot, pad, keep_voices=True)

    def _swap(self, audio: Any, slot: int, pad: _Pad, *, keep_voices: bool) -> bool:
        if not pad.pool:
            pad.stats.dry += 1
            return False
        vid, data, rate = pad.pool.popleft()
        try:
            audio.assign(slot, data, rate, label=f"fresh #{vid}", keep_voices=keep_voices)
        except ValueError:
            return False
        pad.current = vid
        return True

    def _collect(self, audio: Any) -> None:
        while True:
            try:
                ev = self._events.get_nowait()
            except queue.Empty:
                return
            if not ev.terminal:
                continue
            tag = ev.job.tag or ""
            if not tag.startswith("fresh:"):
                continue
            pad = self._pads.get(int(tag[6:]))
            if pad is None or pad.job != ev.job_id:
                continue
            pad.job = None
            if ev.kind != "done" or ev.result is None:
                self.last_error = ev.message or ev.kind  # e.g. a length the model cannot render
                continue
            for variation in ev.result.audio:
                pad.pool.append((next(self._ids), np.ascontiguousarray(variation), ev.result.sample_rate))
                pad.stats.rendered += 1
            slot = int(tag[6:])
            if pad.current < 0 and audio is not None:  # the first variation arrives: the pad can play
                self._swap(audio, slot, pad, keep_voices=False)

    def _refill(self, audio: Any) -> None:
        for slot, pad in list(self._pads.items()):
            missing = pad.pool_size - len(pad.pool)
            if pad.job is None and missing > 0:
                request = self.session.build_request(
                    **pad.overrides, seed=None, variations=max(pad.batch, missing), sample_rate=audio.sample_rate
                )
                try:
                    job = self.session.submit_internal(
                        request, model=self.session.model, priority="live", tag=f"fresh:{slot}"
                    )
                except QueueFullError:  # other work fills the queue: try again next period
                    continue
                pad.job = job.id

    def _evolve(self, audio: Any) -> None:
        """Loop pads with evolve_bars: on the next bar line, the next variation takes over."""
        for slot, pad in list(self._pads.items()):
            if pad.evolve_bars == 0 or not pad.pool or audio.slot_state(slot) != "playing":
                pad.next_bar = None
                continue
            bar = 4 * audio.frames_per_beat() * pad.evolve_bars
            now = audio.frames
            if pad.next_bar is None:
                k = (now - audio.grid_origin) // bar + 1
                pad.next_bar = audio.grid_origin + k * bar
            # scheduled well ahead (the mixer holds a timestamped start), so a busy machine that
            # wakes this thread late still switches exactly on the line
            if pad.next_bar - now <= min(bar / 2, 0.25 * audio.sample_rate):
                at = round(pad.next_bar)
                if self._swap(audio, slot, pad, keep_voices=True):
                    audio.trigger(slot, at=at)
                pad.next_bar += bar

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        if self._audio is not None:
            self._audio.remove_trigger_listener(self._on_trigger)
        self.engine.unsubscribe(self._events)
