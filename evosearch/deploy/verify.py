"""Check an export against the supernet it came from; write ``DIR/verification.json``.

What is verified is the artifact a user runs: the ONNX Runtime graphs of ``DIR/onnx`` with early
exit, one sentence at a time, on the task's real sentences.

* accuracy (with early exit) on the validation and test splits, next to the supernet's estimate
  by the same computation (the sliced supernet's exit logits with the same thresholds on the same
  sentences, in the engine's int8 arithmetic where the export is int8; must agree within 0.5
  points), the share of sentences whose prediction agrees, and the search's own number for the
  candidate;
* CPU latency: the mean per-sentence time with early exit on dev sentences (batch 1, each
  sentence timed ``repeats`` times, its fastest run taken), next to the prediction of the CPU
  latency objective (:mod:`evosearch.latency`) for the same sentences and exits;
* size on disk of the compact weights (at their bit widths) against the search's
  ``model_size_bytes`` estimate, and of the ONNX graphs.
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


def sentences(batches) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every example of padded evaluation batches as its own ``(input_ids, token_type_ids)`` (1, length) pair."""
    rows = []
    for b in batches:
        for j in range(len(b["input_ids"])):
            keep = b["attention_mask"][j].bool()
            rows.append((b["input_ids"][j][keep][None].numpy(), b["token_type_ids"][j][keep][None].numpy()))
    return rows


def run_sentences(deployed: DeployedModel, rows, repeats: int = 1, threads: int | None = None):
    """Predictions, exit layers and the fastest of ``repeats`` wall times (ms) of each sentence, batch 1."""
    runner = deployed.runner
    preds, exits, times = [], [], []
    for ids, types in rows:
        mask = np.ones_like(ids)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            p, e = runner.predict(ids, mask, types)
            best = min(best, (time.perf_counter() - start) * 1e3)
        preds.append(int(p[0]))
        exits.append(int(e[0]))
        times.append(best)
    return np.array(preds), np.array(exits), np.array(times)


def verify(folder: str | Path, *, checkpoint=None, splits=("validation", "test"), batch_size: int = 64,
           latency: bool = True, repeats: int = 3, latency_examples: int = 200, threads: int = 1,
           predictor=None, extra_tasks=()) -> dict:
    """Verify the export in ``folder``; ``predictor`` is the CPU latency predictor to compare with
    (default: this machine's, calibrated on first use). ``extra_tasks``: other tasks (held-out
    domains, e.g. ``amazon-polarity`` for a model searched on ``movie-polarity``) on whose test
    split the export is scored next to the uncompressed model (the largest sub-network, 32 bits,
    no early exit)."""
    from ..data import load_task, make_eval_batches, tokenize_task
    from ..supernet import collect_exit_logits, early_exit
    from ..training import load_checkpoint

    folder = Path(folder)
    deployed = load_deployed(folder, threads=threads)
    desc = deployed.description
    ckpt = checkpoint or load_checkpoint(desc["source"]["supernet"])
    task = desc["task"]
    splits_data, info = load_task(task["spec"], seed=int(task.get("seed", 0) or 0))
    tokenized = tokenize_task(splits_data, info, deployed.tokenizer, max_length=deployed.max_length)
    pad = deployed.tokenizer.pad_token_id or 0
    report = {"folder": str(folder), "engine": "onnxruntime", "threads": threads, "tolerance_pt": TOLERANCE_PT,
              "accuracy": {}, "latency": None, "size": {}}
    search = desc["source"].get("search_metrics") or {}
    agree = True
    dev = None
    for split in splits:
        if split not in tokenized:
            continue
        batches = make_eval_batches(tokenized[split], batch_size, pad)
        rows = sentences(batches)
        preds, exits, _ = run_sentences(deployed, rows)
        labels = np.concatenate([b["labels"].numpy() for b in batches])
        logits, _ = collect_exit_logits(ckpt.supernet, batches, deployed.config, int8_engine=deployed.int8)
        est_preds, est_exits = early_exit(logits, deployed.thresholds)
        estimate = float((est_preds.numpy() == labels).mean())
        mine = float((preds == labels).mean())
        diff = 100 * (mine - estimate)
        ok = abs(diff) <= TOLERANCE_PT
        agree &= ok
        entry = {"exported": mine, "supernet_estimate": estimate, "difference_pt": diff, "agree": ok,
                 "prediction_agreement": float((preds == est_preds.numpy()).mean()),
                 "exit_agreement": float((exits == est_exits.numpy()).mean()), "examples": len(rows),
                 "exported_mean_exit_layer": float((exits + 1).mean()),
                 "supernet_mean_exit_layer": float((est_exits + 1).float().mean())}
        if split == "validation":
            dev = (rows, est_exits.numpy())
            if "accuracy" in search:
                entry["search_reported"] = search["accuracy"]
                entry["search_note"] = "the search scored candidates on its dev subset (full dev for the final front)"
        report["accuracy"][split] = entry
    report["accuracy_agrees"] = bool(agree)
    if extra_tasks:
        report["domains"] = {spec: _domain(deployed, ckpt, spec, int(task.get("seed", 0) or 0), batch_size, pad)
                             for spec in extra_tasks}
    if latency and dev is not None:
        report["latency"] = _latency(deployed, ckpt, dev[0][:latency_examples], repeats, threads, predictor)
    report["size"] = _size(folder, deployed, search)
    (folder / "verification.json").write_text(json.dumps(report, indent=1))
    return report


