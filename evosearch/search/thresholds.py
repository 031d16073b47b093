"""The threshold path: each architecture's exit thresholds completed from the exit-logit cache.

One model run of a sub-network records every exit's logits on the dev subset; from them the
accuracy and the exit distribution follow for *any* exit thresholds (:func:`evosearch.supernet.early_exit`,
about 2 ms against about 1 s for the model run on 200 sentences). Evolution alone uses this badly: an
offspring changes about one gene in thirty, so an architecture it has run once is rarely seen again
with other thresholds, and each new threshold setting costs a model run of a new architecture.

So after a generation, each architecture it ran walks a greedy path through its threshold genes
(EdgeBERT's entropy thresholds, Tambe et al., MICRO 2021): from "never exit early" (every threshold
at its lowest value), one exit one step up at a time, each time taking the step that gives up the
least per unit it saves, measured on the objectives normalised by the hypervolume reference point
(the greedy rule of the fractional knapsack, Dantzig 1957). The path ends with every threshold at
its highest value, after at most ``sum(choices - 1)`` steps; its points and the genome that was run
form the architecture's threshold front, whose non-dominated points the search keeps. None of it
needs a model run when the evaluator holds the architecture's exit logits (the in-process evaluator
and the Ray workers' cache affinity both do).

The kept points join the archive (and so the front, local search and the report), not the
algorithm's population. Told to NSGA-II as extra offspring, they filled its population with the
thresholds of a few architectures and the search stalled: hypervolume 383.9 against 386.5 at 400
model runs (default supernet, ``edgebert`` space, seed 0, ``scripts/bench_search.py``). A
Lamarckian step (each asked genome replaced, for the algorithm, by its path's point better in every
objective; Ishibuchi and Murata, 1998) reached the benchmark's target in 891 / 238 / 617 model runs
on seeds 0-2, against 687 / 617 / 287 with the archive alone: no better on average, so it was not
kept. Left out of the population, NSGA-II asks exactly what it would ask without the path.

:class:`ThresholdPath` only proposes genomes and chooses steps; the search run evaluates them
(through its pool) in lockstep over all architectures of a generation, and stores only the points
it keeps (stage ``thresholds`` in ``candidates.csv``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..runstore import Record
from ..spaces import BoundSpace


class ThresholdPath:
    """Greedy threshold paths of many architectures at once.

    ``space``: the bound search space (its ``exit_threshold`` genes are walked; a space without
    any has empty paths). ``ref``: the hypervolume reference point (pymoo's minimisation space),
    whose magnitudes make objectives of different units comparable.
    """

    def __init__(self, space: BoundSpace, ref: Sequence[float]):
        self.positions = [pos for pos, i in enumerate(space.free) if space.slots[i].gene == "exit_threshold"]
        # value order of each threshold gene (lowest = never exit early, highest = exit most)
        self.order = {pos: [int(k) for k in np.argsort([float(v) for v in space.slots[space.free[pos]].values],
                                                       kind="stable")]
                      for pos in self.positions}
        self.scale = np.maximum(np.abs(np.asarray(ref, dtype=float)), 1e-12)

    @property
    def active(self) -> bool:
        return bool(self.positions)

    def start(self, genome: Sequence[int]) -> tuple[int, ...]:
        """``genome`` with every threshold gene at its lowest value: the head of its path."""
        g = [int(v) for v in genome]
        for pos in self.positions:
            g[pos] = self.order[pos][0]
        return tuple(g)

    def steps(self, genome: Sequence[int]) -> list[tuple[int, ...]]:
        """The genomes one threshold step up from ``genome`` (one per threshold gene not at its highest)."""
        out = []
        for pos in self.positions:
            order = self.order[pos]
            rank = order.index(int(genome[pos]))
            if rank + 1 < len(order):
                g = list(genome)
                g[pos] = order[rank + 1]
                out.append(tuple(g))
        return out

    def choose(self, current: Record, candidates: list[Record]) -> Record:
        """The step to take from ``current``: the least constraint violation, then the least loss
        per unit of gain (normalised objectives; a step with no gain comes after every step with
        some, ordered by its loss)."""
        def key(rec: Record):
            delta = (np.asarray(rec.F, dtype=float) - np.asarray(current.F, dtype=float)) / self.scale
            gain = float(-delta[delta < 0].sum())
            loss = float(delta[delta > 0].sum())
            return (rec.cv, gain <= 0, loss / gain if gain > 0 else loss)

        return min(candidates, key=key)


def nondominated(records: list[Record]) -> list[Record]:
    """The records no other record of the list dominates (constraint domination), first of equals kept."""
    from .evaluator import records_front_mask

    seen, out = set(), []
    for rec, keep in zip(records, records_front_mask(records)):
        if keep and tuple(rec.F) not in seen:
            seen.add(tuple(rec.F))
            out.append(rec)
    return out
