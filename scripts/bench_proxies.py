"""Benchmark: which cheap proxies can be trusted? Rank correlation of each proxy with measured CPU
latency and with simulated accelerator energy, over random sub-networks of the embedded MiniLM.

Proxies (from `evosearch.hardware`): P-BERT's ICCR (higher = "more compressed", so a good proxy
has a *negative* correlation with cost), MACs (FLOPs = 2 x MACs: same ranks), parameter count,
model size in bytes at the chosen bit widths, and the accelerator model's own latency; plus this
machine's calibrated CPU latency predictor (`evosearch calibrate`) when one is in the cache.

Targets:
* CPU latency, int8 deployment: the extracted sub-network, layers at <= 8 bits with int8 dynamic
  quantization (the deployment the search scores), measured interleaved, statistic "min";
* CPU latency, float: the same sub-networks with all linears in float (bits ignored);
* simulated energy (uJ) on `edgebert-12nm` and `generic-45nm` (`evosearch.hardware.estimate`).

Sub-networks: per layer heads U[1,12], FFN U[64,1536], bits {4, 8, 32}, span {None,8,16,32,64}.
Writes results/bench/proxies.json.

    python scripts/bench_proxies.py [--n 40] [--threads 1] [--seq-len 32]
"""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path

from evosearch.hardware import estimate, iccr, macs, model_size_bytes, parameter_count
from evosearch.latency import (
    LatencyError,
    inference_model,
    load_predictor,
    machine_id,
    measure_interleaved,
    random_subnet,
    spearman,
)
from evosearch.supernet import load_pretrained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--out", default="results/bench/proxies.json")
    args = parser.parse_args()

    supernet, _ = load_pretrained()
    arch = supernet.arch
    rng = random.Random(args.seed)
    configs = [random_subnet(arch, rng, bits=(4, 8, 32)) for _ in range(args.n)]
    print(f"machine: {machine_id(args.threads)}; load average {os.getloadavg()}")

    def measure(int8: bool) -> list[float]:
        models = [inference_model(supernet, c, int8=int8) for c in configs]
        every, _, _ = measure_interleaved(models, seq_len=args.seq_len, rounds=args.rounds, repeats=args.repeats,
                                          warmup=2, threads=args.threads)
        return [m.min_ms for m in every]

    targets = {
        "cpu_latency_int8_deploy": measure(True),
        "cpu_latency_float": measure(False),
        "energy_edgebert_12nm": [estimate(arch, c, "edgebert-12nm", seq_len=args.seq_len, span_ramp=supernet.span_ramp).energy_uj for c in configs],
        "energy_generic_45nm": [estimate(arch, c, "generic-45nm", seq_len=args.seq_len, span_ramp=supernet.span_ramp).energy_uj for c in configs],
    }
    proxies = {
        "ICCR (higher = cheaper)": [iccr(arch, c) for c in configs],
        "MACs / FLOPs": [macs(arch, c, seq_len=args.seq_len, span_ramp=supernet.span_ramp) for c in configs],
        "parameters": [parameter_count(arch, c) for c in configs],
        "model size (bytes)": [model_size_bytes(arch, c) for c in configs],
        "accelerator latency (edgebert-12nm)": [
            estimate(arch, c, "edgebert-12nm", seq_len=args.seq_len, span_ramp=supernet.span_ramp).latency_ms for c in configs
        ],
    }
    try:
        predictor = load_predictor(arch, seq_len=args.seq_len, threads=args.threads)
    except LatencyError as err:
        print(f"(no CPU latency predictor row: {err})")
    else:
        proxies["CPU latency predictor (calibrated)"] = [predictor.predict(c) for c in configs]

    table = {name: {t: spearman(values, target) for t, target in targets.items()} for name, values in proxies.items()}
    header = ["CPU lat int8", "CPU lat fp32", "E edgebert", "E 45nm"]
    width = max(map(len, table)) + 2
    print(f"\nSpearman rank correlation over {args.n} random MiniLM sub-networks (seq {args.seq_len}, batch 1, "
          f"{args.threads} thread(s)); ICCR: negative = good")
    print(f"{'proxy':<{width}}" + "".join(f"{h:>14}" for h in header))
    for name, row in table.items():
        print(f"{name:<{width}}" + "".join(f"{v:>14.3f}" for v in row.values()))
    report = {
        "machine": machine_id(args.threads),
        "n": args.n,
        "seq_len": args.seq_len,
        "seed": args.seed,
        "sampler": "per layer heads U[1,12], ffn U[64,1536], bits {4,8,32}, span {None,8,16,32,64}",
        "cpu_measurement": f"min over {args.rounds} interleaved passes x {args.repeats} runs; int8 dynamic for layers <= 8 bits",
        "spearman": table,
        "targets": targets,
        "proxies": proxies,
        "configs": [c.to_dict() for c in configs],
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
