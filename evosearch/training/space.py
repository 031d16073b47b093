"""The sub-network space a supernet is trained for, and sampling from it.

Training samples per-layer widths, bit widths and attention spans so that every sub-network the
search may later pick has been trained (Yu et al., BigNAS, ECCV 2020; whittle). Spans are
*sampled* per sub-network rather than learned with the adaptive-span penalty: the search treats
the span of each layer as a gene, so every span in the space must work, not one learned value.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, replace

from ..errors import EvosearchError
from ..supernet import QUANT_SCHEMES, SUPPORTED_BITS, Architecture, LayerConfig, SubnetConfig


class TrainingSpaceError(EvosearchError):
    """Training-space bounds outside what the supernet supports."""


@dataclass(frozen=True)
class TrainingSpace:
    """Bounds of the trained sub-network space (saved in the checkpoint as ``bounds``).

    min_head_fraction / min_ffn_fraction: the smallest width, as a fraction of each block.
    bits: weight bit widths sampled (32 = float). spans: attention spans (None = unlimited).
    embedding_bits: embedding bit widths sampled. quant: the quantization scheme.
    sparsity: per-layer unstructured magnitude sparsities sampled (0.0 = dense only).
    """

    min_head_fraction: float = 0.25
    min_ffn_fraction: float = 0.25
    bits: tuple[int, ...] = (4, 8, 16, 32)
    spans: tuple[int | None, ...] = (None, 32, 16, 8)
    embedding_bits: tuple[int, ...] = (8, 16, 32)
    quant: str = "int"
    sparsity: tuple[float, ...] = (0.0,)

    def __post_init__(self) -> None:
        for name in ("min_head_fraction", "min_ffn_fraction"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise TrainingSpaceError(f"{name}={value}; allowed: a fraction in (0, 1]")
        for name in ("bits", "embedding_bits"):
            values = tuple(getattr(self, name))
            bad = [b for b in values if b not in SUPPORTED_BITS]
            if not values or bad:
                raise TrainingSpaceError(
                    f"{name}={list(values)}; allowed: a non-empty list of {', '.join(map(str, SUPPORTED_BITS))}"
                )
            object.__setattr__(self, name, values)
        spans = tuple(self.spans)
        if not spans or any(s is not None and (not isinstance(s, int) or s < 1) for s in spans):
            raise TrainingSpaceError(f"spans={list(spans)}; allowed: a non-empty list of integers >= 1 or null")
        object.__setattr__(self, "spans", spans)
        sparsity = tuple(self.sparsity)
        if not sparsity or any(isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 <= s < 1 for s in sparsity):
            raise TrainingSpaceError(f"sparsity={list(sparsity)}; allowed: a non-empty list of fractions in [0, 1)")
        object.__setattr__(self, "sparsity", sparsity)
        if self.quant not in QUANT_SCHEMES:
            raise TrainingSpaceError(f"quant={self.quant!r}; allowed: {', '.join(QUANT_SCHEMES)}")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "TrainingSpace":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise TrainingSpaceError(
                f"unknown training-space field(s) {sorted(unknown)}; allowed: {', '.join(cls.__dataclass_fields__)}"
            )
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


class SubnetSampler:
    """Draws sub-networks from a :class:`TrainingSpace` with its own seeded RNG."""

    def __init__(self, arch: Architecture, space: TrainingSpace, seed: int = 0):
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
        """Minimum width, fewest bits, shortest span and highest sparsity in the space."""
        span = min((s for s in self.space.spans if s is not None), default=None)
        layers = tuple(
            LayerConfig(self._min_heads(i), self._min_ffn(i), min(self.space.bits), span, max(self.space.sparsity))
            for i in range(self.arch.num_layers)
        )
        return SubnetConfig(layers, embedding_bits=min(self.space.embedding_bits), quant=self.space.quant)

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
        return SubnetConfig(layers, embedding_bits=rng.choice(self.space.embedding_bits), quant=self.space.quant)

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
        return replace(config, layers=layers)

    def state(self):
        return self.rng.getstate()

    def set_state(self, state) -> None:
        self.rng.setstate(state)
