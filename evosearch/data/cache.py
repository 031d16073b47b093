"""Where evosearch caches downloads and tokenized datasets."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "EVOSEARCH_CACHE"


def cache_dir() -> Path:
    """The user cache folder: ``$EVOSEARCH_CACHE`` if set, else the platform's user cache.

    The platform folder comes from ``platformdirs`` when it is installed (``~/.cache/evosearch``
    on Linux), else it is ``~/.cache/evosearch``. The folder is created if missing.
    """
    if os.environ.get(ENV_VAR):
        path = Path(os.environ[ENV_VAR]).expanduser()
    else:
        try:
            import platformdirs
        except ImportError:
            path = Path.home() / ".cache" / "evosearch"
        else:
            path = Path(platformdirs.user_cache_dir("evosearch", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path
