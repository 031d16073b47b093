"""``evosearch search``: multi-objective evolutionary search over a supernet's sub-networks."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from ..errors import EvosearchError

DESCRIPTION = """\
Search the sub-networks of a trained supernet for the Pareto front of accuracy against cost.

Each candidate (genome) fixes, per virtual layer, the attention heads and FFN neurons kept, the
weight bit width and the attention span, plus the early-exit entropy thresholds, the
embedding bit width and the embedding sparsity -- whatever the search space declares (evosearch/search_spaces/*.yaml). It is scored on
the supernet (dev accuracy with early exits, on --dev-subset examples) and on the objectives of
--objectives (evosearch/objectives/search/*.yaml: error, model_size_bytes, macs, params, or latency_ms /
energy_uj / memory_kb on a hardware target, with constraints like 'latency_ms <= 5').

Everything goes to results/<run-name>/: config.yaml (with the fixed hypervolume reference
point), candidates.csv (every evaluated candidate, appended as it is scored), fronts.csv (the
Pareto front after each generation), hypervolume.csv, checkpoint.pkl (each generation) and
final_front.csv (the last front re-scored on the full dev set).

A killed run continues with --resume results/<run-name>: stored candidates are not evaluated
again and the run ends with the same front as an uninterrupted one.

Parallel evaluation: by default a local Ray with one actor per CPU (up to 8), each holding one
supernet copy; --workers N sets the number of actors, --workers 0 evaluates in this process
without Ray; --ray-address auto (or HOST:PORT) joins a running cluster (docs/cluster.md).
Results do not depend on the number of workers.
"""

EPILOG = """\
examples:
  evosearch search --supernet results/supernet-minilm-movie --space my-space.yaml \\
      --objectives edgebert-energy --generations 20 --population 32
  evosearch search --supernet CKPT --space uniform --objectives default --algorithm deap-nsga2
  evosearch search --resume results/edgebert-nsga2-s0
"""


def register(subparsers) -> None:
    from ..search.algorithms import ALGORITHMS
    from ..search.operators import CROSSOVERS, MUTATIONS

    p = subparsers.add_parser(
        "search", help="multi-objective genetic search over sub-networks (NSGA-II, DEAP, Ray)",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--supernet", metavar="CKPT", help="supernet checkpoint folder (written by `evosearch train`)")
    p.add_argument("--space", metavar="YAML",
                   help="search space: a YAML path or a shipped name (edgebert, edgebert-sparse, edgebert-learned-spans "
                        "for a supernet trained with --span-mode learned, edgebert-onchip, whittle-medium, uniform, small); "
                        "default: edgebert")
    p.add_argument("--objectives", metavar="YAML",
                   help="objective set: a YAML path or a shipped name (evosearch/objectives/search/: default, proxies, "
                        "edgebert-energy, edgebert-dvfs, edgebert-onchip, three-way, cpu); default: default")
    p.add_argument("--algorithm", choices=list(ALGORITHMS),
                   help="nsga2 (pymoo, default), nsga3 (pymoo, for 3+ objectives), deap-nsga2, random, local")
    p.add_argument("--crossover", choices=list(CROSSOVERS),
                   help="nsga2/nsga3 crossover: uniform (default), two-point, or sbx (real-valued with rounding)")
    p.add_argument("--mutation", choices=list(MUTATIONS),
                   help="nsga2/nsga3 mutation: reset (each gene takes another of its values with probability "
                        "--mutation-rate; default) or pm (polynomial mutation with rounding)")
    p.add_argument("--mutation-rate", type=float, metavar="P",
                   help="per-gene mutation probability (default 1/number of genes)")
    p.add_argument("--surrogate", action="store_true", default=None,
                   help="screen offspring with accuracy and cost predictors trained on the evaluated candidates "
                        "(random forests; 8x more offspring bred, the best predicted evaluated)")
    p.add_argument("--threshold-path", action="store_true", default=None,
                   help="after each generation, walk each new architecture's exit thresholds from 'never exit' to "
                        "'exit most', one greedy step at a time, on its cached exit logits (no model runs), and add "
                        "the points no candidate dominates to the front (default off; in docs/benchmarks.md, with "
                        "--surrogate, it needs about 1/5 of the old NSGA-II's model runs to a good front)")
    p.add_argument("--local-search", action=argparse.BooleanOptionalAction,
                   help="after the last generation, evaluate every front member's one-gene neighbours until none "
                        "dominates a member (Pareto local search; default on)")
    p.add_argument("--front-size", type=int, metavar="N",
                   help="the most members the local-search front keeps (default: the population size); beyond it, "
                        "the member not yet scanned that adds the least hypervolume leaves (a scanned member leaves "
                        "only when dominated), so local search ends in a bounded time")
    p.add_argument("--generations", type=int, default=None, help="generations (default 20; with --resume: the stored number, or more to extend a finished run)")
    p.add_argument("--population", type=int, help="population size = evaluations per generation "
                   "(default 32)")
    p.add_argument("--dev-subset", type=int, metavar="N",
                   help="score candidates on N seeded random dev examples (default 500; 0 = the whole dev set); "
                        "the final front is always re-scored on the whole dev set")
    p.add_argument("--batch-size", type=int,
                   help="evaluation batch size (default 32: batches of similar length, little padding)")
    p.add_argument("--task", metavar="SPEC", help="task to evaluate on (default: the task the supernet was trained on)")
    p.add_argument("--workers", type=int, default=None,
                   help="Ray actors, each holding a supernet copy (default: this machine's CPUs, at most 8, on a "
                        "local Ray); 0 = evaluate in this process without Ray")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="join a running Ray cluster from one of its nodes: 'auto' or the head's HOST:PORT (default: "
                        "start a Ray of our own, even when a cluster already runs here); Ray Client (ray://) is not "
                        "supported")
    p.add_argument("--task-timeout", type=float, metavar="SECONDS",
                   help="with Ray workers: a task running longer than this counts as hung, its actor is replaced "
                        "and the task re-run (default 1800; raise it for very slow nodes)")
    p.add_argument("--threads", type=int, default=None, help="torch threads in this process (default: torch's)")
    p.add_argument("--seed", type=int, help="seed of the algorithm (default 0)")
    p.add_argument("--run-name", help="folder name under --results (default: SPACE-ALGORITHM-sSEED-TIME)")
    p.add_argument("--results", default="results", help="where run folders go (default: results)")
    p.add_argument("--resume", metavar="RUN", help="continue the run in this folder (after a crash or to add "
                   "generations with --generations); every setting of the run is kept: a flag that would change "
                   "one is an error")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


#: Defaults of the flags that define a run (a resumed run keeps its own values).
DEFAULTS = {"space": "edgebert", "objectives": "default", "algorithm": "nsga2", "crossover": "uniform",
            "mutation": "reset", "mutation_rate": None, "surrogate": False, "threshold_path": False,
            "local_search": True, "population": 32,
            "dev_subset": 500, "batch_size": 32, "seed": 0}


def _check_counts(args) -> None:
    checks = [("population", 2, "at least 2"), ("generations", 1, "at least 1"), ("dev_subset", 0, "0 or more"),
              ("batch_size", 1, "at least 1"), ("workers", 0, "0 or more"), ("threads", 1, "at least 1"),
              ("front_size", 1, "at least 1")]
    for name, low, words in checks:
        value = getattr(args, name)
        if value is not None and value < low:
            raise EvosearchError(f"--{name.replace('_', '-')} {value}: give {words}")
    if args.task_timeout is not None and not args.task_timeout > 0:
        raise EvosearchError(f"--task-timeout {args.task_timeout:g}: give a number of seconds above 0")
    if args.mutation_rate is not None and not 0 < args.mutation_rate <= 1:
        raise EvosearchError(f"--mutation-rate {args.mutation_rate}: give a probability in (0, 1]")


def _resume_conflicts(args, cfg: dict) -> list[str]:
    """Flags given with --resume that would change a setting of the stored run."""
    from ..search import ObjectiveSet, SearchSpace

    stored = {"algorithm": cfg.get("algorithm"), "population": cfg.get("population"), "seed": cfg.get("seed"),
              "dev_subset": cfg.get("dev_subset") or 0, "batch_size": cfg.get("batch_size", 128),
              "task": cfg.get("task"), "threshold_path": cfg.get("threshold_path", False),
              **(cfg.get("algorithm_options") or {})}
    given = {name: getattr(args, name) for name in ("algorithm", "population", "seed", "dev_subset", "batch_size",
                                                     "task", "crossover", "mutation", "mutation_rate", "surrogate",
                                                     "threshold_path")
             if getattr(args, name) is not None}
    conflicts = [f"--{name.replace('_', '-')} {value} (the run has {stored.get(name)})"
                 for name, value in given.items() if stored.get(name) != value]
    if args.supernet and str(Path(args.supernet).resolve()) != cfg.get("supernet"):
        conflicts.append(f"--supernet {args.supernet} (the run searched {cfg.get('supernet')})")
    if args.space and SearchSpace.load(args.space).to_dict() != cfg.get("space"):
        conflicts.append(f"--space {args.space} (the run has space {cfg.get('space', {}).get('name')!r})")
    if args.objectives and ObjectiveSet.load(args.objectives).to_dict() != cfg.get("objectives"):
        conflicts.append(f"--objectives {args.objectives} (the run has {cfg.get('objectives', {}).get('objectives')})")
    return conflicts


def run(args) -> int:
    import torch

    from .. import api
    from ..runstore import RunStore
    from ..spaces import SearchSpace

    _check_counts(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.resume is not None:
        folder = Path(args.resume)
        if not (folder / "config.yaml").is_file():
            raise EvosearchError(f"cannot resume {folder}: no config.yaml there (is it a run folder?)")
        cfg = RunStore(folder).read_config()
        conflicts = _resume_conflicts(args, cfg)
        if conflicts:
            raise EvosearchError(f"cannot resume {folder} with other settings: {'; '.join(conflicts)}. A resumed run "
                                 "keeps its own settings: drop these flags, or start a new run with --run-name")
        settings = dict(resume=folder, generations=args.generations, local_search=args.local_search,
                        front_size=args.front_size, task_timeout=args.task_timeout,
                        workers=args.workers if args.workers is not None else cfg.get("workers", 0),
                        ray_address=args.ray_address or cfg.get("ray_address"))
    else:
        if not args.supernet:
            raise EvosearchError("give --supernet CKPT (a checkpoint folder from `evosearch train`) or --resume RUN")
        for name, value in DEFAULTS.items():
            if getattr(args, name) is None:
                setattr(args, name, value)
        space_name = SearchSpace.load(args.space).name
        name = args.run_name or f"{space_name}-{args.algorithm}-s{args.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
        folder = Path(args.results) / name
        settings = dict(supernet=args.supernet, space=args.space, objectives=args.objectives, folder=folder,
                        algorithm=args.algorithm, crossover=args.crossover, mutation=args.mutation,
                        mutation_rate=args.mutation_rate, surrogate=args.surrogate, threshold_path=args.threshold_path,
                        local_search=args.local_search,
                        front_size=args.front_size, task_timeout=args.task_timeout,
                        generations=args.generations if args.generations is not None else 20,
                        population=args.population, dev_subset=args.dev_subset, batch_size=args.batch_size,
                        task=args.task, seed=args.seed, ray_address=args.ray_address,
                        workers=args.workers if args.workers is not None else min(8, os.cpu_count() or 1))
    objective_names: list[str] = []

    def announce(context):
        objective_names.extend(context.objectives.objectives)
        print(f"search: {context.space.n_var} genes ({context.space.size:.3g} genomes) in space "
              f"{context.space.space.name!r}; objectives {', '.join(context.objectives.objectives)}"
              + (f"; constraints {', '.join(map(str, context.objectives.constraints))}"
                 if context.objectives.constraints else "")
              + f"; {context.evaluator.num_examples} dev examples ({context.full_evaluator.num_examples} for the "
                "final front)", flush=True)

    result = api.search(**settings, progress=not args.no_progress, on_start=announce)
    last = result.history[-1] if result.history else None
    print(f"done: {folder} — {last.evaluations if last else 0} evaluations, {last.model_runs if last else 0} "
          f"model runs, front of {len(result.front)}, hypervolume {result.hypervolume:.6g}")
    rounds = [h for h in result.history if h.stage == "local"]
    if rounds:
        evolve_runs = max((h.model_runs for h in result.history if h.stage == "evolve"), default=0)
        print(f"local search: {len(rounds)} member scans, {sum(h.new_candidates for h in rounds)} neighbours evaluated, "
              f"{rounds[-1].model_runs - evolve_runs} model runs, {sum(h.seconds for h in rounds):.0f} s; "
              f"hypervolume {max((h.hypervolume for h in result.history if h.stage == 'evolve'), default=0):.6g} "
              f"-> {rounds[-1].hypervolume:.6g}")
    if result.final_front:
        dropped = sum(not ok for ok in result.on_full_front)
        print(f"final front re-scored on the full dev set: {len(result.front) - dropped} of {len(result.front)} "
              "members stay non-dominated" + (f" ({dropped} dropped: marked on_full_front = 0 in final_front.csv)"
                                               if dropped else ""))
    header = ["#"] + objective_names + ["full-dev " + o for o in objective_names] + ["kept"]
    print("  ".join(f"{h:>14}" for h in header))
    kept = result.on_full_front or [True] * len(result.front)
    for i, (sub, fin, ok) in enumerate(zip(result.front, result.final_front or result.front, kept)):
        row = [str(i)] + [f"{sub.metrics[o]:.6g}" for o in objective_names]
        row += [f"{fin.metrics[o]:.6g}" for o in objective_names] + ["yes" if ok else "no"]
        print("  ".join(f"{c:>14}" for c in row))
    return 0
