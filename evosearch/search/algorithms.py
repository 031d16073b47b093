"""Search algorithms behind one ask/tell interface.

``algo.setup(space, n_obj, n_constr, pop_size, seed)``, then per generation
``X = algo.ask()`` (an ``(n, n_var)`` integer array of genomes) and
``algo.tell(X, F, G)`` with the objective values (minimised: ``sign * value``) and constraint
values (``<= 0`` feasible). Each algorithm keeps its random state inside itself, so pickling the
object is a complete checkpoint and a run is reproducible from its seed.

* ``nsga2`` / ``nsga3`` — pymoo (integer genes: ``IntegerRandomSampling``, uniform crossover and
  per-gene reset mutation by default, :mod:`.operators`; NSGA-III with Das-Dennis reference
  directions), optionally screened by a surrogate (:mod:`.surrogate`).
* ``deap-nsga2`` — DEAP: ``selTournamentDCD`` parents, ``cxUniform``, per-gene
  ``mutUniformInt``, ``selNSGA2`` survival; constraints by penalty (infeasible candidates rank
  behind the reference point, ordered by violation).
* ``random`` — uniform random genomes.
* ``local`` — mutations (1–2 genes) of members of the current Pareto front of everything seen.
"""

from __future__ import annotations

import random as _random

import numpy as np

from .evaluator import front_mask
from .operators import CROSSOVERS, MUTATIONS, make_crossover, make_mutation
from ..spaces import BoundSpace, SearchSpaceError
from .surrogate import SurrogateScreen

ALGORITHMS = ("nsga2", "nsga3", "deap-nsga2", "random", "local")


class Algorithm:
    name = "base"

    def setup(self, space: BoundSpace, n_obj: int, n_constr: int, pop_size: int, seed: int,
              ref_point=None) -> "Algorithm":
        self.upper = np.asarray(space.upper, dtype=int)
        self.n_var = int(space.n_var)
        self.n_obj, self.n_constr, self.pop_size, self.seed = n_obj, n_constr, pop_size, seed
        self.ref_point = None if ref_point is None else np.asarray(ref_point, dtype=float)
        if self.n_var == 0:
            raise SearchSpaceError("the search space has no gene with two or more choices: nothing to search")
        self._setup()
        return self

    def _setup(self):
        pass

    def ask(self) -> np.ndarray:
        raise NotImplementedError

    def tell(self, X, F, G) -> None:
        pass


def _2d(a, n):
    a = np.asarray(a, dtype=float)
    return a.reshape(n, -1)


