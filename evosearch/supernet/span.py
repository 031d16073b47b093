"""Adaptive attention span (Sukhbaatar et al., ACL 2019), as applied to ALBERT by EdgeBERT.

A head with span ``z`` weighs the attention between tokens at distance ``d`` by the soft mask
``m(d) = clamp((R + z - d) / R, 0, 1)`` with ramp ``R``, then renormalises. Multiplying the
softmax by ``m`` and renormalising equals adding ``log m`` to the scores before the softmax,
which is how we apply it (one additive bias, shared with the padding mask). The encoder is
bidirectional, so ``d = |i - j|``.

Spans and the ramp only mean something relative to the task's sentence lengths: a span of 32
tokens changes nothing on a task whose sentences average 27 tokens. So evosearch expresses them
as fractions of a *reference length* (the 95th percentile of the training sentences' lengths,
recorded in the checkpoint): :func:`span_tokens` turns a fraction into tokens, the same way in
training and in search, and :func:`default_ramp` scales the ramp with the same length.
"""

from __future__ import annotations

import torch


def span_mask(seq_len: int, span: float, ramp: float, device=None) -> torch.Tensor:
    """The soft mask ``m(|i - j|)`` as a ``(seq_len, seq_len)`` tensor of values in [0, 1]."""
    positions = torch.arange(seq_len, device=device)
    distance = (positions[:, None] - positions[None, :]).abs().float()
    return ((ramp + span - distance) / ramp).clamp(0.0, 1.0)


def span_bias(seq_len: int, span: float, ramp: float, device=None) -> torch.Tensor:
    """``log m``: an additive attention bias (``-inf`` where the mask is 0)."""
    return torch.log(span_mask(seq_len, span, ramp, device))


#: The ramp is this fraction of the reference length (EdgeBERT: ramp 256 for a 512-token span).
RAMP_FRACTION = 1 / 16


def span_tokens(fraction: float | None, reference_length: int) -> int | None:
    """A span given as a fraction of ``reference_length``, in tokens (None stays unlimited)."""
    if fraction is None:
        return None
    return max(1, int(round(float(fraction) * reference_length)))


def default_ramp(reference_length: int) -> int:
    """The ramp ``R`` for a task whose reference length is ``reference_length`` tokens."""
    return max(1, int(round(RAMP_FRACTION * reference_length)))


def reference_length(lengths, quantile: float = 0.95) -> int:
    """The ``quantile`` of token lengths (an iterable of ints): the length spans are relative to."""
    import numpy as np

    values = np.asarray(list(lengths), dtype=float)
    if values.size == 0:
        raise ValueError("no lengths to take a reference length from")
    return max(1, int(np.ceil(np.quantile(values, quantile))))
