"""A search run: its stages, the run folder, checkpoints and resume.

Stages, in order (each resumable):

1. **evolve** — the generational loop of the chosen algorithm on the dev subset; with
   ``threshold_path``, each generation's new architectures also walk their exit thresholds on
   the cached exit logits (:mod:`.thresholds`, no model runs), and the points no evaluated
   candidate dominates join the archive (stage ``thresholds`` in ``candidates.csv``);
2. **local** (``local_search=True``) — Pareto local search (Paquete, Chiarandini and Stützle,
   2004) on a bounded front: front members have their one-gene neighbours evaluated, one member
   at a time, until every member's neighbourhood is evaluated, so no one-gene change dominates a
   member. The front holds at most ``front_size`` members (default: the population): a scored
   neighbour that no evaluated candidate dominates joins it and replaces the members it
   dominates; when the front is over its bound, the member of least exclusive hypervolume
   contribution among the members not scanned yet leaves (SMS-EMOA's rule, Beume, Naujoks and
   Emmerich, 2007, restricted so that a scanned member leaves only when dominated), so the
   hypervolume never falls and the stage ends after about one scan per member plus one per
   domination, not after the (much larger) set of non-dominated candidates is scanned. Every member stays non-dominated among everything
   the run evaluated. A member's scan stops early when a neighbour dominates it. Its neighbours
   run only as deep as their exits send each example and start from the member's hidden states
   where their layers agree (:meth:`Evaluator.anchor`); neighbours that differ only in exit
   thresholds cost no model run;
3. **final** — the front re-scored on the full dev set and filtered again: members that the
   full-dev values show dominated are kept in ``final_front.csv`` but marked
   ``on_full_front = 0``; pick, export and the report offer only the others. The reference
   sub-networks (``baselines.csv``: the uncompressed model and uniform widths, no early exit)
   are scored on both dev sets here too.

Run folder (``results/<run-name>/``):

* ``config.yaml`` — the resolved configuration: space, objectives, algorithm and its operators,
  seed, sizes and the fixed hypervolume ``reference_point`` (in pymoo's minimisation space,
  ``sign * value``); for a supernet trained with learned spans, ``learned_spans``: per virtual
  layer, the learned span of each head in tokens, as the run scored them (a layer with no span of
  its own runs them; the report shows it at the largest of the heads it keeps);
* ``candidates.csv`` — every evaluated candidate (of a threshold path, only the points kept),
  appended (and flushed) as soon as it is scored: generation, stage, genome, the decoded
  sub-network as flat columns (``heads_0``, ``bits_3``, ``span_2``, ``threshold_0``,
  ``embedding_bits``, ...: :mod:`evosearch.runstore.columns`), every metric, ``F_*``, ``G_*``,
  ``cv``, ``feasible``, ``eval_time_s``; read it with ``pandas.read_csv`` or, once a stage has
  ended, ``pandas.read_parquet("candidates.parquet")``;
* ``fronts.csv`` — the front after each generation (the Pareto front of everything evaluated so
  far) and local-search step (the bounded front, after one member's scan; ``generation`` column);
* ``hypervolume.csv`` — per generation / local-search step: stage, evaluations, model runs, new
  candidates and how many of them an exit-logit cache answered (``cache_hits``), front size,
  hypervolume, seconds, and with a surrogate its held-out Kendall tau per objective;
* ``checkpoint.pkl`` — after each generation and local-search step (written atomically): the algorithm
  object with its random state, the archive, counters, and Python/NumPy/torch RNG states;
* ``final_front.csv`` — the final front re-scored on the full dev set (``subset_*`` columns hold
  the dev-subset values, ``on_full_front`` the re-filtering);
* ``baselines.csv`` — the reference sub-networks on the dev subset and the full dev set.

Resume (``evosearch search --resume``) reloads the checkpoint and the candidates: the restored
algorithm asks exactly what it asked before the crash, and genomes already in ``candidates.csv``
are looked up instead of re-evaluated, so the run ends with the front of an uninterrupted run.
"""

