"""Plots of a search run, written as PNG and SVG under ``<run>/plots/``.

* :func:`plot_front` — two metrics against each other: every candidate (dominated ones grey,
  infeasible ones as grey crosses), the run's Pareto front highlighted (with the 2-D trade-off of
  its members drawn as a staircase; re-scored on the full dev set when the run did, with members
  that dropped out marked), the uncompressed model and uniform-width baselines marked;
* :func:`plot_pairwise` — the same for every pair of objectives (3+ objectives);
* :func:`plot_hypervolume` — hypervolume against generations and against evaluations;
* :func:`plot_layers` — per-layer heatmaps of the front members' configs (heads, FFN neurons,
  bits, attention span, exit thresholds; a layer running learned spans shows the largest of the
  heads it keeps, marked ``*``).

Every function returns a :class:`Plot` with the files written and, per drawn series, the number
of points (read back from the matplotlib artists), so tests need not look at pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .run import LEARNED_MARK, LEARNED_NOTE, Run, span_label, unit_for

FRONT_COLOR = "#1f77b4"
SUBSET_FRONT_COLOR = "#9ecae1"
DROPPED_COLOR = "#d62728"
DOMINATED_COLOR = "#b8b8b8"
BASELINE_STYLES = {  # name -> (marker, color)
    "uncompressed": ("*", "#d62728"),
    "uniform 0.75": ("D", "#ff7f0e"),
    "uniform 0.5": ("s", "#2ca02c"),
    "uniform 0.25": ("^", "#9467bd"),
}


@dataclass
class Plot:
    name: str
    files: list[Path]
    title: str
    points: dict[str, int] = field(default_factory=dict)  # legend label -> points drawn
    note: str = ""

    @property
    def png(self) -> Path:
        return next(p for p in self.files if p.suffix == ".png")


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 8,
                         "svg.fonttype": "none"})
    return plt


def _count(ax) -> dict[str, int]:
    out = {}
    for coll in ax.collections:
        label = coll.get_label()
        if label and not label.startswith("_"):
            out[label] = out.get(label, 0) + len(coll.get_offsets())
    return out


def _save(fig, out_dir: Path, name: str, formats=("png", "svg")) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for fmt in formats:
        path = out_dir / f"{name}.{fmt}"
        fig.savefig(path, dpi=150 if fmt == "png" else None, bbox_inches="tight")
        files.append(path)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return files


def _groups(run: Run):
    cands = run.candidates.drop_duplicates("genome")
    is_front = cands.index.isin(run.search_front_ids)
    feasible = run.feasible.loc[cands.index].to_numpy()
    return cands, is_front, feasible


def _pareto_2d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the 2-D non-dominated points (both minimised), sorted by x."""
    order = np.lexsort((y, x))
    keep, best = [], np.inf
    for i in order:
        if y[i] < best:
            keep.append(i)
            best = y[i]
    return np.array(keep, dtype=int)


