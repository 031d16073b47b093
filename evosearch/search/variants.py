"""Search variants by name: an algorithm and the options that change what its model runs buy.

``nsga2+surrogate+thresholds`` is NSGA-II (:mod:`.algorithms`) whose offspring random-forest
predictors screen before they are run (:mod:`.surrogate`, after DyNAS-T's LINAS) and whose every
new architecture walks its exit-threshold path on the exit-logit cache (:mod:`.thresholds`). The
names are the ones ``scripts/bench_search.py`` and docs/benchmarks.md compare, so a sweep
(``evosearch sweep --algorithms nsga2 nsga2+thresholds``) can put them side by side on a cluster.
Pareto local search is not part of a name: it is a stage after any of them (``--local-search``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..spaces import SearchSpaceError
from .algorithms import ALGORITHMS

MODIFIERS = {"surrogate": "offspring screened by an accuracy predictor (nsga2, nsga3)",
             "thresholds": "each new architecture walks its exit-threshold path (no model runs)"}
SCREENED = ("nsga2", "nsga3")  # the algorithms whose offspring a surrogate can screen


@dataclass(frozen=True)
class Variant:
    algorithm: str
    surrogate: bool = False
    threshold_path: bool = False

    @classmethod
    def parse(cls, name: str) -> Variant:
        """``ALGORITHM[+surrogate][+thresholds]``; a clear error names what is allowed."""
        algorithm, *mods = str(name).strip().split("+")
        if algorithm not in ALGORITHMS:
            raise SearchSpaceError(f"search variant {name!r}: unknown algorithm {algorithm!r}; "
                                   f"allowed: {', '.join(ALGORITHMS)}")
        unknown = [m for m in mods if m not in MODIFIERS]
        if unknown or len(set(mods)) != len(mods):
            raise SearchSpaceError(f"search variant {name!r}: write ALGORITHM{''.join(f'[+{m}]' for m in MODIFIERS)}, "
                                   "each at most once (" + "; ".join(f"+{m}: {h}" for m, h in MODIFIERS.items()) + ")")
        if "surrogate" in mods and algorithm not in SCREENED:
            raise SearchSpaceError(f"search variant {name!r}: +surrogate screens offspring of "
                                   f"{' or '.join(SCREENED)} only")
        return cls(algorithm, "surrogate" in mods, "thresholds" in mods)

    @classmethod
    def of_run(cls, config: dict) -> Variant:
        """The variant a run folder's ``config.yaml`` (as stored by :class:`~.run.SearchRun`) ran."""
        options = config.get("algorithm_options") or {}
        return cls(str(config.get("algorithm")), bool(options.get("surrogate", False)),
                   bool(config.get("threshold_path", False)))

    @property
    def name(self) -> str:
        return self.algorithm + "+surrogate" * self.surrogate + "+thresholds" * self.threshold_path

    def search_options(self) -> dict:
        """Keyword arguments of :func:`evosearch.api.search`."""
        return {"algorithm": self.algorithm, "surrogate": self.surrogate, "threshold_path": self.threshold_path}
