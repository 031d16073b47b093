"""Where evosearch caches downloads and tokenized datasets (the one cache root of :mod:`evosearch.paths`)."""

from ..paths import ENV_VAR, cache_dir

__all__ = ["ENV_VAR", "cache_dir"]
