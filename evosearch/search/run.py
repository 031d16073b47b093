"""A search run: the generational loop, the run folder, checkpoints and resume.

Run folder (``results/<run-name>/``):

* ``config.yaml`` — the resolved configuration: space, objectives, algorithm, seed, sizes and
  the fixed hypervolume ``reference_point`` (in pymoo's minimisation space, ``sign * value``);
* ``candidates.csv`` — every evaluated candidate, appended (and flushed) as soon as it is scored:
  generation, genome, decoded config (JSON), thresholds, every metric, ``F_*``, ``G_*``, ``cv``,
  ``feasible``, ``eval_time_s``; read it with ``pandas.read_csv``;
* ``fronts.csv`` — the Pareto front of everything evaluated so far, after each generation
  (``generation`` column);
* ``hypervolume.csv`` — generation, evaluations, model runs, front size, hypervolume;
* ``checkpoint.pkl`` — after each generation (written atomically): the algorithm object with its
  random state, the archive, counters, and Python/NumPy/torch global RNG states;
* ``final_front.csv`` — the last front re-evaluated on the full dev set.

Resume (``evosearch search --resume``) reloads the checkpoint and the candidates: the restored
algorithm asks exactly what it asked before the crash, and genomes already in ``candidates.csv``
are looked up instead of re-evaluated, so the run ends with the front of an uninterrupted run.
"""

from __future__ import annotations

import csv
import json
import os
import pickle

import cloudpickle
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml

from ..errors import EvosearchError
from .algorithms import Algorithm, make_algorithm
from .evaluator import Evaluator, Record, front_mask, genome_key, hypervolume, reference_point
from .objectives import ObjectiveSet
from .space import BoundSpace


class RunFolderError(EvosearchError):
    """A run folder that cannot be created or resumed."""


class LocalPool:
    """In-process evaluation (``--workers 0``)."""

    def __init__(self, evaluator: Evaluator):
        self.evaluator = evaluator

    def evaluate(self, genomes: Sequence[Sequence[int]], on_result: Callable[[int, Record], None] | None = None):
        out = []
        for i, g in enumerate(genomes):
            rec = self.evaluator.evaluate(g)
            if on_result:
                on_result(i, rec)
            out.append(rec)
        return out

    def close(self):
        pass


@dataclass
class GenerationStats:
    generation: int
    evaluations: int
    model_runs: int
    new_candidates: int
    front_size: int
    hypervolume: float
    seconds: float


@dataclass
class SearchResult:
    folder: Path
    front: list[Record]
    history: list[GenerationStats]
    final_front: list[Record] = field(default_factory=list)

    @property
    def hypervolume(self) -> float:
        return self.history[-1].hypervolume if self.history else 0.0


