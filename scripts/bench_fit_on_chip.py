#!/usr/bin/env python
"""What fits on chip, and at what accuracy? (issue 15's goal: <= 1 pt drop, >= 10x energy, on chip)

A hardware target's ``fits_on_chip`` asks three things of a sub-network: its layer weights and the
exit ramps it keeps fit the ``weights`` level (edgebert-12nm: 2 MB of SRAM), its lookup tables
the ``embeddings`` level (4 MB of eNVM), its peak activations the ``activations`` level (1 MB).
The tables and the layers are independent genes, so this prices them apart, on a trained
supernet, on the whole dev set, with the accuracy estimate the search uses (the int8 engine's
arithmetic):

* **layers**: every uniform sub-network of the grid heads x FFN fractions (0.25 .. 1), bit widths
  and layer sparsities the supernet was trained for, 32-bit embeddings, no early exit (the final
  ramp only): final-exit accuracy, the bits the target's weight level holds, energy over the dev
  lengths;
* **tables**: the largest sub-network at 32 bits with every trained (embedding bits, embedding
  sparsity): accuracy and the bits the target's embedding level holds;

next to the uncompressed fp32 model (largest, 32 bits, no exit). It then says, for each part, the
smallest footprint within the accuracy budget and the most accurate configuration that fits. A
uniform grid is not the search space (layers may differ), so this bounds the search rather than
replaces it; ``evosearch search`` with the constraint ``fits_on_chip >= 1`` is the search.

    python scripts/bench_fit_on_chip.py --supernet results/supernet-sparse-magnitude-warmup [--threads 1]

Writes results/bench/fit-on-chip-<supernet folder>.json (``--out``) and prints both tables.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--supernet", required=True, help="a supernet checkpoint folder")
    p.add_argument("--target", default="edgebert-12nm", help="hardware target (default: edgebert-12nm)")
    p.add_argument("--bits", type=int, nargs="+", default=[4, 8], help="layer bit widths of the grid (default: 4 8)")
    p.add_argument("--budget", type=float, default=1.0, help="accuracy budget in points (default: 1)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    import torch

    from evosearch.hardware import estimate, load_target
    from evosearch.search.devdata import dev_batches
    from evosearch.specs import LayerConfig, SubnetConfig
    from evosearch.supernet import collect_exit_logits
    from evosearch.training import load_checkpoint

    torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.supernet)
    task = dict(ckpt.task)
    _, batches, _ = dev_batches(ckpt.tokenizer, task["spec"], seed=int(task.get("seed", 0)),
                                max_length=int(task["max_length"]), batch_size=128)
    lengths = [int(n) for b in batches for n in b["attention_mask"].sum(1).tolist()]
    arch, bounds, target = ckpt.supernet.arch, dict(ckpt.bounds or {}), load_target(args.target)
    place = dict(target.placement)

    def score(config: SubnetConfig) -> dict:
        logits, labels = collect_exit_logits(ckpt.supernet, batches, config)
        cost = estimate(arch, config, target, seq_lens=lengths)
        held = dict(cost.level_bits)
        return {"accuracy": float((logits[-1].argmax(-1) == labels).float().mean()), "energy_uj": cost.energy_uj,
                "weights_kb": held.get(place["weights"], 0.0) / 8192,
                "embeddings_kb": held.get(place["embeddings"], 0.0) / 8192, "fits_on_chip": cost.fits_on_chip}

    def uniform(heads: float, ffn: float, bits: int, sparsity: float, emb_bits: int = 32, emb_sparsity: float = 0.0):
        layers = tuple(LayerConfig(max(1, round(arch.heads_of_layer(i) * heads)), max(1, round(arch.ffn_of_layer(i) * ffn)),
                                   bits, None, sparsity) for i in range(arch.num_layers))
        return SubnetConfig(layers, embedding_bits=emb_bits, embedding_sparsity=emb_sparsity)

    base = score(uniform(1.0, 1.0, 32, 0.0))
    print(f"uncompressed fp32: accuracy {base['accuracy']:.4f}, {base['energy_uj']:.1f} uJ, weights "
          f"{base['weights_kb']:.0f} KB, embeddings {base['embeddings_kb']:.0f} KB", flush=True)
    floor = base["accuracy"] - args.budget / 100 - 1e-9
    capacity = {role: target.level(place[role]).capacity_kb for role in ("weights", "embeddings")}
    sparsities = sorted(set(bounds.get("sparsity") or [0.0]))
    layer_rows = []
    for heads, ffn, bits, sparsity in itertools.product(FRACTIONS, FRACTIONS, args.bits, sparsities):
        row = {"heads": heads, "ffn": ffn, "bits": bits, "sparsity": sparsity, **score(uniform(heads, ffn, bits, sparsity))}
        layer_rows.append(row)
        print(f"  layers heads {heads:.2f} ffn {ffn:.2f} {bits}-bit sparsity {sparsity:.1f}: accuracy "
              f"{row['accuracy']:.4f}, weights {row['weights_kb']:6.0f} KB, {row['energy_uj']:6.1f} uJ", flush=True)
    emb_bits = sorted(set(bounds.get("embedding_bits") or [32]))
    emb_sparsities = sorted(set(bounds.get("embedding_sparsity") or [0.0]))
    table_rows = []
    for eb, es in itertools.product(emb_bits, emb_sparsities):
        row = {"embedding_bits": eb, "embedding_sparsity": es, **score(uniform(1.0, 1.0, 32, 0.0, eb, es))}
        table_rows.append(row)
        print(f"  tables {eb}-bit sparsity {es:.1f}: accuracy {row['accuracy']:.4f}, embeddings "
              f"{row['embeddings_kb']:6.0f} KB", flush=True)

    def summary(rows, key, cap):
        within = [r for r in rows if r["accuracy"] >= floor]
        fits = [r for r in rows if cap is None or r[key] <= cap]
        return {"capacity_kb": cap,
                "smallest_within_budget": min(within, key=lambda r: r[key], default=None),
                "most_accurate_that_fits": max(fits, key=lambda r: r["accuracy"], default=None)}

    result = {"supernet": args.supernet, "target": target.name, "dev_examples": len(lengths),
              "budget_points": args.budget, "uncompressed": base,
              "layers": {"rows": layer_rows, **summary(layer_rows, "weights_kb", capacity["weights"])},
              "tables": {"rows": table_rows, **summary(table_rows, "embeddings_kb", capacity["embeddings"])}}
    for part, key in (("layers", "weights_kb"), ("tables", "embeddings_kb")):
        s = result[part]
        small, best = s["smallest_within_budget"], s["most_accurate_that_fits"]
        print(f"\n{part}: capacity {s['capacity_kb']} KB")
        print(f"  smallest within {args.budget:g} pt: " + (f"{small[key]:.0f} KB at accuracy {small['accuracy']:.4f} "
                                                          f"({_describe(small)})" if small else "none"))
        print("  most accurate that fits: " + (f"accuracy {best['accuracy']:.4f} "
                                               f"({100 * (best['accuracy'] - base['accuracy']):+.2f} pt), {best[key]:.0f} KB "
                                               f"({_describe(best)})" if best else "none"))
    out = Path(args.out or f"results/bench/fit-on-chip-{Path(args.supernet).resolve().name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


def _describe(row: dict) -> str:
    if "heads" in row:
        return f"heads {row['heads']:g}, FFN {row['ffn']:g}, {row['bits']}-bit, sparsity {row['sparsity']:g}"
    return f"{row['embedding_bits']}-bit tables, sparsity {row['embedding_sparsity']:g}"


if __name__ == "__main__":
    raise SystemExit(main())
