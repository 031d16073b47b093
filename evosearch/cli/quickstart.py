"""``evosearch quickstart``: the whole pipeline on the embedded default, one command.

It runs the other subcommands in order (train -> search -> plot -> pick -> export -> report)
with a budget that fits a 2-core CPU, reusing what an earlier run already finished: a trained
supernet is loaded, not retrained; a finished search is resumed (and so returns at once).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import EvosearchError

HELP = """\
Run the whole pipeline on the embedded default (MiniLM-L6 and movie-polarity) or on your own
model and task: train a supernet, search it with NSGA-II for error against energy on the EdgeBERT
accelerator model (then Pareto local search on a front of at most 24 members until no one-gene
change improves a member, and a re-score of the front on the full dev set), plot the front, pick the cheapest member within 1
accuracy point of the uncompressed model (--pick knee for the knee point), export it as a
stand-alone model, verify it (accuracy and CPU latency against the estimates) and write an HTML
report.

Budgets (2 CPU cores):
  default   training 15 minutes on a fresh clone, then NSGA-II, 30 generations of 24 (about
            20 minutes; 30 generations reach a better front per model run than 8 generations
            followed by local search), then Pareto local search on a front of at most 24
            members (one scan of each member's one-gene neighbours, plus one per member that a
            neighbour replaces). --no-local-search skips it (the front is then not checked
            against one-gene changes). A killed quickstart resumes where it stopped: training
            is cached and the search resumes.
  --fast    2,000 training sentences, 1 epoch, a small search without local search; its numbers
            are rough (a first look at the outputs, not a result)
  --large   for a GPU (with --device cuda) or a long CPU run: 3 epochs with 2 random sub-networks
            per step, 30 generations of 48 scored on the whole dev set

