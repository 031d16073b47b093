"""Losses over all exits: supervised, and in-place distillation from the largest network.

Exit ``i`` (0-based) of ``L`` weighs ``(i + 1) / (1 + 2 + ... + L)``: deeper exits matter more and the
weights sum to 1 (the final exit weighs ``2 / (L + 1)``), the weighted-average scheme of BERxiT / PABEE-style joint training. Sub-networks learn from the
detached logits of the largest network (in-place distillation: Yu et al., BigNAS; Cai et al.,
Once-for-All), with Hinton et al.'s temperature-scaled KL divergence. Regression tasks
(one output) use mean squared error for both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def exit_weights(num_exits: int, device=None) -> torch.Tensor:
    weights = torch.arange(1, num_exits + 1, dtype=torch.float32, device=device) / num_exits
    return weights / weights.sum()


def supervised_loss(exit_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Weighted task loss of every exit; ``exit_logits`` is ``(num_exits, batch, outputs)``."""
    num_exits, batch, outputs = exit_logits.shape
    if outputs == 1:
        per_exit = ((exit_logits.squeeze(-1) - labels.float()[None]) ** 2).mean(dim=1)
    else:
        flat = F.cross_entropy(exit_logits.reshape(-1, outputs), labels.repeat(num_exits), reduction="none")
        per_exit = flat.view(num_exits, batch).mean(dim=1)
    return (exit_weights(num_exits, exit_logits.device) * per_exit).sum()


def distillation_loss(exit_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Weighted KL(teacher || exit) at ``temperature`` for every exit; ``teacher_logits`` is ``(batch, outputs)``."""
    num_exits = exit_logits.shape[0]
    teacher = teacher_logits.detach()
    if exit_logits.shape[-1] == 1:
        per_exit = ((exit_logits - teacher[None]) ** 2).mean(dim=(1, 2))
    else:
        log_student = F.log_softmax(exit_logits / temperature, dim=-1)
        target = F.softmax(teacher / temperature, dim=-1)[None].expand_as(log_student)
        kl = (target * (torch.log(target.clamp_min(1e-12)) - log_student)).sum(-1).mean(-1)
        per_exit = kl * temperature**2
    return (exit_weights(num_exits, exit_logits.device) * per_exit).sum()
