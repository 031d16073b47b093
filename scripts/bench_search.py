#!/usr/bin/env python
"""Search quality per model run: which algorithm reaches a good front with the fewest forward passes?

Every variant searches the same supernet, space, objectives and dev subset, against one fixed
hypervolume reference point, with a fresh evaluator (no exit logits cached from another run),
until it has used ``--budget`` model runs (forward passes of a sub-network over the dev subset;
genomes that differ only in exit thresholds need none). The hypervolume after every generation
(and every local-search step) is recorded against model runs and seconds.

Variants:
  nsga2-sbx-pm         NSGA-II with the operators evosearch used before: SBX + polynomial
                       mutation with rounding
  nsga2                NSGA-II with uniform crossover and per-gene reset mutation (the default)
  nsga2+ls             the same, then Pareto local search (the default search)
  nsga2+surrogate      NSGA-II whose offspring are screened by random-forest predictors
  nsga2+surrogate+ls   both
  nsga2+thresholds     NSGA-II whose every new architecture walks its threshold path (no model runs)
  nsga2+thresholds+ls  the same, then Pareto local search
  nsga2+surrogate+thresholds  screened offspring, each new architecture walking its threshold path
  random               uniform random genomes

Two steps:

  python scripts/bench_search.py run --supernet results/supernet-minilm-movie --tag a \\
      --variants nsga2-sbx-pm,nsga2,nsga2+ls --seeds 0,1,2 --budget 200
  python scripts/bench_search.py run --supernet results/supernet-minilm-movie --tag ref \\
      --variants nsga2+surrogate+ls --seeds 0 --budget 2000          # the long reference run
  python scripts/bench_search.py summarize results/bench/search-a.json results/bench/search-ref.json \\
      --reference ref:nsga2+surrogate+ls

The figures in docs/benchmarks.md (issue 17): the curves in results/bench/search-*.json were priced
on the accelerator model of commit 1efb630; extend or add to them with
--target results/bench/edgebert-12nm-1efb630.yaml --accuracy-arithmetic float, and summarize with

  python scripts/bench_search.py summarize --reference reference:nsga2+ls \\
      results/bench/search-{variants,random,reference,old-longer,old-seed1,old-seed2,old-seed3,old-seed4}.json \\
      results/bench/search-{new-ops-seed0,new-ops-seed1,new-ops-seed2,new-ops-seeds34,surrogate-seed1}.json \\
      results/bench/search-{surrogate-seeds02,surrogate-seeds34,thresholds,thresholds-seeds34}.json \\
      results/bench/search-{thresholds-lamarck,thresholds-told,ls-target,random-target}.json \\
      results/bench/search-{surrogate-thresholds,surrogate-thresholds-seeds34,surrogate-ls-target}.json

``summarize`` prints, per variant, the hypervolume at the budget (mean +- sd over seeds), the
model runs and seconds each seed needed to reach 99 % of the reference run's final hypervolume
(">N" for a seed stopped after N runs short of it, which makes the mean a lower bound), and the
ratio of the mean to NSGA-II with the old operators' on the seeds both ran; it writes
results/bench/search-summary.json. A variant's seeds may come from several files (each seed's
furthest curve counts).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = {
    "nsga2-sbx-pm": dict(algorithm="nsga2", options={"crossover": "sbx", "mutation": "pm"}, local_search=False),
    "nsga2": dict(algorithm="nsga2", options={}, local_search=False),
    "nsga2+ls": dict(algorithm="nsga2", options={}, local_search=True),
    "nsga2+surrogate": dict(algorithm="nsga2", options={"surrogate": True}, local_search=False),
    "nsga2+surrogate+ls": dict(algorithm="nsga2", options={"surrogate": True}, local_search=True),
    "nsga2+thresholds": dict(algorithm="nsga2", options={}, local_search=False, threshold_path=True),
    "nsga2+thresholds+ls": dict(algorithm="nsga2", options={}, local_search=True, threshold_path=True),
    "nsga2+surrogate+thresholds": dict(algorithm="nsga2", options={"surrogate": True}, local_search=False,
                                       threshold_path=True),
    "random": dict(algorithm="random", options={}, local_search=False),
}


class BudgetSpent(Exception):
    pass


def cmd_run(args) -> int:
    import torch

    from evosearch.search import Evaluator, ObjectiveSet, SearchRun, SearchSpace, reference_point
    from evosearch.search.context import SearchContext

    torch.set_num_threads(args.threads)
    int8_engine = args.accuracy_arithmetic == "int8-engine"
    objective_set = ObjectiveSet.load(args.objectives)
    if args.target:  # e.g. a target as it was when earlier curves were recorded, to extend them
        objective_set = dataclasses.replace(objective_set, target=args.target)
    context = SearchContext.build(args.supernet, SearchSpace.load(args.space), objective_set,
                                  dev_subset=args.dev_subset, int8_engine=int8_engine)
    space, objectives, base = context.space, context.objectives, context.evaluator
    ref = reference_point(space, objectives, base)
    objectives = ObjectiveSet(objectives.objectives, objectives.constraints, objectives.target,
                              dict(zip(objectives.objectives, [r * s for r, s in zip(ref, objectives.signs)])))
    runs_dir = Path(tempfile.mkdtemp(prefix="bench-search-"))
    path = Path(args.out) / f"search-{args.tag}.json"

    def save(data):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(path)

    out = {"supernet": args.supernet, "space": args.space, "objectives": objectives.to_dict(), "reference_point": ref,
           "dev_examples": base.num_examples, "budget_model_runs": args.budget, "stop_at_hypervolume": args.stop_at, "population": args.population,
           "threads": args.threads, "accuracy_arithmetic": args.accuracy_arithmetic, "runs": {}}
    print(f"space {args.space} ({space.n_var} genes); objectives {objectives.objectives}; {base.num_examples} dev "
          f"examples; budget {args.budget} model runs; reference point {ref}", flush=True)
    try:
        for name in args.variants.split(","):
            spec = VARIANTS[name]
            for seed in map(int, args.seeds.split(",")):
                evaluator = Evaluator(base.supernet, base.batches, space, objectives,  # fresh caches
                                      int8_engine=int8_engine)
                curve = []
                started = time.perf_counter()

                entry = {"seed": seed, "curve": curve, "finished": False, "complete": False}
                out["runs"].setdefault(name, []).append(entry)

                def record(stats, curve=curve, started=started):
                    curve.append({"generation": stats.generation, "stage": stats.stage,
                                  "model_runs": stats.model_runs, "evaluations": stats.evaluations,
                                  "hypervolume": stats.hypervolume, "front_size": stats.front_size,
                                  "seconds": round(time.perf_counter() - started, 2)})
                    save(out)  # a benchmark killed mid-run keeps the curve so far ("complete": false)
                    if stats.model_runs >= args.budget or (args.stop_at is not None and stats.hypervolume >= args.stop_at):
                        raise BudgetSpent

                generations = args.generations if spec["local_search"] else 10_000
                search = SearchRun(runs_dir / f"{name}-s{seed}", space, objectives, evaluator, algorithm=spec["algorithm"],
                                   algorithm_options=spec["options"], generations=generations,
                                   population=args.population, seed=seed, local_search=spec["local_search"],
                                   threshold_path=spec.get("threshold_path", False),
                                   progress=False, on_generation=record)
                try:
                    search.run()
                    entry["finished"] = True
                except BudgetSpent:
                    pass
                entry["complete"] = True
                save(out)
                last = curve[-1]
                print(f"  {name:<20} seed {seed}: hv {last['hypervolume']:.6g} after {last['model_runs']} model runs, "
                      f"{last['seconds']:.0f} s{' (local search converged)' if entry['finished'] else ''}", flush=True)
    finally:
        shutil.rmtree(runs_dir, ignore_errors=True)
    print(f"wrote {path}")
    return 0


def first_reaching(curve, target):
    """Model runs and seconds at the first point of ``curve`` whose hypervolume reaches ``target``."""
    for point in curve:
        if point["hypervolume"] >= target:
            return point["model_runs"], point["seconds"]
    return None, None


def hv_at(curve, budget):
    points = [p["hypervolume"] for p in curve if p["model_runs"] <= budget]
    return points[-1] if points else 0.0


def _merge_seeds(runs: dict) -> dict:
    """``TAG:VARIANT`` entries merged per variant: for each seed the curve that went furthest (a
    curve extended in a later file retraces the earlier one: the same seed, supernet and subset)."""
    merged: dict = {}
    for key, (data, entries) in runs.items():
        name = key.split(":", 1)[1]
        seeds = merged.setdefault(name, {})
        for entry in entries:
            old = seeds.get(entry["seed"])
            reach = entry["curve"][-1]["model_runs"] if entry["curve"] else 0
            if old is None or reach > old[1]["curve"][-1]["model_runs"]:
                seeds[entry["seed"]] = (data, entry)
    out = {}
    for name, seeds in merged.items():
        chosen = [seeds[s] for s in sorted(seeds)]
        data = dict(chosen[0][0], budget_model_runs=max(d["budget_model_runs"] for d, _ in chosen))
        out[name] = (data, [e for _, e in chosen])
    return out


def _mean_runs(row: dict, seeds) -> tuple[float, bool]:
    """Mean model runs to the target of ``row`` over ``seeds``, and whether it is only a lower
    bound: a seed stopped before the target counts the runs it had."""
    picked = [(t, d) for s, t, d in zip(row["seed_list"], row["model_runs_to_target"], row["model_runs_done"])
              if s in seeds]
    return statistics.mean(d if t is None else t for t, d in picked), any(t is None for t, _ in picked)


def cmd_summarize(args) -> int:
    runs, meta = {}, None
    for path in args.files:
        data = json.loads(Path(path).read_text())
        tag = Path(path).stem.removeprefix("search-")
        meta = meta or data
        if data["reference_point"] != meta["reference_point"]:
            raise SystemExit(f"{path} used another reference point; results are not comparable")
        if data.get("accuracy_arithmetic", "float") != meta.get("accuracy_arithmetic", "float"):
            raise SystemExit(f"{path} scored accuracy in another arithmetic; results are not comparable")
        for name, entries in data["runs"].items():
            runs[f"{tag}:{name}"] = (data, entries)
    if args.reference not in runs:
        raise SystemExit(f"--reference {args.reference}: not among {', '.join(runs)}")
    ref_data, ref_entries = runs.pop(args.reference)
    runs = _merge_seeds(runs)
    reference_hv = max(max(p["hypervolume"] for p in e["curve"]) for e in ref_entries)
    target = args.fraction * reference_hv
    budget = args.budget or meta["budget_model_runs"]
    table = {}
    for key, (data, entries) in runs.items():
        reach = [first_reaching(e["curve"], target) for e in entries]
        hv = [hv_at(e["curve"], budget) for e in entries]
        table[key] = {
            "seeds": len(entries), "seed_list": [e["seed"] for e in entries], "hv_at_budget_mean": statistics.mean(hv),
            "hv_at_budget_sd": statistics.stdev(hv) if len(hv) > 1 else 0.0,
            "model_runs_to_target": [r[0] for r in reach], "seconds_to_target": [r[1] for r in reach],
            "budget_model_runs": data["budget_model_runs"],
            # how far each seed got (less than the budget when the benchmark was stopped)
            "model_runs_done": [e["curve"][-1]["model_runs"] if e["curve"] else 0 for e in entries],
        }
    for row in table.values():
        row["model_runs_to_target_mean"], row["mean_is_lower_bound"] = _mean_runs(row, row["seed_list"])
    baseline = table.get("nsga2-sbx-pm")

    print(f"reference {args.reference}: final hypervolume {reference_hv:.6g} after "
          f"{max(e['curve'][-1]['model_runs'] for e in ref_entries)} model runs; target {args.fraction:.0%} = {target:.6g}")
    print(f"{'variant':<28} {'hv at ' + str(budget) + ' runs':>22} {'model runs to target (per seed)':>34} "
          f"{'mean':>8} {'seconds':>20}")
    for key, row in sorted(table.items(), key=lambda kv: -kv[1]["hv_at_budget_mean"]):
        runs_txt = ", ".join(f">{d}" if r is None else str(r)
                             for r, d in zip(row["model_runs_to_target"], row["model_runs_done"]))
        mean_txt = f"{'>' if row['mean_is_lower_bound'] else ''}{row['model_runs_to_target_mean']:.0f}"
        secs_txt = ", ".join("-" if s is None else f"{s:.0f}" for s in row["seconds_to_target"])
        print(f"{key:<28} {row['hv_at_budget_mean']:>12.6g} ± {row['hv_at_budget_sd']:<7.3g} {runs_txt:>34} "
              f"{mean_txt:>8} {secs_txt:>20}")
    summary = {"reference": args.reference, "reference_hv": reference_hv, "target_fraction": args.fraction,
               "target_hv": target, "budget": budget, "table": table}
    if baseline:
        print("mean model runs to the target against NSGA-II with the old operators, on the seeds both ran:")
        for key, row in table.items():
            common = sorted(set(row["seed_list"]) & set(baseline["seed_list"]))
            if not common:
                continue
            mine, base = _mean_runs(row, common), _mean_runs(baseline, common)
            if mine[1] and base[1]:
                continue  # neither mean known: no ratio
            ratio = mine[0] / base[0]
            row["ratio_to_old_nsga2"] = ratio
            row["ratio_seeds"] = common
            row["ratio_bound"] = "at least" if mine[1] else "at most" if base[1] else "exact"
            sign = {"at least": "> ", "at most": "< ", "exact": ""}[row["ratio_bound"]]
            print(f"  {key:<28} {'>' if mine[1] else ''}{mine[0]:.0f} against {'>' if base[1] else ''}{base[0]:.0f}: "
                  f"{sign}{ratio:.3f} (seeds {', '.join(map(str, row['ratio_seeds']))})")
    out = Path(args.out) / "search-summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1))
    print(f"wrote {out}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run variants and record hypervolume against model runs")
    r.add_argument("--supernet", required=True)
    r.add_argument("--space", default="edgebert")
    r.add_argument("--objectives", default="edgebert-energy")
    r.add_argument("--target", default=None,
                   help="hardware target (shipped name or YAML path) instead of the objective set's; the curves "
                        "under results/bench/search-*.json were priced on results/bench/edgebert-12nm-1efb630.yaml")
    r.add_argument("--variants", default=",".join(VARIANTS))
    r.add_argument("--seeds", default="0,1,2")
    r.add_argument("--budget", type=int, default=200, help="model runs per search (default 200)")
    r.add_argument("--population", type=int, default=24)
    r.add_argument("--accuracy-arithmetic", choices=("int8-engine", "float"), default="int8-engine",
                   help="how accuracy is estimated (default int8-engine, as searches do; 'float' to extend curves "
                        "recorded before the int8-engine estimate, which lack this field)")
    r.add_argument("--generations", type=int, default=6,
                   help="generations before local search in the +ls variants (default 6)")
    r.add_argument("--stop-at", type=float, default=None,
                   help="end a seed once its hypervolume reaches this value (e.g. the summary's target), before the "
                        "budget; its hypervolume at a budget beyond that point is then not known")
    r.add_argument("--dev-subset", type=int, default=200)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--tag", required=True)
    r.add_argument("--out", default="results/bench")
    r.set_defaults(func=cmd_run)
    s = sub.add_parser("summarize", help="combine run files into the comparison table")
    s.add_argument("files", nargs="+")
    s.add_argument("--reference", required=True, help="TAG:VARIANT of the long reference run")
    s.add_argument("--fraction", type=float, default=0.99)
    s.add_argument("--budget", type=int, default=None, help="model runs at which hypervolumes are compared")
    s.add_argument("--out", default="results/bench")
    s.set_defaults(func=cmd_summarize)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