Everything goes under --output (default results/quickstart): supernet/, search/ (with plots/),
pick.yaml, deployed/ (with verification.json) and report.html.
"""


#: Held-out domains the export is also scored on: the other built-in sentiment sets.
HELD_OUT = {name: [other for other in ("movie-polarity", "amazon-polarity", "nyt-polarity", "tweet-polarity")
                   if other != name]
            for name in ("movie-polarity", "amazon-polarity", "nyt-polarity", "tweet-polarity")}


@dataclass(frozen=True)
class Budget:
    train: list[str]
    search: list[str]


BUDGETS = {
    "default": Budget(
        train=[],
        search=["--generations", "30", "--population", "24", "--dev-subset", "400"],
    ),
    "large": Budget(
        train=["--epochs", "3", "--num-random", "2"],
        search=["--generations", "30", "--population", "48", "--dev-subset", "0"],
    ),
    "fast": Budget(
        train=["--train-subset", "2000", "--epochs", "1", "--checkpoint-every", "25"],
        search=["--generations", "4", "--population", "12", "--dev-subset", "200", "--no-local-search"],
    ),
}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "quickstart", help="the whole pipeline on the embedded default, one command",
        description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--output", default="results/quickstart", help="folder for everything (default: results/quickstart)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--fast", action="store_true", help="about 5 minutes on 2 cores; rough numbers")
    budget.add_argument("--large", action="store_true", help="a bigger budget, for a GPU (--device cuda) or a long run")
    p.add_argument("--model", help="model folder or hub name (default: the embedded MiniLM)")
    p.add_argument("--task", help="task (default: movie-polarity)")
    p.add_argument("--space", default="edgebert", help="search space (default: edgebert)")
    p.add_argument("--objectives", default="edgebert-energy", help="objective set (default: edgebert-energy)")
    p.add_argument("--device", help="cpu or cuda for training (default: cpu)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: one per core, with OMP_WAIT_POLICY=PASSIVE so a shared machine does not slow them down)")
    p.add_argument("--local-search", action=argparse.BooleanOptionalAction, default=True,
                   help="run Pareto local search after NSGA-II (a front of at most 24 members) until no "
                        "one-gene change improves a member (default on)")
    p.add_argument("--workers", type=int, default=0, help="Ray workers for the search (default 0: in this process)")
    p.add_argument("--pick", choices=["max-drop", "knee"], default="max-drop",
                   help="which front member to export: the cheapest within --max-drop accuracy points of the "
                        "uncompressed model (default), or the knee of the front")
    p.add_argument("--max-drop", type=float, default=1.0, metavar="PT",
                   help="accuracy points the picked member may lose against the uncompressed model (default 1)")
    p.set_defaults(func=run)


def _step(title: str, argv: list[str]) -> None:
    from . import main

    print(f"\n== {title}: evosearch {' '.join(argv)}", flush=True)
    code = main(argv)
    if code:
        raise EvosearchError(f"step '{title}' failed (exit status {code}); fix it and run quickstart again: finished steps are reused")


def _train_args(args, budget: Budget, folder: Path) -> list[str] | None:
    """The train command, ``--resume`` after a kill, or None when the supernet is already there."""
    if (folder / "supernet.json").is_file():
        return None
    argv = ["train", "--output", str(folder), *budget.train]
    for flag in ("model", "task", "device", "threads"):
        if getattr(args, flag):
            argv += [f"--{flag}", str(getattr(args, flag))]
    if (folder / "training_state.pt").is_file():
        argv.append("--resume")
    return argv


def _print_front(run_folder: Path, pick_file: Path) -> None:
    import yaml

    from ..report import load_run

    run = load_run(run_folder)
    front = run.front
    columns = list(dict.fromkeys(c for c in ["accuracy", *run.objectives, "latency_ms", "model_size_bytes"]
                                 if c in front.columns))
    table = front[columns].sort_values(columns[0], ascending=False)
    print(f"\nPareto front ({len(front)} sub-networks on {run.front_dev}"
          + (f"; {len(run.dropped_ids)} more dropped out there: {', '.join(run.dropped_ids)}" if run.dropped_ids else "")
          + "):")
    print(table.to_string(float_format=lambda v: f"{v:.4g}"))
    reference = run.baseline("uncompressed")
    if reference is not None:
        print(f"uncompressed model (32-bit, no early exit): accuracy {100 * float(reference['accuracy']):.2f}%")
    if pick_file.is_file():
        print(f"picked: {yaml.safe_load(pick_file.read_text())['explanation']}")


def run(args) -> int:
    budget = BUDGETS["fast" if args.fast else "large" if args.large else "default"]
    out = Path(args.output)
    supernet, search = out / "supernet", out / "search"
    if args.fast:
        print("quickstart --fast: a small budget for a first look; its accuracies and fronts are rough.")

    train = _train_args(args, budget, supernet)
    if train is None:
        print(f"\n== train: using the supernet already trained in {supernet}")
    else:
        _step("train", train)

    if (search / "config.yaml").is_file():
        _step("search (resuming)", ["search", "--resume", str(search)])
    else:
        argv = ["search", "--supernet", str(supernet), "--space", args.space, "--objectives", args.objectives,
                "--results", str(out), "--run-name", search.name, "--workers", str(args.workers), *budget.search]
        if args.threads:
            argv += ["--threads", str(args.threads)]
        if not args.local_search and "--no-local-search" not in argv:
            argv.append("--no-local-search")
        _step("search", argv)

    _step("plot", ["plot", str(search)])
    pick = out / "pick.yaml"
    how = ["--knee"] if args.pick == "knee" else ["--max-drop", f"{args.max_drop:g}"]
    _step("pick", ["pick", str(search), *how, "--out", str(pick)])
    domains = HELD_OUT.get(args.task or "movie-polarity", [])
    _step("export", ["export", str(search), "--pick", str(pick), "--out", str(out / "deployed"), "--overwrite"]
          + (["--extra-tasks", *domains] if domains else []))
    _step("verify the front", ["verify", str(search)])
    report = out / "report.html"
    _step("report", ["report", str(search), "--out", str(report)])

    _print_front(search, pick)
    verification = out / "deployed" / "verification.json"
    print(f"\nresults in {out}/:")
    print("  supernet/        the trained supernet checkpoint (reused by the next run)")
    print("  search/          every candidate (candidates.csv), fronts, hypervolume, plots/")
    print("  pick.yaml        the picked deployment config ("
          + ("the knee of the front" if args.pick == "knee" else
             f"the cheapest member within {args.max_drop:g} pt of the uncompressed model's accuracy") + ")")
    print(f"  deployed/        the exported model; load it with evosearch.load_deployed('{out / 'deployed'}')")
    print("  report.html      plots and tables in one page")
    if verification.is_file():
        checked = json.loads(verification.read_text())
        print(f"  verification:    accuracy of the export agrees with the supernet estimate: {checked['accuracy_agrees']}"
              f" (details in {verification})")
    return 0
