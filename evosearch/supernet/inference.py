"""Run a sub-network over evaluation batches: every exit's logits, or early exit as deployed.

* :func:`collect_exit_logits` — every exit's logits for every example (what the search caches:
  accuracy and exit layers under *any* thresholds follow from them, :func:`early_exit`);
* :func:`collect_states` — the same, keeping each layer's hidden states, so that sub-networks
  which share a prefix of layers with it can start where they diverge;
* :func:`early_exit_run` — predictions and exit layers under given thresholds, running each
  example only as deep as it goes (examples that exit are dropped from the batch), optionally
  from the hidden states of a sub-network that shares the first layers. Equal to
  :func:`early_exit` on :func:`collect_exit_logits`, at a fraction of the cost.

All three run, by default, the arithmetic of the int8 deployment (``int8_engine``, see
:mod:`evosearch.supernet.model`): what they estimate is the model that ``evosearch export`` ships.
Pass ``int8_engine=False`` for the supernet's own float arithmetic (an export with ``--no-int8``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from .exits import exit_entropy
from .model import Supernet
from ..specs import SubnetConfig


def _inputs(batch: dict, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    ids = batch["input_ids"].to(device)
    mask = batch.get("attention_mask")
    mask = torch.ones_like(ids) if mask is None else mask.to(device)
    types = batch.get("token_type_ids")
    return ids, mask, None if types is None else types.to(device)


class _EvalMode:
    """Eval mode and inference mode for the block; the module's training flag restored after."""

    def __init__(self, supernet: Supernet):
        self.supernet = supernet

    def __enter__(self):
        self.was_training = self.supernet.training
        self.supernet.eval()
        self.inference = torch.inference_mode()
        self.inference.__enter__()
        return next(self.supernet.parameters()).device

    def __exit__(self, *exc):
        self.inference.__exit__(*exc)
        self.supernet.train(self.was_training)


def collect_exit_logits(
    supernet: Supernet, batches: Iterable[dict], config: SubnetConfig | None = None, masked: bool = False,
    int8_engine: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every exit's logits over all batches, ``(num_exits, examples, outputs)``, and the labels.

    Examples come in batch order (the labels are returned in the same order). The sub-network's
    matrices are prepared once for all batches.
    """
    with _EvalMode(supernet) as device:
        weights = supernet.subnet_weights(config, masked, int8_engine)
        logits, labels = [], []
        for batch in batches:
            ids, mask, types = _inputs(batch, device)
            logits.append(supernet(ids, mask, types, weights=weights).float().cpu())
            labels.append(batch["labels"])
    return torch.cat(logits, dim=1), torch.cat(labels)


@dataclass
class LayerStates:
    """A full run of one sub-network: its exit logits ``(L, N, C)`` and, per layer and batch,
    the hidden states after that layer."""

    config: SubnetConfig
    logits: torch.Tensor
    hidden: list[list[torch.Tensor]]  # [layer][batch]
    int8_engine: bool = True

    def shared_layers(self, config: SubnetConfig, int8_engine: bool = True) -> int:
        """How many first layers ``config`` shares with this run (0 if the embeddings or the arithmetic differ)."""
        mine = (self.config.embedding_bits, self.config.embedding_sparsity, self.config.quant, self.int8_engine)
        if (config.embedding_bits, config.embedding_sparsity, config.quant, int8_engine) != mine:
            return 0
        shared = 0
        for mine, theirs in zip(self.config.layers, config.layers):
            if mine != theirs:
                break
            shared += 1
        return shared


def collect_states(supernet: Supernet, batches: Sequence[dict], config: SubnetConfig,
                   int8_engine: bool = True) -> LayerStates:
    """:func:`collect_exit_logits` that also keeps every layer's hidden states."""
    with _EvalMode(supernet) as device:
        weights = supernet.subnet_weights(config, int8_engine=int8_engine)
        hidden: list[list[torch.Tensor]] = [[] for _ in range(supernet.arch.num_layers)]
        logits = []
        for batch in batches:
            ids, mask, types = _inputs(batch, device)
            states = supernet.hidden_states(ids, mask, types, weights=weights)
            for layer, h in enumerate(states):
                hidden[layer].append(h)
            logits.append(torch.stack([supernet.exit_logits_at(i, h, mask) for i, h in enumerate(states)]).float().cpu())
    return LayerStates(config, torch.cat(logits, dim=1), hidden, int8_engine)


def early_exit_run(
    supernet: Supernet,
    batches: Sequence[dict],
    config: SubnetConfig,
    thresholds: Sequence[float],
    start: LayerStates | None = None,
    int8_engine: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions and 0-based exit layers of every example under entropy ``thresholds``
    (one per exit but the last), running each example only until it exits.

    With ``start`` (a run of a sub-network sharing the first ``k`` layers with ``config``), the
    first ``k`` exits are read from it and the remaining layers start from its hidden states.
    """
    num_layers = supernet.arch.num_layers
    limits = [float(t) for t in thresholds][: num_layers - 1] + [float("inf")]
    if len(limits) != num_layers:
        raise ValueError(f"expected {num_layers - 1} thresholds, got {len(thresholds)}")
    shared = start.shared_layers(config, int8_engine) if start is not None else 0
    preds, exits = [], []
    offset = 0
    with _EvalMode(supernet) as device:
        weights = supernet.subnet_weights(config, int8_engine=int8_engine)
        for b, batch in enumerate(batches):
            ids, mask, types = _inputs(batch, device)
            n = ids.shape[0]
            pred = torch.zeros(n, dtype=torch.long)
            exit_layer = torch.full((n,), num_layers - 1, dtype=torch.long)
            alive = torch.arange(n)
            for layer in range(shared):  # exits of the shared prefix: read, not run
                logits = start.logits[layer, offset + alive]
                done = _confident(logits, limits[layer])
                pred[alive[done]] = logits[done].argmax(-1)
                exit_layer[alive[done]] = layer
                alive = alive[~done]
            if shared:
                x = start.hidden[shared - 1][b][alive.to(device)]
            else:
                x = supernet.embed(ids, types, weights, mask)
            keep_mask = mask[alive.to(device)]
            padding = supernet.padding_bias(keep_mask, x.dtype)
            for layer in range(shared, num_layers):
                if len(alive) == 0:
                    break
                x = supernet.run_layer(layer, x, padding, weights)
                logits = supernet.exit_logits_at(layer, x, keep_mask).float().cpu()
                done = _confident(logits, limits[layer])
                pred[alive[done]] = logits[done].argmax(-1)
                exit_layer[alive[done]] = layer
                stay = ~done
                alive = alive[stay]
                stay = stay.to(device)
                x, padding, keep_mask = x[stay], padding[stay], keep_mask[stay]
            preds.append(pred)
            exits.append(exit_layer)
            offset += n
    return torch.cat(preds), torch.cat(exits)


def _confident(logits: torch.Tensor, limit: float) -> torch.Tensor:
    """Which rows leave at this exit: entropy below the limit (the last exit's limit is infinite)."""
    if limit == float("inf"):
        return torch.ones(logits.shape[0], dtype=torch.bool)
    return exit_entropy(logits[None])[0] < limit


def exit_accuracies(exit_logits: torch.Tensor, labels: torch.Tensor) -> list[float]:
    """Accuracy of each exit on its own (every input leaving there)."""
    return (exit_logits.argmax(-1) == labels[None]).float().mean(dim=1).tolist()
