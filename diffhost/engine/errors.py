"""Engine exceptions. ValueError subclasses mean "bad request, nothing changed"."""


class Cancelled(Exception):
    """Raised inside a render when its cancel flag is seen (checked once per step)."""


class QueueFullError(RuntimeError):
    """The render queue is at capacity; the request was not queued."""


class UnsupportedRequestError(ValueError):
    """The request asks for something the model cannot do; names feature, value and model."""


class ModelLoadError(ValueError):
    """A model spec that does not load: names the spec and the reason."""
