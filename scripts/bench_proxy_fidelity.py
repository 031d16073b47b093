#!/usr/bin/env python
"""Does the supernet rank sub-networks the way they rank after being fine-tuned on their own?

The question reviewers ask of every weight-sharing method. ``--n`` sub-networks (default 24)
are spread over the whole space the supernet was trained for, from the smallest to the largest:
sub-network k keeps about ``f_k`` of every layer's heads and neurons, ``f_k`` going from the
space's minimum width to 1 in equal steps, each layer jittered by one choice, with bit widths,
spans and embedding bits drawn from the trained choices (a fixed seed list, so every run
compares the same sub-networks). For each:

* the supernet's estimate: final-exit accuracy on the whole dev set (no early exit);
* the same after ``evosearch finetune`` (distillation from the largest sub-network,
  quantization-aware at its bit widths) for ``--steps`` steps of batch 32;
* MACs, parameters and P-BERT's ICCR, the proxies a search could use instead.

Statistics: Kendall tau and Spearman of each score against the fine-tuned accuracy, with 95 %
bootstrap intervals (``--bootstrap`` resamples of the sub-networks); the mean accuracy change;
and how many members of the accuracy-vs-MACs Pareto front of the estimates stay on the front of
the fine-tuned accuracies. Goal (issue 14): Kendall tau >= 0.7 for the supernet's estimate.

    python scripts/bench_proxy_fidelity.py --supernet results/supernet-minilm-movie --threads 1

Writes results/bench/proxy_fidelity.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path


def spread_configs(arch, bounds: dict, n: int, seed: int):
    """``n`` sub-networks from the smallest to the largest width the supernet was trained for."""
    from evosearch.specs import LayerConfig, SubnetConfig

    rng = random.Random(seed)
    low = min(bounds.get("min_head_fraction", 0.25), bounds.get("min_ffn_fraction", 0.25))
    bits = [b for b in bounds.get("bits", [32])]
    spans = list(bounds.get("spans", [None]))
    embedding_bits = list(bounds.get("embedding_bits", [32]))
    configs = []
    for k in range(n):
        fraction = low + (1 - low) * k / max(n - 1, 1)
        layers = []
        for i in range(arch.num_layers):
            heads, ffn = arch.heads_of_layer(i), arch.ffn_of_layer(i)
            jitter = rng.choice([-1, 0, 1]) / 8
            f = min(1.0, max(low, fraction + jitter))
            layers.append(LayerConfig(max(math.ceil(heads * bounds.get("min_head_fraction", low)), round(heads * f)),
                                      max(math.ceil(ffn * bounds.get("min_ffn_fraction", low)), round(ffn * f)),
                                      32 if k == n - 1 else rng.choice(bits), None if k == n - 1 else rng.choice(spans)))
        configs.append(SubnetConfig(tuple(layers), 32 if k == n - 1 else rng.choice(embedding_bits),
                                    bounds.get("quant", "int")))
    return configs


def bootstrap(x, y, stat, resamples: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    x, y = np.asarray(x), np.asarray(y)
    values = []
    for _ in range(resamples):
        idx = rng.integers(0, len(x), len(x))
        if np.ptp(x[idx]) > 0 and np.ptp(y[idx]) > 0:
            values.append(stat(x[idx], y[idx]))
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--supernet", required=True)
    p.add_argument("--n", type=int, default=24)
    p.add_argument("--steps", type=int, default=300, help="fine-tune steps per sub-network (default 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bootstrap", type=int, default=2000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="results/bench/proxy_fidelity.json")
    args = p.parse_args(argv)

    import numpy as np
    import torch
    from scipy.stats import kendalltau, spearmanr

    from evosearch.hardware import proxies
    from evosearch.training import load_checkpoint
    from evosearch.training.finetune import FinetuneConfig, finetune

    torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.supernet)
    arch = ckpt.supernet.arch
    configs = spread_configs(arch, ckpt.bounds, args.n, args.seed)
    no_exit = [0.0] * (arch.num_layers - 1)
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-fidelity-"))
    started = time.perf_counter()
    try:
        for k, config in enumerate(configs):
            result = finetune(args.supernet, config, no_exit, tmp / f"s{k}",
                              FinetuneConfig(steps=args.steps, seed=args.seed), progress=False)
            rows.append({"k": k, "config": config.to_dict(), "estimate_dev": result.before["validation"],
                         "finetuned_dev": result.after["validation"], "estimate_test": result.before.get("test"),
                         "finetuned_test": result.after.get("test"),
                         "macs": proxies.macs(arch, config, seq_len=32, span_ramp=ckpt.supernet.span_ramp),
                         "params": proxies.parameter_count(arch, config), "iccr": proxies.iccr(arch, config),
                         "seconds": result.seconds})
            print(f"  {k:>2}: estimate {100 * rows[-1]['estimate_dev']:.2f}%  fine-tuned "
                  f"{100 * rows[-1]['finetuned_dev']:.2f}%  MACs {rows[-1]['macs']:.3g}  ({result.seconds:.0f} s)",
                  flush=True)
            shutil.rmtree(tmp / f"s{k}", ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    tuned = [r["finetuned_dev"] for r in rows]
    table = {}
    for name, values, sign in (("supernet estimate", [r["estimate_dev"] for r in rows], 1),
                               ("MACs", [r["macs"] for r in rows], 1), ("parameters", [r["params"] for r in rows], 1),
                               ("ICCR", [r["iccr"] for r in rows], -1)):
        signed = [sign * v for v in values]
        table[name] = {
            "kendall_tau": float(kendalltau(signed, tuned).statistic),
            "kendall_tau_95": bootstrap(signed, tuned, lambda a, b: kendalltau(a, b).statistic, args.bootstrap, args.seed),
            "spearman": float(spearmanr(signed, tuned).statistic),
            "spearman_95": bootstrap(signed, tuned, lambda a, b: spearmanr(a, b).statistic, args.bootstrap, args.seed),
        }
    shift = float(np.mean([r["finetuned_dev"] - r["estimate_dev"] for r in rows]))
    macs = np.array([r["macs"] for r in rows])

    def front(acc):
        acc = np.asarray(acc)
        return {i for i in range(len(acc)) if not any((macs[j] <= macs[i] and acc[j] >= acc[i])
                                                      and (macs[j] < macs[i] or acc[j] > acc[i]) for j in range(len(acc)))}

    before_front, after_front = front([r["estimate_dev"] for r in rows]), front(tuned)
    summary = {"n": len(rows), "steps": args.steps, "mean_shift_pt": 100 * shift, "table": table,
               "front_before": sorted(before_front), "front_after": sorted(after_front),
               "front_kept": len(before_front & after_front), "seconds": round(time.perf_counter() - started)}
    print(f"\n{len(rows)} sub-networks, fine-tuned {args.steps} steps each; rank correlation with the fine-tuned dev "
          "accuracy (95% bootstrap interval):")
    for name, t in table.items():
        print(f"  {name:<18} Kendall tau {t['kendall_tau']:+.3f} [{t['kendall_tau_95'][0]:+.3f}, "
              f"{t['kendall_tau_95'][1]:+.3f}]   Spearman {t['spearman']:+.3f} [{t['spearman_95'][0]:+.3f}, "
              f"{t['spearman_95'][1]:+.3f}]")
    print(f"mean accuracy change from fine-tuning: {100 * shift:+.2f} pt; accuracy-vs-MACs front: "
          f"{summary['front_kept']} of {len(before_front)} members stay on it after fine-tuning")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