class SearchRun:
    """Runs (or resumes) a search into ``folder``.

    ``evaluator``: the in-process :class:`Evaluator` on the dev subset (used for the reference
    point and, without a ``pool``, for every evaluation). ``pool``: any object with
    ``evaluate(genomes, on_result)`` (e.g. :class:`evosearch.search.parallel.RayPool`).
    ``full_evaluator``: scores the final front on the full dev set. ``config``: extra entries
    stored in ``config.yaml`` (the CLI stores how to rebuild supernet and data).
    """

    def __init__(self, folder: str | Path, space: BoundSpace, objectives: ObjectiveSet, evaluator: Evaluator, *,
                 algorithm: str | Algorithm = "nsga2", generations: int = 10, population: int = 20, seed: int = 0,
                 pool=None, full_evaluator: Evaluator | None = None, config: dict | None = None,
                 resume: bool = False, progress: bool = True,
                 on_generation: Callable[[GenerationStats], None] | None = None):
        self.folder = Path(folder)
        self.space, self.objectives, self.evaluator = space, objectives, evaluator
        self.algorithm_name = algorithm if isinstance(algorithm, str) else algorithm.name
        self._algorithm_obj = None if isinstance(algorithm, str) else algorithm
        self.generations, self.population, self.seed = int(generations), int(population), int(seed)
        self.pool = pool or LocalPool(evaluator)
        self.full_evaluator = full_evaluator
        self.extra = dict(config or {})
        self.resume, self.progress, self.on_generation = resume, progress, on_generation
        if generations < 1 or population < 2:
            raise RunFolderError(f"generations={generations}, population={population}; need >= 1 and >= 2")

    # ------------------------------------------------------------------ files
    @property
    def candidates_file(self) -> Path:
        return self.folder / "candidates.csv"

    def _resolved_config(self, ref) -> dict:
        cfg = dict(self.extra)
        cfg.update({
            "algorithm": self.algorithm_name, "generations": self.generations, "population": self.population,
            "seed": self.seed, "space": self.space.space.to_dict(), "objectives": self.objectives.to_dict(),
            "reference_point": [float(r) for r in ref], "genome": self.space.labels,
            "dev_examples": self.evaluator.num_examples,
        })
        return cfg

    def _prepare_folder(self):
        cfg_file = self.folder / "config.yaml"
        if self.resume:
            if not cfg_file.is_file():
                raise RunFolderError(f"cannot resume {self.folder}: no config.yaml there")
            stored = yaml.safe_load(cfg_file.read_text())
            for key in ("algorithm", "population", "seed"):
                mine = getattr(self, {"algorithm": "algorithm_name"}.get(key, key))
                if stored.get(key) != mine:
                    raise RunFolderError(f"cannot resume {self.folder}: it was run with {key}={stored.get(key)!r}, "
                                         f"not {mine!r}")
            if stored.get("genome") != self.space.labels:
                raise RunFolderError(f"cannot resume {self.folder}: its search space differs from this one")
            self.ref = list(stored["reference_point"])
            if stored.get("generations") != self.generations:  # extending a finished run is allowed
                stored["generations"] = self.generations
                _atomic_write(cfg_file, yaml.safe_dump(stored, sort_keys=False).encode())
            return
        if self.candidates_file.exists() or (self.folder / "checkpoint.pkl").exists():
            raise RunFolderError(f"{self.folder} already holds a run; resume it (--resume {self.folder}) or choose "
                                 "another run name")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ref = reference_point(self.space, self.objectives, self.evaluator)
        _atomic_write(cfg_file, yaml.safe_dump(self._resolved_config(self.ref), sort_keys=False).encode())

    # ------------------------------------------------------------------ candidates.csv
    def _columns(self, rec: Record) -> list[str]:
        metric_cols = list(rec.metrics)
        return (["generation", "genome", "config", "thresholds"] + metric_cols
                + [f"F_{i}" for i in range(len(rec.F))] + [f"G_{i}" for i in range(len(rec.G))]
                + ["cv", "feasible", "eval_time_s", "cached_model"])

    def _row(self, generation: int, rec: Record) -> dict:
        row = {"generation": generation, "genome": genome_key(rec.genome), "config": json.dumps(rec.config),
               "thresholds": json.dumps(list(rec.thresholds))}
        row.update({k: (v if isinstance(v, str) else repr(float(v))) for k, v in rec.metrics.items()})
        row.update({f"F_{i}": repr(float(v)) for i, v in enumerate(rec.F)})
        row.update({f"G_{i}": repr(float(v)) for i, v in enumerate(rec.G)})
        row.update({"cv": repr(rec.cv), "feasible": int(rec.feasible), "eval_time_s": f"{rec.eval_time_s:.6f}",
                    "cached_model": int(rec.cached_model)})
        return row

    def _append_candidate(self, generation: int, rec: Record):
        new = not self.candidates_file.exists()
        if new:
            self._cand_cols = self._columns(rec)
        with open(self.candidates_file, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self._cand_cols)
            if new:
                writer.writeheader()
            writer.writerow(self._row(generation, rec))
            fh.flush()

    def _load_candidates(self) -> dict[tuple, Record]:
        """Stored candidates by genome; a torn last line (kill -9 mid-write) is dropped."""
        if not self.candidates_file.exists():
            return {}
        lines = self.candidates_file.read_text().splitlines(keepends=True)
        if not lines:
            return {}
        header = next(csv.reader([lines[0]]))
        self._cand_cols = header
        good = [lines[0]]
        out = {}
        n_f = sum(c.startswith("F_") for c in header)
        n_g = sum(c.startswith("G_") for c in header)
        fixed = {"generation", "genome", "config", "thresholds", "cv", "feasible", "eval_time_s", "cached_model"}
        for line in lines[1:]:
            if not line.endswith("\n"):
                break
            try:
                values = next(csv.reader([line]))
                if len(values) != len(header):
                    break
                row = dict(zip(header, values))
                genome = tuple(int(x) for x in row["genome"].split("-")) if row["genome"] else ()
                metrics = {c: (row[c] if c == "exit_distribution" else float(row[c]))
                           for c in header if c not in fixed and not c.startswith(("F_", "G_"))}
                rec = Record(genome, json.loads(row["config"]), tuple(json.loads(row["thresholds"])), metrics,
                             tuple(float(row[f"F_{i}"]) for i in range(n_f)),
                             tuple(float(row[f"G_{i}"]) for i in range(n_g)),
                             float(row["eval_time_s"]), bool(int(row["cached_model"])))
            except (ValueError, KeyError, json.JSONDecodeError):
                break
            good.append(line)
            out[genome] = rec
        if len(good) != len(lines):
            _atomic_write(self.candidates_file, "".join(good).encode())
        return out

    # ------------------------------------------------------------------ main loop
    def run(self, stop_after: int | None = None) -> SearchResult:
        """Run generations until ``generations`` (or, for tests, stop after generation ``stop_after``)."""
        from tqdm.auto import tqdm

        self._prepare_folder()
        lookup = self._load_candidates() if self.resume else {}
        ckpt_file = self.folder / "checkpoint.pkl"
        if self.resume and ckpt_file.exists():
            state = pickle.loads(ckpt_file.read_bytes())
            algo: Algorithm = state["algorithm"]
            start, archive, history = state["generation"] + 1, state["archive"], state["history"]
            evaluations, model_runs = state["evaluations"], state["model_runs"]
            random.setstate(state["rng"]["python"])
            np.random.set_state(state["rng"]["numpy"])
            torch.set_rng_state(state["rng"]["torch"])
            self._rewrite_fronts(upto=start - 1)
        else:
            algo = self._algorithm_obj or make_algorithm(self.algorithm_name)
            algo.setup(self.space, len(self.objectives.objectives), len(self.objectives.constraints),
                       self.population, self.seed, ref_point=self.ref)
            start, archive, history, evaluations, model_runs = 0, [], [], 0, 0
            self._rewrite_fronts(upto=-1)
        bar = tqdm(total=self.generations, initial=min(start, self.generations), desc=f"search {self.folder.name}",
                   unit="gen", disable=not self.progress, dynamic_ncols=True)
        in_archive = set(archive)
        try:
            for gen in range(start, self.generations):
                t0 = time.perf_counter()
                X = np.asarray(algo.ask(), dtype=int)
                genomes = [tuple(int(v) for v in x) for x in X]
                todo = list(dict.fromkeys(g for g in genomes if g not in lookup))
                runs_before = self._model_runs()

                def on_result(i, rec, gen=gen, todo=todo):
                    lookup[todo[i]] = rec
                    self._append_candidate(gen, rec)

                if todo:
                    self.pool.evaluate(todo, on_result)
                model_runs += self._model_runs() - runs_before
                recs = [lookup[g] for g in genomes]
                F = np.array([r.F for r in recs], dtype=float)
                G = np.array([r.G for r in recs], dtype=float).reshape(len(recs), -1)
                algo.tell(X, F, G)
                evaluations += len(genomes)
                for g in genomes:
                    if g not in in_archive:
                        in_archive.add(g)
                        archive.append(g)
                front = self._front(archive, lookup)
                hv = hypervolume(np.array([r.F for r in front]), self.ref) if front and front[0].feasible else 0.0
                stats = GenerationStats(gen, evaluations, model_runs, len(todo), len(front), hv,
                                        time.perf_counter() - t0)
                history.append(stats)
                self._write_front(gen, front)
                self._write_hypervolume(history)
                state = {"generation": gen, "algorithm": algo, "archive": archive, "history": history,
                         "evaluations": evaluations, "model_runs": model_runs,
                         "rng": {"python": random.getstate(), "numpy": np.random.get_state(),
                                 "torch": torch.get_rng_state()}}
                _atomic_write(ckpt_file, cloudpickle.dumps(state))
                bar.set_postfix(evals=evaluations, front=len(front), hv=f"{hv:.4g}", refresh=False)
                bar.update(1)
                if self.on_generation:
                    self.on_generation(stats)
                if stop_after is not None and gen >= stop_after:
                    return SearchResult(self.folder, front, history)
        finally:
            bar.close()
        front = self._front(archive, lookup)
        final = self._final(front) if self.full_evaluator is not None else []
        return SearchResult(self.folder, front, history, final)

    def _model_runs(self) -> int:
        return int(getattr(self.pool, "forward_calls", getattr(self.evaluator, "forward_calls", 0)))

    def _front(self, archive, lookup) -> list[Record]:
        recs = [lookup[g] for g in archive]
        if not recs:
            return []
        F = np.array([r.F for r in recs], dtype=float)
        G = np.array([r.G for r in recs], dtype=float).reshape(len(recs), -1)
        mask = front_mask(F, G if G.size else None)
        front = [r for r, m in zip(recs, mask) if m]
        return sorted(front, key=lambda r: (r.F, r.genome))

    def _write_front(self, gen: int, front: list[Record]):
        path = self.folder / "fronts.csv"
        new = not path.exists()
        cols = self._cand_cols if hasattr(self, "_cand_cols") else self._columns(front[0])
        with open(path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=cols)
            if new:
                writer.writeheader()
            for rec in front:
                writer.writerow(self._row(gen, rec))

    def _rewrite_fronts(self, upto: int):
        path = self.folder / "fronts.csv"
        if not path.exists():
            return
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
        keep = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= upto] if rows else []
        if upto < 0 or not keep:
            path.unlink()
            return
        import io

        buf = io.StringIO()
        csv.writer(buf).writerows(keep)
        _atomic_write(path, buf.getvalue().encode())

    def _write_hypervolume(self, history):
        lines = ["generation,evaluations,model_runs,new_candidates,front_size,hypervolume,seconds\n"]
        lines += [f"{s.generation},{s.evaluations},{s.model_runs},{s.new_candidates},{s.front_size},"
                  f"{s.hypervolume!r},{s.seconds:.3f}\n" for s in history]
        _atomic_write(self.folder / "hypervolume.csv", "".join(lines).encode())

    def _final(self, front: list[Record]) -> list[Record]:
        """Re-evaluate the front on the full dev set; writes ``final_front.csv``."""
        out = [self.full_evaluator.evaluate(r.genome) for r in front]
        path = self.folder / "final_front.csv"
        if out:
            cols = self._columns(out[0])
            buf_rows = []
            for sub, full in zip(front, out):
                row = self._row(-1, full)
                row.update({f"subset_{k}": (v if isinstance(v, str) else repr(float(v))) for k, v in sub.metrics.items()})
                buf_rows.append(row)
            cols += [f"subset_{k}" for k in front[0].metrics]
            import io

            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=cols)
            writer.writeheader()
            writer.writerows(buf_rows)
            _atomic_write(path, buf.getvalue().encode())
        return out


def _atomic_write(path: Path, data: bytes):
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
