"""The sub-network space a supernet is trained for, and sampling from it.

Training samples per-layer widths, bit widths and attention spans so that every sub-network the
search may later pick has been trained (Yu et al., BigNAS, ECCV 2020; whittle). By default spans
are *sampled* per sub-network: the search treats the span of each layer as a gene, so every span
in the space must work, not one learned value. With ``span_mode: learned``
(:class:`~evosearch.training.trainer.TrainConfig`) the space's spans are ``[None]``: every sampled
sub-network runs the learned per-head spans instead.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

from ..specs import Architecture, LayerConfig, SubnetConfig
from ..specs.bounds import TrainingSpace, TrainingSpaceError


class SubnetSampler:
    """Draws sub-networks from a :class:`TrainingSpace` with its own seeded RNG."""

    def __init__(self, arch: Architecture, space: TrainingSpace, seed: int = 0):
        if space.spans is None:
            raise TrainingSpaceError("the training space's spans are still fractions; resolve() it on the task's "
                                     "reference length first")
        self.arch, self.space = arch, space
        self.rng = random.Random(seed)

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
        layers = tuple(
            LayerConfig(self._min_heads(i), self._min_ffn(i), min(self.space.bits), span, max(self.space.sparsity))
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
                sparsity=rng.choice(self.space.sparsity),
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
