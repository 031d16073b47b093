"""Rank heads and FFN neurons by importance and permute the weights so the best come first.

Importance is the first-order estimate of Michel et al. (NeurIPS 2019), also used by DynaBERT
(Hou et al., NeurIPS 2020): put a gate ``xi`` on a head's (or neuron's) output and measure
``|dL/dxi|``. Gating head ``h`` scales the columns of the attention output matrix that read
head ``h``, so ``dL/dxi_h = sum(W_o[:, cols(h)] * dL/dW_o[:, cols(h)])`` — computed from
ordinary weight gradients, no gate modules needed. The same holds for an FFN neuron and its
column of the FFN output matrix. We accumulate ``|dL/dxi|`` over batches.

On a shared-weight ALBERT a block's gradient sums over every virtual layer that uses it, so the
ordering is per shared block, as it must be: all those layers slice the same prefix.
Permuting heads and neurons leaves the full network's function unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from ..supernet import Supernet
from ..supernet.modules import MATRICES


def gradient_importance(
    supernet: Supernet, batches: Iterable[dict], loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per block: head importance ``(heads,)`` and neuron importance ``(ffn,)``.

    ``loss_fn(exit_logits, labels)`` is the training loss of the full network.
    """
    was_training = supernet.training
    supernet.eval()  # no dropout: importance of the deterministic network
    heads = [torch.zeros(b.num_heads) for b in supernet.blocks]
    neurons = [torch.zeros(b.num_neurons) for b in supernet.blocks]
    device = next(supernet.parameters()).device
    for batch in batches:
        supernet.zero_grad(set_to_none=True)
        logits = supernet(batch["input_ids"].to(device), batch["attention_mask"].to(device), batch["token_type_ids"].to(device))
        loss_fn(logits, batch["labels"].to(device)).backward()
        for i, block in enumerate(supernet.blocks):
            w_o = block.attention_out.weight
            per_column = (w_o * w_o.grad).sum(dim=0)
            heads[i] += per_column.view(block.num_heads, block.head_dim).sum(dim=1).abs().detach().cpu()
            w_f = block.ffn_out.weight
            neurons[i] += (w_f * w_f.grad).sum(dim=0).abs().detach().cpu()
    supernet.zero_grad(set_to_none=True)
    supernet.train(was_training)
    return heads, neurons


@torch.no_grad()
def reorder_by_importance(supernet: Supernet, heads: list[torch.Tensor], neurons: list[torch.Tensor]) -> None:
    """Permute every block so its most important heads and neurons come first (in place); movement
    scores (:mod:`evosearch.supernet.pruning`) and learned spans move with their weights."""
    for block, head_score, neuron_score in zip(supernet.blocks, heads, neurons):
        head_order = torch.argsort(head_score, descending=True, stable=True)
        rows = (head_order[:, None] * block.head_dim + torch.arange(block.head_dim)).flatten()
        neuron_order = torch.argsort(neuron_score, descending=True, stable=True)
        order = {"heads": rows, "ffn": neuron_order}
        for name, (unit, dim) in MATRICES.items():
            linear = getattr(block, name)
            tensors = [linear.weight] + ([block.scores[name]] if block.scores is not None else [])
            if dim == 0:
                tensors.append(linear.bias)
            for tensor in tensors:
                tensor.copy_(tensor.index_select(dim, order[unit]))
        if block.spans is not None:
            block.spans.copy_(block.spans.index_select(0, head_order))
