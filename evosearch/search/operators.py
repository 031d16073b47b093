"""Variation operators for integer genomes whose genes are categorical or ordinal choices.

Our genes are short lists of choices (3–7 values: head fractions, bit widths, spans, thresholds).
Real-valued operators with rounding barely move them: pymoo's polynomial mutation (eta 20)
followed by rounding changes about 0.13 % of such genes, 0.04 per offspring (measured on the
``edgebert`` genome), so after a few generations only crossover reshuffles what the population
already holds. The operators here act on choices directly:

* :class:`ChoiceResetMutation` — each gene, with probability ``prob_var`` (default 1/n_var, the
  classic rate; HAT uses 0.3 per gene on its much smaller genome), takes another of its values,
  drawn uniformly (so a mutation always changes the gene);
* crossover: pymoo's uniform (:class:`~pymoo.operators.crossover.ux.UX`) and two-point
  (:class:`~pymoo.operators.crossover.pntx.TwoPointCrossover`) crossovers, which exchange whole
  genes and so keep every child on the grid.

``CROSSOVERS`` and ``MUTATIONS`` name them for the CLI and YAML; ``sbx`` and ``pm`` are the
real-valued operators with rounding that evosearch used before (kept for comparison).
"""

from __future__ import annotations

import numpy as np
from pymoo.core.mutation import Mutation


class ChoiceResetMutation(Mutation):
    """Reset each gene with probability ``prob_var`` to a different value of its range."""

    def _do(self, problem, X, random_state=None, **kwargs):
        X = np.rint(np.asarray(X, dtype=float)).astype(int)
        low = np.rint(problem.xl).astype(int)
        span = np.rint(problem.xu).astype(int) - low  # number of other values per gene
        prob = np.asarray(self.get_prob_var(problem, size=len(X)), dtype=float).reshape(-1, 1)
        hit = (random_state.random(X.shape) < prob) & (span[None, :] > 0)
        step = random_state.integers(1, np.maximum(span, 1)[None, :] + 1, size=X.shape)
        moved = low[None, :] + (X - low[None, :] + step) % (span[None, :] + 1)
        return np.where(hit, moved, X).astype(float)


def make_crossover(name: str):
    """A pymoo crossover by name: ``uniform``, ``two-point`` or ``sbx``."""
    from pymoo.operators.crossover.pntx import TwoPointCrossover
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.crossover.ux import UX
    from pymoo.operators.repair.rounding import RoundingRepair

    if name == "uniform":
        return UX(prob=0.9)
    if name == "two-point":
        return TwoPointCrossover(prob=0.9)
    if name == "sbx":
        return SBX(prob=0.9, eta=15, vtype=float, repair=RoundingRepair())
    raise ValueError(f"unknown crossover {name!r}; allowed: {', '.join(CROSSOVERS)}")


def make_mutation(name: str, rate: float | None = None):
    """A pymoo mutation by name: ``reset`` (per-gene, at ``rate``, default 1/n_var) or ``pm``."""
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair

    if rate is not None and not 0 < rate <= 1:
        raise ValueError(f"mutation rate {rate}; allowed: a probability in (0, 1]")
    if name == "reset":
        return ChoiceResetMutation(prob_var=rate)
    if name == "pm":
        return PM(eta=20, prob_var=rate, vtype=float, repair=RoundingRepair())
    raise ValueError(f"unknown mutation {name!r}; allowed: {', '.join(MUTATIONS)}")


CROSSOVERS = ("uniform", "two-point", "sbx")
MUTATIONS = ("reset", "pm")