class PymooAlgorithm(Algorithm):
    """pymoo NSGA-II / NSGA-III driven with ask/tell, with operators for choice genes.

    Operators are constructor arguments with defaults, as in pymoo's own algorithms:
    ``crossover`` (``uniform``, default; ``two-point``; ``sbx``) and ``mutation`` (``reset`` at
    ``mutation_rate`` per gene, default 1/n_var; ``pm``), see :mod:`.operators`. ``screening``
    (a :class:`~.surrogate.SurrogateScreen`) breeds a larger pool each generation and evaluates
    only the offspring its accuracy and cost predictors rank best.
    """

    def __init__(self, kind: str = "nsga2", crossover: str = "uniform", mutation: str = "reset",
                 mutation_rate: float | None = None, screening: SurrogateScreen | None = None):
        if crossover not in CROSSOVERS or mutation not in MUTATIONS:
            raise SearchSpaceError(f"crossover={crossover!r}, mutation={mutation!r}; allowed: crossover "
                                   f"{', '.join(CROSSOVERS)}, mutation {', '.join(MUTATIONS)}")
        self.kind, self.name = kind, kind
        self.crossover, self.mutation, self.mutation_rate = crossover, mutation, mutation_rate
        self.screening = screening

    def _setup(self):
        from pymoo.core.problem import Problem
        from pymoo.core.termination import NoTermination
        from pymoo.operators.sampling.rnd import IntegerRandomSampling

        self.problem = Problem(n_var=self.n_var, n_obj=self.n_obj, n_ieq_constr=self.n_constr,
                               xl=np.zeros(self.n_var), xu=self.upper.astype(float), vtype=int)
        ops = dict(
            sampling=IntegerRandomSampling(),
            crossover=make_crossover(self.crossover),
            mutation=make_mutation(self.mutation, self.mutation_rate),
            eliminate_duplicates=True,
        )
        if self.kind == "nsga2":
            from pymoo.algorithms.moo.nsga2 import NSGA2

            algo = NSGA2(pop_size=self.pop_size, **ops)
        elif self.kind == "nsga3":
            from pymoo.algorithms.moo.nsga3 import NSGA3
            from pymoo.util.ref_dirs import get_reference_directions

            partitions = 1
            while _das_dennis_count(self.n_obj, partitions + 1) <= self.pop_size:
                partitions += 1
            ref_dirs = get_reference_directions("das-dennis", self.n_obj, n_partitions=partitions)
            algo = NSGA3(ref_dirs=ref_dirs, pop_size=self.pop_size, **ops)
        else:
            raise SearchSpaceError(f"unknown pymoo algorithm {self.kind!r}")
        algo.setup(self.problem, termination=NoTermination(), seed=self.seed, verbose=False)
        self.algo = algo
        self._pop = None
        self._seen: set[tuple] = set()

    def ask(self) -> np.ndarray:
        self._pop = self.algo.ask()
        if self.screening is not None and self.screening.ready and self.algo.pop is not None:
            self._pop = self._screened(len(self._pop))
        return np.rint(self._pop.get("X")).astype(int)

    def _screened(self, n: int):
        """Breed ``pool_factor`` x n unseen offspring, keep the n the surrogate ranks best."""
        from pymoo.core.population import Population

        a = self.algo
        pool, keys = [], set()
        for _ in range(4 * self.screening.pool_factor):
            if len(pool) >= self.screening.pool_factor * n:
                break
            off = a.mating.do(self.problem, a.pop, n, algorithm=a, random_state=a.random_state)
            for x in np.rint(off.get("X")).astype(int):
                key = tuple(int(v) for v in x)
                if key not in self._seen and key not in keys:
                    keys.add(key)
                    pool.append(x)
        pool = np.asarray(pool, dtype=int).reshape(-1, self.n_var)
        if len(pool) == 0:
            return self._pop
        chosen = self.screening.select(self.problem, pool, n, a.random_state)
        return Population.new(X=pool[chosen].astype(float))

    def tell(self, X, F, G) -> None:
        from pymoo.core.evaluator import Evaluator
        from pymoo.problems.static import StaticProblem

        n = len(X)
        kwargs = {"F": _2d(F, n)}
        if self.n_constr:
            kwargs["G"] = _2d(G, n)
        Evaluator().eval(StaticProblem(self.problem, **kwargs), self._pop)
        self.algo.tell(infills=self._pop)
        self._pop = None
        self._seen.update(tuple(int(v) for v in x) for x in np.asarray(X, dtype=int))
        if self.screening is not None:
            self.screening.observe(X, kwargs["F"], kwargs.get("G"), self.seed)


def _das_dennis_count(n_obj, partitions):
    from math import comb

    return comb(n_obj + partitions - 1, partitions)


class DeapNSGA2(Algorithm):
    """DEAP's NSGA-II (the example in deap/examples/ga/nsga2.py) with integer genes.

    The population is kept as plain ``(genome, fitness)`` tuples so the object pickles without
    DEAP's dynamically created classes; DEAP individuals are built on the fly for its operators.
    """

    name = "deap-nsga2"

    def __init__(self, cxpb: float = 0.9, indpb: float | None = None):
        self.cxpb = cxpb
        self.indpb = indpb

    def _setup(self):
        self._rstate = _random.Random(self.seed).getstate()
        self.pop: list[tuple[tuple[int, ...], tuple[float, ...]]] = []
        self._asked = 0

    # DEAP's operators use the module-level `random`; run them on our own saved state
    def _with_rng(self, fn):
        saved = _random.getstate()
        _random.setstate(self._rstate)
        try:
            return fn()
        finally:
            self._rstate = _random.getstate()
            _random.setstate(saved)

    def _individuals(self, entries):
        from deap import base

        weights = (-1.0,) * self.n_obj

        class Fitness(base.Fitness):
            pass

        Fitness.weights = weights
        out = []
        for genome, fit in entries:
            ind = _Individual(genome)
            ind.fitness = Fitness()
            if fit is not None:
                ind.fitness.values = fit
            out.append(ind)
        return out

    def ask(self) -> np.ndarray:
        from deap import tools

        upper = [int(u) for u in self.upper]

        def initial():
            return [[_random.randint(0, u) for u in upper] for _ in range(self.pop_size)]

        def offspring():
            parents = self._individuals(self.pop)
            parents = tools.selNSGA2(parents, len(parents))  # assigns crowding distances
            if len(parents) % 4 == 0:
                chosen = tools.selTournamentDCD(parents, len(parents))
            else:
                chosen = [_random.choice(parents) for _ in range(len(parents))]
            kids = [list(c) for c in chosen]
            indpb = self.indpb or 1.0 / self.n_var
            for a, b in zip(kids[::2], kids[1::2]):
                if _random.random() <= self.cxpb:
                    tools.cxUniform(a, b, indpb=0.5)
            for k in kids:
                tools.mutUniformInt(k, low=[0] * len(upper), up=upper, indpb=indpb)
            return kids[: self.pop_size]

        X = self._with_rng(initial if not self.pop else offspring)
        return np.asarray(X, dtype=int)

    def tell(self, X, F, G) -> None:
        from deap import tools

        n = len(X)
        F = _2d(F, n)
        fits = _penalised(F, None if not self.n_constr else _2d(G, n), self.ref_point)
        entries = self.pop + [(tuple(int(v) for v in x), tuple(f)) for x, f in zip(X, fits)]
        survivors = tools.selNSGA2(self._individuals(entries), self.pop_size)
        self.pop = [(tuple(ind), tuple(ind.fitness.values)) for ind in survivors]