from __future__ import annotations

import pickle
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cloudpickle
import numpy as np
import torch

from ..fileio import atomic_write
from ..runstore import Record, RunFolderError, RunStore
from .algorithms import Algorithm, make_algorithm
from .evaluator import Evaluator, hypervolume, records_front_mask, reference_point
from .objectives import ObjectiveSet
from .pools import EvalPool, LocalPool
from ..spaces import BoundSpace

STAGES = ("evolve", "local", "final")


def dominates(a: Record, b: Record) -> bool:
    """Constraint domination (Deb et al. 2002, as pymoo and :func:`front_mask` use it): a feasible
    record beats an infeasible one, two infeasible ones compare by violation, two feasible ones by
    Pareto dominance."""
    if a.feasible != b.feasible:
        return a.feasible
    if not a.feasible:
        return a.cv < b.cv
    return all(x <= y for x, y in zip(a.F, b.F)) and any(x < y for x, y in zip(a.F, b.F))


def one_gene_neighbours(genome: Sequence[int], upper: Sequence[int]) -> list[tuple[int, ...]]:
    """Every genome that differs from ``genome`` in exactly one gene, in gene then value order."""
    out = []
    for pos, top in enumerate(upper):
        for value in range(int(top) + 1):
            if value != genome[pos]:
                neighbour = list(genome)
                neighbour[pos] = value
                out.append(tuple(int(v) for v in neighbour))
    return out


@dataclass
class GenerationStats:
    generation: int
    evaluations: int
    model_runs: int
    new_candidates: int
    front_size: int
    hypervolume: float
    seconds: float
    stage: str = "evolve"
    surrogate_tau: list[float] | None = None
    cache_hits: int = 0  # new candidates whose exit logits a cache answered (no model run)


@dataclass
class SearchResult:
    folder: Path
    front: list[Record]
    history: list[GenerationStats]
    final_front: list[Record] = field(default_factory=list)
    on_full_front: list[bool] = field(default_factory=list)

    @property
    def hypervolume(self) -> float:
        return self.history[-1].hypervolume if self.history else 0.0


