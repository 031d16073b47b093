"""Choose one deployment from a run: by accuracy drop, by constraints, by knee point, or by weights.

Every way picks among :attr:`Run.front`: the final front re-scored on the full dev set, without
the members the full dev set shows dominated (or, for a run without a final front, the search's
front on its dev subset), with the metrics measured there.

* max drop (``max_drop=1.0``): what a deploying user usually wants, and the quickstart's default:
  the cheapest member (by ``minimize``, default the first objective that is not error/accuracy)
  whose accuracy is within ``max_drop`` points of the uncompressed model's (the largest
  sub-network at 32 bits without early exit, scored by the search on the same dev set);
* constraints (``where=["accuracy>=0.86", "energy_uj<=300"]``, ``minimize="latency_ms"``): among
  the feasible members that meet every condition, the best by ``minimize`` (ties broken by the
  run's objectives in order). When none meets them, the result has no choice and lists the
  nearest members (smallest total relative violation);
* knee (``knee=True``): pymoo's :class:`~pymoo.mcdm.high_tradeoff.HighTradeoffPoints` on the
  front after normalising each objective by its ideal and nadir value on the front, so the
  choice does not depend on units (µJ or mJ); with fewer than 3 members, or when pymoo finds
  none, the member nearest to the normalised ideal point;
* weights (``weights={"error": 0.7, "latency_ms": 0.3}``): pymoo's
  :class:`~pymoo.mcdm.pseudo_weights.PseudoWeights`: the front member whose pseudo-weight vector
  is nearest to the given (normalised) weights.

The result is written as a deployment config (YAML) that ``evosearch export --pick`` reads.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .run import LEARNED_NOTE, ReportError, Run, UnknownMetricError, span_label, unit_for

_WHERE = re.compile(r"^\s*([A-Za-z_]\w*)\s*(<=|>=|<|>|==|=)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class Condition:
    metric: str
    op: str
    bound: float
    text: str

    def ok(self, values: np.ndarray) -> np.ndarray:
        v = np.asarray(values, dtype=float)
        return {"<=": v <= self.bound, "<": v < self.bound, ">=": v >= self.bound, ">": v > self.bound,
                "==": np.isclose(v, self.bound)}[self.op]

    def violation(self, values: np.ndarray) -> np.ndarray:
        v = np.asarray(values, dtype=float)
        if self.op in ("<=", "<"):
            return np.clip(v - self.bound, 0, None)
        if self.op in (">=", ">"):
            return np.clip(self.bound - v, 0, None)
        return np.abs(v - self.bound)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


def parse_where(text: str, run: Run) -> Condition:
    """``"accuracy>=0.86"`` (or ``86%``), ``"energy_uj <= 300"``; metric names as in candidates.csv."""
    m = _WHERE.match(str(text))
    if not m:
        raise ReportError(f"cannot read --where {text!r}: write METRIC OP NUMBER with OP one of <=, >=, <, >, ==, "
                          f"e.g. 'accuracy>=0.86' or 'latency_ms<=5'; metrics: {', '.join(run.metrics)}")
    metric, op, number, percent = m.groups()
    run.check_metric(metric, "metric in --where")
    bound = float(number) / (100.0 if percent else 1.0)
    return Condition(metric, "==" if op == "=" else op, bound, text)


def parse_weights(text: str | dict, run: Run) -> dict[str, float]:
    """``"error=0.7,latency_ms=0.3"`` -> weights over the run's objectives (others 0), summing to 1."""
    if isinstance(text, dict):
        items = list(text.items())
    else:
        items = []
        for part in str(text).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise ReportError(f"cannot read --weights {text!r}: write NAME=WEIGHT pairs separated by commas, "
                                  f"e.g. 'error=0.7,latency_ms=0.3'; objectives: {', '.join(run.objectives)}")
            k, v = part.split("=", 1)
            items.append((k.strip(), v.strip()))
    weights = {}
    for k, v in items:
        if k not in run.objectives:
            raise UnknownMetricError(f"--weights names {k!r}, which is not an objective of this run; "
                                     f"objectives: {', '.join(run.objectives)}")
        try:
            w = float(v)
        except ValueError:
            raise ReportError(f"--weights: {k}={v!r} is not a number") from None
        if w < 0 or not math.isfinite(w):
            raise ReportError(f"--weights: {k}={v}; weights must be finite and >= 0")
        weights[k] = w
    total = sum(weights.values())
    if total <= 0:
        raise ReportError("--weights: give at least one positive weight")
    return {o: weights.get(o, 0.0) / total for o in run.objectives}


