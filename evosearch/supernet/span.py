"""Adaptive attention span (Sukhbaatar et al., ACL 2019), as applied to ALBERT by EdgeBERT.

A head with span ``z`` weighs the attention between tokens at distance ``d`` by the soft mask
``m(d) = clamp((R + z - d) / R, 0, 1)`` with ramp ``R``, then renormalises. Multiplying the
softmax by ``m`` and renormalising equals adding ``log m`` to the scores before the softmax,
which is how we apply it (one additive bias, shared with the padding mask). The encoder is
bidirectional, so ``d = |i - j|``.

``z`` is either one number for every head of a layer (the span gene of a sub-network) or a
tensor of learned per-head spans (:class:`~evosearch.supernet.modules.EncoderBlock` ``span``;
Sukhbaatar et al.'s adaptive span). The mask is linear in ``z`` inside the ramp, so it is
differentiable there; outside the ramp (``m`` = 0 or 1) its gradient is zero.

Spans and the ramp are set relative to the task's sentence lengths (:mod:`evosearch.specs.spans`).
"""

from __future__ import annotations

import torch


def span_mask(seq_len: int, span, ramp: float, device=None) -> torch.Tensor:
    """The soft mask ``m(|i - j|)``: ``(seq_len, seq_len)`` for a number ``span``, ``(*span.shape,
    seq_len, seq_len)`` for a tensor of spans (one per head); values in [0, 1]."""
    positions = torch.arange(seq_len, device=device)
    distance = (positions[:, None] - positions[None, :]).abs().float()
    if torch.is_tensor(span):
        span = span[..., None, None]
    return ((ramp + span - distance) / ramp).clamp(0.0, 1.0)


def span_bias(seq_len: int, span, ramp: float, device=None) -> torch.Tensor:
    """``log m``: an additive attention bias (``-inf`` where the mask is 0, with a zero gradient there)."""
    mask = span_mask(seq_len, span, ramp, device)
    return torch.where(mask > 0, mask.clamp_min(torch.finfo(mask.dtype).tiny).log(), float("-inf"))
