#!/usr/bin/env python
"""Do the span and exit-threshold genes change anything on the task they are searched on?

Spans. For every span choice of the supernet (in tokens, from fractions of the task's reference
length) and, for comparison, the absolute spans evosearch used before (8, 16, 32 tokens with a
ramp of 16): the share of attended token pairs of the dev sentences that the span mask changes
(weight below 1), and for the choices the supernet was trained with, the largest sub-network's
dev accuracy and simulated energy with that span in every layer.

Thresholds. For each exit-threshold choice of the space (fractions of ln(num_labels)) applied to
every exit of the largest sub-network: the share of dev sentences leaving before the last layer,
accuracy and energy.

    python scripts/bench_genes.py --supernet results/supernet-minilm-movie

Writes results/bench/genes.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def changed_share(lengths, span, ramp) -> float:
    """Share of (query, key) pairs within sentences whose span-mask weight is below 1."""
    total = changed = 0
    for n in lengths:
        for d in range(n):  # distance d occurs 2 (n - d) times (once for d = 0)
            pairs = n if d == 0 else 2 * (n - d)
            total += pairs
            if span is not None and (ramp + span - d) / ramp < 1:
                changed += pairs
    return changed / total


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--supernet", required=True)
    p.add_argument("--space", default="edgebert")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="results/bench/genes.json")
    args = p.parse_args(argv)

    import torch

    from evosearch.search import ObjectiveSet, SearchSpace
    from evosearch.search.context import SearchContext
    from evosearch.supernet import SubnetConfig

    torch.set_num_threads(args.threads)
    context = SearchContext.build(args.supernet, SearchSpace.load(args.space), ObjectiveSet.load("edgebert-energy"))
    ev, space = context.full_evaluator, context.space
    arch = ev.arch
    lengths = ev.workload.lengths
    bounds = context.checkpoint.bounds
    ramp = context.checkpoint.supernet.span_ramp
    L = arch.num_layers
    no_exit = [0.0] * (L - 1)
    largest = SubnetConfig.largest(arch)
    out = {"reference_length": bounds.get("span_reference_length"), "ramp": ramp,
           "mean_length": sum(lengths) / len(lengths), "spans": [], "old_spans": [], "thresholds": []}
    print(f"dev sentences: {len(lengths)}, mean length {out['mean_length']:.1f} tokens; reference length "
          f"{out['reference_length']} (p95 of training lengths); ramp {ramp}")
    base, _ = ev.metrics(largest, no_exit)
    print(f"{'span':>8} {'pairs changed':>14} {'accuracy':>9} {'energy uJ':>10}")
    for span in bounds["spans"]:
        config = largest.with_layers(span=span)
        metrics, _ = ev.metrics(config, no_exit)
        row = {"span": span, "pairs_changed": changed_share(lengths, span, ramp), "accuracy": metrics["accuracy"],
               "energy_uj": metrics["energy_uj"]}
        out["spans"].append(row)
        print(f"{str(span):>8} {100 * row['pairs_changed']:>13.1f}% {100 * row['accuracy']:>8.2f}% {row['energy_uj']:>10.1f}")
    print("before (absolute spans, ramp 16):")
    for span in (8, 16, 32):
        row = {"span": span, "ramp": 16, "pairs_changed": changed_share(lengths, span, 16)}
        out["old_spans"].append(row)
        print(f"{span:>8} {100 * row['pairs_changed']:>13.1f}%")
    slot = next(s for s in space.slots if s.gene == "exit_threshold")
    fractions = space.space.genes["exit_threshold"].values
    print(f"{'threshold':>10} {'nats':>6} {'leave early':>12} {'accuracy':>9} {'energy uJ':>10}")
    for fraction, nats in zip(fractions, slot.values):
        metrics, _ = ev.metrics(largest, [nats] * (L - 1))
        early = 1 - metrics[f"exit_share_{L - 1}"]
        row = {"fraction": fraction, "nats": nats, "leave_early": early, "accuracy": metrics["accuracy"],
               "energy_uj": metrics["energy_uj"]}
        out["thresholds"].append(row)
        print(f"{fraction:>10} {nats:>6.3f} {100 * early:>11.1f}% {100 * row['accuracy']:>8.2f}% {row['energy_uj']:>10.1f}")
    out["largest"] = {"accuracy": base["accuracy"], "energy_uj": base["energy_uj"]}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
