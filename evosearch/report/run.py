"""A search run folder, loaded for plotting, picking and reports (the files: :mod:`evosearch.runstore`).

Candidate ids: a candidate's id is ``c<N>``, ``N`` being its row in ``candidates.csv``
(0-based, header excluded); ids are stable because the file is append-only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import EvosearchError
from ..runstore import RunStore, config_from_columns
from ..runstore.store import BOOKKEEPING, config_columns_of
from ..specs.spans import covering_spans

#: What the report writes after a learned span, and what it means.
LEARNED_MARK = "*"
LEARNED_NOTE = (f"{LEARNED_MARK} learned spans: the layer runs the spans its heads learned (adaptive attention span), "
                "shown at the largest of the heads it keeps, the span the cost models price")


class ReportError(EvosearchError):
    """A run folder, objective name or pick request that plot/pick/export/report cannot use."""


class UnknownMetricError(ReportError, KeyError):
    """A metric name that the run does not have; the message lists the known names."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return self.args[0] if self.args else ""


_FAMILIES = {
    # family -> list of (unit label, multiplier applied to the stored value), smallest unit first
    "bytes": [("B", 1.0), ("KB", 1e-3), ("MB", 1e-6), ("GB", 1e-9)],
    "kb": [("KB", 1.0), ("MB", 1e-3), ("GB", 1e-6)],
    "ms": [("µs", 1e3), ("ms", 1.0), ("s", 1e-3)],
    "uj": [("nJ", 1e3), ("µJ", 1.0), ("mJ", 1e-3), ("J", 1e-6)],
    "count": [("", 1.0), ("thousands", 1e-3), ("millions", 1e-6), ("billions", 1e-9)],
}


@dataclass(frozen=True)
class Unit:
    """How to show one metric: ``value * scale`` in ``label`` (e.g. ``Latency (ms)``)."""

    metric: str
    name: str
    unit: str
    scale: float
    direction: str

    @property
    def label(self) -> str:
        arrow = "↓" if self.direction == "min" else "↑"
        return f"{self.name} ({self.unit}) {arrow}" if self.unit else f"{self.name} {arrow}"

    def fmt(self, value: float) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        v = float(value) * self.scale
        if self.unit == "%":
            return f"{v:.2f}"
        return f"{v:.4g}"


def unit_for(metric: str, values=None) -> Unit:
    """Display name, unit and scale of ``metric``; size-like units adapt to the ``values`` shown."""
    from ..metrics import METRICS, direction as metric_direction

    known = METRICS.get(metric)
    name, family = (known.label, known.unit) if known else (metric, "plain")
    direction = metric_direction(metric)
    if family == "percent":
        return Unit(metric, name, "%", 100.0, direction)
    if family in _FAMILIES:
        choices = _FAMILIES[family]
        vals = np.abs(np.asarray([v for v in (values if values is not None else []) if v is not None], dtype=float))
        vals = vals[np.isfinite(vals) & (vals > 0)]
        typical = float(np.median(vals)) if len(vals) else None
        default = {"ms": 1, "uj": 1, "bytes": 2, "kb": 0, "count": 2}[family]
        label, scale = choices[default]
        if typical is not None:
            label, scale = choices[0]
            for lab, sc in choices:
                if typical * sc >= 1.0:
                    label, scale = lab, sc
        return Unit(metric, name, label, scale, direction)
    return Unit(metric, name, "", 1.0, direction)


