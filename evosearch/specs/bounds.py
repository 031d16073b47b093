"""The sub-network space a supernet was trained for: the bounds every search of it must respect.

Saved in the supernet checkpoint (``bounds`` in ``supernet.json``); the training samples from
it (:mod:`evosearch.training.space`), a search space is checked against it
(:mod:`evosearch.spaces`). Torch-free.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from ..errors import EvosearchError
from .spans import default_ramp, span_tokens
from .subnet import QUANT_SCHEMES, SUPPORTED_BITS


class TrainingSpaceError(EvosearchError):
    """Training-space bounds outside what the supernet supports."""


@dataclass(frozen=True)
class TrainingSpace:
    """Bounds of the trained sub-network space (saved in the checkpoint as ``bounds``).

    min_head_fraction / min_ffn_fraction: the smallest width, as a fraction of each block.
    bits: weight bit widths sampled (32 = float).
    span_fractions: attention spans sampled, as fractions of the task's reference length (the
    95th percentile of training lengths; None = unlimited). spans: the same in tokens; None until
    :meth:`resolve` fills it from the fractions (or give tokens yourself, and the fractions are
    ignored). span_ramp: the ramp R of the span mask in tokens (None: 1/16 of the reference length).
    embedding_bits: embedding bit widths sampled. quant: the quantization scheme.
    sparsity: per-layer unstructured sparsities sampled (0.0 = dense only); the training's pruning
    criterion (magnitude or movement) chooses which weights they zero.
    embedding_sparsity: embedding-table pruning sparsities sampled (EdgeBERT, Tambe et al. MICRO
    2021, prunes its embeddings to 40%, sparsity 0.6; :mod:`evosearch.specs.embedding`); the
    default (0.0: dense only) matches the shipped ``edgebert`` space, where the gene is opt-in.
    """

    min_head_fraction: float = 0.25
    min_ffn_fraction: float = 0.25
    bits: tuple[int, ...] = (4, 8, 16, 32)
    span_fractions: tuple[float | None, ...] = (None, 0.5, 0.25, 0.125)
    spans: tuple[int | None, ...] | None = None
    span_ramp: int | None = None
    span_reference_length: int | None = None
    embedding_bits: tuple[int, ...] = (8, 16, 32)
    quant: str = "int"
    sparsity: tuple[float, ...] = (0.0,)
    embedding_sparsity: tuple[float, ...] = (0.0,)

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
        fractions = tuple(self.span_fractions)
        if not fractions or any(f is not None and (isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 1)
                                for f in fractions):
            raise TrainingSpaceError(f"span_fractions={list(fractions)}; allowed: a non-empty list of fractions in "
                                     "(0, 1] or null (unlimited)")
        object.__setattr__(self, "span_fractions", fractions)
        if self.spans is not None:
            spans = tuple(self.spans)
            if not spans or any(s is not None and (isinstance(s, bool) or not isinstance(s, int) or s < 1) for s in spans):
                raise TrainingSpaceError(f"spans={list(spans)}; allowed: a non-empty list of integers >= 1 or null")
            object.__setattr__(self, "spans", spans)
        for name in ("span_ramp", "span_reference_length"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise TrainingSpaceError(f"{name}={value!r}; allowed: an integer >= 1 (or null: from the data)")
        sparsity = tuple(self.sparsity)
        if not sparsity or any(isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 <= s < 1 for s in sparsity):
            raise TrainingSpaceError(f"sparsity={list(sparsity)}; allowed: a non-empty list of fractions in [0, 1)")
        object.__setattr__(self, "sparsity", sparsity)
        embedding = tuple(self.embedding_sparsity)
        if not embedding or any(isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 <= s < 1
                                for s in embedding):
            raise TrainingSpaceError(f"embedding_sparsity={list(embedding)}; allowed: a non-empty list of fractions "
                                     "in [0, 1)")
        object.__setattr__(self, "embedding_sparsity", embedding)
        if self.quant not in QUANT_SCHEMES:
            raise TrainingSpaceError(f"quant={self.quant!r}; allowed: {', '.join(QUANT_SCHEMES)}")

    def resolve(self, reference_length: int) -> "TrainingSpace":
        """Spans in tokens and the ramp for a task whose reference length is ``reference_length``.

        Spans given in tokens are kept; spans given as fractions become tokens (duplicates that
        round onto the same length dropped). The ramp defaults to 1/16 of the reference length.
        """
        spans = self.spans
        if spans is None:
            spans = tuple(dict.fromkeys(span_tokens(f, reference_length) for f in self.span_fractions))
        ramp = self.span_ramp if self.span_ramp is not None else default_ramp(reference_length)
        return replace(self, spans=spans, span_ramp=ramp, span_reference_length=int(reference_length))

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


@dataclass(frozen=True)
class SupernetBounds:
    """What a supernet was trained for, as a search space is checked against it: values outside
    are errors, since the supernet never trained them. ``None`` leaves a field unconstrained."""

    min_head_fraction: float | None = None
    min_ffn_fraction: float | None = None
    bits: tuple[int, ...] | None = None
    spans: tuple[int | None, ...] | None = None
    span_reference_length: int | None = None
    embedding_bits: tuple[int, ...] | None = None
    quant: str | None = None
    sparsity: tuple[float, ...] | None = None
    embedding_sparsity: tuple[float, ...] | None = None  # None: a checkpoint from before embedding pruning

    @classmethod
    def of(cls, bounds) -> "SupernetBounds":
        """From a checkpoint's ``bounds`` mapping, a :class:`TrainingSpace`, or None (no bounds)."""
        if bounds is None:
            return cls()
        if isinstance(bounds, cls):
            return bounds
        if isinstance(bounds, TrainingSpace):
            bounds = bounds.to_dict()
        fields = {}
        for name in cls.__dataclass_fields__:
            value = bounds.get(name)
            fields[name] = tuple(value) if isinstance(value, list) else value
        return cls(**fields)
