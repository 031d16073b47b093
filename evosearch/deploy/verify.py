"""Check an export against the supernet it came from; write ``DIR/verification.json``.

* accuracy (with early exit) of the exported model on the task's validation and test splits,
  next to the supernet's estimate by the same computation (the sliced supernet's exit logits
  with the same thresholds on the same batches; must agree within 0.5 points) and the search's
  own number for the candidate;
* CPU latency: the exported model measured on this machine (batch 1, full depth, and the mean
  per-sentence time with early exit on dev sentences), next to the prediction of
  :mod:`evosearch.latency` when a predictor is calibrated for this architecture and machine
  (float plan, as the exported model runs float32 matrices); otherwise measured only, and
  ``latency.predicted`` says why;
* size on disk of the weights (at their bit widths), the whole folder, and the float32 size of
  the same sub-network.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .runtime import DeployedModel, load_deployed

TOLERANCE_PT = 0.5


def _dir_bytes(path: Path) -> int:
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def verify(folder: str | Path, *, checkpoint=None, splits=("validation", "test"), batch_size: int = 64,
           latency: bool = True, repeats: int = 20, latency_examples: int = 64, threads: int | None = None) -> dict:
    from ..data import load_task, make_eval_batches, tokenize_task
    from ..supernet import collect_exit_logits, early_exit
    from ..training import load_checkpoint

    folder = Path(folder)
    deployed = load_deployed(folder)
    desc = deployed.description
    ckpt = checkpoint or load_checkpoint(desc["source"]["supernet"])
    task = desc["task"]
    splits_data, info = load_task(task["spec"], seed=int(task.get("seed", 0) or 0))
    tokenized = tokenize_task(splits_data, info, deployed.tokenizer, max_length=deployed.max_length)
    pad = deployed.tokenizer.pad_token_id or 0
    report = {"folder": str(folder), "tolerance_pt": TOLERANCE_PT, "accuracy": {}, "latency": None, "size": {}}
    search = desc["source"].get("search_metrics") or {}
    agree = True
    dev_batches = None
    for split in splits:
        if split not in tokenized:
            continue
        batches = make_eval_batches(tokenized[split], batch_size, pad)
        if split == "validation":
            dev_batches = batches
        mine = deployed.evaluate_batches(batches)
        logits, labels = collect_exit_logits(ckpt.supernet, batches, deployed.config)
        preds, exits = early_exit(logits, deployed.thresholds)
        estimate = float((preds == labels).float().mean())
        diff = 100 * (mine["accuracy"] - estimate)
        ok = abs(diff) <= TOLERANCE_PT
        agree &= ok
        entry = {"exported": mine["accuracy"], "supernet_estimate": estimate, "difference_pt": diff, "agree": ok,
                 "examples": mine["examples"], "exported_mean_exit_layer": mine["mean_exit_layer"],
                 "supernet_mean_exit_layer": float((exits + 1).float().mean()),
                 "exported_exit_distribution": mine["exit_distribution"]}
        if split == "validation" and "accuracy" in search:
            entry["search_reported"] = search["accuracy"]
            entry["search_note"] = "the search scored candidates on its dev subset (full dev for the final front)"
        report["accuracy"][split] = entry
    report["accuracy_agrees"] = bool(agree)
    if latency:
        report["latency"] = _latency(deployed, ckpt, dev_batches, repeats, latency_examples, threads)
    weights = folder / "weights.safetensors"
    float_bytes = sum(v.numel() * 4 for v in deployed.model.state_dict().values())
    report["size"] = {
        "weights_bytes": _dir_bytes(weights),
        "float32_weights_bytes": float_bytes,
        "compression_vs_float32": float_bytes / max(_dir_bytes(weights), 1),
        "folder_bytes": _dir_bytes(folder) - _dir_bytes(folder / "verification.json"),
        "hf_bytes": _dir_bytes(folder / "hf"),
        "tokenizer_bytes": _dir_bytes(folder / "tokenizer"),
        "search_estimate_bytes": search.get("model_size_bytes"),
    }
    (folder / "verification.json").write_text(json.dumps(report, indent=1))
    return report


def _latency(deployed: DeployedModel, ckpt, dev_batches, repeats, examples, threads) -> dict:
    from ..latency import LatencyError, load_predictor, measure_latency

    out: dict = {"device": "CPU (this machine)", "batch_size": 1}
    predictor, why = None, ""
    try:
        predictor = load_predictor(ckpt.supernet.arch)
    except LatencyError as err:
        why = str(err)
    except Exception as err:  # noqa: BLE001 - a broken predictor file must not stop verification
        why = f"latency predictor unavailable ({err})"
    seq_len = predictor.seq_len if predictor else 32
    seq_len = min(seq_len, deployed.arch.max_position_embeddings)
    if threads is None:  # the predictor's setting, else 1 thread (the most repeatable on a shared CPU)
        threads = (predictor.machine.get("threads") if predictor else None) or 1
    full = measure_latency(deployed.model, batch_size=1, seq_len=seq_len, repeats=repeats, warmup=3, threads=threads)
    stat = predictor.statistic if predictor else "median"
    out.update({"seq_len": seq_len, "threads": full.threads, "statistic": stat,
                "measured_full_depth_ms": full.value(stat), "measured_full_depth_iqr_ms": full.iqr_ms})
    # mean per-sentence time with early exit, batch 1, on real dev sentences
    per_example, exits = [], []
    if dev_batches:
        rows = []
        for b in dev_batches:
            for j in range(len(b["input_ids"])):
                mask = b["attention_mask"][j].bool()
                rows.append((b["input_ids"][j][mask][None], b["token_type_ids"][j][mask][None]))
        rows = rows[:examples]
        from ..latency import num_threads

        with num_threads(threads):
            for ids, tt in rows[:3]:
                deployed.predict_batch(ids, None, tt)
            for ids, tt in rows:
                t0 = time.perf_counter()
                _, e = deployed.predict_batch(ids, None, tt)
                per_example.append((time.perf_counter() - t0) * 1e3)
                exits.append(int(e[0]))
        out["measured_early_exit_mean_ms"] = float(np.mean(per_example))
        out["early_exit_sentences"] = len(per_example)
    if predictor is None:
        out["predicted"] = None
        out["note"] = f"measured only: {why}"
        return out
    float_plan = deployed.config.with_layers(bits=32)
    try:
        out["predicted_full_depth_ms"] = predictor.predict(float_plan)
        if exits:
            dist = np.bincount(exits, minlength=deployed.num_layers) / len(exits)
            per_exit = predictor.predict_exits(float_plan)
            out["predicted_early_exit_mean_ms"] = float(np.dot(dist, per_exit))
            out["note"] = ("predicted for the float plan at the predictor's sequence length; the early-exit mean is "
                           "the exit-distribution average, while the measured one uses real sentence lengths")
        out["prediction_error_pct"] = 100 * (out["predicted_full_depth_ms"] / out["measured_full_depth_ms"] - 1)
    except Exception as err:  # noqa: BLE001
        out["predicted"] = None
        out["note"] = f"measured only: the predictor cannot predict this config ({err})"
    return out


def format_verification(report: dict) -> str:
    lines = ["verification:"]
    for split, a in report["accuracy"].items():
        extra = f"; search reported {100 * a['search_reported']:.2f}%" if "search_reported" in a else ""
        lines.append(f"  {split:<10} accuracy: exported {100 * a['exported']:.2f}%  supernet estimate "
                     f"{100 * a['supernet_estimate']:.2f}%  diff {a['difference_pt']:+.2f} pt "
                     f"({'ok' if a['agree'] else 'DISAGREE'}, within {report['tolerance_pt']} pt){extra}; "
                     f"{a['examples']} examples, mean exit layer {a['exported_mean_exit_layer']:.2f}")
    lat = report.get("latency")
    if lat:
        text = (f"  CPU latency (batch 1, {lat['seq_len']} tokens, {lat['threads']} threads, {lat['statistic']}): "
                f"measured {lat['measured_full_depth_ms']:.3f} ms full depth")
        if lat.get("predicted_full_depth_ms") is not None:
            text += f", predicted {lat['predicted_full_depth_ms']:.3f} ms ({lat['prediction_error_pct']:+.1f}%)"
        lines.append(text)
        if "measured_early_exit_mean_ms" in lat:
            text = (f"  with early exit: measured {lat['measured_early_exit_mean_ms']:.3f} ms per sentence "
                    f"({lat['early_exit_sentences']} dev sentences)")
            if lat.get("predicted_early_exit_mean_ms") is not None:
                text += f", predicted {lat['predicted_early_exit_mean_ms']:.3f} ms"
            lines.append(text)
        if lat.get("note"):
            lines.append(f"  note: {lat['note']}")
    s = report["size"]
    lines.append(f"  size on disk: weights {s['weights_bytes'] / 1e6:.3f} MB (float32 would be "
                 f"{s['float32_weights_bytes'] / 1e6:.3f} MB, x{s['compression_vs_float32']:.2f} smaller); "
                 f"folder {s['folder_bytes'] / 1e6:.3f} MB"
                 + (f"; search estimate {s['search_estimate_bytes'] / 1e6:.3f} MB"
                    if s.get("search_estimate_bytes") else ""))
    return "\n".join(lines)
