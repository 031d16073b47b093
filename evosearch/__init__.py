"""evosearch: multi-objective evolutionary search for compressed ALBERT/BERT encoders."""

import os

__version__ = "0.1.0"

# One thread policy for every command and the Python API: torch's default thread count, with idle
# OpenMP threads sleeping instead of spinning (OMP_WAIT_POLICY=PASSIVE), set before torch is
# imported. Measured on the 2-core machine (scripts/bench_threads.py, results/bench/threads.json):
# idle 235 sentences/s against 241 for torch's default and 156 for one thread; with one other busy
# process 150 against 99 and 155. A value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def __getattr__(name):
    """Lazy top-level API: ``evosearch.load_deployed(DIR)`` without importing torch at package import."""
    if name == "load_deployed":
        from .deploy import load_deployed

        return load_deployed
    raise AttributeError(f"module 'evosearch' has no attribute {name!r}")
