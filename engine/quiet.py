"""Keep third-party warnings off the musician's terminal while a model renders.

Libraries under a render warn about things the user cannot act on: torchsde's Brownian
tree asks for `tb>=t0` / `tb<=t1` at the ends of Stable Audio Open's SDE schedule (the
value it returns there is correct), and deprecation notices from diffusers/transformers
internals. During a render every warning is routed to the `diffhost.engine` logger instead
(DEBUG for the known-harmless ones, INFO for the rest, each message once per render), so a
front end that configures logging still sees them and nothing is silently lost.

`warnings.catch_warnings` is process-wide in Python 3.11: a warning another thread raises
while a render runs is routed to the log as well.
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


@contextmanager
def warnings_to_log() -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
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
