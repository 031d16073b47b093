"""Compression results of a search: the largest reductions at <= 1 pt and <= 3 pt accuracy drop.

For every member of a run's front (`evosearch.report.load_run(run).front`: the search's final
front re-scored on the full dev set, without the members the full dev set shows dominated; the
front `evosearch pick` offers) and for the uncompressed fp32 model (largest sub-network, 32-bit,
no early exit), on the whole dev set (the run's full evaluator, `SearchContext.of_run`):
accuracy with the member's exit thresholds, simulated energy and latency on the run's hardware
target (``--target`` overrides; expectations over the measured exits of the dev sentences; on a
supernet trained with learned spans, each layer priced at the largest learned span of the heads
it keeps, as the search prices it),
model size at the chosen bit widths with the exit ramps the deployment keeps, and the CPU latency
of the ONNX Runtime deployment `evosearch export` writes (early exit, int8 for layers at <= 8
bits), *predicted* by this machine's calibrated latency model (`evosearch.latency`,
``--latency-model`` or the run's ``cpu_predictor``, else the cached one, calibrated now if there is
none): the mean over the dev sentences of each sentence's time at its own length and exit. Then,
for each accuracy budget, the largest reduction factor of each cost among members within the
budget, next to published anchors.

Measured (not predicted) ONNX Runtime latency of the front, and its agreement with these
predictions, is what scripts/bench_deploy.py reports.

    python scripts/bench_compression.py --run results/quickstart/search [--threads 1]

Writes results/bench/compression-<run parent>-<run name>.json (``--out``) and prints a table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ANCHORS = {
    "EdgeBERT (Tambe et al., MICRO 2021)": "up to 7x lower energy from early exit (vs no early exit), ALBERT on GLUE",
    "P-BERT (ICLR 2025 submission)": ">= 60% complexity reduction (its own ICCR metric)",
    "whittle (Klein et al., 2023)": "about half the parameters at < 5% accuracy drop",
}
COSTS = ("energy_uj", "latency_ms", "cpu_latency_ms", "model_size_bytes")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a finished search run folder (with final_front.csv)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for evaluation and ONNX Runtime threads of the predicted deployment "
                             "(default: the run's cpu_threads, else 1)")
    parser.add_argument("--latency-model", default=None,
                        help="a latency model JSON (default: the run's cpu_predictor, else this machine's cached one)")
    parser.add_argument("--target", default=None, help="hardware target for energy_uj / latency_ms (default: the run's)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    import torch

    from evosearch.hardware import proxies
    from evosearch.latency import ensure_latency_model
    from evosearch.metrics import METRICS, MetricInputs
    from evosearch.report import load_run
    from evosearch.search.context import SearchContext
    from evosearch.supernet import SubnetConfig, early_exit

    run = load_run(args.run)
    config = dict(run.config)
    config["supernet"] = str(run.supernet_path())  # relative to the run folder when not to the working directory
    context = SearchContext.of_run(config, where=str(run.folder / "config.yaml"))
    threads = args.threads or context.objectives.cpu_threads
    torch.set_num_threads(threads)
    evaluator = context.full_evaluator
    supernet = context.checkpoint.supernet
    arch = supernet.arch
    target = args.target or context.objectives.target
    latency_model = ensure_latency_model(supernet, threads=threads,
                                         path=args.latency_model or context.objectives.cpu_predictor)
    no_exit = [0.0] * max(1, arch.num_layers - 1)

    def score(name: str, config: SubnetConfig, thresholds) -> dict:
        thresholds = [float(t) for t in thresholds]
        metrics, _ = evaluator.metrics(config, thresholds)  # the run's metrics on the full dev set
        logits, _ = evaluator.exit_logits(config)  # cached by the call above
        preds, exit_layer = early_exit(logits, thresholds)
        exits = exit_layer.tolist()
        priced = supernet.with_learned_spans(config)  # learned spans priced per layer, as the search does
        inputs = MetricInputs(arch, priced, thresholds, evaluator.workload.with_exits(exits),
                              float((preds == evaluator.labels).float().mean()), None, target, supernet.span_ramp,
                              latency_model)
        row = {"name": name, "accuracy": inputs.accuracy, "mean_exit_layer": METRICS["mean_exit_layer"].compute(inputs)}
        if target:
            row.update({k: float(METRICS[k].compute(inputs)) for k in ("energy_uj", "latency_ms")})
        row["model_size_bytes"] = float(proxies.model_size_bytes(arch, config, exits=inputs.exits))
        row["cpu_latency_ms"] = latency_model.expected_ms(config, thresholds, inputs.workload.lengths, exits)
        row["exits"] = inputs.exits
        row["run_metrics"] = {k: v for k, v in metrics.items() if not k.startswith("exit_share_")}
        print(f"  {name:<12} accuracy {row['accuracy']:.4f}  "
              + "  ".join(f"{k} {row[k]:.4g}" for k in COSTS if k in row), flush=True)
        return row

    print(f"scoring on {evaluator.num_examples} dev sentences ({target or 'no'} target; CPU latency predicted by "
          f"{latency_model.source or 'a fresh calibration'}, {threads} thread(s))", flush=True)
    base = score("uncompressed", SubnetConfig.largest(arch).with_layers(bits=32), no_exit)
    members = [score(str(cid), SubnetConfig.from_dict(run.config_of(row)[0]), run.config_of(row)[1])
               for cid, row in run.front.iterrows()]

    budgets = {}
    for drop in (0.01, 0.03):
        within = [m for m in members if m["accuracy"] >= base["accuracy"] - drop - 1e-9]
        budgets[f"<= {round(drop * 100)} pt"] = {
            cost: (max((round(base[cost] / m[cost], 2), m["name"]) for m in within) if within and cost in base else None)
            for cost in COSTS
        }
    result = {
        "run": str(run.folder),
        "front_source": (f"evosearch.report.load_run(run).front (the run judged it on {run.front_dev}); "
                         "re-scored here on the full dev set"),
        "machine": latency_model.machine,
        "threads": threads,
        "target": target,
        "dev_examples": evaluator.num_examples,
        "cpu_latency": "predicted per-sentence latency of the ONNX Runtime deployment with early exit "
                       "(evosearch.latency.LatencyModel.expected_ms over the dev sentences and their exits)",
        "latency_model": {"source": latency_model.source, "calibration": latency_model.calibration},
        "uncompressed": base,
        "front": members,
        "largest_reduction": {b: {c: (v[0] if v else None) for c, v in d.items()} for b, d in budgets.items()},
        "achieved_by": {b: {c: (v[1] if v else None) for c, v in d.items()} for b, d in budgets.items()},
        "anchors": ANCHORS,
    }
    out = Path(args.out or f"results/bench/compression-{run.folder.resolve().parent.name}-{run.folder.name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nlargest reduction vs the uncompressed fp32 model (accuracy {base['accuracy']:.4f}):")
    print(f"{'accuracy drop':<14}" + "".join(f"{c:>18}" for c in COSTS))
    for budget, reductions in result["largest_reduction"].items():
        print(f"{budget:<14}" + "".join(f"{(f'{v}x' if v else '-'):>18}" for v in reductions.values()))
    print("published anchors: " + "; ".join(f"{k}: {v}" for k, v in ANCHORS.items()))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
