"""Run a sub-network over evaluation batches and score its exits."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from .model import Supernet
from .subnet import SubnetConfig


@torch.inference_mode()
def collect_exit_logits(
    supernet: Supernet, batches: Iterable[dict], config: SubnetConfig | None = None, masked: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every exit's logits over all batches, ``(num_exits, examples, outputs)``, and the labels.

    Examples come in batch order (the labels are returned in the same order).
    """
    was_training = supernet.training
    supernet.eval()
    device = next(supernet.parameters()).device
    logits, labels = [], []
    for batch in batches:
        logits.append(
            supernet(
                batch["input_ids"].to(device),
                batch["attention_mask"].to(device),
                batch["token_type_ids"].to(device),
                config=config,
                masked=masked,
            ).float().cpu()
        )
        labels.append(batch["labels"])
    supernet.train(was_training)
    return torch.cat(logits, dim=1), torch.cat(labels)


def exit_accuracies(exit_logits: torch.Tensor, labels: torch.Tensor) -> list[float]:
    """Accuracy of each exit on its own (every input leaving there)."""
    return (exit_logits.argmax(-1) == labels[None]).float().mean(dim=1).tolist()