def _domain(deployed: DeployedModel, ckpt, spec: str, seed: int, batch_size: int, pad: int) -> dict:
    """The export and the uncompressed model on the test split of another task (a held-out domain)."""
    from ..data import load_task, make_eval_batches, tokenize_task
    from ..specs import SubnetConfig
    from ..supernet import collect_exit_logits

    splits, info = load_task(spec, seed=seed)
    split = "test" if "test" in splits else "validation"
    batches = make_eval_batches(tokenize_task(splits, info, deployed.tokenizer, max_length=deployed.max_length)[split],
                                batch_size, pad)
    labels = np.concatenate([b["labels"].numpy() for b in batches])
    preds, exits, _ = run_sentences(deployed, sentences(batches))
    logits, _ = collect_exit_logits(ckpt.supernet, batches, SubnetConfig.largest(ckpt.supernet.arch))
    largest = float((logits[-1].argmax(-1).numpy() == labels).mean())
    exported = float((preds == labels).mean())
    return {"split": split, "examples": int(len(labels)), "exported": exported, "uncompressed": largest,
            "drop_pt": 100 * (largest - exported), "exported_mean_exit_layer": float((exits + 1).mean())}


def _latency(deployed: DeployedModel, ckpt, rows, repeats: int, threads: int, predictor) -> dict:
    from ..latency import LatencyError, ensure_latency_model

    run_sentences(deployed, rows[:5])  # warm-up
    _, exits, times = run_sentences(deployed, rows, repeats=repeats)
    lengths = np.array([ids.shape[1] for ids, _ in rows])
    out = {"batch_size": 1, "threads": threads, "sentences": len(rows), "repeats": repeats,
           "statistic": "fastest of the repeats per sentence, mean over sentences",
           "measured_ms": float(times.mean()),
           "mean_length": float(lengths.mean()), "mean_exit_layer": float((exits + 1).mean())}
    try:
        predictor = predictor or ensure_latency_model(ckpt.supernet, threads=threads)
        out["predicted_ms"] = predictor.expected_ms(deployed.config, deployed.thresholds, lengths, exits)
        out["prediction_error_pct"] = 100 * (out["predicted_ms"] / out["measured_ms"] - 1)
        out["predictor"] = str(predictor.source or "")
    except LatencyError as err:
        out["predicted_ms"] = None
        out["note"] = f"measured only: {err}"
    return out


def _size(folder: Path, deployed: DeployedModel, search: dict) -> dict:
    weights = folder / "weights.safetensors"
    tensors = deployed.description["tensors"]
    float_bytes = sum(int(np.prod(t["shape"])) * 4 for t in tensors.values())
    return {
        "weights_bytes": _dir_bytes(weights),
        "float32_weights_bytes": float_bytes,
        "compression_vs_float32": float_bytes / max(_dir_bytes(weights), 1),
        "search_estimate_bytes": search.get("model_size_bytes"),
        "onnx_bytes": _dir_bytes(folder / "onnx"),
        "folder_bytes": _dir_bytes(folder) - _dir_bytes(folder / "verification.json"),
        "hf_bytes": _dir_bytes(folder / "hf"),
        "tokenizer_bytes": _dir_bytes(folder / "tokenizer"),
    }


def format_verification(report: dict) -> str:
    lines = [f"verification ({report['engine']}, {report['threads']} thread(s), one sentence at a time):"]
    for split, a in report["accuracy"].items():
        extra = f"; search reported {100 * a['search_reported']:.2f}%" if "search_reported" in a else ""
        lines.append(f"  {split:<10} accuracy: exported {100 * a['exported']:.2f}%  supernet estimate "
                     f"{100 * a['supernet_estimate']:.2f}%  diff {a['difference_pt']:+.2f} pt "
                     f"({'ok' if a['agree'] else 'DISAGREE'}, within {report['tolerance_pt']} pt); same prediction "
                     f"for {100 * a['prediction_agreement']:.2f}% of {a['examples']} sentences{extra}; "
                     f"mean exit layer {a['exported_mean_exit_layer']:.2f}")
    lat = report.get("latency")
    if lat:
        text = (f"  CPU latency with early exit: measured {lat['measured_ms']:.3f} ms per sentence "
                f"({lat['sentences']} dev sentences, mean length {lat['mean_length']:.1f} tokens)")
        if lat.get("predicted_ms") is not None:
            text += f", predicted {lat['predicted_ms']:.3f} ms ({lat['prediction_error_pct']:+.1f}%)"
        lines.append(text)
        if lat.get("note"):
            lines.append(f"  note: {lat['note']}")
    for spec, d in report.get("domains", {}).items():
        lines.append(f"  held-out domain {spec} ({d['split']}, {d['examples']} sentences): exported "
                     f"{100 * d['exported']:.2f}%, uncompressed model {100 * d['uncompressed']:.2f}% "
                     f"({d['drop_pt']:+.2f} pt drop)")
    s = report["size"]
    lines.append(f"  size on disk: weights {s['weights_bytes'] / 1e6:.3f} MB at their bit widths (float32 would be "
                 f"{s['float32_weights_bytes'] / 1e6:.3f} MB, x{s['compression_vs_float32']:.2f} smaller"
                 + (f"; search estimate {s['search_estimate_bytes'] / 1e6:.3f} MB" if s.get("search_estimate_bytes")
                    else "") + f"); ONNX graphs {s['onnx_bytes'] / 1e6:.3f} MB")
    return "\n".join(lines)