def _draw_front_axes(ax, run: Run, x: str, y: str, baselines: pd.DataFrame | None, annotate: bool = True,
                     legend: bool = True):
    cands, is_front, feasible = _groups(run)
    ux = unit_for(x, run.candidates[x])
    uy = unit_for(y, run.candidates[y])
    X = cands[x].to_numpy(float) * ux.scale
    Y = cands[y].to_numpy(float) * uy.scale
    dominated = ~is_front & feasible
    infeasible = ~feasible & ~is_front
    ax.scatter(X[dominated], Y[dominated], s=14, c=DOMINATED_COLOR, alpha=0.7, linewidths=0,
               label=f"dominated ({int(dominated.sum())})", zorder=2)
    if infeasible.any():
        ax.scatter(X[infeasible], Y[infeasible], s=16, c=DOMINATED_COLOR, marker="x", alpha=0.8, linewidths=0.8,
                   label=f"infeasible ({int(infeasible.sum())})", zorder=2)
    if run.rescored:  # the search's front on the subset, then the front re-scored on the full dev set
        ax.scatter(X[is_front], Y[is_front], s=16, c=SUBSET_FRONT_COLOR, linewidths=0, zorder=3,
                   label=f"search front, dev subset ({int(is_front.sum())})")
    front = run.front
    fx, fy = front[x].to_numpy(float) * ux.scale, front[y].to_numpy(float) * uy.scale
    ax.scatter(fx, fy, s=38, c=FRONT_COLOR, edgecolors="white", linewidths=0.6, zorder=5,
               label=f"Pareto front{', full dev' if run.rescored else ''} ({len(front)})")
    dropped = run.final_front.loc[run.dropped_ids] if run.dropped_ids else None
    if dropped is not None:
        ax.scatter(dropped[x].to_numpy(float) * ux.scale, dropped[y].to_numpy(float) * uy.scale, s=40,
                   facecolors="none", edgecolors=DROPPED_COLOR, linewidths=1.0, zorder=5,
                   label=f"dropped: dominated on full dev ({len(dropped)})")
    if len(fx):
        sx, sy = run.sign(x), run.sign(y)
        idx = _pareto_2d(sx * fx, sy * fy)
        if len(idx) > 1:
            ax.step(fx[idx], fy[idx], where="post", color=FRONT_COLOR, alpha=0.55, lw=1.2, zorder=4)
        if annotate and len(front) <= 15:
            spots: dict[tuple, list[str]] = {}
            for cid, px, py in zip(front.index, fx, fy):
                spots.setdefault((round(float(px), 9), round(float(py), 9)), []).append(cid)
            for (px, py), names in spots.items():
                text = ", ".join(names) if len(names) <= 3 else f"{names[0]} +{len(names) - 1}"
                ax.annotate(text, (px, py), xytext=(4, 3), textcoords="offset points", fontsize=7, color="#333333")
    if baselines is not None and len(baselines) and x in baselines and y in baselines:
        for _, b in baselines.iterrows():
            if pd.isna(b.get(x)) or pd.isna(b.get(y)):
                continue
            marker, color = BASELINE_STYLES.get(b["name"], ("P", "black"))
            label = b["name"] if b["name"] == "uncompressed" else f"{b['name']} width"
            label += " (32-bit, no exit)"
            ax.scatter([float(b[x]) * ux.scale], [float(b[y]) * uy.scale], s=110 if marker == "*" else 55,
                       marker=marker, c=color, edgecolors="black", linewidths=0.6, zorder=6, label=label)
    ax.set_xlabel(ux.label)
    ax.set_ylabel(uy.label)
    ax.grid(True, alpha=0.3, lw=0.5)
    if legend:
        ax.legend(loc="best", framealpha=0.85)


def plot_front(run: Run, x: str | None = None, y: str | None = None, out_dir: Path | None = None,
               baselines: pd.DataFrame | None = None, note: str = "") -> Plot:
    """Candidates of ``y`` against ``x`` (default: the first two objectives)."""
    x = run.check_metric(x or run.objectives[0])
    y = run.check_metric(y or (run.objectives[1] if len(run.objectives) > 1 else run.metrics[1]))
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 5))
    _draw_front_axes(ax, run, x, y, baselines)
    title = f"{unit_for(y).name} vs {unit_for(x).name.lower()} — run {run.folder.name}"
    ax.set_title(title)
    n = len(run.candidates.drop_duplicates("genome"))
    caption = f"{n} distinct candidates on the dev subset; arrows: ↓ lower is better, ↑ higher is better"
    if run.rescored:
        caption += f"; the front (dark blue) and the baselines on {run.front_dev}"
    if note:
        import textwrap

        caption += "\n" + "\n".join(textwrap.wrap(note, 110))
    fig.text(0.01, -0.02, caption, fontsize=7.5, color="#555555", va="top")
    points = _count(ax)
    name = f"front_{y}_vs_{x}"
    files = _save(fig, Path(out_dir or run.folder / "plots"), name)
    return Plot(name, files, title, points, note)