class _Individual(list):
    pass


def _penalised(F, G, ref_point):
    """Constraint handling for DEAP: infeasible rows move beyond the reference point by their violation."""
    F = np.array(F, dtype=float)
    if G is None:
        return F
    cv = np.clip(G, 0, None).sum(axis=1)
    bad = cv > 0
    if bad.any():
        base = ref_point if ref_point is not None else F.max(axis=0)
        F[bad] = np.abs(base)[None, :] + 1.0 + cv[bad, None] * (1.0 + np.abs(base)[None, :])
    return F


class RandomSearch(Algorithm):
    name = "random"

    def _setup(self):
        self.rng = np.random.default_rng(self.seed)

    def ask(self) -> np.ndarray:
        return self.rng.integers(0, self.upper + 1, size=(self.pop_size, self.n_var))


class LocalSearch(Algorithm):
    """Random first generation; then each child mutates 1–2 genes of a random Pareto-front member."""

    name = "local"

    def _setup(self):
        self.rng = np.random.default_rng(self.seed)
        self.X = np.zeros((0, self.n_var), dtype=int)
        self.F = np.zeros((0, self.n_obj))
        self.G = np.zeros((0, self.n_constr))
        self.seen: set[tuple] = set()

    def ask(self) -> np.ndarray:
        if len(self.X) == 0:
            return self.rng.integers(0, self.upper + 1, size=(self.pop_size, self.n_var))
        front = self.X[front_mask(self.F, self.G if self.n_constr else None)]
        kids, keys = [], set()
        for _ in range(self.pop_size * 20):
            if len(kids) == self.pop_size:
                break
            child = front[self.rng.integers(len(front))].copy()
            for pos in self.rng.choice(self.n_var, size=min(self.n_var, int(self.rng.integers(1, 3))), replace=False):
                if self.upper[pos] == 0:
                    continue
                step = int(self.rng.integers(1, self.upper[pos] + 1))
                child[pos] = (child[pos] + step) % (self.upper[pos] + 1)  # always a different value
            key = tuple(child)
            if key in self.seen or key in keys:
                continue
            keys.add(key)
            kids.append(child)
        while len(kids) < self.pop_size:  # neighbourhood exhausted: restart points
            kids.append(self.rng.integers(0, self.upper + 1, size=self.n_var))
        return np.asarray(kids, dtype=int)

    def tell(self, X, F, G) -> None:
        n = len(X)
        for x in X:
            self.seen.add(tuple(int(v) for v in x))
        self.X = np.vstack([self.X, np.asarray(X, dtype=int)])
        self.F = np.vstack([self.F, _2d(F, n)])
        if self.n_constr:
            self.G = np.vstack([self.G, _2d(G, n)])
        mask = front_mask(self.F, self.G if self.n_constr else None)  # keep the archive small
        keep = mask | (np.arange(len(self.X)) >= len(self.X) - 4 * self.pop_size)
        self.X, self.F = self.X[keep], self.F[keep]
        if self.n_constr:
            self.G = self.G[keep]


def make_algorithm(name: str, *, crossover: str = "uniform", mutation: str = "reset",
                   mutation_rate: float | None = None, surrogate: bool = False) -> Algorithm:
    """An algorithm by name; the operator and surrogate options apply to the pymoo algorithms."""
    if name in ("nsga2", "nsga3"):
        return PymooAlgorithm(name, crossover, mutation, mutation_rate, SurrogateScreen() if surrogate else None)
    if surrogate or (crossover, mutation, mutation_rate) != ("uniform", "reset", None):
        raise SearchSpaceError(f"operators and the surrogate are options of nsga2 and nsga3, not of {name!r}")
    if name == "deap-nsga2":
        return DeapNSGA2()
    if name == "random":
        return RandomSearch()
    if name == "local":
        return LocalSearch()
    raise SearchSpaceError(f"unknown algorithm {name!r}; allowed: {', '.join(ALGORITHMS)}")
