"""Entropy-based early exit (DeeBERT, Xin et al., ACL 2020; EdgeBERT, Tambe et al., MICRO 2021).

An input leaves at the first off-ramp whose prediction entropy is below that ramp's threshold;
the last layer always answers. Later layers never change earlier exits' outputs, so one forward
pass that records every exit's logits gives the exact predictions and exit layers for *any*
threshold vector: this module maps (per-exit logits, thresholds) to them without the model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def exit_entropy(exit_logits: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of each exit's softmax; ``exit_logits`` is ``(num_exits, batch, classes)``."""
    log_probs = torch.log_softmax(exit_logits.float(), dim=-1)
    return -(log_probs.exp() * log_probs).sum(dim=-1)


def early_exit(
    exit_logits: torch.Tensor, thresholds: float | Sequence[float] | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions and exit layers (0-based) under entropy thresholds.

    ``thresholds`` is one value for every exit, or one per exit (``num_exits`` values, or
    ``num_exits - 1``: the last layer needs none since it always answers). A threshold of 0
    never exits early; a huge threshold exits everything at the first layer.
    """
    num_exits = exit_logits.shape[0]
    limits = torch.as_tensor(thresholds, dtype=torch.float32, device=exit_logits.device)
    if limits.dim() == 0:
        limits = limits.expand(num_exits)
    elif limits.numel() == num_exits - 1:
        limits = torch.cat([limits, limits.new_zeros(1)])
    elif limits.numel() != num_exits:
        raise ValueError(f"expected 1, {num_exits - 1} or {num_exits} thresholds, got {limits.numel()}")
    confident = exit_entropy(exit_logits) < limits[:, None]
    confident[-1] = True
    exit_layer = confident.float().argmax(dim=0)  # first True per input
    chosen = exit_logits.gather(0, exit_layer[None, :, None].expand(1, *exit_logits.shape[1:]))[0]
    return chosen.argmax(dim=-1), exit_layer
