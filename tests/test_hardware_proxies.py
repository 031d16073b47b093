"""Hardware-agnostic objectives: MACs, parameters, model size, P-BERT's ICCR."""

from __future__ import annotations

from dataclasses import replace

import pytest

from evosearch.hardware import flops, iccr, iccr_complexity, macs, model_size_bytes, parameter_count
from evosearch.specs import LayerConfig, SubnetConfig
from evosearch.specs.shapes import ALBERT_BASE as ALBERT, MINILM_L6 as MINILM



def test_parameter_counts_match_the_published_models():
    # ALBERT-base: ~11.7M parameters (Lan et al. 2020: 12M); MiniLM-L6-H384: ~22.7M
    assert parameter_count(ALBERT, SubnetConfig.largest(ALBERT)) == pytest.approx(11.7e6, rel=0.02)
    assert parameter_count(MINILM, SubnetConfig.largest(MINILM)) == pytest.approx(22.7e6, rel=0.02)


def test_model_size_follows_bits_and_counts_shared_blocks_once():
    full32 = SubnetConfig.largest(ALBERT)
    full8 = full32.with_layers(bits=8)
    s32 = model_size_bytes(ALBERT, full32)
    s8 = model_size_bytes(ALBERT, full8)
    block = 4 * 768 * 768 + 2 * 768 * 3072
    assert s32 - s8 == pytest.approx(block * 3)  # 4 -> 1 byte per weight; the exit ramp stays float32
    ramp = (768 * 768 + 768 + 768 * 2 + 2) * 4
    assert model_size_bytes(ALBERT, full8, exits=[0, 5]) - s8 == pytest.approx(2 * ramp)  # two more ramps kept
    emb8 = model_size_bytes(ALBERT, replace(full8, embedding_bits=8))
    # tables and the E->H projection are stored at embedding_bits
    assert s8 - emb8 == pytest.approx((30000 + 512 + 2) * 128 * 3 + 128 * 768 * 3)
    # per-layer differences: the union (max over the layers sharing the block) is stored
    layers = list(full8.layers)
    layers[0] = LayerConfig(6, 1536, 4)
    assert model_size_bytes(ALBERT, replace(full8, layers=tuple(layers))) == s8
    half = SubnetConfig.uniform(ALBERT, 0.5, bits=8)
    assert model_size_bytes(ALBERT, half) < s8


def test_macs_of_full_models():
    # ALBERT-base at T=128: 12 * (128 * (4*768^2 + 2*768*3072) + 2 * 128^2 * 768) + projection + ramp
    t = 128
    layer = t * (4 * 768 * 768 + 2 * 768 * 3072) + 2 * t * t * 768
    expected = 12 * layer + t * 128 * 768 + 768 * 768 + 768 * 2
    assert macs(ALBERT, SubnetConfig.largest(ALBERT), seq_len=t) == expected
    assert flops(ALBERT, SubnetConfig.largest(ALBERT), seq_len=t) == 2 * expected
    # span shrinks attention only
    spanned = SubnetConfig.largest(ALBERT).with_layers(span=8)
    assert macs(ALBERT, spanned, seq_len=t) < expected
    assert macs(ALBERT, spanned, seq_len=t) > expected - 12 * 2 * t * t * 768


def test_iccr_definition():
    """P-BERT: K_model = sum_i i * j_i * b_i (i = 1..L), ICCR = K_original / K_model."""
    full32 = SubnetConfig.largest(MINILM).with_layers(bits=32)
    assert iccr(MINILM, full32) == pytest.approx(1.0)
    assert iccr(MINILM, full32.with_layers(bits=8)) == pytest.approx(4.0)
    j = 4 * 384 * 384 + 2 * 384 * 1536
    assert iccr_complexity(MINILM, full32) == sum(i * j * 32 for i in range(1, 7))
    # sparsity counts as removed values
    assert iccr(MINILM, full32, sparsity=[0.5] * 6) == pytest.approx(2.0)


def test_iccr_flaw_deep_layers_weigh_more():
    """The reviewers' point: the same compression counts 5x more in layer 5 than in layer 1."""
    full = SubnetConfig.largest(MINILM).with_layers(bits=8)

    def quantize(layer_index):
        layers = list(full.layers)
        layers[layer_index] = replace(layers[layer_index], bits=2)
        return replace(full, layers=tuple(layers))

    k_full = iccr_complexity(MINILM, full)
    saved_first = k_full - iccr_complexity(MINILM, quantize(0))
    saved_fifth = k_full - iccr_complexity(MINILM, quantize(4))
    assert saved_fifth == pytest.approx(5 * saved_first)
    # ...although both save exactly the same bytes (and the same hardware cost)
    assert model_size_bytes(MINILM, quantize(0)) == model_size_bytes(MINILM, quantize(4))


def test_model_size_counts_pruned_embeddings_as_the_export_stores_them():
    """weights.safetensors holds a pruned table as a presence bit per entry plus the non-zeros;
    MACs and parameters do not change (lookups are no MACs; params counts stored tensors)."""
    from evosearch.specs.embedding import kept_entries, table_shapes

    dense = SubnetConfig(SubnetConfig.largest(MINILM).layers, embedding_bits=8)
    pruned = replace(dense, embedding_sparsity=0.6)
    tables = [r * w for r, w in table_shapes(MINILM).values()]
    stored = sum(n + 8 * kept_entries(n, 0.6) for n in tables) / 8
    assert model_size_bytes(MINILM, dense) - model_size_bytes(MINILM, pruned) == pytest.approx(sum(tables) - stored)
    assert macs(MINILM, pruned, seq_len=32) == macs(MINILM, dense, seq_len=32)
    assert parameter_count(MINILM, pruned) == parameter_count(MINILM, dense)
