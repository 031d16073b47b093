"""Sub-network evaluations per second on dev sentences: sliced vs masked, exit-logit cache on vs off.

1. Sliced vs masked: the same random sub-networks of the search space run over ``--sentences``
   dev sentences with smaller matrices (sliced, what evosearch does) or full-size matrices with
   the dropped heads/neurons zeroed (masked).
2. The exit-logit cache: a population of ``--population`` genomes sharing ``--architectures``
   architectures (they differ only in exit thresholds, as NSGA-II offspring often do) scored by
   the search's :class:`~evosearch.search.Evaluator` with its cache on and off (``lazy=False``:
   every architecture runs all layers and its exit logits are kept; the evaluator's default lazy
   path runs each sentence only to its exit and keeps nothing to reuse).
3. The int8-engine estimate: the sliced sub-networks again in the supernet's float arithmetic
   (``int8_engine=False``), to show what estimating accuracy as the int8 deployment computes it
   costs (the sliced row is in that arithmetic, as searches run).

    python scripts/bench_eval_throughput.py [--supernet CKPT] [--sentences 256] [--threads 1]

Writes results/bench/eval_throughput.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from pathlib import Path

import numpy as np
import torch

from evosearch import data
from evosearch.search import Evaluator, ObjectiveSet, SearchSpace
from evosearch.supernet import collect_exit_logits, load_pretrained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--supernet", help="supernet checkpoint (default: the untrained embedded MiniLM; speed does not depend on training)")
    parser.add_argument("--space", default="edgebert")
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--architectures", type=int, default=8)
    parser.add_argument("--population", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/bench/eval_throughput.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.supernet:
        from evosearch.training import load_checkpoint

        checkpoint = load_checkpoint(args.supernet)
        supernet, tokenizer, bounds, max_length = checkpoint.supernet, checkpoint.tokenizer, checkpoint.bounds, checkpoint.task.get("max_length", 64)
    else:
        from evosearch.training.space import TrainingSpace

        supernet, tokenizer = load_pretrained(num_labels=2)
        bounds, max_length = TrainingSpace().resolve(46).to_dict(), 64
    splits, info = data.load_task("movie-polarity")
    dev = data.tokenize_task(splits, info, tokenizer, max_length)["validation"]
    batches = data.make_eval_batches(dev.select(range(min(args.sentences, len(dev)))), 128, tokenizer.pad_token_id)
    space = SearchSpace.load(args.space).bind(supernet.arch, bounds)
    objectives = ObjectiveSet.load("edgebert-energy")

    rng = random.Random(args.seed)
    architectures = [tuple(int(g) for g in genome) for genome in space.random_genomes(args.architectures, np.random.default_rng(args.seed))]
    # genome positions are the free slots (>= 2 choices), not every slot
    threshold_genes = [(pos, len(space.slots[i].values)) for pos, i in enumerate(space.free)
                       if space.slots[i].gene == "exit_threshold"]
    population = []
    for i in range(args.population):
        genome = list(architectures[i % len(architectures)])
        for pos, choices in threshold_genes:
            genome[pos] = rng.randrange(choices)
        population.append(tuple(genome))

    configs = [space.decode(g)[0] for g in architectures]
    collect_exit_logits(supernet, batches[:1], configs[0])  # warm-up
    timings = {}
    for name, masked, int8_engine in (("sliced", False, True), ("masked", True, True), ("sliced_float", False, False)):
        start = time.perf_counter()
        for config in configs:
            collect_exit_logits(supernet, batches, config, masked=masked, int8_engine=int8_engine)
        timings[name] = len(configs) / (time.perf_counter() - start)
    for name, cache_size in (("cache_on", 512), ("cache_off", 0)):
        # lazy=False: the lazy path (early exit only, the evaluator's default) keeps no exit logits
        evaluator = Evaluator(supernet, batches, space, objectives, cache_size=cache_size, lazy=False)
        start = time.perf_counter()
        for genome in population:
            evaluator.evaluate(genome)
        timings[name] = len(population) / (time.perf_counter() - start)
        timings[f"{name}_model_runs"] = evaluator.forward_calls

    result = {
        "sentences": min(args.sentences, dev.num_rows),
        "space": args.space,
        "architectures": len(architectures),
        "population": len(population),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "evaluations_per_s": {k: round(v, 3) for k, v in timings.items() if not k.endswith("model_runs")},
        "model_runs": {k: v for k, v in timings.items() if k.endswith("model_runs")},
    }
    result["sliced_over_masked"] = round(timings["sliced"] / timings["masked"], 2)
    result["cache_speedup"] = round(timings["cache_on"] / timings["cache_off"], 2)
    result["int8_engine_cost"] = round(timings["sliced_float"] / timings["sliced"], 2)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"{result['sentences']} dev sentences, space {args.space}, {result['torch_threads']} threads")
    print(f"  sliced    {timings['sliced']:7.3f} sub-networks/s")
    print(f"  masked    {timings['masked']:7.3f} sub-networks/s   (sliced {result['sliced_over_masked']}x faster)")
    print(f"  sliced, float arithmetic {timings['sliced_float']:7.3f} sub-networks/s   (the int8-engine estimate takes "
          f"{result['int8_engine_cost']}x as long)")
    print(f"  cache on  {timings['cache_on']:7.3f} evaluations/s ({timings['cache_on_model_runs']} model runs for {len(population)} genomes)")
    print(f"  cache off {timings['cache_off']:7.3f} evaluations/s ({timings['cache_off_model_runs']} model runs; cache {result['cache_speedup']}x faster)")


if __name__ == "__main__":
    main()
