"""One evaluated candidate, as the search scores it and the run store keeps it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Record:
    """One evaluated candidate: its genome, decoded sub-network, metrics and pymoo values
    (``F``: objectives as minimised, ``G``: constraints, feasible when every ``G <= 0``)."""

    genome: tuple[int, ...]
    config: dict  # SubnetConfig.to_dict()
    thresholds: tuple[float, ...]
    metrics: dict
    F: tuple[float, ...]
    G: tuple[float, ...]
    eval_time_s: float = 0.0
    cached_model: bool = False  # the exit logits came from the cache (no forward pass)
    error: str | None = None  # set when the genome could not be scored (it crashed its worker every time)

    @property
    def cv(self) -> float:
        """Constraint violation: sum of positive G (0 = feasible)."""
        return float(sum(max(0.0, g) for g in self.G))

    @property
    def feasible(self) -> bool:
        return self.cv <= 0.0


def genome_key(genome: Sequence[int]) -> str:
    """The genome as stored in the ``genome`` column: gene indices joined by ``-``."""
    return "-".join(str(int(g)) for g in genome)


def parse_genome(key) -> tuple[int, ...]:
    text = "" if key is None else str(key)
    return tuple(int(x) for x in text.split("-")) if text and text != "nan" else ()
