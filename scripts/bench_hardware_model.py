"""Benchmark the hardware cost model: microseconds per candidate query (median over random configs).

Usage: python scripts/bench_hardware_model.py [--n 2000] [--target edgebert-12nm]

Shapes: ALBERT-base (E=128, H=768, 12 heads, FFN 3072, one block shared by 12 layers) and MiniLM
(BERT, 6 layers, H=384, 12 heads, FFN 1536). Lengths: a fixed histogram (mean ~27 tokens, like
the movie-polarity task). "cold" = every cache cleared before each query; "warm" =
after a warm-up pass over the same configs, through :func:`estimate` (the functional API) and
through a held :class:`CostModel`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from evosearch.hardware import clear_caches, cost_model, estimate
from evosearch.specs import Architecture, LayerConfig, SubnetConfig
from evosearch.specs.shapes import ALBERT_BASE, MINILM_L6 as MINILM

# a length histogram: 8..64 tokens, peaked near 27
LENGTHS = {t: max(1, int(100 * 2.718 ** (-((t - 27) / 10) ** 2))) for t in range(8, 65, 4)}


def random_config(arch: Architecture, rng: random.Random) -> SubnetConfig:
    heads = arch.block_heads[0]
    ffn = arch.block_ffn[0]
    layers = tuple(
        LayerConfig(
            heads=rng.randint(1, heads),
            ffn=rng.choice(range(ffn // 8, ffn + 1, ffn // 8)),
            bits=rng.choice((2, 4, 8, 16)),
            span=rng.choice((None, 8, 16, 32, 64)),
        )
        for _ in range(arch.num_layers)
    )
    return SubnetConfig(layers, embedding_bits=rng.choice((4, 8)), quant="int")


def bench(arch: Architecture, target: str, n: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    configs = [random_config(arch, rng) for _ in range(n)]
    cold = []
    for cfg in configs[: min(n, 200)]:
        clear_caches()
        t0 = time.perf_counter()
        estimate(arch, cfg, target, seq_lens=LENGTHS)
        cold.append(time.perf_counter() - t0)
    for cfg in configs:  # warm-up
        estimate(arch, cfg, target, seq_lens=LENGTHS)
    warm = []
    for cfg in configs:
        t0 = time.perf_counter()
        estimate(arch, cfg, target, seq_lens=LENGTHS)
        warm.append(time.perf_counter() - t0)
    model = cost_model(arch, target, seq_lens=LENGTHS)
    held = []
    for cfg in configs:
        t0 = time.perf_counter()
        model.estimate(cfg)
        held.append(time.perf_counter() - t0)
    us = lambda xs: statistics.median(xs) * 1e6
    return {"cold_us": us(cold), "warm_us": us(warm), "warm_costmodel_us": us(held)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="random configs per shape")
    parser.add_argument("--target", default="edgebert-12nm")
    args = parser.parse_args()
    print(f"target {args.target}, {len(LENGTHS)} distinct lengths, {args.n} random configs")
    for name, arch in (("ALBERT-base", ALBERT_BASE), ("MiniLM-L6-H384", MINILM)):
        r = bench(arch, args.target, args.n)
        print(f"{name:16s} cold {r['cold_us']:8.1f} us/query   warm estimate() {r['warm_us']:6.1f} us/query"
              f"   warm CostModel {r['warm_costmodel_us']:6.1f} us/query")


if __name__ == "__main__":
    main()
