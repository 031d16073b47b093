#!/usr/bin/env python
"""Ray pool throughput and cache affinity: evaluations per second for 1, 2 and 4 actors, and the
exit-logit cache hit rate of a second generation with and without architecture affinity.

Generation A: ``--population`` random genomes of the edgebert space (every one a model run).
Generation B: the same architectures with other exit thresholds, in another order (every one a
cache hit if it reaches the actor that scored its architecture). "Without affinity" clears the
pool's routing table before B, so architectures are dealt by load alone.

    python scripts/bench_ray_pool.py --supernet results/supernet-minilm-movie --actors 1 2 4

Writes results/bench/ray_pool.json and prints a table. Each actor runs torch with one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--supernet", required=True)
    p.add_argument("--actors", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--population", type=int, default=32)
    p.add_argument("--dev-subset", type=int, default=200)
    p.add_argument("--out", default="results/bench/ray_pool.json")
    args = p.parse_args()

    import ray

    from evosearch.search import ObjectiveSet, SearchSpace
    from evosearch.search.context import SearchContext
    from evosearch.search.pools import RayPool

    context = SearchContext.build(args.supernet, SearchSpace.load("edgebert"), ObjectiveSet.load("edgebert-energy"),
                                  dev_subset=args.dev_subset)
    space = context.space
    rng = np.random.default_rng(0)
    first = [tuple(int(v) for v in g) for g in space.random_genomes(args.population, rng)]
    exits = [pos for pos, i in enumerate(space.free) if space.slots[i].gene == "exit_threshold"]
    second = [tuple((v + 1) % (space.upper[pos] + 1) if pos in exits else v for pos, v in enumerate(g))
              for g in reversed(first)]
    results = []
    print(f"{os.cpu_count()} CPUs; {args.population} genomes on {context.evaluator.num_examples} dev sentences")
    print(f"{'actors':>6} {'evals/s (A)':>12} {'hits B, affinity':>17} {'hits B, none':>13}")
    for actors in args.actors:
        row = {"actors": actors}
        for affinity in (True, False):
            ray.init(num_cpus=actors, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
            pool = RayPool(context.checkpoint.supernet, context.evaluator.batches, space, context.objectives,
                           num_workers=actors)
            try:
                pool.evaluate(first[:actors])  # actors started and warm
                pool.affinity.clear()
                start = time.perf_counter()
                pool.evaluate(first)
                seconds = time.perf_counter() - start
                if not affinity:
                    pool.affinity.clear()
                hits = sum(r.cached_model for r in pool.evaluate(second))
            finally:
                pool.close()
                ray.shutdown()
            if affinity:
                row.update({"seconds_A": seconds, "evals_per_s": len(first) / seconds, "hits_affinity": hits})
            else:
                row["hits_no_affinity"] = hits
        results.append(row)
        print(f"{actors:>6} {row['evals_per_s']:>12.2f} {row['hits_affinity']:>10}/{len(second):<6} "
              f"{row['hits_no_affinity']:>6}/{len(second)}", flush=True)
    out = {"cpus": os.cpu_count(), "population": args.population, "dev_sentences": context.evaluator.num_examples,
           "results": results, "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