@dataclass
class PickResult:
    run: Run
    method: str  # "constraints", "knee", "weights"
    candidate_id: str | None
    explanation: str
    conditions: list[Condition] = field(default_factory=list)
    nearest: pd.DataFrame | None = None  # when nothing met the constraints
    matching: int = 0  # how many candidates met the constraints

    @property
    def found(self) -> bool:
        return self.candidate_id is not None

    @property
    def row(self) -> pd.Series:
        """The picked member with the metrics it was judged on (full dev when the run re-scored its front)."""
        if self.candidate_id is None:
            raise ReportError("no candidate was picked")
        if self.candidate_id in self.run.front.index:
            return self.run.front.loc[self.candidate_id]
        return self.run.candidates.loc[self.candidate_id]

    def deployment(self) -> dict:
        """The deployment config written to ``<run>/picks/<id>.yaml``."""
        row = self.row
        run = self.run
        metrics = {m: float(row[m]) for m in run.metrics if m in row and pd.notna(row[m])}
        out = {
            "kind": "evosearch-pick",
            "candidate": self.candidate_id,
            "run": str(run.folder.resolve()),
            "supernet": str(run.supernet_path()) if run.supernet_path() else None,
            "task": run.config.get("task"),
            "picked_by": self.method,
            "explanation": self.explanation,
            "conditions": [str(c) for c in self.conditions],
            "genome": str(row["genome"]),
            "config": run.config_of(row)[0],
            "thresholds": run.config_of(row)[1],
            "objectives": {o: float(row[o]) for o in run.objectives},
            "metrics": metrics,
            "metrics_on": run.front_dev,
            "on_front": self.candidate_id in run.front_ids,
        }
        shares = sorted((c for c in row.index if c.startswith("exit_share_")), key=lambda c: int(c.rsplit("_", 1)[1]))
        if shares:
            out["exit_distribution"] = [float(row[c]) for c in shares]
        if run.rescored and self.candidate_id in run.final_front.index:
            full = run.final_front.loc[self.candidate_id]
            out["full_dev_metrics"] = {m: float(full[m]) for m in run.metrics if m in full and pd.notna(full[m])}
        return out

    def write(self, path: str | Path | None = None) -> Path:
        path = Path(path) if path else self.run.folder / "picks" / f"{self.candidate_id}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.deployment(), sort_keys=False, allow_unicode=True))
        return path


def pick(run: Run, where=(), minimize: str | None = None, maximize: str | None = None, knee: bool = False,
         weights=None, max_drop: float | None = None) -> PickResult:
    """Pick one front member; exactly one of ``max_drop``, constraints/``minimize``, ``knee`` or ``weights``."""
    modes = sum([bool(knee), weights is not None, max_drop is not None, bool(where) or bool(maximize)])
    if modes > 1 or (minimize and (knee or weights is not None)):
        raise ReportError("choose one way to pick: --max-drop, --where/--minimize, --knee, or --weights")
    if knee:
        return _pick_knee(run)
    if weights is not None:
        return _pick_weights(run, parse_weights(weights, run))
    if max_drop is not None:
        return _pick_max_drop(run, max_drop, minimize)
    return _pick_constraints(run, [parse_where(w, run) for w in where], minimize, maximize)


def cost_objective(run: Run) -> str:
    """The first objective that is not error or accuracy: what "cheapest" means for this run."""
    costs = [o for o in run.objectives if o not in ("error", "accuracy")]
    if not costs:
        raise ReportError(f"this run's objectives ({', '.join(run.objectives)}) have no cost to minimise; "
                          "give --minimize METRIC")
    return costs[0]


def _pick_max_drop(run: Run, max_drop: float, minimize: str | None) -> PickResult:
    if not max_drop >= 0:
        raise ReportError(f"--max-drop {max_drop}: give a number of accuracy points >= 0")
    target = run.check_metric(minimize, "metric to minimize") if minimize else cost_objective(run)
    reference = run.baseline("uncompressed")
    if reference is None or "accuracy" not in reference or pd.isna(reference["accuracy"]):
        raise ReportError(f"{run.folder} has no scored uncompressed model (baselines.csv) to measure the accuracy "
                          "drop against; pick with --knee or --where instead")
    floor = float(reference["accuracy"]) - max_drop / 100.0
    front = run.front
    ok = front["accuracy"].to_numpy(float) >= floor - 1e-12
    goal = f"the lowest {target}"
    if not ok.any():
        nearest = front.assign(_violation=floor - front["accuracy"].to_numpy(float)).sort_values("_violation").head(5)
        text = (f"no front member is within {max_drop:g} pt of the uncompressed model's accuracy "
                f"({100 * float(reference['accuracy']):.2f}% on {run.front_dev})")
        return PickResult(run, "max-drop", None, text, [], nearest, 0)
    chosen = _order(run, front[ok], target, 1.0)[0]
    text = (f"{goal} among the {int(ok.sum())} front members within {max_drop:g} pt of the uncompressed model's "
            f"accuracy ({100 * float(reference['accuracy']):.2f}% on {run.front_dev}): {chosen}, accuracy "
            f"{100 * float(front.loc[chosen, 'accuracy']):.2f}%")
    return PickResult(run, "max-drop", chosen, text, [], None, int(ok.sum()))


