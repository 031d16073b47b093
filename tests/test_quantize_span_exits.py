"""Quantizers, the adaptive-span mask and the early-exit function."""

import itertools
import math

import pytest
import torch

from evosearch.supernet.exits import early_exit, exit_entropy
from evosearch.supernet.quantize import ADAPTIVFLOAT_EXPONENT_BITS, quantize_rows, quantize_weight
from evosearch.supernet.span import span_mask

SCHEMES = ["int", "adaptivfloat"]


def weights(seed=0):
    return torch.randn(64, 96, generator=torch.Generator().manual_seed(seed)) * 0.05


@pytest.mark.parametrize("scheme", SCHEMES)
def test_32_bits_is_identity(scheme):
    w = weights()
    assert quantize_weight(w, 32, scheme) is w
    assert quantize_rows(w, 32, scheme) is w


@pytest.mark.parametrize("scheme", SCHEMES)
def test_error_shrinks_as_bits_grow(scheme):
    w = weights()
    errors = [(quantize_weight(w, b, scheme) - w).pow(2).mean().item() for b in (2, 3, 4, 6, 8, 16)]
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-6 * w.pow(2).mean().item() * 100


def test_int_levels_per_row():
    w = weights()
    q = quantize_weight(w, 4, "int")
    for row_w, row_q in zip(w, q):
        scale = row_w.abs().max() / 7
        levels = torch.round(row_q / scale)
        assert torch.allclose(levels * scale, row_q, atol=1e-6)
        assert levels.abs().max() <= 7 and len(levels.unique()) <= 15


@pytest.mark.parametrize("bits", [3, 4, 6, 8])
def test_adaptivfloat_values_lie_on_its_grid(bits):
    w = weights(1)
    q = quantize_weight(w, bits, "adaptivfloat")
    e = ADAPTIVFLOAT_EXPONENT_BITS[bits]
    m = bits - 1 - e
    exp_max = math.floor(math.log2(w.abs().max().item()))
    exp_min = exp_max - (2**e - 1)
    grid = {0.0}
    for k, j in itertools.product(range(exp_min, exp_max + 1), range(2**m)):
        if not (k == exp_min and j == 0):  # that code stands for zero
            grid |= {2.0**k * (1 + j / 2**m), -(2.0**k) * (1 + j / 2**m)}
    assert len(grid) == 2**bits - 1
    for v in q.unique().tolist():
        assert min(abs(v - g) for g in grid) <= 1e-6 * abs(v), v
    # nearest grid value: no representable value is closer to w than q is
    grid_t = torch.tensor(sorted(grid))
    nearest = grid_t[(w.flatten()[:, None] - grid_t[None]).abs().argmin(dim=1)]
    assert ((w.flatten() - q.flatten()).abs() <= (w.flatten() - nearest).abs() + 1e-7).all()


def test_straight_through_gradient():
    w = weights().requires_grad_()
    quantize_weight(w, 4, "int").sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_row_quantization_commutes_with_lookup(scheme):
    table = weights(2)
    ids = torch.tensor([3, 7, 7, 0])
    q_table = quantize_rows(table, 4, scheme)
    torch.testing.assert_close(quantize_rows(table[ids], 4, scheme), q_table[ids])


def test_span_mask_shape_and_values():
    m = span_mask(seq_len=10, span=2, ramp=4)
    assert m.shape == (10, 10)
    assert torch.equal(m.diagonal(), torch.ones(10))
    assert torch.equal(m, m.T)
    # distance d: 1 while d <= span, linear on the ramp, 0 from span + ramp on
    assert m[0, 2] == 1 and m[0, 4] == pytest.approx(0.5) and m[0, 6] == 0 and m[0, 9] == 0
    assert torch.equal(span_mask(10, span=20, ramp=4), torch.ones(10, 10))


def test_span_narrows_attention_in_the_model():
    from tests.tiny_models import HF_MODELS, batch
    from evosearch.supernet import SubnetConfig, supernet_from_hf

    torch.manual_seed(0)
    supernet = supernet_from_hf(HF_MODELS["bert"]()).eval()
    ids, mask, types = batch(length=40)
    full = supernet(ids, mask, types)
    wide = supernet(ids, mask, types, config=SubnetConfig.largest(supernet.arch).with_layers(span=60))
    narrow = supernet(ids, mask, types, config=SubnetConfig.largest(supernet.arch).with_layers(span=1))
    torch.testing.assert_close(wide, full)  # span + ramp beyond the sequence: no effect
    assert not torch.allclose(narrow, full, atol=1e-3)


def logits_for_exits(num_exits=4, batch=50, classes=3, seed=0):
    return torch.randn(num_exits, batch, classes, generator=torch.Generator().manual_seed(seed)) * 3


def test_threshold_zero_exits_everything_at_last_layer():
    logits = logits_for_exits()
    preds, layers = early_exit(logits, 0.0)
    assert torch.equal(layers, torch.full((50,), 3))
    assert torch.equal(preds, logits[-1].argmax(-1))


def test_huge_threshold_exits_everything_at_first_layer():
    logits = logits_for_exits()
    preds, layers = early_exit(logits, 1e9)
    assert torch.equal(layers, torch.zeros(50, dtype=torch.long))
    assert torch.equal(preds, logits[0].argmax(-1))


def test_early_exit_matches_a_per_input_loop():
    logits = logits_for_exits(seed=4)
    thresholds = [0.3, 0.6, 0.9]
    preds, layers = early_exit(logits, thresholds)
    entropy = exit_entropy(logits)
    for b in range(logits.shape[1]):
        layer = next((i for i in range(3) if entropy[i, b] < thresholds[i]), 3)
        assert layers[b] == layer and preds[b] == logits[layer, b].argmax()


def test_entropy_bounds_and_threshold_count_error():
    logits = logits_for_exits()
    h = exit_entropy(logits)
    assert (h >= 0).all() and (h <= math.log(3) + 1e-6).all()
    with pytest.raises(ValueError, match="expected 1, 3 or 4 thresholds, got 2"):
        early_exit(logits, [0.1, 0.2])
