"""A search space resolved on a supernet, and the integer genome (torch-free).

A space file names the choices of every gene; its format, with an example, is in
:mod:`evosearch.spaces.schema`, and the shipped spaces are in ``evosearch/search_spaces/*.yaml``.

Per-layer genes (``heads``, ``ffn``, ``bits``, ``span``, ``sparsity``) get one value per virtual
layer unless ``tied: true`` (one value for every layer, DynaBERT-style). ``exit_threshold`` gets
one value per exit except the last (which always answers) unless ``tied: true`` (one global
threshold). ``embedding_bits`` is one value. A gene left out takes its default: all heads, all
neurons, 32 bits, unlimited span, no sparsity, threshold 0 (no early exit), 32-bit embeddings,
dense embeddings.

``embedding_sparsity`` is one value: the fraction of each embedding table (word, position, token
type) pruned by magnitude, one threshold per table (EdgeBERT, Tambe et al. MICRO 2021, keeps 40%:
0.6; :mod:`evosearch.specs.embedding`). The supernet's forward applies it, so the accuracy
estimate sees it; a supernet whose checkpoint records the embedding sparsities it was trained for
(``bounds.embedding_sparsity``) accepts only those.

``activation_bits`` is one value too, and a *hardware-only* gene: the width activations run at on
the hardware target (one of its ``compute.activation_bits_supported``), read by the hardware metrics
through :meth:`BoundSpace.activation_bits`. The supernet never quantizes activations (it runs them
in float at every width), so the accuracy estimate does not see this gene: a candidate at 8-bit
activations is scored with float-activation accuracy. Left out, activations run at the target's
``activation_bits``.

``heads`` and ``ffn`` take either ``choices`` (absolute counts) or ``fractions`` (of the layer's
size, so one space fits MiniLM-L6 and ALBERT-base alike). ``span`` takes ``choices`` (tokens) or
``fractions`` of the task's reference length (the 95th percentile of training sentence lengths,
recorded in the supernet checkpoint; :mod:`evosearch.supernet.span`), so a span means the same on
short tweets and long documents. Fractions that round onto the same value are kept once.

``exit_threshold`` values are *normalised* entropies: fractions of ``ln(num_labels)``, the
largest entropy a prediction can have, so 0.3 means the same on a 2-class and a 3-class task
(0 = never exit early, 1 = always leave at the first exit). Decoded thresholds are in nats.

The genome is an integer vector of choice indices, one entry per gene *slot* that has two or
more choices (genes with a single choice are fixed and take no place in the genome).
:meth:`BoundSpace.decode` maps it to ``(SubnetConfig, thresholds)``; :meth:`BoundSpace.encode`
maps back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..schema import validate
from ..specs import SUPPORTED_BITS, Architecture, LayerConfig, SubnetConfig, SupernetBounds
from ..specs.spans import span_tokens
from ..yamlfiles import load_yaml
from .schema import LAYER_GENES, SearchSpaceError, SpaceFile, label

SHIPPED_SPACES_DIR = Path(__file__).resolve().parents[1] / "search_spaces"  # package data


@dataclass(frozen=True)
class GeneSpec:
    """One gene as declared: its values (absolute or fractions) and whether it is tied."""

    name: str
    values: tuple
    fractions: bool = False
    tied: bool = False

    def to_dict(self) -> dict:
        out = {"fractions" if self.fractions else "choices": list(self.values)}
        if self.tied:
            out["tied"] = True
        return out


@dataclass(frozen=True)
class SearchSpace:
    """A parsed search-space file, independent of any model (see :meth:`bind`)."""

    name: str
    quant: str = "auto"  # "auto": the scheme the supernet was trained with (bounds), else "int"
    genes: Mapping[str, GeneSpec] = field(default_factory=dict)
    description: str = ""

    # ---------------------------------------------------------------- loading
    @classmethod
    def from_dict(cls, data: Mapping, where: str = "search space") -> "SearchSpace":
        """Check ``data`` against the schema (:mod:`.schema`); errors name the file, gene and allowed values."""
        parsed = validate(SpaceFile, data, where, SearchSpaceError, label)
        genes = {}
        for name, gene in parsed.genes.items():
            fractions = gene.fractions is not None
            genes[name] = GeneSpec(name, tuple(gene.fractions if fractions else gene.choices), fractions, gene.tied)
        return cls(name=parsed.name or where, quant=parsed.quant, genes=genes, description=parsed.description)

    @classmethod
    def load(cls, name_or_path: str | Path) -> "SearchSpace":
        """Load a YAML file, or a shipped space by name (``edgebert``, ``whittle-medium``, ...)."""
        path, data = load_yaml(name_or_path, SHIPPED_SPACES_DIR, "search space", SearchSpaceError)
        return cls.from_dict(data, where=str(path))

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "quant": self.quant,
                "genes": {n: g.to_dict() for n, g in self.genes.items()}}

    # ---------------------------------------------------------------- binding
    def bind(self, arch: Architecture, bounds: SupernetBounds | Mapping | None = None) -> "BoundSpace":
        """Resolve fractions on ``arch`` and check every value against the supernet and its bounds.

        ``bounds``: what the supernet was trained for (:class:`SupernetBounds`, or the checkpoint's
        ``bounds`` mapping); values outside are errors, since the supernet never trained them
        (32-bit weights and unlimited span, the largest sub-network, are always allowed).
        """
        bounds = SupernetBounds.of(bounds)
        trained_quant = bounds.quant
        quant = self.quant
        if quant == "auto":
            quant = trained_quant or "int"
        elif trained_quant and quant != trained_quant:
            raise SearchSpaceError(f"space {self.name!r}: quant={quant!r}, but the supernet was trained "
                                   f"with quant {trained_quant!r} (use quant: auto or {trained_quant})")
        slots: list[Slot] = []
        L = arch.num_layers
        for gene in LAYER_GENES:
            spec = self.genes.get(gene)
            if spec is None:
                continue
            if gene == "sparsity" and bounds.sparsity is not None:
                bad = [v for v in spec.values if v != 0 and v not in bounds.sparsity]
                if bad:
                    raise SearchSpaceError(
                        f"space {self.name!r}: gene 'sparsity' has {bad[0]}, but the supernet was trained for sparsity "
                        f"{', '.join(map(str, bounds.sparsity))} only; this supernet does not support it")
            per_layer = [tuple(dict.fromkeys(self._resolve(gene, spec, arch, i, bounds))) for i in range(L)]
            if spec.tied:
                values = per_layer[0]
                for i in range(1, L):
                    if per_layer[i] != values:
                        raise SearchSpaceError(
                            f"space {self.name!r}: gene {gene!r} is tied but layer {i} resolves to {per_layer[i]} "
                            f"while layer 0 resolves to {values} (layers differ in size); untie it")
                slots.append(Slot(gene, None, values))
            else:
                slots.extend(Slot(gene, i, per_layer[i]) for i in range(L))
        spec = self.genes.get("exit_threshold")
        if spec is not None:
            # normalised entropies -> nats: the largest entropy of a num_labels-way prediction is ln(num_labels)
            max_entropy = math.log(max(arch.num_labels, 2))
            values = tuple(dict.fromkeys(float(v) * max_entropy for v in spec.values))
            if spec.tied or L == 1:
                slots.append(Slot("exit_threshold", None, values))
            else:
                slots.extend(Slot("exit_threshold", i, values) for i in range(L - 1))
        spec = self.genes.get("embedding_bits")
        if spec is not None:
            for v in spec.values:
                _check_bits("embedding_bits", None, v, bounds, self.name, key="embedding_bits")
            slots.append(Slot("embedding_bits", None, tuple(spec.values)))
        spec = self.genes.get("embedding_sparsity")
        if spec is not None:
            trained = bounds.embedding_sparsity
            bad = [v for v in spec.values if v != 0 and trained is not None and v not in trained]
            if bad:
                raise SearchSpaceError(
                    f"space {self.name!r}: gene 'embedding_sparsity' has {bad[0]}, but the supernet was trained for "
                    f"embedding sparsity {', '.join(map(str, trained))} only (train with --embedding-sparsity)")
            slots.append(Slot("embedding_sparsity", None, tuple(float(v) for v in spec.values)))
        spec = self.genes.get("activation_bits")
        if spec is not None:  # hardware only: no supernet bound to check (see the module docstring)
            slots.append(Slot("activation_bits", None, tuple(spec.values)))
        return BoundSpace(self, arch, tuple(slots), quant)

    def _resolve(self, gene: str, spec: GeneSpec, arch: Architecture, layer: int, bounds: SupernetBounds) -> tuple:
        where = f"space {self.name!r}: gene {gene!r}, layer {layer}"
        if gene in ("heads", "ffn"):
            size = arch.heads_of_layer(layer) if gene == "heads" else arch.ffn_of_layer(layer)
            frac = bounds.min_head_fraction if gene == "heads" else bounds.min_ffn_fraction
            low = max(1, math.ceil(size * frac)) if frac else 1
            if spec.fractions:
                values = tuple(max(1, int(round(f * size))) for f in spec.values)
            else:
                values = tuple(spec.values)
            for v in values:
                if not low <= v <= size:
                    raise SearchSpaceError(f"{where}: value {v} is outside what the supernet allows: an integer in "
                                           f"[{low}, {size}]" + (" (from a fraction)" if spec.fractions else "")
                                           + (f"; it was trained down to {frac:g} of each layer" if frac else ""))
            return values
        if gene == "bits":
            for v in spec.values:
                _check_bits(gene, layer, v, bounds, self.name)
            return tuple(spec.values)
        if gene == "span":
            trained = bounds.spans
            values = spec.values
            if spec.fractions:
                reference = bounds.span_reference_length
                if not reference:
                    raise SearchSpaceError(f"{where}: spans are given as fractions of the task's reference length, "
                                           "but this supernet records none (trained before lengths were recorded); "
                                           "give spans in tokens with 'choices'")
                values = tuple(span_tokens(f, int(reference)) for f in spec.values)
            learned = [v for v in values if v is not None] if arch.learned_span_max is not None else []
            if learned:
                raise SearchSpaceError(f"{where}: span {learned[0]}, but the supernet learned its spans (trained with "
                                       "span_mode learned): give the gene only null, or leave it out, and every layer "
                                       "runs its learned spans (the shipped space edgebert-learned-spans does)")
            for v in values:
                if v is not None and not 1 <= v <= arch.max_position_embeddings:
                    raise SearchSpaceError(f"{where}: span {v}; allowed: null (unlimited) or an integer in "
                                           f"[1, {arch.max_position_embeddings}]")
                if trained is not None and v is not None and v not in trained:
                    raise SearchSpaceError(f"{where}: span {v}" + (" (from a fraction)" if spec.fractions else "")
                                           + ", but the supernet was trained for spans "
                                           f"{', '.join('null' if t is None else str(t) for t in trained)}")
            return tuple(values)
        if gene == "sparsity":
            return tuple(float(v) for v in spec.values)
        raise AssertionError(gene)


def _check_bits(gene, layer, v, bounds: SupernetBounds, space_name, key="bits"):
    where = f"space {space_name!r}: gene {gene!r}" + ("" if layer is None else f", layer {layer}")
    if v not in SUPPORTED_BITS:
        raise SearchSpaceError(f"{where}: {v} bits; allowed: {', '.join(map(str, SUPPORTED_BITS))}")
    trained = getattr(bounds, key)
    if trained and v != 32 and v not in trained:
        raise SearchSpaceError(f"{where}: {v} bits, but the supernet was trained for bit widths "
                               f"{', '.join(map(str, trained))} (and 32)")


@dataclass(frozen=True)
class Slot:
    """One genome position: a gene, its layer (None = tied / global) and its resolved values."""

    gene: str
    layer: int | None
    values: tuple

    @property
    def label(self) -> str:
        return self.gene if self.layer is None else f"{self.gene}[{self.layer}]"


_DEFAULTS = {"bits": 32, "span": None, "sparsity": 0.0}


@dataclass(frozen=True)
class BoundSpace:
    """A space resolved on one architecture: the genome layout and the decoder/encoder."""

    space: SearchSpace
    arch: Architecture
    slots: tuple[Slot, ...]  # all slots, including fixed (one-choice) ones
    quant: str = "int"  # the resolved quantization scheme

    @property
    def free(self) -> tuple[int, ...]:
        """Indices into :attr:`slots` of the slots that are genome positions (>= 2 choices)."""
        return tuple(i for i, s in enumerate(self.slots) if len(s.values) > 1)

    @property
    def n_var(self) -> int:
        return len(self.free)

    @property
    def upper(self) -> np.ndarray:
        """Largest index per genome position (lower bound is 0)."""
        return np.array([len(self.slots[i].values) - 1 for i in self.free], dtype=int)

    @property
    def labels(self) -> list[str]:
        return [self.slots[i].label for i in self.free]

    @property
    def size(self) -> int:
        """Number of distinct genomes."""
        return int(np.prod([len(self.slots[i].values) for i in self.free], dtype=float))

    def random_genomes(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, self.upper + 1, size=(n, self.n_var))

    def _values(self, genome: Sequence[int]) -> list:
        genome = [int(g) for g in genome]
        if len(genome) != self.n_var:
            raise SearchSpaceError(f"genome has {len(genome)} genes; space {self.space.name!r} has {self.n_var}")
        values = [s.values[0] for s in self.slots]
        for pos, i in enumerate(self.free):
            g = genome[pos]
            if not 0 <= g < len(self.slots[i].values):
                raise SearchSpaceError(f"genome position {pos} ({self.slots[i].label}) = {g}; "
                                       f"allowed: 0..{len(self.slots[i].values) - 1}")
            values[i] = self.slots[i].values[g]
        return values

    def decode(self, genome: Sequence[int]) -> tuple[SubnetConfig, tuple[float, ...]]:
        """``(SubnetConfig, thresholds)``; thresholds has one value per exit except the last."""
        L = self.arch.num_layers
        per_layer = {g: [None] * L for g in LAYER_GENES}
        thresholds = [0.0] * max(L - 1, 1)
        embedding_bits, embedding_sparsity = 32, 0.0
        for slot, value in zip(self.slots, self._values(genome)):
            if slot.gene in per_layer:
                layers = range(L) if slot.layer is None else [slot.layer]
                for i in layers:
                    per_layer[slot.gene][i] = value
            elif slot.gene == "exit_threshold":
                if slot.layer is None:
                    thresholds = [float(value)] * len(thresholds)
                else:
                    thresholds[slot.layer] = float(value)
            elif slot.gene == "embedding_bits":
                embedding_bits = value
            elif slot.gene == "embedding_sparsity":
                embedding_sparsity = value
        layers = []
        for i in range(L):
            heads = per_layer["heads"][i]
            ffn = per_layer["ffn"][i]
            layers.append(LayerConfig(
                heads=self.arch.heads_of_layer(i) if heads is None else int(heads),
                ffn=self.arch.ffn_of_layer(i) if ffn is None else int(ffn),
                bits=_DEFAULTS["bits"] if per_layer["bits"][i] is None else int(per_layer["bits"][i]),
                span=None if per_layer["span"][i] is None else int(per_layer["span"][i]),
                sparsity=0.0 if per_layer["sparsity"][i] is None else float(per_layer["sparsity"][i]),
            ))
        config = SubnetConfig(tuple(layers), embedding_bits=int(embedding_bits), quant=self.quant,
                              embedding_sparsity=float(embedding_sparsity))
        return config, tuple(thresholds)

    def sparsity(self, genome: Sequence[int]) -> tuple[float, ...] | None:
        """Per-layer sparsity of a genome, or None when the space has no sparsity gene."""
        if "sparsity" not in self.space.genes:
            return None
        out = [0.0] * self.arch.num_layers
        for slot, value in zip(self.slots, self._values(genome)):
            if slot.gene == "sparsity":
                for i in (range(len(out)) if slot.layer is None else [slot.layer]):
                    out[i] = float(value)
        return tuple(out)

    def activation_bits(self, genome: Sequence[int]) -> int | None:
        """The hardware-only activation width of a genome, or None when the space has no such gene."""
        if "activation_bits" not in self.space.genes:
            return None
        for slot, value in zip(self.slots, self._values(genome)):
            if slot.gene == "activation_bits":
                return int(value)
        raise AssertionError("activation_bits slot missing")

    def encode(self, config: SubnetConfig, thresholds: float | Sequence[float] = 0.0,
               activation_bits: int | None = None) -> np.ndarray:
        """The genome of ``(config, thresholds, activation_bits)``; error if a value is not among the
        slot's choices (``activation_bits`` is needed only when the space has that gene)."""
        L = self.arch.num_layers
        if len(config.layers) != L:
            raise SearchSpaceError(f"config has {len(config.layers)} layers; the model has {L}")
        if config.quant != self.quant:
            raise SearchSpaceError(f"config quant={config.quant!r}; space {self.space.name!r} fixes {self.quant!r}")
        if isinstance(thresholds, (int, float)):
            thresholds = [float(thresholds)] * max(L - 1, 1)
        thresholds = list(thresholds)[: max(L - 1, 1)]
        genome = []
        for i in self.free:
            slot = self.slots[i]
            layer = 0 if slot.layer is None else slot.layer
            if slot.gene in LAYER_GENES:
                value = getattr(config.layers[layer], slot.gene, 0.0)
                if slot.layer is None:
                    seen = {getattr(l, slot.gene, 0.0) for l in config.layers}
                    if len(seen) > 1:
                        raise SearchSpaceError(f"gene {slot.gene!r} is tied in space {self.space.name!r}, but the "
                                               f"config has different values per layer: {sorted(seen, key=str)}")
            elif slot.gene == "exit_threshold":
                value = thresholds[layer]
            elif slot.gene == "activation_bits":
                if activation_bits is None:
                    raise SearchSpaceError(f"space {self.space.name!r} has an activation_bits gene; give "
                                           f"activation_bits (one of {list(slot.values)})")
                value = activation_bits
            elif slot.gene == "embedding_sparsity":
                value = float(config.embedding_sparsity)
            else:
                value = config.embedding_bits
            if value not in slot.values:
                raise SearchSpaceError(f"{slot.label} = {value!r} is not among the space's choices {list(slot.values)}")
            genome.append(slot.values.index(value))
        return np.array(genome, dtype=int)

    def largest(self) -> tuple[SubnetConfig, tuple[float, ...]]:
        """The most expensive point: the largest value of every gene, no early exit."""
        return self.decode(self.largest_genome())

    def largest_genome(self) -> np.ndarray:
        """The genome of :meth:`largest` (with the widest activations, where the space has that gene)."""
        genome = []
        for i in self.free:
            slot = self.slots[i]
            if slot.gene == "exit_threshold":
                genome.append(int(np.argmin(slot.values)))
            elif slot.gene == "span":
                vals = [float("inf") if v is None else v for v in slot.values]
                genome.append(int(np.argmax(vals)))
            elif slot.gene in ("sparsity", "embedding_sparsity"):
                genome.append(int(np.argmin(slot.values)))
            else:
                genome.append(int(np.argmax(slot.values)))
        return np.array(genome, dtype=int)
