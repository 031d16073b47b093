"""Does the supernet rank sub-networks like stand-alone training would? (proxy fidelity)

The question reviewers ask of every weight-sharing method: for sub-networks spread over the
accuracy range, compare the accuracy the supernet estimates (shared weights, no retraining) with
the accuracy of the *extracted* sub-network after a short stand-alone fine-tune. Reports the
Kendall tau and Spearman rank correlations and the mean change in accuracy.

Sub-networks come from a search run's final front (``--run``), topped up with DynaBERT-style
uniform widths so at least ``--n`` are compared. Accuracy is the final exit's (no early exit), on
the whole dev set, for both sides; the extracted model keeps the sub-network's bit widths while
fine-tuning (quantization-aware, straight-through).

    python scripts/bench_proxy_fidelity.py --supernet results/supernet-minilm-movie [--run RUN] [--n 10] [--steps 120]

Writes results/bench/proxy_fidelity.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import torch
from scipy.stats import kendalltau, spearmanr

from evosearch import data
from evosearch.supernet import SubnetConfig, collect_exit_logits, exit_accuracies, extract
from evosearch.training import load_checkpoint
from evosearch.training.strategies import largest_network_loss


def front_configs(run: Path) -> list[SubnetConfig]:
    import pandas as pd

    front = pd.read_csv(run / "final_front.csv")
    return [SubnetConfig.from_dict(json.loads(text)) for text in front["config"]]


def uniform_configs(arch, count: int) -> list[SubnetConfig]:
    widths = torch.linspace(0.25, 1.0, count).tolist()
    bits = [4, 8, 32]
    return [SubnetConfig.uniform(arch, w, bits=bits[i % 3]) for i, w in enumerate(widths)]


def trainable_config(extracted, original: SubnetConfig) -> SubnetConfig:
    """The extracted model's fixed config with the original bit widths put back (for QAT)."""
    layers = tuple(replace(fixed, bits=orig.bits) for fixed, orig in zip(extracted.default_config.layers, original.layers))
    return SubnetConfig(layers, embedding_bits=original.embedding_bits, quant=original.quant)


def fine_tune(model, config: SubnetConfig, split, pad_id: int, steps: int, lr: float, seed: int) -> None:
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    step = 0
    while step < steps:
        for batch in data.make_train_loader(split, 32, pad_id, seed=seed + step, group_by_length=True):
            logits = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], config=config)
            loss = largest_network_loss(logits, batch["labels"], 2.0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step >= steps:
                break
    model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--supernet", required=True)
    parser.add_argument("--run", help="search run folder whose final front supplies sub-networks")
    parser.add_argument("--n", type=int, default=10, help="at least this many sub-networks (default 10)")
    parser.add_argument("--steps", type=int, default=120, help="stand-alone fine-tuning steps of batch 32 (default 120)")
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default="results/bench/proxy_fidelity.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    checkpoint = load_checkpoint(args.supernet)
    supernet, tokenizer, task = checkpoint.supernet, checkpoint.tokenizer, checkpoint.task
    splits, info = data.load_task(task["spec"], seed=task.get("seed", 0))
    tokenized = data.tokenize_task(splits, info, tokenizer, task.get("max_length", 64))
    pad_id = tokenizer.pad_token_id or 0
    dev = data.make_eval_batches(tokenized["validation"], 128, pad_id)

    configs = front_configs(Path(args.run)) if args.run else []
    configs += uniform_configs(supernet.arch, max(0, args.n - len(configs)))
    rows = []
    for i, config in enumerate(configs):
        started = time.perf_counter()
        estimate = exit_accuracies(*collect_exit_logits(supernet, dev, config))[-1]
        model = extract(supernet, config)
        extracted_before = exit_accuracies(*collect_exit_logits(model, dev))[-1]
        fine_tune(model, trainable_config(model, config), tokenized["train"], pad_id, args.steps, args.lr, seed=i)
        after = exit_accuracies(*collect_exit_logits(model, dev, trainable_config(model, config)))[-1]
        rows.append({
            "config": config.to_dict(),
            "mean_heads": sum(l.heads for l in config.layers) / len(config.layers),
            "mean_ffn": sum(l.ffn for l in config.layers) / len(config.layers),
            "bits": sorted({l.bits for l in config.layers}),
            "supernet_accuracy": round(estimate, 4),
            "extracted_accuracy": round(extracted_before, 4),
            "fine_tuned_accuracy": round(after, 4),
            "seconds": round(time.perf_counter() - started, 1),
        })
        print(f"[{i + 1}/{len(configs)}] supernet {estimate:.4f}  extracted {extracted_before:.4f}  fine-tuned {after:.4f}", flush=True)

    estimates = [r["supernet_accuracy"] for r in rows]
    tuned = [r["fine_tuned_accuracy"] for r in rows]
    result = {
        "supernet": args.supernet,
        "run": args.run,
        "steps": args.steps,
        "machine": platform.processor() or platform.machine(),
        "kendall_tau": round(float(kendalltau(estimates, tuned).statistic), 3),
        "spearman": round(float(spearmanr(estimates, tuned).statistic), 3),
        "max_abs_extraction_gap": round(max(abs(r["supernet_accuracy"] - r["extracted_accuracy"]) for r in rows), 6),
        "mean_gain_from_fine_tune": round(sum(t - e for t, e in zip(tuned, estimates)) / len(rows), 4),
        "subnetworks": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"\n{'heads':>6} {'ffn':>6} {'bits':>8} {'supernet':>9} {'fine-tuned':>10}")
    for r in rows:
        print(f"{r['mean_heads']:6.1f} {r['mean_ffn']:6.0f} {str(r['bits']):>8} {r['supernet_accuracy']:9.4f} {r['fine_tuned_accuracy']:10.4f}")
    print(f"Kendall tau {result['kendall_tau']}, Spearman {result['spearman']} over {len(rows)} sub-networks; "
          f"extraction gap {result['max_abs_extraction_gap']}; mean gain from {args.steps}-step fine-tune {result['mean_gain_from_fine_tune']:+.4f}")


if __name__ == "__main__":
    main()
