"""Benchmark: which cheap proxies can be trusted? Rank correlation of each proxy with the measured CPU
latency of the ONNX Runtime deployment and with simulated accelerator energy, over random
sub-networks of the embedded MiniLM.

Proxies (from `evosearch.hardware`): P-BERT's ICCR (higher = "more compressed", so a good proxy
has a *negative* correlation with cost), MACs (FLOPs = 2 x MACs: same ranks), parameter count,
model size in bytes at the chosen bit widths, bytes of the ONNX deployment's weights
(`onnx_size_bytes`), the accelerator model's own latency on `edgebert-12nm`, and this machine's
calibrated CPU latency model (`evosearch.latency.LatencyModel.sentence_ms`; ``--latency-model
FILE``, else the cached one for this machine and thread count, else calibrated now within
``--budget`` seconds and cached, as `evosearch calibrate` would).

Targets:
* CPU latency of the deployment `evosearch export` ships: each sub-network extracted and exported
  with `export_onnx` (ONNX Runtime, int8 for layers at <= 8 bits, float32 else; no early exit, so
  one graph), one random sentence of ``--seq-len`` tokens at batch 1 run through it with
  `time_full_depth` (fastest of ``--repeats`` runs), in ``--rounds`` interleaved passes over all
  sub-networks (fastest pass counts), at ``--threads`` ONNX Runtime threads;
* simulated energy (uJ) on `edgebert-12nm` and `generic-45nm` (`evosearch.hardware.estimate`,
  one sentence of ``--seq-len`` tokens, no early exit).

Sub-networks (`evosearch.latency.random_subnet`): per layer heads and FFN neurons uniform down to
10 % of the layer, bits {4, 8, 32}; no attention spans (ONNX Runtime computes full attention).
Writes results/bench/proxies.json (``--out``).

    python scripts/bench_proxies.py [--n 40] [--threads 1] [--seq-len 32] [--latency-model FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=40, help="random sub-networks (default 40)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (default 1)")
    parser.add_argument("--seq-len", type=int, default=32, help="tokens of the timed sentence (default 32)")
    parser.add_argument("--repeats", type=int, default=10, help="timed runs per pass; the fastest counts (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved passes over the sub-networks (default 3)")
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--latency-model", help="a latency model JSON (`evosearch calibrate --out`); default: this "
                                                "machine's cached one, calibrated now if there is none")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds to calibrate when no latency model is cached (default: evosearch's automatic budget)")
    parser.add_argument("--out", default="results/bench/proxies.json")
    args = parser.parse_args()

    import numpy as np

    from evosearch.deploy.onnx import OnnxRunner, export_onnx
    from evosearch.hardware import (
        estimate,
        iccr,
        macs,
        model_size_bytes,
        onnx_size_bytes,
        parameter_count,
    )
    from evosearch.latency import (
        ensure_latency_model,
        machine_id,
        random_sentence,
        random_subnet,
        spearman,
        time_full_depth,
    )
    from evosearch.supernet import extract, load_pretrained

    supernet, _ = load_pretrained(num_labels=2)
    arch = supernet.arch
    rng = random.Random(args.seed)
    configs = [random_subnet(arch, rng, bits=(4, 8, 32)) for _ in range(args.n)]
    no_exit = [0.0] * (arch.num_layers - 1)
    sentence = random_sentence(arch.vocab_size, args.seq_len, np.random.default_rng(args.seed))
    print(f"machine: {machine_id(args.threads)}; load average {os.getloadavg()}", flush=True)
    latency_model = ensure_latency_model(supernet, threads=args.threads, budget_s=args.budget, path=args.latency_model)

    tmp = Path(tempfile.mkdtemp(prefix="bench-proxies-"))
    try:
        runners = []
        for i, config in enumerate(configs):
            export_onnx(extract(supernet, config).eval(), config, no_exit, tmp / f"s{i}", max_length=None, int8=True)
            runners.append(OnnxRunner(tmp / f"s{i}", threads=args.threads))
        print(f"exported {len(runners)} sub-networks", flush=True)
        best = [float("inf")] * len(configs)
        for r in range(args.rounds):
            for i, runner in enumerate(runners):
                best[i] = min(best[i], time_full_depth(runner, sentence, repeats=args.repeats, warmup=2))
            print(f"  pass {r + 1}/{args.rounds} done", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def hardware(target: str):
        return [estimate(arch, c, target, seq_len=args.seq_len, span_ramp=supernet.span_ramp) for c in configs]

    edgebert, generic = hardware("edgebert-12nm"), hardware("generic-45nm")
    targets = {
        "cpu_latency_onnx_deploy": best,
        "energy_edgebert_12nm": [c.energy_uj for c in edgebert],
        "energy_generic_45nm": [c.energy_uj for c in generic],
    }
    proxies = {
        "ICCR (higher = cheaper)": [iccr(arch, c) for c in configs],
        "MACs / FLOPs": [macs(arch, c, seq_len=args.seq_len, span_ramp=supernet.span_ramp) for c in configs],
        "parameters": [parameter_count(arch, c) for c in configs],
        "model size (bytes)": [model_size_bytes(arch, c) for c in configs],
        "ONNX size (bytes)": [onnx_size_bytes(arch, c) for c in configs],
        "accelerator latency (edgebert-12nm)": [c.latency_ms for c in edgebert],
        "CPU latency model (calibrated)": [latency_model.sentence_ms(c, no_exit, args.seq_len) for c in configs],
    }

    table = {name: {t: spearman(values, target) for t, target in targets.items()} for name, values in proxies.items()}
    header = ["CPU lat ONNX", "E edgebert", "E 45nm"]
    width = max(map(len, table)) + 2
    print(f"\nSpearman rank correlation over {args.n} random MiniLM sub-networks (seq {args.seq_len}, batch 1, "
          f"{args.threads} thread(s)); ICCR: negative = good")
    print(f"{'proxy':<{width}}" + "".join(f"{h:>14}" for h in header))
    for name, row in table.items():
        print(f"{name:<{width}}" + "".join(f"{v:>14.3f}" for v in row.values()))
    report = {
        "machine": machine_id(args.threads),
        "load_average_at_end": os.getloadavg(),
        "n": args.n,
        "seq_len": args.seq_len,
        "seed": args.seed,
        "sampler": "evosearch.latency.random_subnet: per layer heads and ffn uniform down to 10% of the layer, "
                   "bits {4,8,32}, no spans",
        "cpu_measurement": f"ONNX Runtime deployment (export_onnx, int8 for layers <= 8 bits, no early exit), batch 1, "
                           f"{args.threads} thread(s); fastest of {args.rounds} interleaved passes x {args.repeats} runs",
        "latency_model": {"source": latency_model.source, "calibration": latency_model.calibration},
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
