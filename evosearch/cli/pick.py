"""``evosearch pick``: choose one deployment from a search run and write its config file."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Choose one sub-network from a search run folder, print it, and write a deployment config
(RUN/picks/<id>.yaml, or --out) that `evosearch export --pick` reads. Only members of the front
are offered: the search's final front re-scored on the full dev set, without the members the
full dev set shows dominated (for runs that re-scored it). Four ways to pick:

  max drop      --max-drop 1: the cheapest member (lowest first cost objective, or --minimize)
                whose accuracy is within 1 point of the uncompressed model's (the largest
                sub-network at 32 bits without early exit): what a deploying user usually wants

  constraints   --where "accuracy>=0.86" --where "energy_uj<=300" --minimize latency_ms
                every --where must hold (metric names as in candidates.csv; OP one of <= >= < >
                ==; numbers in the stored units: accuracy/error as fractions or with %, e.g.
                'accuracy>=86%', latency in ms, energy in µJ, sizes in bytes); among the
                feasible front members that meet them, the best by --minimize / --maximize
                (default: the first objective). When none does, the nearest candidates (smallest
                total violation, each relative to that metric's range) are shown and nothing is
                written (exit status 1).
  knee          --knee: the front member of highest trade-off (pymoo HighTradeoffPoints on objectives
                normalised by the front's ideal and nadir, so units do not matter; with fewer
                than 3 members, the one nearest the normalised ideal point)
  weights       --weights error=0.7,latency_ms=0.3: pymoo PseudoWeights over the front (the member
                whose normalised position best matches the weights; objectives left out weigh 0)

Candidate ids are c<N>, N being the row in candidates.csv.
"""

EPILOG = """\
examples:
  evosearch pick results/edgebert-nsga2-s0 --where "accuracy>=0.86" --where "energy_uj<=300" --minimize latency_ms
  evosearch pick results/edgebert-nsga2-s0 --max-drop 1
  evosearch pick results/edgebert-nsga2-s0 --knee
  evosearch pick results/edgebert-nsga2-s0 --weights error=0.7,latency_ms=0.3 --out my-pick.yaml
  evosearch pick results/edgebert-nsga2-s0 --list
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("pick", help="choose a deployment by constraints, knee point or weights",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN", help="search run folder (results/<run-name>)")
    p.add_argument("--where", action="append", default=[], metavar="COND",
                   help="a condition METRIC OP NUMBER, e.g. 'accuracy>=0.86' (repeatable; all must hold)")
    goal = p.add_mutually_exclusive_group()
    goal.add_argument("--minimize", metavar="METRIC", help="with --where: the metric to minimise")
    goal.add_argument("--maximize", metavar="METRIC", help="with --where: the metric to maximise")
    p.add_argument("--max-drop", type=float, metavar="PT",
                   help="pick the cheapest member within PT accuracy points of the uncompressed model")
    p.add_argument("--knee", action="store_true", help="pick the knee of the Pareto front")
    p.add_argument("--weights", metavar="W", help="pick by objective weights, e.g. error=0.7,latency_ms=0.3")
    p.add_argument("--list", action="store_true", help="only print the Pareto front (ids and objectives)")
    p.add_argument("--out", metavar="YAML", help="where to write the deployment config (default: RUN/picks/<id>.yaml)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..report import describe, load_run, pick
    from ..report.pick import candidates_table

    r = load_run(args.run)
    if args.list:
        print(f"Pareto front of {r.folder} ({len(r.front_ids)} members on {r.front_dev}; objectives "
              f"{', '.join(r.objectives)}):")
        print(candidates_table(r, r.front, []))
        return 0
    result = pick(r, where=args.where, minimize=args.minimize, maximize=args.maximize, knee=args.knee,
                  weights=args.weights, max_drop=args.max_drop)
    print(describe(result))
    if not result.found:
        return 1
    path = result.write(args.out)
    print(f"\nwrote {path}\nexport it with: evosearch export {r.folder} --pick {path} --out DIR")
    return 0
