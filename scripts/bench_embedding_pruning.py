#!/usr/bin/env python
"""Does accuracy and the exported size follow the embedding-pruning gene? (issue 15, item 2)

The largest sub-network of a supernet trained with ``--embedding-sparsity`` (every layer at 32
bits, 8-bit embeddings, no early exit) at each embedding sparsity: final-exit accuracy on the
whole dev split, the size of the exported ``weights.safetensors`` (pruned tables stored as a
presence bit per entry plus the kept codes), and ``model_size_bytes`` for the same config with
every exit ramp counted (the export stores them all).

    python scripts/bench_embedding_pruning.py --supernet results/supernet-sparse-magnitude

Writes results/bench/embedding-pruning.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--supernet", required=True, help="supernet checkpoint trained with --embedding-sparsity")
    p.add_argument("--sparsities", type=float, nargs="+", default=[0.0, 0.4, 0.6])
    p.add_argument("--embedding-bits", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="results/bench/embedding-pruning.json")
    args = p.parse_args(argv)

    import numpy as np
    import torch

    from evosearch.data import load_task, make_eval_batches, tokenize_task
    from evosearch.deploy import Deployment, export
    from evosearch.hardware.proxies import model_size_bytes
    from evosearch.supernet import SubnetConfig, collect_exit_logits
    from evosearch.training import load_checkpoint

    torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.supernet)
    task = dict(ckpt.task)
    splits, info = load_task(task["spec"], seed=int(task.get("seed", 0)))
    dev = tokenize_task(splits, info, ckpt.tokenizer, max_length=int(task["max_length"]))["validation"]
    batches = make_eval_batches(dev, 128, ckpt.tokenizer.pad_token_id or 0)
    labels = np.concatenate([b["labels"].numpy() for b in batches])
    arch = ckpt.supernet.arch
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-embedding-"))
    try:
        for sparsity in args.sparsities:
            config = replace(SubnetConfig.largest(arch), embedding_bits=args.embedding_bits, embedding_sparsity=sparsity)
            logits, _ = collect_exit_logits(ckpt.supernet, batches, config)
            folder = export(Deployment(config, [0.0] * (arch.num_layers - 1), args.supernet), tmp / f"s{sparsity}",
                            checkpoint=ckpt)
            rows.append({"embedding_sparsity": sparsity,
                         "accuracy": float((logits[-1].argmax(-1).numpy() == labels).mean()),
                         "weights_bytes": (folder / "weights.safetensors").stat().st_size,
                         "model_size_bytes": model_size_bytes(arch, config, exits=list(range(arch.num_layers - 1)))})
            r = rows[-1]
            print(f"embedding sparsity {sparsity:.2f}: accuracy {100 * r['accuracy']:.2f}%, weights.safetensors "
                  f"{r['weights_bytes'] / 1e6:.2f} MB, model_size_bytes {r['model_size_bytes'] / 1e6:.2f} MB "
                  f"({100 * (r['weights_bytes'] / r['model_size_bytes'] - 1):+.2f}%)", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({
        "supernet": args.supernet, "task": task["spec"], "dev_examples": int(len(labels)),
        "config": f"largest sub-network, 32-bit layers, {args.embedding_bits}-bit embeddings, no early exit",
        "rows": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
