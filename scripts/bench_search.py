#!/usr/bin/env python
"""Hypervolume at equal budget: NSGA-II (pymoo), NSGA-II (DEAP), random search, local search.

Every algorithm gets the same number of evaluations (generations x population) on the same dev
subset, scored against one fixed reference point; 3 seeds each; the table shows mean +- sd of the
hypervolume of everything each run evaluated (feasible Pareto front), plus the hypervolume after
each generation so the curves can be compared.

    python scripts/bench_search.py --supernet results/supernet-minilm-movie
    python scripts/bench_search.py --default-model --generations 4 --population 12   # untrained MiniLM

``--default-model`` uses the embedded MiniLM-L6 (``evosearch.supernet.load_pretrained()``) with a
fresh, untrained classifier head on every exit: accuracies are then near chance and the fronts
are mostly about cost, so the figures check the machinery more than the algorithms.
Writes ``results/bench/search-<tag>.json`` (and, with ``--keep-runs``, the run folders under
``results/bench/runs/<tag>``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

ALGORITHMS = ["nsga2", "deap-nsga2", "random", "local"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--supernet", help="supernet checkpoint folder")
    src.add_argument("--default-model", action="store_true",
                     help="the untrained embedded default (MiniLM-L6, random exit heads) on --task")
    p.add_argument("--task", default="movie-polarity", help="task for --default-model (default movie-polarity)")
    p.add_argument("--space", default="edgebert")
    p.add_argument("--objectives", default="edgebert-energy")
    p.add_argument("--algorithms", default=",".join(ALGORITHMS))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--generations", type=int, default=8)
    p.add_argument("--population", type=int, default=16)
    p.add_argument("--dev-subset", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default="results/bench")
    p.add_argument("--tag", default=None)
    p.add_argument("--keep-runs", action="store_true", help="keep the run folders under OUT/runs/TAG "
                   "(default: a temporary folder, deleted at the end)")
    args = p.parse_args(argv)

    import numpy as np
    import torch

    from evosearch.search import Evaluator, ObjectiveSet, SearchRun, SearchSpace, reference_point
    from evosearch.search.devdata import dev_batches

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.supernet:
        from evosearch.training import load_checkpoint

        ckpt = load_checkpoint(args.supernet)
        supernet, tokenizer, bounds = ckpt.supernet, ckpt.tokenizer, ckpt.bounds
        task, seed, max_length = ckpt.task.get("spec", args.task), ckpt.task.get("seed", 0), ckpt.task.get("max_length", 128)
        source = f"checkpoint {args.supernet}"
    else:
        from evosearch.supernet import load_pretrained

        torch.manual_seed(0)
        supernet, tokenizer = load_pretrained(num_labels=2)
        bounds, task, seed, max_length = {}, args.task, 0, 64
        source = "embedded default MiniLM-L6, UNTRAINED exit heads"
    supernet.eval()
    subset, _, _ = dev_batches(tokenizer, task, seed=seed, max_length=max_length, subset=args.dev_subset,
                               batch_size=args.batch_size)
    bound = SearchSpace.load(args.space).bind(supernet.arch, bounds)
    objectives = ObjectiveSet.load(args.objectives)
    evaluator = Evaluator(supernet, subset, bound, objectives, cache_size=4096)
    ref = reference_point(bound, objectives, evaluator)
    objectives = ObjectiveSet(objectives.objectives, objectives.constraints, objectives.target,
                              dict(zip(objectives.objectives, [r * s for r, s in zip(ref, objectives.signs)])))
    tag = args.tag or f"{args.space}-{args.objectives}-{'default' if args.default_model else Path(args.supernet).name}"
    if args.keep_runs:
        runs_dir = Path(args.out) / "runs" / tag
        shutil.rmtree(runs_dir, ignore_errors=True)
    else:
        import tempfile

        runs_dir = Path(tempfile.mkdtemp(prefix="bench-search-"))
    results = {}
    budget = args.generations * args.population
    print(f"{source}; space {args.space} ({bound.n_var} genes, {bound.size:.3g} genomes); objectives "
          f"{objectives.objectives} constraints {[str(c) for c in objectives.constraints]}; "
          f"{evaluator.num_examples} dev examples; budget {budget} evaluations; reference point {ref}", flush=True)
    for algo in args.algorithms.split(","):
        for seed in map(int, args.seeds.split(",")):
            t0 = time.time()
            before = evaluator.forward_calls
            res = SearchRun(runs_dir / f"{algo}-s{seed}", bound, objectives, evaluator, algorithm=algo,
                            generations=args.generations, population=args.population, seed=seed,
                            progress=False).run()
            results.setdefault(algo, []).append({
                "seed": seed, "hypervolume": res.hypervolume, "front_size": len(res.front),
                "hv_per_generation": [h.hypervolume for h in res.history],
                "evaluations": res.history[-1].evaluations, "unique_candidates": sum(h.new_candidates for h in res.history),
                "new_model_runs": evaluator.forward_calls - before, "seconds": time.time() - t0,
            })
            print(f"  {algo:<11} seed {seed}: hv {res.hypervolume:.6g}  front {len(res.front):>3}  "
                  f"{time.time() - t0:6.1f} s", flush=True)
    summary = {}
    for algo, rs in results.items():
        hv = [r["hypervolume"] for r in rs]
        summary[algo] = {"mean": statistics.mean(hv), "sd": statistics.stdev(hv) if len(hv) > 1 else 0.0,
                         "front_size_mean": statistics.mean(r["front_size"] for r in rs),
                         "hv_curve_mean": list(np.mean([r["hv_per_generation"] for r in rs], axis=0))}
    out = {"source": source, "space": args.space, "objectives": objectives.to_dict(), "reference_point": ref,
           "generations": args.generations, "population": args.population, "budget": budget,
           "dev_examples": evaluator.num_examples, "summary": summary, "runs": results,
           "torch_threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    path = Path(args.out) / f"search-{tag}.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"\nhypervolume after {budget} evaluations ({len(args.seeds.split(','))} seeds, mean ± sd):")
    print(f"{'algorithm':<12} {'hypervolume':>26} {'front':>6}")
    for algo, s in sorted(summary.items(), key=lambda kv: -kv[1]["mean"]):
        print(f"{algo:<12} {s['mean']:>14.6g} ± {s['sd']:<9.3g} {s['front_size_mean']:>6.1f}")
    print(f"wrote {path}")
    if not args.keep_runs:
        shutil.rmtree(runs_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