def plot_pairwise(run: Run, out_dir: Path | None = None, baselines: pd.DataFrame | None = None,
                  metrics: list[str] | None = None) -> Plot:
    """Lower-triangle grid: every pair of objectives (front highlighted, baselines marked)."""
    metrics = [run.check_metric(m) for m in (metrics or run.objectives)]
    k = len(metrics)
    plt = _plt()
    fig, axes = plt.subplots(k - 1, k - 1, figsize=(3.4 * (k - 1) + 0.6, 3.1 * (k - 1) + 0.4), squeeze=False)
    points = {}
    for r in range(1, k):
        for c in range(k - 1):
            ax = axes[r - 1][c]
            if c >= r:
                ax.axis("off")
                continue
            _draw_front_axes(ax, run, metrics[c], metrics[r], baselines, annotate=False, legend=False)
            for label, n in _count(ax).items():
                points[f"{metrics[r]} vs {metrics[c]}: {label}"] = n
            if r != k - 1:
                ax.set_xlabel("")
            if c != 0:
                ax.set_ylabel("")
    handles, labels = axes[k - 2][0].get_legend_handles_labels()
    axes[0][k - 2].legend(handles, labels, loc="upper right", framealpha=0.9)
    title = f"Pairwise trade-offs of {k} objectives — run {run.folder.name}"
    fig.suptitle(title)
    fig.tight_layout()
    files = _save(fig, Path(out_dir or run.folder / "plots"), "pairwise")
    return Plot("pairwise", files, title, points)


def plot_hypervolume(run: Run, out_dir: Path | None = None) -> Plot:
    """Hypervolume after each generation, against generations and against evaluations."""
    plt = _plt()
    hv = run.hypervolume
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    points = {}
    if hv.empty:
        for ax in axes:
            ax.text(0.5, 0.5, "no hypervolume.csv yet", ha="center", va="center", transform=ax.transAxes)
    else:
        for ax, col, xlabel in ((axes[0], "generation", "Generation"), (axes[1], "evaluations",
                                                                           "Evaluations (candidates scored)")):
            ax.plot(hv[col], hv["hypervolume"], color=FRONT_COLOR, lw=1.5, zorder=2)
            ax.scatter(hv[col], hv["hypervolume"], color=FRONT_COLOR, s=18, zorder=3, label="after each generation")
            points[col] = len(hv)
            ax.set_xlabel(xlabel)
            ax.grid(True, alpha=0.3, lw=0.5)
        if "front_size" in hv:
            ax2 = axes[0].twinx()
            ax2.plot(hv["generation"], hv["front_size"], color="#999999", lw=1, ls="--")
            ax2.set_ylabel("Front size (dashed)", color="#777777")
            ax2.tick_params(axis="y", colors="#777777")
            ax2.yaxis.get_major_locator().set_params(integer=True)
        axes[0].xaxis.get_major_locator().set_params(integer=True)
    ref = run.config.get("reference_point")
    ref_txt = ", ".join(f"{o}={v:.4g}" for o, v in zip(run.objectives, ref or []))
    axes[0].set_ylabel("Hypervolume ↑")
    title = f"Hypervolume of the front — run {run.folder.name}"
    fig.suptitle(title)
    fig.text(0.01, -0.02, f"objectives {', '.join(run.objectives)} (maximised ones negated); "
                          f"fixed reference point {ref_txt}", fontsize=7.5, color="#555555", va="top")
    fig.tight_layout()
    files = _save(fig, Path(out_dir or run.folder / "plots"), "hypervolume")
    return Plot("hypervolume", files, title, points)


def _full_sizes(run: Run):
    from .baselines import _arch

    arch = _arch(run)
    L = run.num_layers
    if arch is not None:
        return [arch.heads_of_layer(i) for i in range(L)], [arch.ffn_of_layer(i) for i in range(L)]
    return ([int(run.candidates[f"heads_{i}"].max()) for i in range(L)],
            [int(run.candidates[f"ffn_{i}"].max()) for i in range(L)])


