"""Dev accuracy against sparsity, magnitude pruning against movement pruning (Sanh et al., NeurIPS 2020).

Give two supernet checkpoints trained on the same task with the same budget, one with
``--pruning magnitude`` and one with ``--pruning movement`` (same ``--sparsity`` list). For each
sparsity the largest sub-network (every head and neuron, 32-bit weights, no span limit) runs with
that unstructured sparsity in every layer, each checkpoint pruning by its own criterion; its
final-exit accuracy on the whole dev split is reported.

    python scripts/bench_pruning.py --magnitude results/sparse-magnitude --movement results/sparse-movement

Sparsities: 0, 0.5 and 0.8, and 0.9 when both supernets were trained for it (``--sparsities``
chooses others). Sanh et al. (and seed 002 of issue 15) found magnitude pruning better at low
sparsity and movement pruning better at high sparsity; the ``better`` column says what happens here.
Writes results/bench/pruning.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

CRITERIA = ("magnitude", "movement")
DEFAULT_SPARSITIES = (0.0, 0.5, 0.8)
# Training options that may differ between the two runs without changing the budget.
NOT_BUDGET = ("pruning", "output", "device", "threads", "checkpoint_every", "eval_batch_size")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--magnitude", required=True, help="supernet checkpoint trained with --pruning magnitude")
    parser.add_argument("--movement", required=True, help="supernet checkpoint trained with --pruning movement")
    parser.add_argument("--sparsities", type=float, nargs="+",
                        help="per-layer sparsities to score (default: 0 0.5 0.8, and 0.9 when both were trained for it)")
    parser.add_argument("--batch-size", type=int, default=128, help="dev batch size (default 128)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", default="results/bench/pruning.json")
    args = parser.parse_args(argv)

    import torch

    from evosearch.errors import EvosearchError

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        report = bench({"magnitude": args.magnitude, "movement": args.movement}, args.sparsities, args.batch_size)
    except EvosearchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(table(report))
    for difference in report["budget_differences"]:
        print(f"warning: the two trainings differ in {difference}: not the same budget")
    print(f"wrote {out}")
    return 0


def bench(folders: dict[str, str], sparsities=None, batch_size: int = 128) -> dict:
    """Accuracy of each checkpoint's largest sub-network at each sparsity (see the module doc)."""
    from evosearch.errors import EvosearchError
    from evosearch.search.devdata import dev_batches
    from evosearch.supernet import SubnetConfig, collect_exit_logits, exit_accuracies
    from evosearch.training import load_checkpoint

    started = time.perf_counter()
    checkpoints = {criterion: load_checkpoint(folder) for criterion, folder in folders.items()}
    for criterion, ckpt in checkpoints.items():
        if ckpt.supernet.arch.pruning != criterion:
            raise EvosearchError(f"--{criterion} {folders[criterion]} was trained with pruning="
                                 f"{ckpt.supernet.arch.pruning!r}, not {criterion!r}")
        if ckpt.task.get("is_regression"):
            raise EvosearchError(f"--{criterion} {folders[criterion]} is a regression task; this bench reports accuracy")
    task = _same_task(checkpoints)
    trained = {c: sorted(float(s) for s in ckpt.bounds.get("sparsity") or [0.0]) for c, ckpt in checkpoints.items()}
    if sparsities is None:
        both = set(trained["magnitude"]) & set(trained["movement"])
        sparsities = list(DEFAULT_SPARSITIES) + ([0.9] if 0.9 in both else [])
    accuracy, dev_examples = {}, None
    for criterion, ckpt in checkpoints.items():
        _, batches, _ = dev_batches(ckpt.tokenizer, task["spec"], seed=int(task.get("seed", 0)),
                                    max_length=int(task.get("max_length", 128)), batch_size=batch_size)
        largest = SubnetConfig.largest(ckpt.supernet.arch)
        accuracy[criterion] = {}
        for sparsity in sparsities:
            logits, labels = collect_exit_logits(ckpt.supernet, batches, largest.with_layers(sparsity=float(sparsity)))
            accuracy[criterion][sparsity] = round(exit_accuracies(logits, labels)[-1], 4)
            dev_examples = len(labels)
    rows = []
    for sparsity in sparsities:
        mag, mov = accuracy["magnitude"][sparsity], accuracy["movement"][sparsity]
        rows.append({"sparsity": sparsity, "magnitude": mag, "movement": mov,
                     "better": "magnitude" if mag > mov else "movement" if mov > mag else "tie",
                     "trained": [c for c in CRITERIA if sparsity in trained[c]]})
    return {
        "what": "dev accuracy (final exit, whole dev split) of the largest sub-network at one unstructured sparsity "
                "in every layer, each supernet pruning by its own criterion",
        "task": task, "dev_examples": dev_examples, "rows": rows, "trained_sparsities": trained,
        "checkpoints": {c: str(Path(f).resolve()) for c, f in folders.items()},
        "training": {c: {"steps": ckpt.meta.get("steps"), "train_seconds": ckpt.meta.get("train_seconds"),
                         "dev": ckpt.meta.get("dev", {})} for c, ckpt in checkpoints.items()},
        "budget_differences": _budget_differences(checkpoints),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _same_task(checkpoints: dict) -> dict:
    from evosearch.errors import EvosearchError

    tasks = {c: {k: ckpt.task.get(k) for k in ("spec", "seed", "max_length")} for c, ckpt in checkpoints.items()}
    if tasks["magnitude"] != tasks["movement"]:
        raise EvosearchError(f"the two supernets were trained on different tasks or splits ({tasks}); "
                             "train both on the same one")
    return tasks["magnitude"]


def _budget_differences(checkpoints: dict) -> list[str]:
    configs = {c: ckpt.meta.get("train_config", {}) for c, ckpt in checkpoints.items()}
    keys = sorted(set(configs["magnitude"]) | set(configs["movement"]))
    return [f"{k}: magnitude {configs['magnitude'].get(k)!r}, movement {configs['movement'].get(k)!r}"
            for k in keys if k not in NOT_BUDGET and configs["magnitude"].get(k) != configs["movement"].get(k)]


def table(report: dict) -> str:
    lines = [f"{report['task']['spec']}: {report['dev_examples']} dev examples, largest sub-network, final exit",
             f"{'sparsity':>8}  {'magnitude':>9}  {'movement':>8}  {'better':<9}  trained for it"]
    for row in report["rows"]:
        lines.append(f"{row['sparsity']:>8.2f}  {row['magnitude']:>9.4f}  {row['movement']:>8.4f}  {row['better']:<9}  "
                     f"{', '.join(row['trained']) or 'neither'}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
