"""Keep third-party warnings off the musician's terminal while a model renders.

Libraries under a render warn about things the user cannot act on: torchsde's Brownian
tree asks for `tb>=t0` / `tb<=t1` at the ends of Stable Audio Open's SDE schedule (the
value it returns there is correct), deprecation notices from diffusers/transformers
internals, and messages diffusers and transformers log through their own stderr handlers.
During a render all of these are routed to the `diffhost.engine` logger instead (DEBUG for
the known-harmless ones, INFO for the rest, each message once per render), so a front end
that configures logging still sees them and nothing is silently lost.

`warnings.catch_warnings` and the libraries' handlers are process-wide: a warning another
thread raises while a render runs is routed to the log as well.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("diffhost.engine")

# Known and harmless: torchsde's interval checks at the schedule's ends (both forms, both ends).
_HARMLESS = re.compile(r"Should have t[ab](>=t0|<=t1)")


class _Forward(logging.Handler):
    """Re-emits a library's log records on diffhost's logger, one level quieter than WARNING."""

    def emit(self, record: logging.LogRecord) -> None:
        level = logging.INFO if record.levelno < logging.ERROR else record.levelno
        log.log(level, "%s: %s", record.name, record.getMessage())


@contextmanager
def _library_logs_to_log() -> Iterator[None]:
    roots = [logging.getLogger(name) for name in ("diffusers", "transformers")]
    saved = [(root, root.handlers[:], root.propagate) for root in roots]
    forward = _Forward()
    try:
        for root in roots:
            root.handlers = [forward]
            root.propagate = False
        yield
    finally:
        for root, handlers, propagate in saved:
            root.handlers = handlers
            root.propagate = propagate


@contextmanager
def warnings_to_log() -> Iterator[None]:
    with _library_logs_to_log(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            seen: set[str] = set()
            for w in caught:
                text = f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})"
                if text in seen:
                    continue
                seen.add(text)
                level = logging.DEBUG if _HARMLESS.search(str(w.message)) else logging.INFO
                log.log(level, "warning during render: %s", text)
