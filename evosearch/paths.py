"""Where evosearch keeps its cache (downloads, tokenized datasets, latency predictors): one root.

Torch-free, so every stage (and the hardware and latency leaves) can ask without importing the
data stage.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "EVOSEARCH_CACHE"


def cache_dir(*parts: str) -> Path:
    """``$EVOSEARCH_CACHE`` if set, else the platform's user cache (``~/.cache/evosearch`` on
    Linux, from ``platformdirs`` when installed); with ``parts``, that sub-folder. Created if missing."""
    if os.environ.get(ENV_VAR):
        path = Path(os.environ[ENV_VAR]).expanduser()
    else:
        try:
            import platformdirs
        except ImportError:
            path = Path.home() / ".cache" / "evosearch"
        else:
            path = Path(platformdirs.user_cache_dir("evosearch", appauthor=False))
    path = path.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
