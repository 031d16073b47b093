"""The error type of the data stage."""

from ..errors import EvosearchError


class DataError(EvosearchError):
    """A task could not be loaded, checked, downloaded or tokenized; the message says why and what to do."""
