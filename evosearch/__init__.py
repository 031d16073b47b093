"""evosearch: multi-objective evolutionary search for compressed ALBERT/BERT encoders."""

__version__ = "0.1.0"


def __getattr__(name):
    """Lazy top-level API: ``evosearch.load_deployed(DIR)`` without importing torch at package import."""
    if name == "load_deployed":
        from .deploy import load_deployed

        return load_deployed
    raise AttributeError(f"module 'evosearch' has no attribute {name!r}")