def _order(run: Run, rows: pd.DataFrame, first: str | None, first_sign: float) -> list[str]:
    keys = ([first_sign * rows[first].to_numpy(float)] if first else []) + [
        run.sign(o) * rows[o].to_numpy(float) for o in run.objectives]
    idx = np.lexsort(keys[::-1])
    return [rows.index[i] for i in idx]


def _pick_constraints(run: Run, conditions: list[Condition], minimize, maximize) -> PickResult:
    if minimize and maximize:
        raise ReportError("give --minimize or --maximize, not both")
    target = minimize or maximize
    if target:
        run.check_metric(target, "metric to " + ("minimize" if minimize else "maximize"))
        sign = 1.0 if minimize else -1.0
    else:
        target = run.objectives[0]
        sign = run.sign(target)
    cands = run.front
    feasible = cands[cands["feasible"].astype(int).astype(bool).to_numpy()] if "feasible" in cands else cands
    ok = np.ones(len(feasible), dtype=bool)
    for c in conditions:
        ok &= c.ok(feasible[c.metric].to_numpy(float))
    matching = feasible[ok]
    goal = f"{'minimize' if sign > 0 else 'maximize'} {target}"
    if len(matching) == 0:
        pool = feasible if len(feasible) else cands
        total = np.zeros(len(pool))
        for c in conditions:
            values = run.candidates[c.metric].to_numpy(float)
            spread = float(np.nanmax(values) - np.nanmin(values)) or abs(c.bound) or 1.0
            total += c.violation(pool[c.metric].to_numpy(float)) / spread
        nearest = pool.assign(_violation=total).sort_values(["_violation"]).head(5)
        text = (f"no front member meets {' and '.join(map(str, conditions))} "
                f"({len(pool)} members of the front on {run.front_dev} checked)")
        return PickResult(run, "constraints", None, text, conditions, nearest, 0)
    chosen = _order(run, matching, target, sign)[0]
    cond = " and ".join(map(str, conditions)) if conditions else "no conditions"
    text = f"{cond}; {goal} -> {chosen} (best of {len(matching)} front members meeting them)"
    return PickResult(run, "constraints", chosen, text, conditions, None, len(matching))


def _normalised_front(run: Run) -> tuple[list[str], np.ndarray]:
    """Front ids and their objectives in pymoo's minimisation space, scaled to [0, 1] by the
    front's ideal and nadir point (so a change of units changes nothing)."""
    ids = run.front_ids
    F = run.objective_matrix(run.front.loc[ids])
    low, high = F.min(axis=0), F.max(axis=0)
    span = np.where(high - low > 0, high - low, 1.0)
    return ids, (F - low) / span


def _pick_knee(run: Run) -> PickResult:
    ids, F = _normalised_front(run)
    if len(ids) == 1:
        return PickResult(run, "knee", ids[0], f"the front has one member: {ids[0]}")
    choice, how = None, ""
    if len(ids) >= 3 and F.shape[1] >= 2:
        from pymoo.mcdm.high_tradeoff import HighTradeoffPoints

        try:
            with np.errstate(all="ignore"):
                points = HighTradeoffPoints().do(F)
        except Exception:  # pymoo raises on degenerate fronts (duplicates, a single distinct point)
            points = None
        if points is not None and len(np.atleast_1d(points)):
            points = np.atleast_1d(points)
            if len(points) > 1:  # several knees: the one nearest the normalised ideal
                points = points[np.argsort(np.linalg.norm(F[points], axis=1))]
            choice = int(points[0])
            how = "pymoo HighTradeoffPoints on objectives normalised to the front's ideal and nadir (largest trade-off)"
    if choice is None:
        choice = int(np.argmin(np.linalg.norm(F, axis=1)))
        how = "nearest to the ideal point after normalising each objective to [0, 1]"
    return PickResult(run, "knee", ids[choice], f"knee of the {len(ids)}-member front by {how}: {ids[choice]}")


