"""Benchmark: CPU latency predictor accuracy on held-out sub-networks of the embedded MiniLM.

Fits the predictor (`evosearch.latency.calibrate`) on MiniLM-L6-H384 for this machine, then
measures N held-out random sub-networks (per layer: heads uniform 1..12, FFN neurons uniform
64..1536, bits 8 or 32 with equal chance, span None/8/16/32/64; 8-bit layers run int8 dynamic
quantization where the table says it is faster), interleaved in passes; reports MAPE and
Spearman of predicted vs measured latency for both prediction methods, the noise floor (even vs
odd passes: two independent measurements of the same models), the query time, and the int8 vs
float latency of the full MiniLM. Writes results/bench/latency_predictor.json.

    python scripts/bench_latency_predictor.py [--n 40] [--threads 1] [--seq-len 32] [--statistic min]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from evosearch.latency import calibrate, machine_id, mape, measure_subnet, spearman, validate
from evosearch.supernet import SubnetConfig, load_pretrained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="held-out sub-networks (>= 30)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--statistic", default="min", choices=("min", "median", "mean", "q1"))
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4, help="interleaved validation passes")
    parser.add_argument("--out", default="results/bench/latency_predictor.json")
    args = parser.parse_args()

    supernet, _ = load_pretrained()
    arch = supernet.arch
    print(f"MiniLM: {arch.num_layers} layers, H={arch.hidden_size}, {arch.block_heads[0]} heads, FFN {arch.block_ffn[0]}")
    print(f"machine: {machine_id(args.threads)}; load average at start: {os.getloadavg()}")

    start = time.perf_counter()
    predictor = calibrate(
        supernet, batch_size=args.batch_size, seq_len=args.seq_len, threads=args.threads, repeats=args.repeats,
        statistic=args.statistic, seed=0,
    )
    calibration_s = time.perf_counter() - start
    print(f"calibration: {calibration_s:.1f} s; correction a*raw+b = {predictor.table_fit}; "
          f"calibration-set fit MAPE {predictor.calibration['fit_mape_percent']}")

    start = time.perf_counter()
    result = validate(predictor, supernet, args.n, repeats=args.repeats, rounds=args.rounds, seed=12345)
    validation_s = time.perf_counter() - start
    configs = [SubnetConfig.from_dict(c) for c in result.configs]
    regression = [predictor.predict(c, method="regression") for c in configs]
    t0 = time.perf_counter()
    for _ in range(20):
        for c in configs:
            predictor.predict(c)
    query_us = (time.perf_counter() - t0) / (20 * len(configs)) * 1e6

    full = SubnetConfig.largest(arch)
    full8 = SubnetConfig.uniform(arch, 1.0, bits=8)
    int8_vs_fp32 = measure_subnet(supernet, full8, int8=True, batch_size=args.batch_size, seq_len=args.seq_len,
                                  repeats=100, warmup=10, threads=args.threads)
    int8_layers = sum(c.bits <= 8 for cfg in configs for c in cfg.layers)
    report = {
        "model": "MiniLM-L6-H384 (embedded default)",
        "machine": predictor.machine,
        "load_average_at_end": os.getloadavg(),
        "batch_size": args.batch_size,
        "seq_len": args.seq_len,
        "statistic": args.statistic,
        "repeats_per_pass": args.repeats,
        "validation_passes": args.rounds,
        "sampler": "per layer: heads U[1,12], ffn U[64,1536], bits {8,32}, span {None,8,16,32,64}; seed 12345 (calibration seed 0)",
        "held_out": args.n,
        "int8_layer_share": int8_layers / (len(configs) * arch.num_layers),
        "calibration_seconds": calibration_s,
        "validation_seconds": validation_s,
        "query_microseconds": query_us,
        "table": {"mape_percent": result.mape, "spearman": result.spearman},
        "regression": {"mape_percent": mape(regression, result.measured_ms), "spearman": spearman(regression, result.measured_ms)},
        "noise_floor": {"mape_percent": result.noise_mape, "spearman": result.noise_spearman,
                        "what": "even-pass vs odd-pass measurement of the same held-out models"},
        "predictor_fit": {"table_fit": predictor.table_fit, "calibration": predictor.calibration},
        "full_minilm": {
            "fp32": int8_vs_fp32.fp32.to_dict(),
            "int8_dynamic": int8_vs_fp32.int8.to_dict(),
            "speedup_median": int8_vs_fp32.int8_speedup,
            "speedup_min": int8_vs_fp32.fp32.min_ms / int8_vs_fp32.int8.min_ms,
            "predicted_fp32_ms": predictor.predict(full),
            "predicted_int8_ms": predictor.predict(full8),
        },
        "validation": result.to_dict(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))

    print(f"\nheld-out sub-networks: {args.n} (statistic {args.statistic}, {args.rounds} interleaved passes x {args.repeats} runs, "
          f"{torch.get_num_threads() if args.threads is None else args.threads} thread(s))")
    print(f"{'':<22}{'MAPE %':>8}{'Spearman':>10}")
    print(f"{'table (default)':<22}{result.mape:>8.2f}{result.spearman:>10.3f}")
    print(f"{'regression':<22}{report['regression']['mape_percent']:>8.2f}{report['regression']['spearman']:>10.3f}")
    print(f"{'noise floor':<22}{result.noise_mape:>8.2f}{result.noise_spearman:>10.3f}")
    print(f"query time: {query_us:.1f} us per sub-network; calibration {calibration_s:.0f} s, validation {validation_s:.0f} s")
    f, q = int8_vs_fp32.fp32, int8_vs_fp32.int8
    print(f"full MiniLM seq {args.seq_len} batch {args.batch_size}: fp32 median {f.median_ms:.2f} ms (IQR {f.iqr_ms:.2f}, min {f.min_ms:.2f}); "
          f"int8 dynamic median {q.median_ms:.2f} ms (IQR {q.iqr_ms:.2f}, min {q.min_ms:.2f}); "
          f"speed-up {int8_vs_fp32.int8_speedup:.2f}x (median), {report['full_minilm']['speedup_min']:.2f}x (min)")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
