#!/usr/bin/env python
"""What the CPU latency objective predicts against what the shipped deployment measures.

For every member of a search run's front (the front `evosearch pick` offers), the member is
exported as `evosearch export` does (ONNX Runtime, int8 for layers at <= 8 bits, early exit)
and run one dev sentence at a time; its mean latency is compared with the latency model's
prediction for the same sentences and exits. The uncompressed model (the largest sub-network at
32 bits, no early exit) is timed on torch fp32 and on ONNX Runtime fp32, and the speed-up of the
cheapest member within 1 accuracy point of it is reported against both. Accuracy of each export
is checked against the supernet's estimate on the full dev set (in the engine's int8 arithmetic,
as the search estimates it), with the share of sentences whose prediction agrees (int8 agreement).

All models are exported first and then timed in rounds, every model once per round, so that a
machine whose speed drifts during the benchmark affects all of them alike. ``--recalibrate``
fits a fresh latency model just before the timing and predicts with it: the cached model was
calibrated at another time, and on a shared machine the speed of the same model drifts between
hours by about as much as the goal allows (both predictions are reported).

    python scripts/bench_deploy.py --run results/quickstart/search --threads 1 --recalibrate 90

Writes results/bench/deploy-<label>.json. Goals (issue 11): MAPE <= 10 % and Spearman >= 0.9 of
predicted against measured latency over the front; >= 4x speed-up against torch fp32.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="search run folder (with a final front)")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime and torch threads (default 1)")
    p.add_argument("--sentences", type=int, default=300, help="dev sentences timed per model (default 300)")
    p.add_argument("--repeats", type=int, default=3,
                   help="timed rounds over all models; each sentence's fastest counts (default 3)")
    p.add_argument("--recalibrate", type=float, default=0, metavar="SECONDS",
                   help="also fit a fresh latency model for SECONDS just before timing, and predict with it "
                        "(the cached model's predictions are reported beside it); default 0: the cached model only")
    p.add_argument("--max-drop", type=float, default=1.0, help="accuracy points for the pick (default 1)")
    p.add_argument("--label", default=None, help="name of the output JSON (default: the run folder's name)")
    p.add_argument("--out", default="results/bench")
    args = p.parse_args(argv)

    import numpy as np
    import torch

    from evosearch.data import load_task, make_eval_batches, tokenize_task
    from evosearch.deploy import Deployment, export, load_deployed
    from evosearch.deploy.verify import run_sentences, sentences
    from evosearch.latency import calibrate, ensure_latency_model, mape, spearman
    from evosearch.report import load_run, pick
    from evosearch.supernet import SubnetConfig, collect_exit_logits, early_exit
    from evosearch.training import load_checkpoint

    torch.set_num_threads(args.threads)
    run = load_run(args.run)
    ckpt = load_checkpoint(run.supernet_path())
    task = dict(ckpt.task)
    splits, info = load_task(run.config.get("task") or task["spec"], seed=int(task.get("seed", 0)))
    dev = tokenize_task(splits, info, ckpt.tokenizer, max_length=int(task["max_length"]))["validation"]
    batches = make_eval_batches(dev, 64, ckpt.tokenizer.pad_token_id or 0)
    labels = np.concatenate([b["labels"].numpy() for b in batches])
    rows = sentences(batches)
    timed = rows[: args.sentences]
    lengths = [ids.shape[1] for ids, _ in timed]
    cached = ensure_latency_model(ckpt.supernet, threads=args.threads)
    L = ckpt.supernet.arch.num_layers
    tmp = Path(tempfile.mkdtemp(prefix="bench-deploy-"))

    def prepare(cid, config, thresholds, folder, int8=True):
        """Export one model and check its accuracy against the supernet's estimate (untimed)."""
        started = time.perf_counter()
        export(Deployment(config, thresholds, run.supernet_path()), folder, checkpoint=ckpt, int8=int8)
        deployed = load_deployed(folder, threads=args.threads)
        preds, exits, _ = run_sentences(deployed, rows)  # accuracy on the whole dev set
        logits, _ = collect_exit_logits(ckpt.supernet, batches, config, int8_engine=int8)
        est_preds, _ = early_exit(logits, thresholds)
        entry = {
            "id": cid,
            "accuracy_exported": float((preds == labels).mean()),
            "accuracy_supernet": float((est_preds.numpy() == labels).mean()),
            "prediction_agreement": float((preds == est_preds.numpy()).mean()),
            "mean_exit_layer": float((exits + 1).mean()),
            "onnx_bytes": sum(f.stat().st_size for f in (folder / "onnx").glob("*")),
            "int8_layers": sum(l.bits <= 8 for l in config.layers) if int8 else 0,
            "seconds": round(time.perf_counter() - started, 1),
        }
        return entry, (deployed, config, thresholds)

    def time_all(models):
        """Mean per-sentence latency of each model: ``--repeats`` rounds over all models in turn
        (so that a machine that speeds up or slows down during the benchmark touches every model
        alike), each sentence's fastest round counted."""
        best = [np.full(len(timed), np.inf) for _ in models]
        exits = [None] * len(models)
        for deployed, _, _ in models:
            run_sentences(deployed, timed[:10])  # warm-up
        for _ in range(args.repeats):
            for i, (deployed, _, _) in enumerate(models):
                _, exits[i], times = run_sentences(deployed, timed)
                best[i] = np.minimum(best[i], times)
        return [float(b.mean()) for b in best], exits

    print(f"{run.folder}: {len(run.front)} front members on {run.front_dev}; {len(timed)} dev sentences timed, "
          f"{args.repeats} rounds, 1 sentence at a time, {args.threads} thread(s); latency model {cached.source}",
          flush=True)
    try:
        entries, models = [], []
        for cid, row in run.front.iterrows():
            config, thresholds = run.config_of(row)
            entry, model_ = prepare(cid, SubnetConfig.from_dict(config), thresholds, tmp / cid)
            entries.append(entry)
            models.append(model_)
        largest = SubnetConfig.largest(ckpt.supernet.arch)
        entry, model_ = prepare("uncompressed", largest, [0.0] * (L - 1), tmp / "uncompressed", int8=False)
        entries.append(entry)
        models.append(model_)
        fresh = None
        if args.recalibrate:
            print(f"calibrating a fresh latency model ({args.recalibrate:.0f} s) under the benchmark's conditions",
                  flush=True)
            fresh = calibrate(ckpt.supernet, threads=args.threads, budget_s=args.recalibrate)
        measured_ms, timed_exits = time_all(models)
        for entry, (_, config, thresholds), ms, exits in zip(entries, models, measured_ms, timed_exits):
            entry["measured_ms"] = ms
            entry["predicted_ms_cached"] = cached.expected_ms(config, thresholds, lengths, exits)
            entry["predicted_ms"] = (fresh or cached).expected_ms(config, thresholds, lengths, exits)
            print(f"  {entry['id']:>14}: measured {ms:.3f} ms, predicted {entry['predicted_ms']:.3f} ms "
                  f"({100 * (entry['predicted_ms'] / ms - 1):+.1f}%)"
                  + (f" [cached model {entry['predicted_ms_cached']:.3f} ms]" if fresh else "")
                  + f"; accuracy {100 * entry['accuracy_exported']:.2f}% (supernet {100 * entry['accuracy_supernet']:.2f}%), "
                  f"same prediction {100 * entry['prediction_agreement']:.2f}%, mean exit {entry['mean_exit_layer']:.2f}",
                  flush=True)
        members, onnx_fp32 = entries[:-1], entries[-1]
        torch_ms = _torch_latency(ckpt.supernet, timed, args.repeats)
        hf_ms = _transformers_latency(ckpt.meta.get("train_config", {}).get("model"), timed, args.repeats)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    predicted = [m["predicted_ms"] for m in members]
    measured = [m["measured_ms"] for m in members]
    chosen = pick(run, max_drop=args.max_drop)
    pick_entry = next((m for m in members if m["id"] == chosen.candidate_id), None)
    summary = {
        "front_members": len(members),
        "mape_percent": mape(predicted, measured), "spearman": spearman(predicted, measured),
        "latency_model": "fresh" if fresh else "cached",
        "cached_model_mape_percent": mape([m["predicted_ms_cached"] for m in members], measured),
        "cached_model_spearman": spearman([m["predicted_ms_cached"] for m in members], measured),
        "uncompressed": {"torch_fp32_ms": torch_ms, "transformers_fp32_ms": hf_ms, "onnx_fp32_ms": onnx_fp32["measured_ms"],
                         "onnx_fp32_predicted_ms": onnx_fp32["predicted_ms"],
                         "accuracy": onnx_fp32["accuracy_exported"]},
        "pick": chosen.candidate_id, "pick_explanation": chosen.explanation,
        "int8_agreement_min": min(m["prediction_agreement"] for m in members),
        "int8_agreement_mean": float(np.mean([m["prediction_agreement"] for m in members])),
    }
    if pick_entry:
        summary["speedup_vs_torch_fp32"] = torch_ms / pick_entry["measured_ms"]
        summary["speedup_vs_onnx_fp32"] = onnx_fp32["measured_ms"] / pick_entry["measured_ms"]
        if hf_ms is not None:
            summary["speedup_vs_transformers_fp32"] = hf_ms / pick_entry["measured_ms"]
    out = {"run": str(run.folder), "threads": args.threads, "sentences": len(timed), "repeats": args.repeats,
           "latency_model": (fresh or cached).calibration, "cached_latency_model": cached.calibration if fresh else None,
           "summary": summary, "members": members, "uncompressed": onnx_fp32,
           "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    path = Path(args.out) / f"deploy-{args.label or run.folder.name}.json"
    path.write_text(json.dumps(out, indent=1))
    print(f"\npredicted ({summary['latency_model']} latency model) vs measured over the {len(members)}-member front: "
          f"MAPE {summary['mape_percent']:.1f}% (goal <= 10), Spearman {summary['spearman']:.3f} (goal >= 0.9)")
    if fresh:
        print(f"with the cached latency model ({cached.source}): MAPE {summary['cached_model_mape_percent']:.1f}%, "
              f"Spearman {summary['cached_model_spearman']:.3f}")
    print(f"uncompressed: torch fp32 {torch_ms:.3f} ms (our encoder loop), "
          + (f"{hf_ms:.3f} ms (transformers' model), " if hf_ms is not None else "")
          + f"ONNX Runtime fp32 {onnx_fp32['measured_ms']:.3f} ms per sentence")
    if pick_entry:
        print(f"pick {chosen.candidate_id} ({chosen.explanation}): {pick_entry['measured_ms']:.3f} ms: "
              f"{summary['speedup_vs_torch_fp32']:.2f}x faster than torch fp32 (goal >= 4), "
              f"{summary['speedup_vs_onnx_fp32']:.2f}x than ONNX Runtime fp32"
              + (f", {summary['speedup_vs_transformers_fp32']:.2f}x than transformers fp32" if hf_ms is not None else ""))
    print(f"int8 agreement with the supernet's predictions: min {100 * summary['int8_agreement_min']:.2f}%, "
          f"mean {100 * summary['int8_agreement_mean']:.2f}%")
    print(f"wrote {path}")
    return 0


def _torch_latency(supernet, rows, repeats: int) -> float:
    """Mean per-sentence time (fastest of ``repeats``) of the uncompressed model in torch fp32, batch 1."""
    import time

    import numpy as np
    import torch

    weights = supernet.subnet_weights()
    times = []
    with torch.inference_mode():
        for ids, types in rows[:10]:
            supernet(torch.as_tensor(ids), None, torch.as_tensor(types), weights=weights)
        for ids, types in rows:
            ids_t, types_t = torch.as_tensor(ids), torch.as_tensor(types)
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                supernet(ids_t, None, types_t, weights=weights)
                best = min(best, (time.perf_counter() - start) * 1e3)
            times.append(best)
    return float(np.mean(times))


def _transformers_latency(model, rows, repeats: int) -> float | None:
    """The same for the pretrained model as a user runs it with transformers (``AutoModel``, fp32, batch 1):
    the uncompressed baseline without evosearch's code. None when the model folder is not at hand."""
    import numpy as np
    import torch
    from transformers import AutoModel

    from evosearch.supernet.loading import default_model_path

    path = Path(model) if model and Path(model).is_dir() else default_model_path()
    if not path.is_dir():
        return None
    hf = AutoModel.from_pretrained(path).eval()
    times = []
    with torch.inference_mode():
        for ids, types in rows[:10]:
            hf(input_ids=torch.as_tensor(ids), token_type_ids=torch.as_tensor(types))
        for ids, types in rows:
            ids_t, types_t = torch.as_tensor(ids), torch.as_tensor(types)
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                hf(input_ids=ids_t, token_type_ids=types_t)
                best = min(best, (time.perf_counter() - start) * 1e3)
            times.append(best)
    return float(np.mean(times))


if __name__ == "__main__":
    sys.exit(main())
