"""How long a render will take on this machine, from what this machine measured before.

After every completed render the model's median denoising-step time and the rest of the
render (text encoding, decoding, resampling) are stored in the platform cache folder, keyed by
model identity, device, dtype, torch's thread count and whether guidance doubles the batch.
An estimate for a new request scales the nearest measured window length linearly (denoisers
and decoders cost about what their input length costs; attention grows faster, so estimates
for windows far from a measured one are rough until that length has been rendered once).
"""

from __future__ import annotations

from dataclasses import dataclass

from diffhost.engine.cache import JsonCache

_TIMES = JsonCache("step-times.json")
_KEEP = 8  # measured window lengths remembered per key


@dataclass(frozen=True)
class StepTime:
    """Seconds per denoising step and the rest of one variation's render, for a window length."""

    window_s: float
    step_s: float
    other_s: float

    def scaled(self, window_s: float) -> StepTime:
        f = window_s / self.window_s if self.window_s > 0 else 1.0
        return StepTime(window_s, self.step_s * f, self.other_s * f)


def timing_key(family: str, revision: str | None, device: str, dtype: str, guided: bool) -> str:
    import torch

    return f"{family}|{revision}|{device}|{dtype}|{'cfg' if guided else 'plain'}|threads={torch.get_num_threads()}"


def lookup(key: str, window_s: float) -> StepTime | None:
    """The measurement nearest to window_s, scaled to it; None when this machine never rendered it."""
    rows = _TIMES.get(key)
    if not isinstance(rows, list) or not rows:
        return None
    try:
        times = [StepTime(float(r["window_s"]), float(r["step_s"]), float(r["other_s"])) for r in rows]
    except (KeyError, TypeError, ValueError):
        return None
    nearest = min(times, key=lambda t: abs(t.window_s - window_s))
    return nearest.scaled(window_s)


def record(key: str, measured: StepTime, *, quick_s: float = 2.0, total_s: float | None = None) -> None:
    """Store a measurement. A render quicker than quick_s whose window is already known is not
    stored again: live renders of fast models then cost no file write (their ETA is moot)."""
    rows = _TIMES.get(key)
    known = isinstance(rows, list) and any(
        isinstance(r, dict) and abs(float(r.get("window_s", -1)) - measured.window_s) < 1e-6 for r in rows
    )
    if known and total_s is not None and total_s < quick_s:
        return
    rows = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    rows = [r for r in rows if abs(float(r.get("window_s", -1)) - measured.window_s) > 1e-6]
    rows.append({"window_s": measured.window_s, "step_s": measured.step_s, "other_s": measured.other_s})
    _TIMES.put(key, rows[-_KEEP:])