class SearchRun:
    """Runs (or resumes) a search into ``folder``.

    ``evaluator``: the in-process :class:`Evaluator` on the dev subset (used for the reference
    point and, without a ``pool``, for every evaluation). ``pool``: an
    :class:`~evosearch.search.pools.EvalPool` (default :class:`LocalPool`; :class:`~evosearch.search.pools.RayPool`
    for Ray workers).
    ``full_evaluator``: scores the final front and the baselines on the full dev set.
    ``algorithm_options``: operators and surrogate of the algorithm (:func:`make_algorithm`).
    ``local_search``: run the Pareto local-search stage after the last generation.
    ``threshold_path``: after each generation, walk the threshold path of each architecture it ran
    (:mod:`.thresholds`; no model runs) and add its non-dominated points to the archive, and so to
    the front (the algorithm's population is left as it was).
    ``front_size``: the most members the local-search front keeps (default: ``population``).
    ``config``: extra entries stored in ``config.yaml`` (the CLI stores how to rebuild supernet
    and data).
    """

    def __init__(self, folder: str | Path, space: BoundSpace, objectives: ObjectiveSet, evaluator: Evaluator, *,
                 algorithm: str | Algorithm = "nsga2", algorithm_options: dict | None = None,
                 generations: int = 10, population: int = 20, seed: int = 0, local_search: bool = False,
                 threshold_path: bool = False, front_size: int | None = None, pool: EvalPool | None = None,
                 full_evaluator: Evaluator | None = None, config: dict | None = None,
                 resume: bool = False, progress: bool = True,
                 on_generation: Callable[[GenerationStats], None] | None = None):
        self.folder = Path(folder)
        self.store = RunStore(self.folder)
        self.space, self.objectives, self.evaluator = space, objectives, evaluator
        self.algorithm_name = algorithm if isinstance(algorithm, str) else algorithm.name
        self.algorithm_options = dict(algorithm_options or {})
        self._algorithm_obj = None if isinstance(algorithm, str) else algorithm
        self.generations, self.population, self.seed = int(generations), int(population), int(seed)
        self.local_search = bool(local_search)
        self.threshold_path = bool(threshold_path)
        self.front_size = int(front_size or population)
        self.pool = pool or LocalPool(evaluator)
        self.full_evaluator = full_evaluator
        self.extra = dict(config or {})
        self.resume, self.progress, self.on_generation = resume, progress, on_generation
        if generations < 1 or population < 2 or self.front_size < 1:
            raise RunFolderError(f"generations={generations}, population={population}, front_size={self.front_size}; "
                                 "need >= 1, >= 2 and >= 1")

    # ------------------------------------------------------------------ files
    @property
    def candidates_file(self) -> Path:
        return self.store.candidates_file

    def _resolved_config(self, ref) -> dict:
        cfg = dict(self.extra)
        cfg.update({
            "algorithm": self.algorithm_name, "algorithm_options": self.algorithm_options,
            "generations": self.generations, "population": self.population, "seed": self.seed,
            "local_search": self.local_search, "threshold_path": self.threshold_path, "front_size": self.front_size,
            "space": self.space.space.to_dict(),
            "objectives": self.objectives.to_dict(), "reference_point": [float(r) for r in ref],
            "genome": self.space.labels, "dev_examples": self.evaluator.num_examples,
            "dev_examples_full": (self.full_evaluator or self.evaluator).num_examples,
        })
        learned = self.evaluator.supernet.learned_spans()
        if learned is not None:
            cfg["learned_spans"] = learned
        return cfg

    def _prepare_folder(self):
        if self.resume:
            if not self.store.config_file.is_file():
                raise RunFolderError(f"cannot resume {self.folder}: no config.yaml there")
            stored = self.store.read_config()
            mine = {"algorithm": self.algorithm_name, "algorithm_options": self.algorithm_options,
                    "population": self.population, "seed": self.seed, "threshold_path": self.threshold_path}
            absent = {"algorithm_options": {}, "threshold_path": False}  # runs from before these options
            for key, value in mine.items():
                if stored.get(key, absent.get(key)) != value:
                    raise RunFolderError(f"cannot resume {self.folder}: it was run with {key}={stored.get(key)!r}, "
                                         f"not {value!r}")
            if stored.get("genome") != self.space.labels:
                raise RunFolderError(f"cannot resume {self.folder}: its search space differs from this one")
            self.ref = list(stored["reference_point"])
            changed = {"generations": self.generations, "local_search": self.local_search,
                       "front_size": self.front_size}
            if any(stored.get(k) != v for k, v in changed.items()):  # extending a finished run is allowed
                stored.update(changed)
                self.store.write_config(stored)
            return
        if self.store.holds_run():
            raise RunFolderError(f"{self.folder} already holds a run; resume it (--resume {self.folder}) or choose "
                                 "another run name")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ref = reference_point(self.space, self.objectives, self.evaluator)
        self.store.write_config(self._resolved_config(self.ref))

    # ------------------------------------------------------------------ the stages
    def run(self, stop_after: int | None = None) -> SearchResult:
        """Run every stage (for tests: stop after generation ``stop_after`` of the evolve stage)."""
        self._prepare_folder()
        self.lookup = self.store.load_records() if self.resume else {}
        state = self._restore()
        algo = state["algorithm"]
        self.archive, self.history = state["archive"], state["history"]
        self.counts = {"evaluations": state["evaluations"], "model_runs": state["model_runs"]}
        self.in_archive = set(self.archive)
        self.walked = set(state.get("walked", ()))  # heads of the threshold paths walked so far
        self.members = None  # the local-search front (genomes), once that stage has started
        self._cache_hits = 0
        local_round = state.get("local_round")
        if local_round is not None and state["generation"] + 1 < self.generations:  # (local_round: members scanned)
            raise RunFolderError(f"cannot extend {self.folder} to {self.generations} generations: its local-search "
                                 "stage has started; start a new run instead")
        if local_round is None:
            stopped = self._evolve(algo, state["generation"] + 1, stop_after)
            if stopped:
                return SearchResult(self.folder, self._front(), self.history)
            self.store.write_parquet()
            local_round = 0
        if self.local_search:
            front = self._local_search(algo, local_round, state.get("local_members"))
            self.store.write_parquet()
        else:
            front = self._front()
        result = SearchResult(self.folder, front, self.history)
        if self.full_evaluator is not None:
            result.final_front, result.on_full_front = self._final(front)
            self._baselines()
            self.store.write_parquet()
        return result

    def _restore(self) -> dict:
        ckpt_file = self.folder / "checkpoint.pkl"
        if self.resume and ckpt_file.exists():
            state = pickle.loads(ckpt_file.read_bytes())
            random.setstate(state["rng"]["python"])
            np.random.set_state(state["rng"]["numpy"])
            torch.set_rng_state(state["rng"]["torch"])
            self.store.truncate_fronts(upto=len(state["history"]) - 1)
            return state
        algo = self._algorithm_obj or make_algorithm(self.algorithm_name, **self.algorithm_options)
        algo.setup(self.space, len(self.objectives.objectives), len(self.objectives.constraints),
                   self.population, self.seed, ref_point=self.ref)
        self.store.truncate_fronts(upto=-1)
        return {"algorithm": algo, "generation": -1, "archive": [], "history": [], "evaluations": 0, "model_runs": 0}

    def _checkpoint(self, algo, generation: int, local_round: int | None = None):
        state = {"generation": generation, "local_round": local_round, "local_members": self.members,
                 "algorithm": algo, "archive": self.archive, "walked": sorted(self.walked),
                 "history": self.history, **self.counts,
                 "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}}
        atomic_write(self.folder / "checkpoint.pkl", cloudpickle.dumps(state))

    def _evaluate(self, genomes: list[tuple], generation: int, stage: str, anchors=None) -> int:
        """Evaluate the genomes not yet in the lookup, store them and add all to the archive;
        returns how many were new."""
        new = [g for g in dict.fromkeys(genomes) if g not in self.lookup]

        def store(genome, rec):
            self.lookup[genome] = rec
            self._cache_hits += int(rec.cached_model)
            self.store.append_candidate(generation, stage, rec)

        self._score(genomes, store, anchors)
        self.counts["evaluations"] += len(genomes)
        for g in genomes:
            if g not in self.in_archive:
                self.in_archive.add(g)
                self.archive.append(g)
        return len(new)

    def _score(self, genomes: list[tuple], on_new=None, anchors=None) -> dict[tuple, Record]:
        """Records of ``genomes``: the lookup's, or scored through the pool (``anchors[g]``: the
        genome whose states ``g`` starts from), each new one passed to ``on_new(genome, record)``
        as it arrives; only ``on_new`` stores anything. Counts the model runs."""
        out = {g: self.lookup[g] for g in genomes if g in self.lookup}
        todo = [g for g in dict.fromkeys(genomes) if g not in out]

        def on_result(i, rec):
            out[todo[i]] = rec
            if on_new is not None:
                on_new(todo[i], rec)

        extra = {} if anchors is None else {"anchors": [anchors[g] for g in todo]}
        runs_before = self._model_runs()
        if todo:
            self.pool.evaluate(todo, on_result, **extra)
        self.counts["model_runs"] += self._model_runs() - runs_before
        return out

    def _score_path(self, genomes: list[tuple]) -> dict[tuple, Record]:
        """Threshold-path points, scored and counted as evaluations but not stored."""
        self.counts["evaluations"] += len(set(genomes))
        return self._score(genomes)

    def _walk_thresholds(self, genomes: list[tuple], generation: int) -> list[tuple]:
        """Walk the threshold path (:mod:`.thresholds`) of each architecture among ``genomes`` whose
        path was not walked before, all paths in lockstep; store the points of each architecture's
        threshold front that nothing evaluated dominates, add them to the archive, and return their genomes."""
        from .thresholds import ThresholdPath, nondominated

        path = ThresholdPath(self.space, self.ref)
        if not path.active:
            return []
        asked: dict[tuple, list[Record]] = {}
        for g in genomes:
            head = path.start(g)
            if head not in self.walked:
                asked.setdefault(head, []).append(self.lookup[g])
        self.walked.update(asked)
        heads = self._score_path(list(asked))
        points = {h: asked[h] + [heads[h]] for h in asked}
        current = dict(heads)
        while current:
            proposals = {h: path.steps(rec.genome) for h, rec in current.items()}
            scored = self._score_path([g for gs in proposals.values() for g in gs])
            current = {h: path.choose(current[h], [scored[g] for g in gs]) for h, gs in proposals.items() if gs}
            for h, rec in current.items():
                points[h].append(rec)
        front = self._front()
        kept = [rec for h in asked for rec in nondominated(points[h])
                if rec.genome not in self.in_archive and not any(dominates(m, rec) for m in front)]
        for rec in kept:
            if rec.genome not in self.lookup:  # (a resumed generation finds some stored already)
                self.lookup[rec.genome] = rec
                self.store.append_candidate(generation, "thresholds", rec)
            self.in_archive.add(rec.genome)
            self.archive.append(rec.genome)
        return [rec.genome for rec in kept]

    def _model_runs(self) -> int:
        return int(self.pool.forward_calls)

    def _record(self, generation: int, stage: str, new: int, t0: float, tau=None,
                front: list[Record] | None = None) -> list[Record]:
        front = self._front() if front is None else front
        hv = hypervolume(np.array([r.F for r in front]), self.ref) if front and front[0].feasible else 0.0
        stats = GenerationStats(generation, self.counts["evaluations"], self.counts["model_runs"], new, len(front),
                                hv, time.perf_counter() - t0, stage, tau, self._cache_hits)
        self._cache_hits = 0
        self.history.append(stats)
        self._write_front(generation, front)
        self._write_hypervolume()
        if self.on_generation:
            self.on_generation(stats)
        return front

    def _evolve(self, algo, start: int, stop_after: int | None) -> bool:
        """The generational loop; True when stopped early by ``stop_after``."""
        from tqdm.auto import tqdm

        bar = tqdm(total=self.generations, initial=min(start, self.generations), desc=f"search {self.folder.name}",
                   unit="gen", disable=not self.progress, dynamic_ncols=True)
        try:
            for gen in range(start, self.generations):
                t0 = time.perf_counter()
                X = np.asarray(algo.ask(), dtype=int)
                genomes = [tuple(int(v) for v in x) for x in X]
                new = self._evaluate(genomes, gen, "evolve")
                if self.threshold_path:  # the archive gains each architecture's thresholds; the algorithm does not
                    new += len(self._walk_thresholds(genomes, gen))
                recs = [self.lookup[g] for g in genomes]
                F = np.array([r.F for r in recs], dtype=float)
                G = np.array([r.G for r in recs], dtype=float).reshape(len(recs), -1)
                algo.tell(X, F, G)
                screen = getattr(algo, "screening", None)
                front = self._record(gen, "evolve", new, t0, screen.last_tau if screen is not None else None)
                self._checkpoint(algo, gen)
                bar.set_postfix(evals=self.counts["evaluations"], front=len(front), hv=f"{self.history[-1].hypervolume:.4g}",
                                refresh=False)
                bar.update(1)
                if stop_after is not None and gen >= stop_after:
                    return True
        finally:
            bar.close()
        return False

    def _local_search(self, algo, first_step: int, members: list[tuple] | None) -> list[Record]:
        """Pareto local search on the bounded front (see the module docstring); returns that front.

        Each step scans one member: the first (in objective order) with unscored one-gene
        neighbours has them scored, cheapest and most promising first, in chunks, until one
        dominates it or none is left. The scored neighbours then enter the front
        (:meth:`_admit`). The stage ends when every member's neighbourhood is scored. With the
        threshold path, neighbours run in full instead of from the member's states, and each new
        architecture's threshold path is walked and offered to the front too."""
        from tqdm.auto import tqdm

        self.members = self._admit([], [r.genome for r in self._front()]) if members is None else list(members)
        chunk = 8 * int(getattr(self.pool, "num_workers", 1))
        bar = tqdm(desc=f"local search {self.folder.name}", unit="member", disable=not self.progress,
                   dynamic_ncols=True, initial=first_step)
        step = first_step
        try:
            while True:
                t0 = time.perf_counter()
                member = next((m for m in self._member_records() if self._unscored(m.genome)), None)
                if member is None:
                    break
                todo = self._unscored(member.genome)
                new, scored = 0, []
                for start in range(0, len(todo), chunk):
                    part = todo[start:start + chunk]
                    if self.threshold_path:  # full runs (exit logits cached), then each new architecture's path
                        new += self._evaluate(part, self.generations + step, "local")
                        walked = self._walk_thresholds(part, self.generations + step)
                        new += len(walked)
                        part = part + walked
                    else:
                        new += self._evaluate(part, self.generations + step, "local", {g: member.genome for g in part})
                    scored += part
                    if any(dominates(self.lookup[g], member) for g in part):
                        break  # its other neighbours need not be scored
                self.members = self._admit(self.members, scored)
                front = self._record(self.generations + step, "local", new, t0, front=self._member_records())
                step += 1
                self._checkpoint(algo, self.generations - 1, step)
                bar.set_postfix(front=len(front), hv=f"{self.history[-1].hypervolume:.4g}", refresh=False)
                bar.update(1)
        finally:
            bar.close()
        return self._member_records()

    def _member_records(self) -> list[Record]:
        return sorted((self.lookup[g] for g in self.members), key=lambda r: (r.F, r.genome))

    def _admit(self, members: list[tuple], scored: list[tuple]) -> list[tuple]:
        """``members`` after the ``scored`` genomes, one at a time, try to join: one that no
        evaluated candidate dominates joins and replaces the members it dominates; over
        ``front_size``, the least hypervolume contributor among the members not yet scanned (the
        newcomer included) leaves. A scanned member leaves only when something dominates it, so
        the stage scans each member that stays at most once and ends. Each join keeps or raises
        the hypervolume (the leaver contributes no more than the newcomer)."""
        pareto = {r.genome for r in self._front()}  # non-dominated among everything evaluated
        kept = list(members)
        for g in dict.fromkeys(scored):
            if g not in pareto or g in kept:
                continue
            rec = self.lookup[g]
            kept = [m for m in kept if not dominates(rec, self.lookup[m])] + [g]
            if len(kept) > self.front_size:
                open_ = [bool(self._unscored(m)) for m in kept]
                kept.pop(self._least_contributor([self.lookup[m] for m in kept], open_))
        return kept

    def _least_contributor(self, recs: list[Record], allowed: list[bool]) -> int:
        """Index, among the ``allowed`` records, of the one whose removal loses the least
        hypervolume (infeasible records and records outside the reference point contribute nothing)."""
        from moocore import hv_contributions

        F = np.array([r.F for r in recs], dtype=float)
        ref = np.asarray(self.ref, dtype=float)
        inside = np.array([r.feasible for r in recs]) & np.all(F < ref, axis=1)
        if inside.any():
            contribution = np.full(len(recs), -np.inf)
            contribution[inside] = hv_contributions(F[inside], ref=ref)
        else:  # no member counts for the hypervolume: the most violating one leaves
            contribution = -np.array([r.cv for r in recs])
        contribution[~np.asarray(allowed)] = np.inf
        return int(np.argmin(contribution))

    def _unscored(self, genome: tuple) -> list[tuple]:
        """``genome``'s one-gene neighbours not yet in the archive, in the order local search scores
        them: exit-threshold and activation-width changes first (no model run), then changes towards
        cheaper values (fewer heads or neurons, fewer bits, shorter spans: the likely dominators),
        later layers before earlier ones (fewer sentences reach them), embedding bits and embedding
        sparsity last (a full run; a higher embedding sparsity is the cheaper value)."""
        slots = [self.space.slots[i] for i in self.space.free]

        def order(neighbour):
            pos = next(p for p, (a, b) in enumerate(zip(genome, neighbour)) if a != b)
            slot = slots[pos]
            up_is_cheaper = slot.gene in ("exit_threshold", "embedding_sparsity")
            cheaper = neighbour[pos] > genome[pos] if up_is_cheaper else neighbour[pos] < genome[pos]
            kind = {"exit_threshold": 0, "activation_bits": 0, "embedding_bits": 2,
                    "embedding_sparsity": 2}.get(slot.gene, 1)
            layer = -1 if slot.layer is None else slot.layer
            return (kind, not cheaper, -layer, pos, neighbour[pos])

        return sorted((n for n in one_gene_neighbours(genome, self.space.upper) if n not in self.in_archive), key=order)

    def _front(self) -> list[Record]:
        recs = [self.lookup[g] for g in self.archive]
        front = [r for r, m in zip(recs, records_front_mask(recs)) if m]
        return sorted(front, key=lambda r: (r.F, r.genome))

    def _write_front(self, gen: int, front: list[Record]):
        self.store.append_front(gen, "local" if gen >= self.generations else "evolve", front)

    def _write_hypervolume(self):
        names = self.objectives.objectives
        tau_cols = [f"surrogate_tau_{n}" for n in names]
        cols = ["generation", "stage", "evaluations", "model_runs", "new_candidates", "cache_hits", "front_size",
                "hypervolume", "seconds", *tau_cols]
        rows = []
        for s in self.history:
            taus = list(s.surrogate_tau or [])[: len(names)]
            rows.append({"generation": s.generation, "stage": s.stage, "evaluations": s.evaluations,
                         "model_runs": s.model_runs, "new_candidates": s.new_candidates,
                         "cache_hits": s.cache_hits, "front_size": s.front_size,
                         "hypervolume": repr(s.hypervolume), "seconds": f"{s.seconds:.3f}",
                         **{c: repr(t) for c, t in zip(tau_cols, taus)}})
        self.store.write_history(cols, rows)

    # ------------------------------------------------------------------ final stage
    def _final(self, front: list[Record]) -> tuple[list[Record], list[bool]]:
        """Re-score the front on the full dev set and filter it again; writes ``final_front.csv``."""
        out = [self.full_evaluator.evaluate(r.genome) for r in front]
        if not out:
            return [], []
        keep = records_front_mask(out).tolist()
        self.store.write_final(front, out, keep)
        return out, keep

    def _baselines(self) -> None:
        """Score the reference sub-networks (no early exit) on the dev subset and the full dev set."""
        from .baselines import baseline_configs

        rows = []
        no_exit = (0.0,) * max(self.space.arch.num_layers - 1, 1)
        for name, config in baseline_configs(self.space.arch, self.space.quant).items():
            for split, evaluator in (("subset", self.evaluator), ("full", self.full_evaluator)):
                metrics, _ = evaluator.metrics(config, no_exit, None)
                rows.append((name, split, config.to_dict(), metrics))
        self.store.write_baselines(rows)
