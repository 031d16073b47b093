"""``evosearch sweep``: many searches as Ray Tune trials, and one comparison of them."""

from __future__ import annotations

import argparse

HELP = """\
Launch a grid of searches as Ray Tune trials (on this machine, or on a cluster with --ray-address
auto): supernets x seeds x algorithms (or search variants such as nsga2+thresholds) x spaces x
objective sets. Each trial is an ordinary search run under OUTPUT/runs/; when all have finished the
sweep writes OUTPUT/trials.csv, OUTPUT/summary.csv (hypervolume mean +- sd over seeds per
configuration), OUTPUT/merged_front.csv (the members no other trial dominates) and OUTPUT/sweep.png.

With --train-grid, the trials train supernets instead, one per combination of the given
`evosearch train` options (e.g. --train-grid learning_rate=1e-4,5e-5 --train-grid num_random=1,2),
into OUTPUT/supernets/; OUTPUT/trainings.csv lists each one's dev accuracies. Give the supernets
you want to compare to a search sweep with --supernet A B ...

Run the same command again after a kill: Tune restores the sweep and unfinished trials resume
their run folders (or trainings). Hypervolumes compare only within one supernet, space and
objective set (they share the reference point).
"""

EPILOG = """\
examples:
  evosearch sweep --supernet results/supernet-minilm-movie --output results/sweep-variants \\
      --seeds 0 1 2 --algorithms nsga2 nsga2+thresholds random --objectives edgebert-energy --generations 10
  evosearch sweep --output results/sweep-train --train-grid learning_rate=1e-4,5e-5 \\
      --train-grid num_random=1,2 --train-option epochs=2
  evosearch sweep --supernet results/sweep-train/supernets/* --output results/sweep-supernets --seeds 0 1
"""


def register(subparsers) -> None:
    from ..search.algorithms import ALGORITHMS

    p = subparsers.add_parser("sweep", help="many searches as Ray Tune trials, compared in one table and plot",
                              description=HELP, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--supernet", nargs="+", metavar="CKPT",
                   help="supernet checkpoint folder(s) (evosearch train); several are one more grid dimension")
    p.add_argument("--output", required=True, metavar="DIR", help="sweep folder (trials under DIR/runs/)")
    p.add_argument("--train-grid", action="append", default=[], metavar="OPTION=V1,V2,...",
                   help="train supernets instead of searching: one trial per combination of these `evosearch train` "
                        "options (TrainConfig field names: learning_rate, epochs, num_random, temperature, seed, ...)")
    p.add_argument("--train-option", action="append", default=[], metavar="OPTION=VALUE",
                   help="with --train-grid: an option every training shares (e.g. task=glue/sst2, train_subset=5000)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="search seeds (default 0 1 2)")
    p.add_argument("--algorithms", nargs="+", default=["nsga2"], metavar="ALGORITHM",
                   help=f"algorithms ({', '.join(ALGORITHMS)}; default nsga2), each optionally a search variant: "
                        "+surrogate screens nsga2/nsga3 offspring with an accuracy predictor, +thresholds walks each "
                        "new architecture's exit-threshold path (as `evosearch search --surrogate/--threshold-path`)")
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


def _parse_value(name: str, text: str, types: dict):
    """One option value, converted to its TrainConfig field's type."""
    from ..errors import EvosearchError

    kind = str(types[name]) if name in types else "str"
    if text.lower() == "none" and "None" in kind:
        return None
    try:
        if "bool" in kind:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        if "float" in kind:
            return float(text)
        if "int" in kind:
            return int(text)
    except ValueError:
        raise EvosearchError(f"training option {name}={text!r}: expected {kind}") from None
    return text


def _parse_options(items: list[str], many: bool) -> dict:
    import dataclasses

    from ..errors import EvosearchError
    from ..training.trainer import TrainConfig

    types = {f.name: f.type for f in dataclasses.fields(TrainConfig)}
    out = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name or not values:
            raise EvosearchError(f"{item!r}: write OPTION=VALUE{',VALUE...' if many else ''}")
        if name in out:
            raise EvosearchError(f"training option {name} is given twice")
        parts = [v.strip() for v in values.split(",")] if many else [values.strip()]
        parsed = [_parse_value(name, v, types) for v in parts]
        out[name] = parsed if many else parsed[0]
    return out


def _run_train_sweep(args) -> int:
    import pandas as pd

    from .. import api
    from ..errors import EvosearchError

    if args.supernet:
        raise EvosearchError("--train-grid trains the supernets; give --supernet to a search sweep afterwards")
    grid = _parse_options(args.train_grid, many=True)
    base = _parse_options(args.train_option, many=False)
    both = set(grid) & set(base)
    if both:
        raise EvosearchError(f"training option(s) {sorted(both)} given in --train-grid and --train-option")
    path = api.sweep_train(args.output, grid, base=base, cpus_per_trial=args.cpus_per_trial,
                           max_concurrent=args.max_concurrent, ray_address=args.ray_address)
    print(pd.read_csv(path).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"\nwrote {path}")
    return 0


def run(args) -> int:
    import pandas as pd

    from .. import api
    from ..errors import EvosearchError
    from ..search import ObjectiveSet, SearchSpace

    if args.cpus_per_trial < 1:
        raise EvosearchError(f"--cpus-per-trial {args.cpus_per_trial}: give at least 1")
    if args.train_grid:
        return _run_train_sweep(args)
    if args.train_option:
        raise EvosearchError("--train-option goes with --train-grid")
    if not args.supernet:
        raise EvosearchError("give --supernet CKPT [CKPT ...] (to search), or --train-grid (to train supernets)")
    for name, value, low in (("generations", args.generations, 1), ("population", args.population, 2)):
        if value < low:
            raise EvosearchError(f"--{name} {value}: give at least {low}")
    from ..training.checkpoint import read_description

    for supernet in args.supernet:
        read_description(supernet)  # clear errors before any trial starts (api.sweep checks the algorithms)
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
