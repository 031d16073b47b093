"""The error CPU-latency measurement and prediction report to users."""

from ..errors import EvosearchError


class LatencyError(EvosearchError, ValueError):
    """A latency predictor used where it does not apply (other architecture, batch, sequence
    length), a missing calibration, or an impossible measurement request; the message says why."""
