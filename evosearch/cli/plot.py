"""``evosearch plot``: Pareto-front plots of a search run (PNG and SVG under ``<run>/plots/``)."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Draw the plots of a search run folder (written by `evosearch search`), as PNG and SVG:

  front_<y>_vs_<x>   every candidate of --y against --x (default: the first two objectives):
                     dominated candidates grey, infeasible ones as crosses, the Pareto front in
                     blue (its 2-D trade-off as a staircase, members labelled with their ids),
                     the uncompressed model (star) and DynaBERT-style uniform widths 0.75 / 0.5 /
                     0.25 at 32 bits without early exit marked
  pairwise           every pair of objectives (runs with 3+ objectives)
  hypervolume        hypervolume after each generation, against generations and evaluations
  layers             per-layer heatmaps of the front members: heads and FFN neurons kept, weight
                     bits, attention span, exit thresholds

Candidates are drawn with the values the search scored them on (the dev subset). When the search
re-scored its final front on the full dev set, that front is drawn with its full-dev values, and
members the full dev set shows dominated are marked as dropped. Baselines come from the run's
baselines.csv (scored by the search). Axis units follow the metric (accuracy/error in %, latency
in ms, energy in µJ, size in B/KB/MB...); ↓ marks lower-is-better, ↑ higher-is-better.
"""

EPILOG = """\
examples:
  evosearch plot results/edgebert-nsga2-s0
  evosearch plot results/edgebert-nsga2-s0 --x latency_ms --y accuracy
  evosearch plot results/edgebert-nsga2-s0 --only front --out figures/
"""

KINDS = ("front", "pairwise", "hypervolume", "layers")


def register(subparsers) -> None:
    p = subparsers.add_parser("plot", help="plot a run's Pareto front, hypervolume and per-layer configs",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN", help="search run folder (results/<run-name>)")
    p.add_argument("--x", metavar="METRIC", help="metric on the x axis (default: the first objective)")
    p.add_argument("--y", metavar="METRIC", help="metric on the y axis (default: the second objective)")
    p.add_argument("--only", choices=KINDS, action="append",
                   help="draw only this plot (repeatable; default: all that apply)")
    p.add_argument("--out", metavar="DIR", help="where to write the files (default: RUN/plots)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..report import load_run
    from ..report.baselines import find_baselines
    from ..report.plots import plot_front, plot_hypervolume, plot_layers, plot_pairwise

    r = load_run(args.run)
    if args.x:
        r.check_metric(args.x)
    if args.y:
        r.check_metric(args.y)
    out = Path(args.out) if args.out else r.folder / "plots"
    kinds = args.only or list(KINDS)
    plots = []
    if "front" in kinds or "pairwise" in kinds:
        table, note = find_baselines(r)
        if note:
            print(note)
        if "front" in kinds:
            plots.append(plot_front(r, args.x, args.y, out, table, note))
        if "pairwise" in kinds and len(r.objectives) >= 3:
            plots.append(plot_pairwise(r, out, table))
    if "hypervolume" in kinds:
        plots.append(plot_hypervolume(r, out))
    if "layers" in kinds:
        plots.append(plot_layers(r, out))
    for p in plots:
        print(f"{p.name:>22}: " + ", ".join(str(f) for f in p.files))
    return 0