def _pick_weights(run: Run, weights: dict[str, float]) -> PickResult:
    ids, F = _normalised_front(run)
    w = np.array([weights[o] for o in run.objectives])
    if len(ids) == 1:
        choice = 0
    else:
        from pymoo.mcdm.pseudo_weights import PseudoWeights

        with np.errstate(all="ignore"):
            choice = PseudoWeights(w).do(F)
        if choice is None or (isinstance(choice, (float, np.floating)) and math.isnan(choice)):
            choice = int(np.argmin(F @ w))
        choice = int(np.atleast_1d(choice)[0])
    text = ", ".join(f"{o}={weights[o]:.2f}" for o in run.objectives)
    return PickResult(run, "weights", ids[choice],
                      f"pymoo PseudoWeights over the {len(ids)}-member front with weights {text}: {ids[choice]}")


# ------------------------------------------------------------------ tables

def format_table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def candidates_table(run: Run, rows: pd.DataFrame, extra: list[str] = ()) -> str:
    metrics = list(dict.fromkeys(run.objectives + [c for c in extra if c in rows.columns]))
    units = {m: unit_for(m, run.candidates[m] if m in run.candidates else None) for m in metrics}
    header = ["id"] + [f"{m} [{units[m].unit}]" if units[m].unit else m for m in metrics]
    body = []
    for cid, r in rows.iterrows():
        body.append([cid] + [units[m].fmt(r[m]) if m in units else f"{r[m]:.4g}" for m in metrics])
    if "_violation" in rows.columns:
        header.append("violation")
        for line, (_, r) in zip(body, rows.iterrows()):
            line.append(f"{r['_violation']:.3g}")
    return format_table(body, header)


def config_table(config: dict, thresholds: list[float], spans: list[tuple[int | None, bool]] | None = None) -> str:
    """A sub-network per layer; ``spans``: each layer's span and whether it is learned
    (:meth:`Run.layer_spans`; default: the config's own spans)."""
    layers = config["layers"]
    spans = spans or [(l.get("span"), False) for l in layers]
    header = ["layer", "heads", "ffn", "bits", "span", "exit threshold"]
    if any(float(l.get("sparsity", 0) or 0) for l in layers):
        header.insert(5, "sparsity")
    body = []
    for i, (l, span) in enumerate(zip(layers, spans)):
        t = thresholds[i] if i < len(thresholds) else None
        row = [i, l["heads"], l["ffn"], l["bits"], span_label(*span)]
        if "sparsity" in header:
            row.append(f"{float(l.get('sparsity', 0) or 0):.2f}")
        row.append("last (always)" if t is None else f"{t:g}")
        body.append(row)
    pruned = float(config.get("embedding_sparsity", 0.0) or 0.0)
    text = format_table(body, header) + f"\nembedding bits: {config.get('embedding_bits', 32)}; " \
                                      + (f"embedding sparsity: {pruned:g} (keeps {100 * (1 - pruned):.0f}%); "
                                         if pruned else "") + f"quantization: {config.get('quant', 'int')}"
    return text + (f"\n{LEARNED_NOTE}" if any(learned for _, learned in spans) else "")


def describe(result: PickResult) -> str:
    """A readable description of a pick (or of the nearest candidates when nothing matched)."""
    run = result.run
    if not result.found:
        lines = [f"No candidate meets the constraints: {result.explanation}.",
                 "Nearest candidates (smallest total constraint violation, relative to each metric's range):",
                 candidates_table(run, result.nearest, [c.metric for c in result.conditions])]
        return "\n".join(lines)
    row = result.row
    units = {m: unit_for(m, run.candidates[m]) for m in run.metrics}
    lines = [f"Picked {result.candidate_id} ({result.method}): {result.explanation}",
             f"{'on the Pareto front' if result.candidate_id in run.front_ids else 'NOT on the Pareto front'}; "
             f"generation {int(row['generation'])}; genome {row['genome']}", ""]
    body = [[m, units[m].fmt(row[m]), units[m].unit or "", "objective" if m in run.objectives else ""]
            for m in run.metrics if pd.notna(row[m])]
    lines.append(format_table(body, ["metric", "value", "unit", ""]))
    lines.append("")
    config, thresholds = run.config_of(row)
    lines.append(config_table(config, thresholds, run.layer_spans(config)))
    return "\n".join(lines)
