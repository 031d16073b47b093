#!/usr/bin/env python
"""Which torch thread setting should evosearch use by default, on an idle and on a busy machine?

Times the supernet's evaluation (the search's inner loop: a sub-network over dev batches) in a
fresh process per setting, because OpenMP reads its environment once:

* ``default``: torch's own thread count (one per core);
* ``1 thread``: ``torch.set_num_threads(1)``;
* ``default + PASSIVE``: torch's default with ``OMP_WAIT_POLICY=PASSIVE`` (idle OpenMP threads
  sleep instead of spinning, so they do not steal the core another process needs).

Each runs on an idle machine and on a busy one (``--busy N`` processes spinning on the CPU in the
background, like a second job on a shared 2-core machine). Prints sentences per second.

    python scripts/bench_threads.py --supernet results/supernet-minilm-movie

Writes results/bench/threads.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

WORKER = r"""
import sys, time, torch
from evosearch.search import ObjectiveSet, SearchSpace
from evosearch.search.context import SearchContext
from evosearch.supernet import SubnetConfig, collect_exit_logits
threads = int(sys.argv[2])
if threads:
    torch.set_num_threads(threads)
ctx = SearchContext.build(sys.argv[1], SearchSpace.load("edgebert"), ObjectiveSet.load("edgebert-energy"), dev_subset=int(sys.argv[3]))
sn, batches = ctx.evaluator.supernet, ctx.evaluator.batches
configs = [SubnetConfig.uniform(sn.arch, f) for f in (1.0, 0.5)]
collect_exit_logits(sn, batches[:2], configs[0])
start = time.perf_counter(); n = 0
for _ in range(int(sys.argv[4])):
    for c in configs:
        collect_exit_logits(sn, batches, c); n += ctx.evaluator.num_examples
print(n / (time.perf_counter() - start), torch.get_num_threads())
"""


def spin(stop_after: float):
    end = time.time() + stop_after
    x = 0
    while time.time() < end:
        x += 1


def measure(supernet, threads: int, passive: bool, sentences: int, repeats: int) -> tuple[float, int]:
    env = {**os.environ}
    if passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    else:
        env.pop("OMP_WAIT_POLICY", None)
    out = subprocess.run([sys.executable, "-c", WORKER, supernet, str(threads), str(sentences), str(repeats)],
                         env=env, capture_output=True, text=True, check=True)
    rate, used = out.stdout.split()
    return float(rate), int(used)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--supernet", required=True)
    p.add_argument("--sentences", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--busy", type=int, default=1, help="spinning background processes for the busy case (default 1)")
    p.add_argument("--out", default="results/bench/threads.json")
    args = p.parse_args(argv)
    settings = {"default": (0, False), "1 thread": (1, False), "default + PASSIVE": (0, True)}
    results = {}
    for load in ("idle", "busy"):
        spinners = []
        if load == "busy":
            spinners = [multiprocessing.Process(target=spin, args=(3600,)) for _ in range(args.busy)]
            for s in spinners:
                s.start()
        try:
            for name, (threads, passive) in settings.items():
                rate, used = measure(args.supernet, threads, passive, args.sentences, args.repeats)
                results[f"{load}: {name}"] = {"sentences_per_s": rate, "threads": used, "load": load}
                print(f"{load:<5} {name:<20} {rate:8.1f} sentences/s ({used} threads)", flush=True)
        finally:
            for s in spinners:
                s.terminate()
    out = {"cores": os.cpu_count(), "busy_processes": args.busy, "results": results,
           "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
