"""Benchmark: accuracy of the CPU latency model of the ONNX Runtime deployment, on held-out sub-networks of the embedded MiniLM.

Calibrates the latency model (`evosearch.latency.calibrate`) for MiniLM-L6-H384 on this machine
at ``--threads`` ONNX Runtime threads within ``--budget`` seconds: random sub-networks exported as
`evosearch export` does (ONNX segments in random exit layouts, int8 for layers at <= 8 bits),
sentences of several lengths timed end to end. Then validates it (`evosearch.latency.validate`)
on ``--n`` held-out random sub-networks (another seed; per layer heads and FFN neurons uniform
down to 10 % of the layer, bits 8 or 32, random exit thresholds): each is exported and
``--sentences`` random sentences of random lengths (4..64 tokens) run one at a time with early
exit, twice; the mean per-sentence time of the first pass is compared with the model's prediction
for the same lengths and exits. Reports MAPE and Spearman of predicted vs measured, the noise
floor (the second pass against the first: what no predictor can beat on this machine), the
calibration and validation time and the query time of a prediction.

Also times the full MiniLM at batch 1 on one random sentence of ``--seq-len`` tokens, full depth
(no early exit), fastest of ``--repeats`` runs: torch fp32 (the extracted full model, final exit
only), and ONNX Runtime fp32 and int8 (the largest sub-network with all layers at 8 bits,
exported with `export_onnx` with int8 off and on, timed with `time_full_depth`), next to the
model's predictions for them.

Writes results/bench/latency_predictor.json (``--out``).

    python scripts/bench_latency_predictor.py [--n 30] [--threads 1] [--budget 300] [--seq-len 32]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path


class TorchRunner:
    """The extracted full model in torch, with :class:`OnnxRunner`'s ``predict`` signature (for
    :func:`time_full_depth`): prepared weights, every layer, the final exit's logits."""

    def __init__(self, model):
        import torch

        self.torch, self.model = torch, model.eval()
        with torch.inference_mode():
            self.weights = model.subnet_weights()

    def predict(self, ids, mask=None, types=None, early_exit=False):
        torch = self.torch
        with torch.inference_mode():
            ids_t = torch.as_tensor(ids)
            mask_t = torch.ones_like(ids_t) if mask is None else torch.as_tensor(mask)
            types_t = None if types is None else torch.as_tensor(types)
            hidden = self.model.hidden_states(ids_t, mask_t, types_t, None, False, self.weights)
            logits = self.model.exit_logits_at(self.model.arch.num_layers - 1, hidden[-1], mask_t)
        return logits.argmax(-1).numpy(), None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=30, help="held-out sub-networks (default 30)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op (and torch) threads (default 1)")
    parser.add_argument("--budget", type=float, default=300.0, help="calibration time budget in seconds (default 300)")
    parser.add_argument("--sentences", type=int, default=24, help="random sentences per held-out sub-network (default 24)")
    parser.add_argument("--validation-repeats", type=int, default=3,
                        help="timed runs per validation sentence; the fastest counts (default 3)")
    parser.add_argument("--seq-len", type=int, default=32, help="tokens of the full-MiniLM sentence (default 32)")
    parser.add_argument("--repeats", type=int, default=50, help="timed runs of the full MiniLM; the fastest counts (default 50)")
    parser.add_argument("--out", default="results/bench/latency_predictor.json")
    args = parser.parse_args()

    import numpy as np
    import torch

    from evosearch.deploy.onnx import OnnxRunner, export_onnx
    from evosearch.latency import calibrate, random_sentence, time_full_depth, validate
    from evosearch.supernet import SubnetConfig, extract, load_pretrained

    torch.set_num_threads(args.threads)
    supernet, _ = load_pretrained(num_labels=2)
    arch = supernet.arch
    L = arch.num_layers
    print(f"MiniLM: {L} layers, H={arch.hidden_size}, {arch.block_heads[0]} heads, FFN {arch.block_ffn[0]}; "
          f"load average at start {os.getloadavg()}", flush=True)

    start = time.perf_counter()
    model = calibrate(supernet, threads=args.threads, budget_s=args.budget)
    calibration_s = time.perf_counter() - start
    print(f"calibration: {calibration_s:.1f} s, {model.calibration['subnets']} sub-networks, "
          f"{model.calibration['sentences_timed']} (sub-network, length) timings; "
          f"fit MAPE {model.calibration['fit_mape_percent']:.2f} %", flush=True)

    start = time.perf_counter()
    result = validate(model, supernet, args.n, sentences=args.sentences, repeats=args.validation_repeats,
                      progress=lambda msg: print(f"  {msg}", flush=True))
    validation_s = time.perf_counter() - start

    # query time: one expected_ms over a held-out sentence batch's lengths (full depth)
    configs = [(SubnetConfig.from_dict(c["config"]), c["thresholds"]) for c in result.configs]
    lengths = [int(t) for t in np.random.default_rng(0).integers(4, 65, size=args.sentences)]
    t0 = time.perf_counter()
    for _ in range(20):
        for config, thresholds in configs:
            model.expected_ms(config, thresholds, lengths)
    query_us = (time.perf_counter() - t0) / (20 * max(1, len(configs))) * 1e6

    # the full MiniLM at batch 1, full depth: torch fp32, ONNX Runtime fp32 and int8
    sentence = random_sentence(arch.vocab_size, args.seq_len, np.random.default_rng(args.seq_len))
    no_exit = [0.0] * (L - 1)
    full32 = SubnetConfig.largest(arch).with_layers(bits=32)
    full8 = SubnetConfig.largest(arch).with_layers(bits=8)
    full_ms = {"torch_fp32": time_full_depth(TorchRunner(extract(supernet, full32)), sentence, repeats=args.repeats,
                                             warmup=5)}
    tmp = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    try:
        extracted8 = extract(supernet, full8).eval()
        for name, int8 in (("onnx_fp32", False), ("onnx_int8", True)):
            export_onnx(extracted8, full8, no_exit, tmp / name, max_length=None, int8=int8)
            full_ms[name] = time_full_depth(OnnxRunner(tmp / name, threads=args.threads), sentence,
                                            repeats=args.repeats, warmup=5)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    predicted = {"onnx_fp32": model.sentence_ms(full32, no_exit, args.seq_len),
                 "onnx_int8": model.sentence_ms(full8, no_exit, args.seq_len)}

    report = {
        "model": "MiniLM-L6-H384 (embedded default)",
        "machine": model.machine,
        "load_average_at_end": os.getloadavg(),
        "threads": args.threads,
        "sampler": "per layer heads and ffn uniform down to 10% of the layer, bits {8,32}; exit thresholds "
                   "{0, 0.3, 0.6} nats each; validation seed 12345 (calibration seed 0)",
        "held_out": args.n,
        "sentences_per_subnet": args.sentences,
        "statistic": "mean over sentences of the fastest of --validation-repeats runs",
        "calibration_budget_seconds": args.budget,
        "calibration_seconds": calibration_s,
        "validation_seconds": validation_s,
        "query_microseconds": query_us,
        "latency_model": {"mape_percent": result.mape, "spearman": result.spearman},
        "noise_floor": {"mape_percent": result.noise_mape, "spearman": result.to_dict()["noise_spearman"],
                        "what": "a second pass over the same held-out models and sentences against the first"},
        "calibration": model.calibration,
        "full_minilm": {
            "batch_size": 1, "seq_len": args.seq_len, "repeats": args.repeats, "statistic": "min",
            "measured_ms": full_ms,
            "predicted_ms": predicted,
            "int8_speedup_over_onnx_fp32": full_ms["onnx_fp32"] / full_ms["onnx_int8"],
            "onnx_int8_speedup_over_torch_fp32": full_ms["torch_fp32"] / full_ms["onnx_int8"],
        },
        "validation": result.to_dict(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))

    print(f"\nheld-out sub-networks: {args.n}, {args.sentences} sentences each, {args.threads} thread(s)")
    print(f"{'':<14}{'MAPE %':>8}{'Spearman':>10}")
    print(f"{'latency model':<14}{result.mape:>8.2f}{result.spearman:>10.3f}")
    print(f"{'noise floor':<14}{result.noise_mape:>8.2f}{report['noise_floor']['spearman']:>10.3f}")
    print(f"query time {query_us:.1f} us per prediction; calibration {calibration_s:.0f} s, validation {validation_s:.0f} s")
    print(f"\nfull MiniLM, batch 1, {args.seq_len} tokens, full depth (fastest of {args.repeats}):")
    print(f"{'':<22}{'measured ms':>12}{'predicted ms':>14}")
    for name, label in (("torch_fp32", "torch fp32"), ("onnx_fp32", "ONNX Runtime fp32"), ("onnx_int8", "ONNX Runtime int8")):
        guess = f"{predicted[name]:.3f}" if name in predicted else "-"
        print(f"{label:<22}{full_ms[name]:>12.3f}{guess:>14}")
    print(f"int8 {report['full_minilm']['int8_speedup_over_onnx_fp32']:.2f}x faster than ONNX fp32, "
          f"{report['full_minilm']['onnx_int8_speedup_over_torch_fp32']:.2f}x than torch fp32")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