def plot_layers(run: Run, out_dir: Path | None = None, ids: list[str] | None = None) -> Plot:
    """Heatmaps, one row per front member (sorted by the first objective), one column per layer."""
    plt = _plt()
    from matplotlib import colors as mcolors

    ids = list(ids or run.front_ids)
    rows = run.front.loc[ids] if set(ids) <= set(run.front.index) else run.candidates.loc[ids]
    configs, thresholds = zip(*(run.config_of(row) for _, row in rows.iterrows()))
    L = len(configs[0]["layers"])
    heads_full, ffn_full = _full_sizes(run)
    obj = run.objectives[0]
    uo = unit_for(obj, run.candidates[obj])
    labels = [f"{cid}  {uo.fmt(r[obj])}{'%' if uo.unit == '%' else ' ' + uo.unit}" for cid, r in rows.iterrows()]
    heads = np.array([[l["heads"] for l in c["layers"]] for c in configs], float)
    ffn = np.array([[l["ffn"] for l in c["layers"]] for c in configs], float)
    bits = np.array([[l.get("bits", 32) for l in c["layers"]] for c in configs], float)
    spans = [run.layer_spans(c) for c in configs]
    learned = any(is_learned for member in spans for _, is_learned in member)
    max_pos = max([s for member in spans for s, _ in member if s] or [1])
    span = np.array([[np.nan if s is None else s for s, _ in member] for member in spans], float)
    thr = np.array([list(t)[: max(L - 1, 1)] for t in thresholds], float)
    panels = [
        ("Attention heads kept", heads / np.array(heads_full), heads.astype(int).astype(str), "Blues", (0, 1),
         "fraction of the layer's heads"),
        ("FFN neurons kept", ffn / np.array(ffn_full), ffn.astype(int).astype(str), "Greens", (0, 1),
         "fraction of the layer's neurons"),
        ("Weight bits", np.log2(bits), bits.astype(int).astype(str), "Oranges", (1, 5), "log2(bits)"),
        ("Attention span (tokens)", np.where(np.isnan(span), 1.0, span / max(max_pos, 1)),
         np.array([[span_label(*layer) for layer in member] for member in spans]), "Purples", (0, 1),
         "span / largest span (∞ = unlimited" + (f", {LEARNED_MARK} = learned)" if learned else ")")),
        ("Exit threshold (entropy, nats)", thr, np.vectorize(lambda v: f"{v:g}")(thr), "Reds", (0, max(0.01, np.nanmax(thr))),
         "0 = never exits there"),
    ]
    n = len(rows)
    annotate = n * L <= 600
    fig, axes = plt.subplots(1, len(panels), figsize=(2.1 * len(panels) + 0.5 * L + 1.5, 1.2 + 0.28 * n + 0.6),
                             sharey=True)
    points = {}
    for ax, (title, values, text, cmap, (lo, hi), cbar_label) in zip(axes, panels):
        im = ax.imshow(values, aspect="auto", cmap=cmap, norm=mcolors.Normalize(lo, hi), interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ncols = values.shape[1]
        ax.set_xticks(range(ncols))
        ax.set_xticklabels([str(i) for i in range(ncols)], fontsize=7)
        ax.set_xlabel("exit after layer" if title.startswith("Exit") else "layer", fontsize=8)
        if annotate:
            for i in range(values.shape[0]):
                for j in range(ncols):
                    v = (values[i, j] - lo) / ((hi - lo) or 1)
                    ax.text(j, i, text[i, j], ha="center", va="center", fontsize=6.5,
                            color="white" if v > 0.6 else "black")
        cb = fig.colorbar(im, ax=ax, orientation="horizontal", pad=0.18 if n > 3 else 0.3, fraction=0.05)
        cb.ax.tick_params(labelsize=6)
        cb.set_label(cbar_label, fontsize=6.5)
        points[title] = int(values.size)
    axes[0].set_yticks(range(n))
    axes[0].set_yticklabels(labels, fontsize=7)
    axes[0].set_ylabel(f"front member (sorted by {obj})")
    title = f"Per-layer configuration of the {n} front members — run {run.folder.name}"
    fig.suptitle(title)
    fig.tight_layout()
    files = _save(fig, Path(out_dir or run.folder / "plots"), "layers")
    return Plot("layers", files, title, points, LEARNED_NOTE if learned else "")


def plot_all(run: Run, out_dir: Path | None = None, x: str | None = None, y: str | None = None) -> list[Plot]:
    """Every plot: the 2-D front (``x``/``y`` or the first two objectives), the pairwise grid (3+
    objectives), hypervolume, per-layer configs."""
    from .baselines import find_baselines

    table, note = find_baselines(run)
    plots = [plot_front(run, x, y, out_dir, table, note)]
    if len(run.objectives) >= 3:
        plots.append(plot_pairwise(run, out_dir, table))
    plots.append(plot_hypervolume(run, out_dir))
    plots.append(plot_layers(run, out_dir))
    return plots
