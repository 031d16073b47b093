"""Sentences per second evaluating movie-polarity dev sentences with the supernet (MiniLM).

Compares the full network with a half-size sub-network (half the heads and FFN neurons in every
layer) run two ways: sliced (smaller matrices, what evosearch does) and masked (full-size compute
with the dropped heads and neurons zeroed, what head-mask implementations do). Runs are
interleaved and repeated; the median is reported.

    python scripts/bench_supernet_throughput.py [--sentences 1000] [--repeats 3] [--supernet CKPT]

Writes results/bench/supernet_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from evosearch import data
from evosearch.supernet import SubnetConfig, collect_exit_logits, load_pretrained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--supernet", help="a trained supernet checkpoint (default: the untrained embedded MiniLM; speed does not depend on training)")
    parser.add_argument("--out", default="results/bench/supernet_throughput.json")
    args = parser.parse_args()

    if args.supernet:
        from evosearch.training import load_checkpoint

        checkpoint = load_checkpoint(args.supernet)
        supernet, tokenizer = checkpoint.supernet, checkpoint.tokenizer
    else:
        supernet, tokenizer = load_pretrained(num_labels=2)
    splits, info = data.load_task("movie-polarity")
    dev = data.tokenize_task(splits, info, tokenizer, args.max_length)["validation"]
    dev = dev.select(range(min(args.sentences, len(dev))))
    batches = data.make_eval_batches(dev, args.batch_size, tokenizer.pad_token_id)
    half = SubnetConfig.uniform(supernet.arch, 0.5)
    runs = {"full": (None, False), "half_sliced": (half, False), "half_masked": (half, True)}

    collect_exit_logits(supernet, batches[:1], half)  # warm-up
    times = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, (config, masked) in runs.items():
            start = time.perf_counter()
            collect_exit_logits(supernet, batches, config, masked=masked)
            times[name].append(time.perf_counter() - start)

    n = len(dev)
    result = {
        "sentences": n,
        "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "sentences_per_s": {name: round(n / statistics.median(t), 1) for name, t in times.items()},
        "seconds_all_repeats": {name: [round(x, 3) for x in t] for name, t in times.items()},
    }
    result["sliced_speedup_over_masked"] = round(statistics.median(times["half_masked"]) / statistics.median(times["half_sliced"]), 2)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"{n} movie-polarity dev sentences, batch {args.batch_size}, {result['torch_threads']} threads (median of {args.repeats})")
    for name, rate in result["sentences_per_s"].items():
        print(f"  {name:<12} {rate:8.1f} sentences/s")
    print(f"  sliced half-size is {result['sliced_speedup_over_masked']}x faster than masked")


if __name__ == "__main__":
    main()
