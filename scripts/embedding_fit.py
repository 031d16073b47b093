"""Do pruned embeddings fit the embedding memory of a hardware target? (EdgeBERT's eNVM question.)

EdgeBERT (Tambe et al., MICRO 2021) keeps 40% of ALBERT's embeddings (sparsity 0.6) and stores
them in 1.73 MB of ReRAM eNVM. This prints, for the quickstart's MiniLM shape (vocab 30522 x 384)
and for ALBERT-base (30000 x 128), the stored size of the three lookup tables at the given
embedding bit widths and sparsities, in the target's encoding (on a zero-skipping target its
``sparse_encoding``: a presence bit per entry plus the non-zeros, or the non-zeros with
``index_bits`` each; dense otherwise: :mod:`evosearch.specs.embedding`)
and as the export's ``weights.safetensors`` stores them (a presence bit per entry plus the
non-zeros), next to the capacity of the level the target places embeddings in, and the target
cost model's own verdict (``fits_on_chip``, which also checks weights and activations).
Analytical only: no model is loaded or run.

    python scripts/embedding_fit.py [--target edgebert-12nm] [--bits 8] [--sparsity 0 0.6]
"""

from __future__ import annotations

import argparse

from evosearch.hardware import estimate, load_target
from evosearch.specs import SubnetConfig
from evosearch.specs.embedding import embedding_tables_bits
from evosearch.specs.shapes import ALBERT_BASE, MINILM_L6

SHAPES = {"MiniLM-L6 (quickstart)": MINILM_L6, "ALBERT-base": ALBERT_BASE}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", default="edgebert-12nm")
    p.add_argument("--bits", type=int, nargs="+", default=[8])
    p.add_argument("--sparsity", type=float, nargs="+", default=[0.0, 0.6])
    args = p.parse_args(argv)
    target = load_target(args.target)
    level = target.level_of("embeddings")
    storage = target.table_storage
    cap = level.capacity_kb
    print(f"target {target.name}: embeddings in {level.name!r} (capacity "
          f"{'unbounded' if cap is None else f'{cap:g} KB'}, on chip: {level.on_chip}); pruned tables stored as "
          + {"index": f"non-zeros + {target.index_bits}-bit index", "mask": "a presence bit per entry + non-zeros",
             "dense": "dense (no zero skipping)"}[storage])
    for name, arch in SHAPES.items():
        print(f"\n{name}: tables ({arch.vocab_size} + {arch.max_position_embeddings} + {arch.type_vocab_size}) x "
              f"{arch.embedding_size}")
        for bits in args.bits:
            for s in args.sparsity:
                on_target = embedding_tables_bits(arch, bits, s, storage, target.index_bits) / 8192
                in_file = embedding_tables_bits(arch, bits, s, "mask") / 8192
                config = SubnetConfig.largest(arch).with_layers(bits=8)
                config = SubnetConfig(config.layers, embedding_bits=bits, embedding_sparsity=s)
                cost = estimate(arch, config, target, seq_len=32)
                levels = dict(cost.level_bits)
                fits = "no capacity limit" if cap is None else ("fits" if on_target <= cap else "does NOT fit")
                print(f"  {bits:>2}-bit, sparsity {s:.1f} (keeps {100 * (1 - s):.0f}%): {on_target:9.0f} KB on the "
                      f"target ({on_target / 1024:.2f} MB) -> {fits} in {level.name}; export file {in_file:8.0f} KB; "
                      f"{level.name} holds {levels.get(level.name, 0.0) / 8192:.0f} KB with the LayerNorm; "
                      f"fits_on_chip (all levels, 8-bit layers, 32 tokens): {cost.fits_on_chip}")


if __name__ == "__main__":
    main()
