"""Supernet training strategies, each a small class called once per batch.

Modelled on whittle's ``training_strategies``: a strategy samples the sub-networks of one step,
runs them, and back-propagates their losses (gradients accumulate); the trainer then takes one
optimizer step. Each call returns the losses it computed, for logging.

* :class:`StandardStrategy` — the largest network only (plain fine-tuning with exits).
* :class:`RandomStrategy` — one random sub-network per step, on the labels.
* :class:`SandwichStrategy` — the sandwich rule (Yu & Huang, ICCV 2019): largest + smallest +
  ``num_random`` random sub-networks (independent per layer) + ``num_uniform`` with one width
  for every layer (DynaBERT's width multipliers), distilled in place from the largest.
  With ``regularize_largest_only`` the sampled sub-networks run without dropout (BigNAS, Yu et
  al., ECCV 2020: only the largest network is regularised; the small ones underfit rather than
  overfit, and their distillation target is already smooth). ``sampled_weight`` scales each
  sampled sub-network's loss against the largest network's (1 = plain sum, as in BigNAS). The
  trainer's default is 0.5: on the default task a plain sum cost the largest network 2 pt against
  training it alone, and halving the weight won back 1.4 pt without hurting the small networks
  (docs/benchmarks.md).

The largest network learns from the labels at every exit, and its earlier exits also distill from
its final exit. With ``teacher`` logits (an external fine-tuned model) sub-networks distill from
those instead of the largest network.
"""

from __future__ import annotations

import torch

from ..errors import EvosearchError
from ..supernet import SubnetConfig, Supernet
from .losses import distillation_loss, supervised_loss
from .space import SubnetSampler


def run(supernet: Supernet, batch: dict, config: SubnetConfig | None) -> torch.Tensor:
    return supernet(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], config=config)


def largest_network_loss(exit_logits: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """Labels at every exit, plus the earlier exits distilled from the final one."""
    loss = supervised_loss(exit_logits, labels)
    if exit_logits.shape[0] > 1:
        loss = loss + distillation_loss(exit_logits[:-1], exit_logits[-1], temperature)
    return loss


class StandardStrategy:
    """Train the largest network only."""

    def __init__(self, temperature: float = 2.0):
        self.temperature = temperature

    def __call__(self, supernet: Supernet, batch: dict, sampler: SubnetSampler, teacher=None) -> dict[str, float]:
        loss = largest_network_loss(run(supernet, batch, sampler.largest()), batch["labels"], self.temperature)
        loss.backward()
        return {"largest": loss.item()}


class RandomStrategy:
    """Train one random sub-network per step on the labels."""

    def __call__(self, supernet: Supernet, batch: dict, sampler: SubnetSampler, teacher=None) -> dict[str, float]:
        loss = supervised_loss(run(supernet, batch, sampler.random()), batch["labels"])
        loss.backward()
        return {"random": loss.item()}


class SandwichStrategy:
    """Largest + smallest + ``num_random`` random + ``num_uniform`` uniform-width sub-networks, with in-place distillation."""

    def __init__(
        self, num_random: int = 2, temperature: float = 2.0, num_uniform: int = 0,
        regularize_largest_only: bool = False, sampled_weight: float = 1.0,
    ):
        if sampled_weight < 0:
            raise EvosearchError(f"sampled_weight={sampled_weight}; allowed: a number >= 0")
        self.num_random, self.temperature, self.num_uniform = num_random, temperature, num_uniform
        self.regularize_largest_only, self.sampled_weight = regularize_largest_only, sampled_weight

    def __call__(self, supernet: Supernet, batch: dict, sampler: SubnetSampler, teacher=None) -> dict[str, float]:
        largest_logits = run(supernet, batch, sampler.largest())
        loss = largest_network_loss(largest_logits, batch["labels"], self.temperature)
        loss.backward()
        losses = {"largest": loss.item()}
        target = teacher if teacher is not None else largest_logits[-1].detach()
        sampled = [("smallest", sampler.smallest())] + [(f"random{i}", sampler.random()) for i in range(self.num_random)]
        sampled += [(f"uniform{i}", sampler.uniform()) for i in range(self.num_uniform)]
        was_training = supernet.training
        if self.regularize_largest_only:
            supernet.eval()  # dropout is the only train-mode behaviour of the supernet
        try:
            for name, config in sampled:
                loss = distillation_loss(run(supernet, batch, config), target, self.temperature)
                (self.sampled_weight * loss).backward()
                losses[name] = loss.item()
        finally:
            supernet.train(was_training)
        return losses


STRATEGIES = {"standard": StandardStrategy, "random": RandomStrategy, "sandwich": SandwichStrategy}


def make_strategy(
    name: str, num_random: int = 2, temperature: float = 2.0, num_uniform: int = 0,
    regularize_largest_only: bool = False, sampled_weight: float = 1.0,
):
    if name == "standard":
        return StandardStrategy(temperature)
    if name == "random":
        return RandomStrategy()
    if name == "sandwich":
        return SandwichStrategy(num_random, temperature, num_uniform, regularize_largest_only, sampled_weight)
    raise EvosearchError(f"unknown training strategy {name!r}; allowed: {', '.join(STRATEGIES)}")
