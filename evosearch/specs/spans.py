"""Spans and the span ramp relative to a task's sentence lengths (torch-free).

A span of 32 tokens changes nothing on a task whose sentences average 27 tokens. So evosearch
expresses spans as fractions of a *reference length* (the 95th percentile of the training
sentences' lengths, recorded in the checkpoint): :func:`span_tokens` turns a fraction into
tokens, the same way in training and in search, and :func:`default_ramp` scales the ramp of the
adaptive-span mask (Sukhbaatar et al., ACL 2019) with the same length.
"""

from __future__ import annotations

import math

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


def covering_spans(learned, kept) -> list[int]:
    """Per layer, one span covering the learned per-head spans (adaptive attention span,
    Sukhbaatar et al., ACL 2019) of the heads it keeps: ``learned`` holds each layer's spans of
    every head in tokens, ``kept`` how many heads each layer keeps (its first ones). The largest
    kept span, rounded up to a whole token and at least 1: a layer given it attends at least as
    far as each of its heads learned to (how cost models with one span per layer price it)."""
    return [max(1, math.ceil(max(heads[:k]))) for heads, k in zip(learned, kept)]


def round_up_to_choice(span: int, choices) -> int | None:
    """The smallest of ``choices`` (spans in tokens; None = unlimited) that is at least ``span``;
    None when ``span`` exceeds every integer choice (then ``choices`` must hold None)."""
    above = [c for c in choices if c is not None and c >= span]
    if above:
        return min(above)
    if None not in choices:
        raise ValueError(f"span {span} exceeds every choice {list(choices)} and none of them is unlimited (None)")
    return None


def reference_length(lengths, quantile: float = 0.95) -> int:
    """The ``quantile`` of token lengths (an iterable of ints): the length spans are relative to."""
    import numpy as np

    values = np.asarray(list(lengths), dtype=float)
    if values.size == 0:
        raise ValueError("no lengths to take a reference length from")
    return max(1, int(np.ceil(np.quantile(values, quantile))))
