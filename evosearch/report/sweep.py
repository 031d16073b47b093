"""A sweep's comparison: hypervolume per configuration over seeds, and the merged front of all trials.

A sweep (:func:`evosearch.api.sweep`, ``evosearch sweep``) leaves one search run folder per trial
under ``SWEEP/runs/``; this module reads them back (through :func:`load_run`) and writes
``SWEEP/trials.csv`` (one row per trial), ``SWEEP/summary.csv`` (per configuration: hypervolume
mean, sd, seeds, model runs, seconds), ``SWEEP/merged_front.csv`` (the non-dominated members of
all trials that share an objective set, on the dev data each trial's front is judged on) and
``SWEEP/sweep.png``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..search.variants import Variant
from .run import ReportError, load_run

CONFIG_KEYS = ("supernet", "space", "objectives", "variant")


def trial_table(runs) -> pd.DataFrame:
    """One row per finished run (:class:`~evosearch.report.Run`): configuration, seed, hypervolume, cost."""
    rows = []
    for run in runs:
        history = run.hypervolume
        last = history.iloc[-1] if len(history) else None
        rows.append({
            "run": str(run.folder), "supernet": Path(str(run.config.get("supernet", ""))).name,
            "space": run.config.get("space", {}).get("name"),
            "objectives": ",".join(run.objectives), "variant": Variant.of_run(run.config).name,
            "algorithm": run.config.get("algorithm"),
            "seed": run.config.get("seed"), "hypervolume": float(last["hypervolume"]) if last is not None else np.nan,
            "model_runs": int(last["model_runs"]) if last is not None else 0,
            "seconds": float(history["seconds"].sum()) if len(history) else 0.0, "front_size": len(run.front),
        })
    return pd.DataFrame(rows)


def summarize(trials: pd.DataFrame) -> pd.DataFrame:
    """Hypervolume mean ± sd over seeds per configuration (supernet, space, objectives, search variant)."""
    grouped = trials.groupby(list(CONFIG_KEYS), dropna=False)
    out = grouped.agg(seeds=("seed", "count"), hypervolume_mean=("hypervolume", "mean"),
                      hypervolume_sd=("hypervolume", "std"), model_runs_mean=("model_runs", "mean"),
                      seconds_mean=("seconds", "mean")).reset_index()
    out["hypervolume_sd"] = out["hypervolume_sd"].fillna(0.0)
    return out.sort_values("hypervolume_mean", ascending=False, ignore_index=True)


def merged_front(trials: pd.DataFrame, runs) -> pd.DataFrame:
    """The members no other trial's member dominates, per objective set (pymoo's sorting);
    ``runs`` are the trials' loaded runs, in the rows' order."""
    from ..search.evaluator import front_mask

    by_folder = {str(run.folder): run for run in runs}
    parts = []
    for objectives, group in trials.groupby("objectives"):
        members = []
        for folder in group["run"]:
            run = by_folder[folder]
            front = run.front.copy()
            front.insert(0, "run", folder)
            front.insert(1, "candidate", front.index)
            members.append((run, front))
        run0 = members[0][0]
        rows = pd.concat([front for _, front in members], ignore_index=True)
        keep = front_mask(run0.objective_matrix(rows))
        merged = rows[keep].copy()
        merged.insert(0, "objective_set", objectives)
        parts.append(merged.iloc[np.lexsort(run0.objective_matrix(merged).T[::-1])])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def write_sweep_report(sweep: str | Path, folders) -> dict:
    """Write the sweep's tables and plot; returns their paths."""
    sweep = Path(sweep)
    runs = [load_run(folder) for folder in folders]
    if not runs:
        raise ReportError(f"{sweep} has no finished trials to compare")
    trials = trial_table(runs)
    summary = summarize(trials)
    merged = merged_front(trials, runs)
    paths = {"trials": sweep / "trials.csv", "summary": sweep / "summary.csv", "merged_front": sweep / "merged_front.csv",
             "plot": sweep / "sweep.png"}
    trials.to_csv(paths["trials"], index=False)
    summary.to_csv(paths["summary"], index=False)
    merged.to_csv(paths["merged_front"], index=False)
    _plot(summary, merged, trials, paths["plot"])
    return paths


def _plot(summary: pd.DataFrame, merged: pd.DataFrame, trials: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    several = summary["supernet"].nunique() > 1
    labels = [f"{r.supernet + ': ' if several else ''}{r.variant}\n{r.space} / {r.objectives}"
              for r in summary.itertuples()]
    y = np.arange(len(summary))
    left.errorbar(summary["hypervolume_mean"], y, xerr=summary["hypervolume_sd"], fmt="o", capsize=4)
    left.set_yticks(y, labels, fontsize=8)
    left.invert_yaxis()
    left.set_xlabel("hypervolume (mean ± sd over seeds) ↑")
    left.set_title("per configuration")
    first = trials["objectives"].iloc[0].split(",")
    shown = merged[merged["objective_set"] == trials["objectives"].iloc[0]] if len(merged) else merged
    if len(first) >= 2 and len(shown):
        for variant, rows in shown.groupby(shown["run"].map(dict(zip(trials["run"], trials["variant"])))):
            right.scatter(rows[first[1]], rows[first[0]], label=variant, s=24)
        right.set_xlabel(first[1])
        right.set_ylabel(first[0])
        right.legend(fontsize=8, title="from trials of")
    right.set_title("merged front of all trials")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
