"""The YAML schema of a search space file, checked with pydantic (:mod:`evosearch.schema`).

::

    name: edgebert
    quant: auto                  # auto | int | adaptivfloat
    genes:
      heads:  {fractions: [0.25, 0.5, 0.75, 1.0]}   # of each layer's heads (rounded, >= 1)
      ffn:    {fractions: [0.25, 0.5, 0.75, 1.0]}   # of each layer's FFN neurons
      bits:   {choices: [4, 8]}                      # weight bit width per layer
      span:   {fractions: [0.125, 0.25, 0.5, null]}  # of the task's reference length; null = unlimited
      exit_threshold: {choices: [0.0, 0.15, 0.3, 0.6], tied: true}   # fractions of ln(num_labels)
      embedding_bits: {choices: [8, 32]}
      embedding_sparsity: {choices: [0.0, 0.4, 0.6]}  # fraction of each embedding table pruned (EdgeBERT: 0.6)
      activation_bits: {choices: [8, 16]}            # hardware only: the width activations run at

A gene is a mapping with exactly one of ``choices`` or ``fractions`` (``heads``, ``ffn`` and
``span`` only) and an optional ``tied``, or just a list of choices. See
:mod:`evosearch.spaces.genome` for what the genes mean.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, StrictBool, field_validator, model_validator

from ..errors import EvosearchError
from ..specs import SUPPORTED_BITS

LAYER_GENES = ("heads", "ffn", "bits", "span", "sparsity")
GLOBAL_GENES = ("embedding_bits", "embedding_sparsity", "activation_bits")  # one value for the whole sub-network
GENES = LAYER_GENES + ("exit_threshold",) + GLOBAL_GENES
FRACTION_GENES = ("heads", "ffn", "span")


class SearchSpaceError(EvosearchError, ValueError):
    """A search space that is malformed or does not fit the supernet; the message names the gene."""


class GeneFile(BaseModel):
    """One gene as a file declares it."""

    model_config = ConfigDict(extra="forbid")

    choices: list | None = None
    fractions: list | None = None
    tied: StrictBool = False


class SpaceFile(BaseModel):
    """A search-space file."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str = ""
    quant: Literal["auto", "int", "adaptivfloat"] = "auto"
    genes: dict[str, GeneFile]

    @field_validator("genes", mode="before")
    @classmethod
    def _genes(cls, genes):
        if not isinstance(genes, dict) or not genes:
            raise ValueError(f"'genes' must be a non-empty mapping of gene name to choices; genes: {', '.join(GENES)}")
        out = {}
        for name, spec in genes.items():
            if name not in GENES:
                raise ValueError(f"unknown gene {name!r}; allowed genes: {', '.join(GENES)}")
            if isinstance(spec, list):  # shorthand: heads: [1, 2, 3]
                spec = {"choices": spec}
            if not isinstance(spec, dict):
                raise ValueError(f"gene {name!r}: expected a mapping with keys {', '.join(GeneFile.model_fields)} "
                                 f"(or a list of choices), got {type(spec).__name__}")
            out[name] = spec
        return out

    @model_validator(mode="after")
    def _values(self):
        for name, gene in self.genes.items():
            check_gene(name, gene)
        return self


def check_gene(name: str, gene: GeneFile) -> None:
    here = f"gene {name!r}"
    if gene.tied and name in GLOBAL_GENES:
        raise ValueError(f"{here}: 'tied' is meaningless for a single gene; remove it")
    if (gene.choices is None) == (gene.fractions is None):
        allowed = "'choices' or 'fractions'" if name in FRACTION_GENES else "'choices'"
        raise ValueError(f"{here}: give exactly one of {allowed}")
    key = "fractions" if gene.fractions is not None else "choices"
    if key == "fractions" and name not in FRACTION_GENES:
        raise ValueError(f"{here}: 'fractions' is only allowed for {', '.join(FRACTION_GENES)}; use 'choices'")
    values = getattr(gene, key)
    if not values:
        raise ValueError(f"{here}: '{key}' must be a non-empty list, got {values!r}")
    for v in values:
        ok, allowed = _value_ok(name, v, key == "fractions")
        if not ok:
            raise ValueError(f"{here}: '{key}' has {v!r}; allowed: {allowed}")
    if len(set(values)) != len(values):
        raise ValueError(f"{here}: '{key}' lists a value twice: {values}")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _value_ok(name, v, fractions):
    if fractions and name == "span":
        return (v is None or (_is_num(v) and 0 < v <= 1)), "numbers in (0, 1] or null (unlimited)"
    if fractions:
        return (_is_num(v) and 0 < v <= 1), "numbers in (0, 1]"
    if name in ("heads", "ffn"):
        return (_is_int(v) and v >= 1), "integers >= 1 (or use 'fractions')"
    if name in ("bits", "embedding_bits"):
        return (_is_int(v) and v in SUPPORTED_BITS), f"bit widths among {', '.join(map(str, SUPPORTED_BITS))}"
    if name == "activation_bits":
        return (_is_int(v) and 1 <= v <= 32), "integers in [1, 32] (the hardware target says which it runs)"
    if name == "span":
        return (v is None or (_is_int(v) and v >= 1)), "integers >= 1 or null (unlimited)"
    if name == "sparsity":
        return (_is_num(v) and 0 <= v < 1), "numbers in [0, 1)"
    if name == "embedding_sparsity":
        return (_is_num(v) and 0 <= v < 1), ("fractions in [0, 1) of each embedding table pruned "
                                             "(EdgeBERT keeps 40%: 0.6)")
    if name == "exit_threshold":
        return (_is_num(v) and 0 <= v <= 1), "numbers in [0, 1] (entropy as a fraction of ln(num_labels))"
    raise AssertionError(name)


def label(loc: tuple) -> str:
    """How an error's place is named: ``gene 'heads'`` for ``("genes", "heads")``."""
    if len(loc) >= 2 and loc[0] == "genes":
        return f"gene {loc[1]!r}" + "".join(f": {part}" for part in loc[2:])
    return "" if loc in ((), ("genes",)) else ": ".join(map(str, loc))
