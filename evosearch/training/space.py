"""The sub-network space a supernet is trained for, and sampling from it.

Training samples per-layer widths, bit widths and attention spans so that every sub-network the
search may later pick has been trained (Yu et al., BigNAS, ECCV 2020; whittle). By default spans
are *sampled* per sub-network: the search treats the span of each layer as a gene, so every span
in the space must work, not one learned value. With ``span_mode: learned``
(:class:`~evosearch.training.trainer.TrainConfig`) the space's spans are ``[None]``: every sampled
sub-network runs the learned per-head spans instead.

Sampled layer sparsities can be ramped up during training (the sparsity warm-up,
``TrainConfig.sparsity_warmup``): inside :meth:`SubnetSampler.sparsities_scaled` every drawn
layer sparsity is multiplied by :func:`cubic_sparsity_factor` of the step.
"""

from __future__ import annotations

import math
import random
from contextlib import contextmanager
from dataclasses import replace

from ..specs import Architecture, LayerConfig, SubnetConfig
from ..specs.bounds import TrainingSpace, TrainingSpaceError


def cubic_sparsity_factor(step: int, start: int, steps: int) -> float:
    """The fraction of its target sparsity a sub-network prunes at ``step``: ``1 - (1 - p)^3``,
    ``p = (step - start) / steps`` clipped to [0, 1].

    The gradual pruning schedule of Zhu & Gupta ("To prune, or not to prune", 2017), with initial
    sparsity 0: ``s_t = s_f (1 - (1 - (t - t0) / n)^3)``, which Sanh et al. (NeurIPS 2020) use for
    movement pruning and for their magnitude baseline. 0 until ``start``, the full target from
    ``start + steps`` on, rising fast at first and slowly near the target (where the network has
    fewer redundant weights left to lose). ``steps`` >= 1.
    """
    progress = min(max((step - start) / steps, 0.0), 1.0)
    return 1.0 - (1.0 - progress) ** 3


class SubnetSampler:
    """Draws sub-networks from a :class:`TrainingSpace` with its own seeded RNG.

    ``sparsity_factor`` (1 unless inside :meth:`sparsities_scaled`) multiplies every layer
    sparsity it draws, after the draw: the RNG sequence does not depend on it.
    """

    def __init__(self, arch: Architecture, space: TrainingSpace, seed: int = 0):
        if space.spans is None:
            raise TrainingSpaceError("the training space's spans are still fractions; resolve() it on the task's "
                                     "reference length first")
        self.arch, self.space = arch, space
        self.rng = random.Random(seed)
        self.sparsity_factor = 1.0

    @contextmanager
    def sparsities_scaled(self, factor: float):
        """Within the block, drawn layer sparsities are ``factor`` times their value (the sparsity
        warm-up); afterwards (also after an error) they are the space's again."""
        self.sparsity_factor = factor
        try:
            yield self
        finally:
            self.sparsity_factor = 1.0

    def _min_heads(self, layer: int) -> int:
        return max(1, math.ceil(self.arch.heads_of_layer(layer) * self.space.min_head_fraction))

    def _min_ffn(self, layer: int) -> int:
        return max(1, math.ceil(self.arch.ffn_of_layer(layer) * self.space.min_ffn_fraction))

    def largest(self) -> SubnetConfig:
        """Full width, float weights, unlimited span."""
        return SubnetConfig.largest(self.arch)

    def smallest(self) -> SubnetConfig:
        """Minimum width, fewest bits, shortest span and highest sparsities in the space."""
        span = min((s for s in self.space.spans if s is not None), default=None)
        sparsity = self.sparsity_factor * max(self.space.sparsity)
        layers = tuple(
            LayerConfig(self._min_heads(i), self._min_ffn(i), min(self.space.bits), span, sparsity)
            for i in range(self.arch.num_layers)
        )
        return SubnetConfig(layers, embedding_bits=min(self.space.embedding_bits), quant=self.space.quant,
                            embedding_sparsity=max(self.space.embedding_sparsity))

    def random(self) -> SubnetConfig:
        """Independent uniform draws per layer: widths as integers in range, bits and spans from their lists."""
        rng = self.rng
        layers = tuple(
            LayerConfig(
                heads=rng.randint(self._min_heads(i), self.arch.heads_of_layer(i)),
                ffn=rng.randint(self._min_ffn(i), self.arch.ffn_of_layer(i)),
                bits=rng.choice(self.space.bits),
                span=rng.choice(self.space.spans),
                sparsity=self.sparsity_factor * rng.choice(self.space.sparsity),
            )
            for i in range(self.arch.num_layers)
        )
        return SubnetConfig(layers, embedding_bits=rng.choice(self.space.embedding_bits), quant=self.space.quant,
                            embedding_sparsity=self._embedding_sparsity())

    def uniform(self) -> SubnetConfig:
        """One width fraction, bit width, span and sparsity for every layer (DynaBERT's width multiplier)."""
        rng = self.rng
        fraction = rng.uniform(min(self.space.min_head_fraction, self.space.min_ffn_fraction), 1.0)
        bits, span, sparsity = rng.choice(self.space.bits), rng.choice(self.space.spans), rng.choice(self.space.sparsity)
        sparsity *= self.sparsity_factor
        config = SubnetConfig.uniform(self.arch, fraction, bits, span, rng.choice(self.space.embedding_bits), self.space.quant)
        layers = tuple(  # the width rule of SubnetConfig.uniform, kept within this space's minimum widths
            replace(layer, heads=max(self._min_heads(i), layer.heads), ffn=max(self._min_ffn(i), layer.ffn), sparsity=sparsity)
            for i, layer in enumerate(config.layers)
        )
        return replace(config, layers=layers, embedding_sparsity=self._embedding_sparsity())

    def _embedding_sparsity(self) -> float:
        """One embedding sparsity of the space (no draw when it has one value, so spaces without
        embedding pruning sample exactly as before it existed)."""
        choices = self.space.embedding_sparsity
        return choices[0] if len(choices) == 1 else self.rng.choice(choices)

    def state(self):
        return self.rng.getstate()

    def set_state(self, state) -> None:
        self.rng.setstate(state)