@dataclass
class Run:
    """A loaded run folder: config, every candidate, the history, the front.

    Two fronts: the search's front (:attr:`search_front_ids`: its last front in ``fronts.csv``, on
    the dev subset the search scored them on: non-dominated among all candidates, and after local
    search at most ``front_size`` of them) and the front a user chooses from (:attr:`front`:
    the search's final front re-scored on the full dev set, without the members that the full-dev
    values show dominated). Runs without a final front offer the search's front.
    """

    folder: Path
    config: dict
    candidates: pd.DataFrame  # index: candidate id "c<N>"
    hypervolume: pd.DataFrame
    final_front: pd.DataFrame | None = None  # index: candidate id; full-dev metrics, on_full_front
    baselines: pd.DataFrame | None = None  # baselines.csv: name, dev ("subset" / "full"), metrics
    fronts: pd.DataFrame | None = None  # fronts.csv: the front after each generation / local-search step
    _search_front_ids: list[str] = field(default=None, repr=False)

    @property
    def objectives(self) -> list[str]:
        return list(self.config.get("objectives", {}).get("objectives", []))

    @property
    def constraints(self) -> list[str]:
        return list(self.config.get("objectives", {}).get("constraints", []) or [])

    @property
    def metrics(self) -> list[str]:
        """Every numeric metric column of ``candidates.csv`` (objectives first)."""
        skip = set(BOOKKEEPING) | set(config_columns_of(self.candidates.columns))
        cols = [c for c in self.candidates.columns
                if c not in skip and not c.startswith(("F_", "G_", "_", "exit_share_")) and c != "id"]
        return list(dict.fromkeys(self.objectives + [c for c in cols if c not in self.objectives]))

    def direction(self, metric: str) -> str:
        from ..metrics import direction

        return direction(metric)

    def sign(self, metric: str) -> float:
        return 1.0 if self.direction(metric) == "min" else -1.0

    def check_metric(self, name: str, what: str = "objective") -> str:
        if name not in self.metrics:
            raise UnknownMetricError(f"unknown {what} {name!r}; this run has: {', '.join(self.metrics)}")
        return name

    @property
    def feasible(self) -> pd.Series:
        return self.candidates["feasible"].astype(int).astype(bool)

    @property
    def search_front_ids(self) -> list[str]:
        """Ids of the search's front on the dev subset, sorted by the objectives: the last front
        in ``fronts.csv`` (after local search, the bounded front), or for a run without one the
        Pareto front of every evaluated candidate (feasible, non-dominated, distinct genomes)."""
        if self._search_front_ids is None:
            from ..search.evaluator import front_mask

            unique = self.candidates.drop_duplicates("genome")
            F = unique[[f"F_{i}" for i in range(len(self.objectives))]].to_numpy(float)
            if self.fronts is not None and len(self.fronts):
                last = self.fronts[self.fronts["generation"] == self.fronts["generation"].max()]
                mask = unique["genome"].astype(str).isin(set(last["genome"].astype(str))).to_numpy()
            else:
                gcols = [c for c in unique.columns if c.startswith("G_")]
                mask = front_mask(F, unique[gcols].to_numpy(float) if gcols else None)
            front = unique[mask]
            order = np.lexsort(F[mask].T[::-1]) if len(front) else []
            self._search_front_ids = [front.index[i] for i in order]
        return self._search_front_ids

    @property
    def rescored(self) -> bool:
        """Whether the front was re-scored on the full dev set (``final_front.csv``)."""
        return self.final_front is not None and len(self.final_front) > 0

    @property
    def front(self) -> pd.DataFrame:
        """The members a user picks from, with the metrics they are judged on (index: candidate id)."""
        if not self.rescored:
            return self.candidates.loc[self.search_front_ids]
        kept = self.final_front[self.final_front["on_full_front"].astype(int) == 1]
        order = np.lexsort(self.objective_matrix(kept).T[::-1])
        return kept.iloc[order]

    @property
    def front_ids(self) -> list[str]:
        return list(self.front.index)

    @property
    def dropped_ids(self) -> list[str]:
        """Members of the search's final front that the full dev set shows dominated."""
        if not self.rescored:
            return []
        return list(self.final_front.index[self.final_front["on_full_front"].astype(int) == 0])

    @property
    def front_dev(self) -> str:
        """Which dev examples the front's metrics come from, in words."""
        n_full = self.config.get("dev_examples_full")
        if self.rescored:
            return "the full dev set" + (f" ({n_full} examples)" if n_full else "")
        n = self.config.get("dev_examples")
        return "the dev subset" + (f" ({n} examples)" if n else "")

    def baseline(self, name: str) -> pd.Series | None:
        """A reference sub-network's metrics on the dev set the front is judged on (None if not scored)."""
        if self.baselines is None or not len(self.baselines):
            return None
        rows = self.baselines[(self.baselines["name"] == name)
                              & (self.baselines["dev"] == ("full" if self.rescored else "subset"))]
        return rows.iloc[0] if len(rows) else None

    def objective_matrix(self, rows: pd.DataFrame, metrics: list[str] | None = None) -> np.ndarray:
        """``sign * value`` of ``metrics`` (default: the objectives) for ``rows``: pymoo's minimisation space."""
        metrics = metrics or self.objectives
        return np.column_stack([self.sign(m) * rows[m].to_numpy(float) for m in metrics])

    def candidate(self, cid: str) -> pd.Series:
        key = normalize_id(cid)
        if key not in self.candidates.index:
            raise ReportError(f"no candidate {cid!r} in {self.folder} (ids are c0..c{len(self.candidates) - 1}, "
                              "the row in candidates.csv)")
        return self.candidates.loc[key]

    def supernet_path(self) -> Path | None:
        path = self.config.get("supernet")
        if not path:
            return None
        p = Path(path)
        if not p.is_absolute() and not p.exists():
            p = self.folder / p
        return p

    @property
    def learned_spans(self) -> list[list[float]] | None:
        """Per virtual layer, the learned span of each head in tokens, for a supernet trained with
        learned spans (as the search stored them in ``config.yaml``); None otherwise."""
        return self.config.get("learned_spans")

    def layer_spans(self, config: dict) -> list[tuple[int | None, bool]]:
        """Per layer of ``config`` (``SubnetConfig.to_dict()``): its span in tokens (None: unlimited)
        and whether it is learned. On a supernet trained with learned spans (adaptive attention
        span, Sukhbaatar et al., ACL 2019), a layer with no span of its own runs its heads' learned
        spans: it is shown at the largest of the heads it keeps, as the search priced it."""
        layers = config["layers"]
        if self.learned_spans is None:
            return [(layer.get("span"), False) for layer in layers]
        covering = covering_spans(self.learned_spans, [layer["heads"] for layer in layers])
        return [(layer["span"], False) if layer.get("span") is not None else (span, True)
                for layer, span in zip(layers, covering)]

    @property
    def num_layers(self) -> int:
        return len(self.config_of(self.candidates.index[0])[0]["layers"])

    def config_of(self, cid_or_row) -> tuple[dict, list[float]]:
        """A candidate's ``SubnetConfig.to_dict()`` and exit thresholds (by id, or from a row)."""
        row = self.candidate(cid_or_row) if isinstance(cid_or_row, str) else cid_or_row
        return config_from_columns(row)


def span_label(span: int | None, learned: bool = False) -> str:
    """A layer's span as the report writes it: tokens, ``∞`` for no limit, :data:`LEARNED_MARK` after a learned one."""
    return "∞" if span is None else f"{span}{LEARNED_MARK if learned else ''}"


def normalize_id(cid) -> str:
    text = str(cid).strip()
    if text.isdigit():
        return f"c{int(text)}"
    if text.lower().startswith("c") and text[1:].isdigit():
        return f"c{int(text[1:])}"
    return text


def load_run(folder: str | Path) -> Run:
    """Load a run folder through its :class:`~evosearch.runstore.RunStore`; :class:`RunFolderError`
    if it is missing, not a run, or has no candidates yet."""
    store = RunStore(folder)
    config = store.read_config()
    candidates = store.read_candidates()
    history = store.read_table("hypervolume")
    run = Run(store.folder, config, candidates, pd.DataFrame() if history is None else history,
              store.read_final(candidates), store.read_table("baselines"), store.read_table("fronts"))
    if not run.objectives:
        raise ReportError(f"{store.config_file} names no objectives (expected objectives: {{objectives: [...]}})")
    return run
