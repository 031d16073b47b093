#!/usr/bin/env python
"""Learned against sampled attention spans (issue 15, item 3): accuracy and simulated energy.

Two supernets of the same task and budget: one trained with sampled spans (the default) and one
with ``--span-mode learned`` (adaptive attention span, Sukhbaatar et al., ACL 2019). For the
largest sub-network (every head and neuron, 8-bit layers and embeddings, no early exit):

* learned: the learned supernet with its learned per-head spans; energy priced with one span
  per layer, the largest its heads learned (the hardware model has one span per layer);
* sampled, same spans: the sampled-span supernet with those per-layer spans as its span genes;
* sampled, unlimited: the sampled-span supernet without a span limit.

Final-exit accuracy on the whole dev split; energy on a hardware target (default edgebert-12nm)
over the dev sentences' lengths, with the supernet's span ramp.

    python scripts/bench_learned_spans.py --sampled results/supernet-minilm-movie --learned results/supernet-learned-spans

Writes results/bench/learned-spans.json.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sampled", required=True, help="supernet trained with sampled spans")
    p.add_argument("--learned", required=True, help="supernet trained with --span-mode learned")
    p.add_argument("--target", default="edgebert-12nm")
    p.add_argument("--bits", type=int, default=8, help="layer and embedding bits of the compared sub-network")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="results/bench/learned-spans.json")
    args = p.parse_args(argv)

    import numpy as np
    import torch

    from evosearch.data import load_task, make_eval_batches, tokenize_task
    from evosearch.hardware import estimate
    from evosearch.supernet import SubnetConfig, collect_exit_logits
    from evosearch.training import load_checkpoint

    torch.set_num_threads(args.threads)
    sampled, learned = load_checkpoint(args.sampled), load_checkpoint(args.learned)
    task = dict(learned.task)
    splits, info = load_task(task["spec"], seed=int(task.get("seed", 0)))
    dev = tokenize_task(splits, info, learned.tokenizer, max_length=int(task["max_length"]))["validation"]
    batches = make_eval_batches(dev, 128, learned.tokenizer.pad_token_id or 0)
    labels = np.concatenate([b["labels"].numpy() for b in batches])
    lengths = Counter(int(m.sum()) for b in batches for m in b["attention_mask"])

    def score(ckpt, config) -> dict:
        net = ckpt.supernet
        logits, _ = collect_exit_logits(net, batches, config)
        priced = net.with_learned_spans(config)
        cost = estimate(net.arch, priced, args.target, seq_lens=lengths, span_ramp=net.span_ramp, exits=[])
        return {"accuracy": float((logits[-1].argmax(-1).numpy() == labels).mean()), "energy_uj": cost.energy_uj,
                "spans": [layer.span for layer in priced.layers], "span_ramp": net.span_ramp}

    base = SubnetConfig.largest(learned.supernet.arch)
    base = replace(base, embedding_bits=args.bits, layers=tuple(replace(l, bits=args.bits) for l in base.layers))
    learned_spans = learned.supernet.learned_layer_spans(base)
    rows = {
        "learned": score(learned, base),
        "sampled, same spans": score(sampled, replace(base, layers=tuple(
            replace(l, span=s) for l, s in zip(base.layers, learned_spans)))),
        "sampled, unlimited": score(sampled, base),
    }
    for name, r in rows.items():
        print(f"{name:>20}: accuracy {100 * r['accuracy']:.2f}%, energy {r['energy_uj']:.2f} uJ, spans {r['spans']} "
              f"(ramp {r['span_ramp']})", flush=True)
    out = {"task": task["spec"], "dev_examples": int(len(labels)), "target": args.target, "bits": args.bits,
           "learned_per_head_spans": learned.supernet.learned_spans(), "rows": rows,
           "supernets": {"sampled": args.sampled, "learned": args.learned}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
