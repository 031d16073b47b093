"""The reference points of the plots, as the search scored them (``<run>/baselines.csv``).

The search's final stage scores the uncompressed model and DynaBERT-style uniform widths (no early
exit) on the dev subset and on the full dev set (:mod:`evosearch.search.baselines`); the report
only reads them, on the same dev set as the front it shows.
"""

from __future__ import annotations

import json

import pandas as pd

from .run import Run


def _arch(run: Run):
    """The supernet's architecture from its ``supernet.json``, or None when it cannot be read."""
    from ..supernet import Architecture

    path = run.supernet_path()
    if path is None or not (path / "supernet.json").is_file():
        return None
    try:
        return Architecture.from_dict(json.loads((path / "supernet.json").read_text())["architecture"])
    except (ValueError, KeyError, TypeError):
        return None


def find_baselines(run: Run) -> tuple[pd.DataFrame, str]:
    """``(table, note)``: one row per reference sub-network, on the dev set the front is judged on."""
    if run.baselines is None or not len(run.baselines):
        return pd.DataFrame(), "baselines not marked: this run has no baselines.csv (the search scores them in its final stage)"
    dev = "full" if run.rescored else "subset"
    table = run.baselines[run.baselines["dev"] == dev].reset_index(drop=True)
    return table, f"baselines scored by the search on {run.front_dev} (32-bit, no early exit)"
