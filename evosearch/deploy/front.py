"""Verify every member of a run's front as it would be deployed (``evosearch verify``).

Each member the run offers (:attr:`evosearch.report.Run.front`) is exported exactly as
``evosearch export`` does, into a temporary folder, and verified (:func:`.verify.verify`) on the
dev set: accuracy of the ONNX deployment against the supernet's estimate, measured against
predicted per-sentence latency with early exit on real sentences, and the size of the compact
weights and of the ONNX graphs against the search's estimates (``model_size_bytes``,
``onnx_size_bytes``). One row per member goes to ``RUN/front_verification.csv``; the summary
(MAPE and Spearman of the latency prediction over the front, the largest accuracy difference)
to ``RUN/front_verification.json``. The report shows both.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pandas as pd


def verify_front(run_folder: str | Path, *, threads: int = 1, sentences: int = 200, repeats: int = 3,
                 progress: bool = True) -> tuple[pd.DataFrame, dict]:
    from tqdm.auto import tqdm

    from ..hardware import proxies
    from ..latency import ensure_latency_model, mape, spearman
    from ..report import load_run
    from ..supernet import SubnetConfig
    from ..training import load_checkpoint
    from .export import Deployment, export
    from .verify import verify

    run = load_run(run_folder)
    ckpt = load_checkpoint(run.supernet_path())
    model = ensure_latency_model(ckpt.supernet, threads=threads)
    arch = ckpt.supernet.arch
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="evosearch-verify-"))
    try:
        for cid, member in tqdm(list(run.front.iterrows()), desc="verifying the front", unit="member",
                                disable=not progress):
            config_dict, thresholds = run.config_of(member)
            config = SubnetConfig.from_dict(config_dict)
            exits = [i for i, t in enumerate(thresholds[: arch.num_layers - 1]) if t > 0]
            folder = export(Deployment(config, thresholds, run.supernet_path(), run.config.get("task"), cid,
                                       str(run.folder), {m: float(member[m]) for m in run.metrics if m in member}),
                            tmp / cid, checkpoint=ckpt)
            report = verify(folder, checkpoint=ckpt, splits=("validation",), latency_examples=sentences,
                            repeats=repeats, threads=threads, predictor=model)
            accuracy, latency, size = report["accuracy"]["validation"], report["latency"], report["size"]
            rows.append({
                "id": cid, "accuracy_exported": accuracy["exported"], "accuracy_estimate": accuracy["supernet_estimate"],
                "accuracy_difference_pt": accuracy["difference_pt"],
                "prediction_agreement": accuracy["prediction_agreement"],
                "latency_measured_ms": latency["measured_ms"], "latency_predicted_ms": latency["predicted_ms"],
                "latency_error_pct": latency.get("prediction_error_pct"),
                "weights_bytes": size["weights_bytes"],
                "model_size_estimate_bytes": proxies.model_size_bytes(arch, config, exits=exits),
                "onnx_bytes": size["onnx_bytes"], "onnx_size_estimate_bytes": proxies.onnx_size_bytes(arch, config, exits),
                "int8_layers": sum(layer.bits <= 8 for layer in config.layers),
            })
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table = pd.DataFrame(rows).set_index("id")
    summary = {
        "members": len(table), "threads": threads, "sentences": sentences, "repeats": repeats,
        "latency_mape_percent": mape(table["latency_predicted_ms"], table["latency_measured_ms"]),
        "latency_spearman": spearman(table["latency_predicted_ms"], table["latency_measured_ms"]),
        "max_abs_accuracy_difference_pt": float(table["accuracy_difference_pt"].abs().max()),
        "min_prediction_agreement": float(table["prediction_agreement"].min()),
        "size_error_pct_max": float((100 * (table["weights_bytes"] / table["model_size_estimate_bytes"] - 1)).abs().max()),
        "onnx_size_error_pct_max": float((100 * (table["onnx_bytes"] / table["onnx_size_estimate_bytes"] - 1)).abs().max()),
        "latency_model": model.source,
    }
    table.to_csv(run.folder / "front_verification.csv")
    (run.folder / "front_verification.json").write_text(json.dumps(summary, indent=1))
    return table, summary


def format_front_verification(table: pd.DataFrame, summary: dict) -> str:
    lines = [f"every front member exported and run as deployed (ONNX Runtime, {summary['threads']} thread(s), one "
             "sentence at a time, early exit):",
             f"  accuracy: largest difference to the supernet estimate {summary['max_abs_accuracy_difference_pt']:.2f} pt; "
             f"same prediction for at least {100 * summary['min_prediction_agreement']:.2f}% of the dev sentences",
             f"  latency: predicted against measured on {summary['sentences']} dev sentences: MAPE "
             f"{summary['latency_mape_percent']:.1f}%, Spearman {summary['latency_spearman']:.3f}",
             f"  size: weights within {summary['size_error_pct_max']:.1f}% of model_size_bytes, ONNX graphs within "
             f"{summary['onnx_size_error_pct_max']:.1f}% of onnx_size_bytes"]
    show = table[["accuracy_exported", "accuracy_estimate", "latency_measured_ms", "latency_predicted_ms",
                  "weights_bytes", "model_size_estimate_bytes"]]
    lines.append(show.to_string(float_format=lambda v: f"{v:.4g}"))
    return "\n".join(lines)
