"""Unstructured pruning of a weight matrix: which weights of each row a sub-network zeroes.

Both criteria keep, in every row, the same number of weights: ``round((1 - sparsity) * row_width)``
(at least one) of the ``row_width`` weights the row keeps after slicing. They differ in what ranks
the weights (Sanh, Wolf & Rush, "Movement Pruning: Adaptive Sparsity by Fine-Tuning", NeurIPS 2020):

* ``magnitude`` (zeroth order; Han et al., NeurIPS 2015): the largest ``|W|`` stay.
* ``movement`` (first order): each weight has a learned importance score ``S``; the highest scores
  stay, ``W' = W * M`` with ``M = TopK(S)``. ``TopK`` is treated as the identity in the backward pass
  (straight-through estimator), so ``dL/dS = dL/dW' * W``: a weight moving away from zero
  (``dL/dW'`` and ``W`` of opposite signs) gains score; one moving towards zero loses it. Summed over
  training, ``S = -sum_t dL/dW' * W``: the movement that gives the method its name.

On the weight-sharing supernet the scores are shared like the weights and sliced like them; a
sub-network's mask is the top-k of its sliced scores at its layer's sparsity.
"""

from __future__ import annotations

import torch


def kept_per_row(sparsity: float, row_width: int) -> int:
    """Weights a row of ``row_width`` keeps at ``sparsity`` (at least one)."""
    return row_width if sparsity <= 0 else max(1, round((1 - sparsity) * row_width))


def magnitude_prune(weight: torch.Tensor, sparsity: float, row_width: int) -> torch.Tensor:
    """Zero the smallest-magnitude ``sparsity`` fraction of each row's ``row_width`` kept weights.

    Unstructured magnitude pruning (Han et al., NeurIPS 2015; per row, as in Sanh et al.'s
    comparison with movement pruning, NeurIPS 2020). ``row_width`` is the number of weights a row
    keeps after slicing, so a masked full-size row (zeros where heads/neurons were dropped) is
    pruned exactly like the sliced row. Gradients reach the surviving weights only.
    """
    if sparsity <= 0:
        return weight
    magnitude = weight.detach().abs()
    threshold = magnitude.topk(kept_per_row(sparsity, row_width), dim=-1).values[..., -1:]
    return weight * (magnitude >= threshold)


def magnitude_threshold(table: torch.Tensor, sparsity: float) -> torch.Tensor:
    """The smallest magnitude a table keeps when a ``sparsity`` fraction of *all* its entries is
    pruned by magnitude (one threshold for the whole tensor): the ``k``-th largest ``|w|``, ``k``
    from :func:`evosearch.specs.embedding.kept_entries`. EdgeBERT's embedding pruning (Tambe et
    al., MICRO 2021; its recipe thresholds each embedding tensor at the 60th percentile of its
    magnitudes), magnitude pruning after Han et al. (NeurIPS 2015). A 0-d tensor."""
    from ..specs.embedding import kept_entries

    magnitude = table.detach().abs().reshape(-1)
    n = magnitude.numel()
    return magnitude.kthvalue(n - kept_entries(n, sparsity) + 1).values


def keep_above(values: torch.Tensor, threshold: torch.Tensor | None) -> torch.Tensor:
    """``values`` with the entries below ``threshold`` in magnitude set to zero (None: unchanged).

    Elementwise, so pruning looked-up rows equals looking up rows of the pruned table. Gradients
    reach the kept entries only."""
    if threshold is None:
        return values
    return values * (values.detach().abs() >= threshold)


def movement_prune(weight: torch.Tensor, scores: torch.Tensor, sparsity: float, row_width: int) -> torch.Tensor:
    """``weight * TopK(scores)`` per row, with the straight-through gradient ``dL/dS = dL/dW' * W``.

    Movement pruning (Sanh et al., NeurIPS 2020), hard top-k variant. Only the first ``row_width``
    columns compete: a masked full-size row (dropped heads/neurons at the end) is pruned exactly like
    the sliced row. At sparsity 0 the mask is all ones, and the scores still learn from the gradient.
    """
    return weight * _TopKMask.apply(scores, kept_per_row(sparsity, row_width), row_width)


class _TopKMask(torch.autograd.Function):
    """1.0 at the ``keep`` highest scores among a row's first ``row_width`` columns, 0.0 elsewhere;
    the backward pass is the identity (straight-through estimator, Bengio et al., 2013)."""

    @staticmethod
    def forward(ctx, scores: torch.Tensor, keep: int, row_width: int) -> torch.Tensor:
        if keep >= scores.shape[-1]:
            return torch.ones_like(scores)
        chosen = scores[..., :row_width].topk(keep, dim=-1).indices
        return torch.zeros_like(scores).scatter_(-1, chosen, 1.0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None, None
