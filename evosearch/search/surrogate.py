"""Surrogate-assisted screening of offspring (the LINAS idea of Intel's DyNAS-T: Cummings et al.,
"Accelerating neural architecture exploration across modalities using genetic algorithms", 2022).

Every model run costs seconds; a prediction costs microseconds. So each generation the
algorithm breeds ``pool_factor`` times more offspring than it will evaluate, predicts their
objective and constraint values with regressors trained on every candidate evaluated so far
(scikit-learn random forests on the choice indices), keeps the best by predicted
non-dominated rank and crowding, and adds a few at random (``explore``) so the models keep
seeing where they are wrong. Only the kept offspring are evaluated.

How much to trust it is measured as the search goes: before a generation is evaluated its
candidates are predicted by models that never saw them, so Kendall's tau between those
predictions and the values then measured is an honest held-out rank correlation, per
objective (``last_tau``; the search writes it to ``hypervolume.csv``).
"""

from __future__ import annotations

import numpy as np


class SurrogateScreen:
    """Screens a pool of offspring with regressors of the objectives (and constraints).

    ``min_samples``: no screening before this many distinct candidates were evaluated.
    """

    def __init__(self, pool_factor: int = 8, explore: float = 0.25, min_samples: int = 32, trees: int = 100):
        if pool_factor < 1 or not 0 <= explore <= 1:
            raise ValueError(f"pool_factor={pool_factor}, explore={explore}: need pool_factor >= 1 and explore in [0, 1]")
        self.pool_factor, self.explore, self.min_samples, self.trees = int(pool_factor), float(explore), int(min_samples), int(trees)
        self.X = np.zeros((0, 0))
        self.Y = np.zeros((0, 0))
        self.models = None
        self.pending: tuple[np.ndarray, np.ndarray] | None = None  # (X screened, predictions) awaiting truth
        self.last_tau: list[float] | None = None
        self.history: list[list[float]] = []

    @property
    def ready(self) -> bool:
        return self.models is not None

    def observe(self, X: np.ndarray, F: np.ndarray, G: np.ndarray | None, seed: int) -> None:
        """Add evaluated candidates; score the last predictions against them; refit."""
        Y = np.asarray(F, float) if G is None or not np.asarray(G).size else np.hstack([F, G])
        X = np.asarray(X, float)
        if self.pending is not None:
            self.last_tau = self._tau(X, Y)
            self.history.append(self.last_tau)
            self.pending = None
        known = {tuple(row) for row in self.X.tolist()}
        scored = np.all(np.abs(Y) < 1e29, axis=1)  # genomes isolated as failed (pools) teach nothing
        new = [i for i, row in enumerate(X.tolist()) if tuple(row) not in known and scored[i]]
        self.X = X[new] if self.X.size == 0 else np.vstack([self.X, X[new]])
        self.Y = Y[new] if self.Y.size == 0 else np.vstack([self.Y, Y[new]])
        if len(self.X) >= self.min_samples:
            self._fit(seed)

    def _fit(self, seed: int) -> None:
        from sklearn.ensemble import RandomForestRegressor

        self.models = [
            RandomForestRegressor(n_estimators=self.trees, min_samples_leaf=2, random_state=seed + j, n_jobs=1)
            .fit(self.X, self.Y[:, j])
            for j in range(self.Y.shape[1])
        ]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([m.predict(np.asarray(X, float)) for m in self.models])

    def select(self, problem, pool: np.ndarray, n: int, random_state) -> np.ndarray:
        """Indices of ``n`` pool members to evaluate: best predicted rank and crowding, plus random picks."""
        from pymoo.core.evaluator import Evaluator
        from pymoo.core.population import Population
        from pymoo.operators.survival.rank_and_crowding import RankAndCrowding
        from pymoo.problems.static import StaticProblem

        if len(pool) <= n:
            chosen = np.arange(len(pool))
        else:
            predicted = self.predict(pool)
            n_obj = problem.n_obj
            values = {"F": predicted[:, :n_obj]}
            if predicted.shape[1] > n_obj:
                values["G"] = predicted[:, n_obj:]
            candidates = Population.new(X=pool, index=np.arange(len(pool)))
            Evaluator().eval(StaticProblem(problem, **values), candidates)
            n_best = n - int(round(self.explore * n))
            best = RankAndCrowding().do(problem, candidates, n_survive=n_best, random_state=random_state)
            chosen = np.asarray(best.get("index"), dtype=int)
            rest = np.setdiff1d(np.arange(len(pool)), chosen)
            extra = random_state.choice(rest, size=min(n - len(chosen), len(rest)), replace=False)
            chosen = np.concatenate([chosen, extra])
        self.pending = (np.asarray(pool, float)[chosen], self.predict(pool[chosen]))
        return chosen

    def _tau(self, X: np.ndarray, Y: np.ndarray) -> list[float]:
        """Kendall's tau per output between the pending predictions and the measured values."""
        from scipy.stats import kendalltau

        screened, predicted = self.pending
        rows = {tuple(x): i for i, x in enumerate(X.tolist())}
        pairs = [(i, rows[tuple(x)]) for i, x in enumerate(screened.tolist()) if tuple(x) in rows]
        if len(pairs) < 3:
            return [float("nan")] * predicted.shape[1]
        p = predicted[[i for i, _ in pairs]]
        y = Y[[j for _, j in pairs]]
        return [float(kendalltau(p[:, j], y[:, j]).statistic) if np.ptp(y[:, j]) > 0 else float("nan")
                for j in range(p.shape[1])]
