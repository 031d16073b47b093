"""``evosearch sweep``: many searches as Ray Tune trials, and one comparison of them."""

from __future__ import annotations

import argparse

HELP = """\
Launch a grid of searches on a trained supernet as Ray Tune trials (on this machine, or on a
cluster with --ray-address auto): seeds x algorithms x spaces x objective sets. Each trial is an
ordinary search run under OUTPUT/runs/; when all have finished the sweep writes OUTPUT/trials.csv,
OUTPUT/summary.csv (hypervolume mean +- sd over seeds per configuration), OUTPUT/merged_front.csv
(the members no other trial dominates) and OUTPUT/sweep.png.

Run the same command again after a kill: Tune restores the sweep and unfinished trials resume
their run folders. Hypervolumes compare only within one supernet, space and objective set (they
share the reference point).
"""

EPILOG = """\
example:
  evosearch sweep --supernet results/supernet-minilm-movie --output results/sweep-ops \\
      --seeds 0 1 2 --algorithms nsga2 random --objectives edgebert-energy --generations 10
"""


def register(subparsers) -> None:
    from ..search.algorithms import ALGORITHMS

    p = subparsers.add_parser("sweep", help="many searches as Ray Tune trials, compared in one table and plot",
                              description=HELP, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--supernet", required=True, metavar="CKPT", help="supernet checkpoint folder (evosearch train)")
    p.add_argument("--output", required=True, metavar="DIR", help="sweep folder (trials under DIR/runs/)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="search seeds (default 0 1 2)")
    p.add_argument("--algorithms", nargs="+", default=["nsga2"], choices=sorted(ALGORITHMS),
                   help="algorithms (default nsga2)")
    p.add_argument("--spaces", nargs="+", default=["edgebert"], help="search spaces (names or YAML paths)")
    p.add_argument("--objectives", nargs="+", default=["edgebert-energy"], help="objective sets (names or YAML paths)")
    p.add_argument("--generations", type=int, default=10, help="generations per trial (default 10)")
    p.add_argument("--population", type=int, default=24, help="population per trial (default 24)")
    p.add_argument("--dev-subset", type=int, default=200, help="dev examples per trial (default 200; 0 = all)")
    p.add_argument("--local-search", action="store_true", help="run Pareto local search in every trial")
    p.add_argument("--cpus-per-trial", type=int, default=1, help="CPUs (and torch threads) per trial (default 1)")
    p.add_argument("--max-concurrent", type=int, help="trials at once (default: as many as fit)")
    p.add_argument("--ray-address", metavar="ADDR", help="join a running Ray cluster (auto, or HOST:PORT)")
    p.set_defaults(func=run)


def run(args) -> int:
    import pandas as pd

    from .. import api
    from ..errors import EvosearchError
    from ..search import ObjectiveSet, SearchSpace

    for name, value, low in (("generations", args.generations, 1), ("population", args.population, 2),
                             ("cpus-per-trial", args.cpus_per_trial, 1)):
        if value < low:
            raise EvosearchError(f"--{name} {value}: give at least {low}")
    from ..training.checkpoint import read_description

    read_description(args.supernet)  # clear errors before any trial starts
    for space in args.spaces:
        SearchSpace.load(space)
    for objectives in args.objectives:
        ObjectiveSet.load(objectives)
    paths = api.sweep(args.supernet, args.output, seeds=args.seeds, algorithms=args.algorithms, spaces=args.spaces,
                      objectives=args.objectives, generations=args.generations, population=args.population,
                      dev_subset=args.dev_subset or None, local_search=args.local_search,
                      cpus_per_trial=args.cpus_per_trial, max_concurrent=args.max_concurrent,
                      ray_address=args.ray_address)
    summary = pd.read_csv(paths["summary"])
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
    print(f"\nwrote {paths['trials']}, {paths['summary']}, {paths['merged_front']}, {paths['plot']}")
    return 0
