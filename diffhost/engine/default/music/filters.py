"""scipy.signal's Butterworth design and second-order-section filtering, imported on first use.

Importing scipy.signal costs about a second (it reads every function's docstring and pulls in
scipy.stats), more than everything else the default model does to load. The model loads without
it; the first render that filters imports it once (the app's warm-up imports it in the background
before anyone renders)."""

from __future__ import annotations

from typing import Any

import numpy as np


def butter(*args: Any, **kwargs: Any) -> np.ndarray:
    """scipy.signal.butter."""
    from scipy.signal import butter as design

    return design(*args, **kwargs)


def sosfilt(*args: Any, **kwargs: Any) -> Any:
    """scipy.signal.sosfilt."""
    from scipy.signal import sosfilt as run

    return run(*args, **kwargs)
