"""Looking at a search run: plots, picking a deployment, HTML/Markdown reports.

* :func:`load_run` — read a run folder (candidates, fronts, hypervolume, final front);
* :mod:`.plots` — 2-D fronts, pairwise grid, hypervolume, per-layer config heatmaps;
* :func:`pick` — by constraints, knee point or weights (pymoo's decision-making tools);
* :func:`write_report` — one self-contained HTML (or Markdown) page.
"""

from .pick import Condition, PickResult, describe, pick
from .run import ReportError, Run, UnknownMetricError, load_run, unit_for

__all__ = ["Condition", "PickResult", "ReportError", "Run", "UnknownMetricError", "describe", "load_run", "pick",
           "unit_for", "write_report"]


def __getattr__(name):
    if name == "write_report":
        from .html import write_report

        return write_report
    raise AttributeError(name)
