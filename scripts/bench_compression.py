"""Compression results of a search: the largest reductions at <= 1 pt and <= 3 pt accuracy drop.

For every member of a run's final Pareto front and for the uncompressed fp32 model (largest
sub-network, 32-bit, no early exit), on the whole dev set: accuracy (with the member's exit
thresholds), simulated energy and latency on the run's hardware target (expectations over the
measured exit distribution), model size at the chosen bit widths, and measured CPU latency of the
extracted model (batch 1, 32 tokens, full depth, int8 dynamic linears where a layer has <= 8 bits
and that is faster; early exit is not credited on the CPU). Then, for each accuracy budget, the
largest reduction factor of each cost among members within the budget, next to published anchors.

    python scripts/bench_compression.py --run results/quickstart/search [--threads 1]

Writes results/bench/compression-<run name>.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import pandas as pd
import torch
import yaml

from evosearch.hardware import proxies
from evosearch.latency import measure_subnet
from evosearch.search import Evaluator, ObjectiveSet, SearchSpace
from evosearch.search.devdata import dev_batches
from evosearch.supernet import SubnetConfig
from evosearch.training import load_checkpoint

ANCHORS = {
    "EdgeBERT (Tambe et al., MICRO 2021)": "up to 7x lower energy from early exit (vs no early exit), ALBERT on GLUE",
    "P-BERT (ICLR 2025 submission)": ">= 60% complexity reduction (its own ICCR metric)",
    "whittle (Klein et al., 2023)": "about half the parameters at < 5% accuracy drop",
}
COSTS = ("energy_uj", "latency_ms", "cpu_latency_ms", "model_size_bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a finished search run folder (with final_front.csv)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for evaluation and timing (default 1)")
    parser.add_argument("--repeats", type=int, default=30, help="CPU timing repeats per model (default 30)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    run = Path(args.run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    checkpoint = load_checkpoint(cfg["supernet"])
    supernet, task = checkpoint.supernet, checkpoint.task
    _, full, _ = dev_batches(checkpoint.tokenizer, cfg.get("task") or task["spec"], seed=int(task.get("seed", 0)),
                             max_length=int(task.get("max_length", 128)), subset=None, batch_size=128)
    space = SearchSpace.from_dict(cfg["space"]).bind(supernet.arch, checkpoint.bounds)
    objectives = ObjectiveSet.from_dict(cfg["objectives"])
    evaluator = Evaluator(supernet, full, space, objectives)
    no_exit = [0.0] * max(1, supernet.arch.num_layers - 1)

    def score(name: str, config: SubnetConfig, thresholds) -> dict:
        metrics, _ = evaluator.metrics(config, thresholds)
        latency = measure_subnet(supernet, config, repeats=args.repeats, threads=args.threads)
        row = {"name": name, "accuracy": metrics["accuracy"], "mean_exit_layer": metrics.get("mean_exit_layer")}
        row.update({k: metrics[k] for k in ("energy_uj", "latency_ms") if k in metrics})
        row["model_size_bytes"] = float(proxies.model_size_bytes(supernet.arch, config))
        row["cpu_latency_ms"] = latency.best.median_ms
        print(f"  {name:<12} accuracy {row['accuracy']:.4f}  " + "  ".join(f"{k} {row[k]:.4g}" for k in COSTS if k in row), flush=True)
        return row

    print(f"scoring on {evaluator.num_examples} dev sentences ({cfg['objectives'].get('target', 'no')} target)")
    base = score("uncompressed", SubnetConfig.largest(supernet.arch).with_layers(bits=32), no_exit)
    front = pd.read_csv(run / "final_front.csv")
    members = [
        score(f"front {i}", SubnetConfig.from_dict(json.loads(row["config"])), json.loads(row["thresholds"]))
        for i, row in front.iterrows()
    ]

    budgets = {}
    for drop in (0.01, 0.03):
        within = [m for m in members if m["accuracy"] >= base["accuracy"] - drop - 1e-9]
        budgets[f"<= {round(drop * 100)} pt"] = {
            cost: (max((round(base[cost] / m[cost], 2), m["name"]) for m in within) if within and cost in base else None)
            for cost in COSTS
        }
    result = {
        "run": str(run),
        "machine": platform.processor() or platform.machine(),
        "threads": args.threads,
        "dev_examples": evaluator.num_examples,
        "uncompressed": base,
        "front": members,
        "largest_reduction": {b: {c: (v[0] if v else None) for c, v in d.items()} for b, d in budgets.items()},
        "achieved_by": {b: {c: (v[1] if v else None) for c, v in d.items()} for b, d in budgets.items()},
        "anchors": ANCHORS,
    }
    out = Path(args.out or f"results/bench/compression-{run.parent.name}-{run.name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nlargest reduction vs the uncompressed fp32 model (accuracy {base['accuracy']:.4f}):")
    print(f"{'accuracy drop':<14}" + "".join(f"{c:>18}" for c in COSTS))
    for budget, reductions in result["largest_reduction"].items():
        print(f"{budget:<14}" + "".join(f"{(f'{v}x' if v else '-'):>18}" for v in reductions.values()))
    print("published anchors: " + "; ".join(f"{k}: {v}" for k, v in ANCHORS.items()))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
