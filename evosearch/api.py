"""The pipeline as four plain functions with typed results, in the spirit of pymoo's ``minimize``.

    from evosearch import api

    trained = api.train(output="results/supernet", epochs=1, train_subset=2000)
    result = api.search(trained.folder, space="edgebert", objectives="edgebert-energy",
                        folder="results/run", generations=4, population=12, dev_subset=200)
    chosen = api.pick(result.folder, max_drop=1.0)
    deployed = api.export(result.folder, chosen, "results/deployed")

``evosearch train``, ``search``, ``pick`` and ``export`` are thin layers over these functions:
they turn flags into arguments and print the results. Errors are
:class:`evosearch.errors.EvosearchError` with a message that names the argument and what is allowed.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import EvosearchError

#: What :func:`train` writes into its output folder (and moves aside with ``overwrite=True``).
TRAIN_FILES = ("supernet.pt", "supernet.json", "tokenizer", "training_state.pt", "train_log.csv")


@dataclass
class TrainResult:
    """A trained supernet: its checkpoint folder and the dev accuracies of reference sub-networks."""

    folder: Path
    dev_metrics: dict
    moved_aside: Path | None = None  # where ``overwrite=True`` moved an earlier training


@dataclass
class ExportResult:
    """A deployment folder (ONNX Runtime graphs, tokenizer, ``model.json``) and its verification."""

    folder: Path
    description: dict  # model.json
    verification: dict | None = None  # verification.json, unless verify=False


def train(config=None, *, resume: bool = False, overwrite: bool = False, progress: bool = True,
          **options) -> TrainResult:
    """Train (or resume) a supernet; ``config`` is a :class:`evosearch.training.TrainConfig`, or
    give its fields as keyword arguments (``model``, ``task``, ``output``, ``epochs``, ...;
    ``space`` as a mapping of :class:`~evosearch.specs.bounds.TrainingSpace` fields).

    A folder that already holds a training is refused unless ``resume`` (continue it) or
    ``overwrite`` (its files are moved to a sibling folder, never deleted)."""
    from .fileio import FolderLock
    from .specs.bounds import TrainingSpace
    from .training.trainer import TrainConfig, train_supernet

    if config is None:
        _check_training_options(options)
        space = options.pop("space", None)
        config = TrainConfig(**options, **({} if space is None else {"space": TrainingSpace.from_dict(dict(space))}))
    elif options:
        raise EvosearchError("give a TrainConfig or keyword options, not both")
    check_train_config(config)
    if resume and overwrite:
        raise EvosearchError("give resume (continue the training in output) or overwrite (start again), not both")
    out = Path(config.output)
    if out.exists() and not out.is_dir():
        raise EvosearchError(f"output {out} is a file; give a folder")
    moved = None
    with FolderLock(out, "supernet training"):
        held = [name for name in TRAIN_FILES[:3] if (out / name).exists()]
        if held and not resume:
            if not overwrite:
                raise EvosearchError(f"{out} already holds a supernet training ({', '.join(held)}); continue it with "
                                     "--resume, start again with --overwrite (the old files are moved aside, not "
                                     "deleted), or choose another --output")
            moved = _move_aside(out)
        folder, metrics = train_supernet(config, resume=resume, progress=progress)
    return TrainResult(Path(folder), metrics, moved)


def _check_training_options(names, exclude=()) -> None:
    """Refuse option names that are not :class:`~evosearch.training.TrainConfig` fields (or are
    ``exclude``d), listing the allowed ones."""
    from .training.trainer import TrainConfig

    allowed = {f.name for f in dataclasses.fields(TrainConfig)} - set(exclude)
    unknown = set(names) - allowed
    if unknown:
        raise EvosearchError(f"unknown training option(s) {sorted(unknown)}; allowed: {', '.join(sorted(allowed))}")


def check_train_config(config) -> None:
    """Counts a user can get wrong: each must be positive (or absent)."""
    for name in ("epochs", "batch_size", "learning_rate", "checkpoint_every", "max_length", "eval_batch_size"):
        if getattr(config, name) <= 0:
            raise EvosearchError(f"--{name.replace('_', '-')} {getattr(config, name)}: give a positive number")
    for name in ("train_subset", "threads"):
        value = getattr(config, name)
        if value is not None and value <= 0:
            raise EvosearchError(f"--{name.replace('_', '-')} {value}: give a positive number (or leave it out)")
    for name in ("num_random", "num_uniform", "importance_warmup"):
        if getattr(config, name) < 0:
            raise EvosearchError(f"--{name.replace('_', '-')} {getattr(config, name)}: give a number >= 0")


def _move_aside(out: Path) -> Path:
    """Move the files :func:`train` wrote in ``out`` to a new sibling folder; returns it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target, n = out.with_name(f"{out.name}.replaced-{stamp}"), 1
    while target.exists():
        n += 1
        target = out.with_name(f"{out.name}.replaced-{stamp}-{n}")
    target.mkdir()
    for name in TRAIN_FILES:
        if (out / name).exists():
            os.replace(out / name, target / name)
    return target


def search(supernet=None, *, space="edgebert", objectives="default", folder=None, algorithm: str = "nsga2",
           crossover: str = "uniform", mutation: str = "reset", mutation_rate: float | None = None,
           surrogate: bool = False, threshold_path: bool = False, local_search: bool | None = None,
           front_size: int | None = None, generations: int | None = None, population: int = 32,
           dev_subset: int | None = 500, batch_size: int = 32, task: str | None = None, seed: int = 0,
           workers: int = 0, ray_address: str | None = None, task_timeout: float | None = None, resume=None,
           progress: bool = True, on_start=None, on_generation=None):
    """Search a trained supernet; returns :class:`evosearch.search.SearchResult` (its ``folder``
    holds the run: :mod:`evosearch.runstore`).

    ``space`` / ``objectives``: a shipped name or a YAML path (or a ``SearchSpace`` /
    ``ObjectiveSet``). ``folder``: the run folder (default ``results/<space>-<algorithm>-s<seed>-<time>``).
    ``generations`` (default 20) and ``local_search`` (default on); ``front_size``: the most members
    the local-search front keeps (default: ``population``). ``threshold_path``: complete each
    architecture the evolution runs with its exit thresholds' front from the exit-logit cache
    (:mod:`evosearch.search.thresholds`; no model runs).
    ``workers``: Ray actors (0 = in this process); ``ray_address`` joins a cluster; ``task_timeout``:
    seconds a Ray task may run before its actor counts as hung (default 1800).
    ``resume``: a run folder to continue; its stored settings are used, and only ``generations``
    (to extend it), ``local_search``, ``front_size``, ``workers``, ``ray_address`` and ``task_timeout`` may differ
    (``generations``, ``local_search`` and ``front_size`` default to the stored ones).
    ``on_start(context)``: called once the supernet and dev data are loaded
    (:class:`~evosearch.search.context.SearchContext`); ``on_generation(stats)``: after every
    generation and local-search round."""
    from .fileio import FolderLock
    from .runstore import RunStore
    from .search import ObjectiveSet, SearchRun, SearchSpace
    from .search.context import SearchContext

    if resume is not None:
        folder = Path(resume)
        stored = RunStore(folder).read_config()
        algorithm, population, seed = stored["algorithm"], stored["population"], stored["seed"]
        options = dict(stored.get("algorithm_options") or {})
        threshold_path = bool(stored.get("threshold_path", False))
        generations = stored["generations"] if generations is None else generations
        local_search = stored.get("local_search", False) if local_search is None else local_search
        front_size = stored.get("front_size") if front_size is None else front_size
        task_timeout = stored.get("task_timeout") if task_timeout is None else task_timeout

        def build() -> SearchContext:
            return SearchContext.of_run(stored, where=str(folder / "config.yaml"))
    else:
        if supernet is None:
            raise EvosearchError("give the supernet checkpoint folder (from `evosearch train`) or resume=RUN")
        supernet = str(Path(supernet).resolve())
        space = space if isinstance(space, SearchSpace) else SearchSpace.load(space)
        objectives = objectives if isinstance(objectives, ObjectiveSet) else ObjectiveSet.load(objectives)
        options = {}
        if algorithm in ("nsga2", "nsga3"):
            options = {"crossover": crossover, "mutation": mutation, "mutation_rate": mutation_rate,
                       "surrogate": surrogate}
        dev_subset = dev_subset or None
        generations = 20 if generations is None else generations
        local_search = True if local_search is None else local_search
        folder = Path(folder or Path("results") / f"{space.name}-{algorithm}-s{seed}-{time.strftime('%Y%m%d-%H%M%S')}")
        if folder.exists() and not folder.is_dir():
            raise EvosearchError(f"{folder} is a file; choose another run folder")

        def build() -> SearchContext:
            return SearchContext.build(supernet, space, objectives, task=task, dev_subset=dev_subset,
                                       batch_size=batch_size)
    if task_timeout is not None and not float(task_timeout) > 0:
        raise EvosearchError(f"task_timeout={task_timeout}: give a number of seconds above 0")
    with FolderLock(folder, "search run"):
        context = build()
        if on_start is not None:
            on_start(context)
        pool = None
        if workers or ray_address:
            from .search.pools import RayPool

            pool = RayPool(context.checkpoint.supernet, context.evaluator.batches, context.space, context.objectives,
                           num_workers=max(1, workers or 1), address=ray_address,
                           latency_model=context.evaluator.latency_model,
                           int8_engine=context.evaluator.int8_engine,
                           task_timeout_s=float(task_timeout) if task_timeout else 1800.0)
        # stored by a new run (a resumed one keeps its own)
        extra = {"supernet": supernet, "task": context.task, "dev_subset": dev_subset, "batch_size": batch_size,
                 "workers": workers, "ray_address": ray_address, "task_timeout": task_timeout,
                 "accuracy_arithmetic": "int8-engine" if context.evaluator.int8_engine else "float"}
        try:
            return SearchRun(folder, context.space, context.objectives, context.evaluator, algorithm=algorithm,
                             algorithm_options=options, generations=generations, population=population, seed=seed,
                             local_search=local_search, threshold_path=threshold_path, front_size=front_size, pool=pool,
                             full_evaluator=context.full_evaluator,
                             config=extra, resume=resume is not None, progress=progress,
                             on_generation=on_generation).run()
        finally:
            if pool is not None:
                pool.close()


def _run_of(run):
    from .report import Run, load_run

    if isinstance(run, Run):
        return run
    return load_run(getattr(run, "folder", run))


def pick(run, *, max_drop: float | None = None, knee: bool = False, weights=None, where=(),
         minimize: str | None = None, maximize: str | None = None):
    """Pick one member of a run's front (a folder, a :class:`~evosearch.report.Run` or a search
    result): the cheapest within ``max_drop`` accuracy points of the uncompressed model, the
    ``knee``, by objective ``weights`` (``"error=0.7,energy_uj=0.3"`` or a mapping), or the best
    ``minimize``/``maximize`` metric among members meeting every ``where`` condition
    (``"accuracy>=0.86"``). Returns :class:`evosearch.report.PickResult` (``found``,
    ``candidate_id``, ``write()`` for the pick YAML)."""
    from .report import pick as pick_member

    return pick_member(_run_of(run), where=list(where), minimize=minimize, maximize=maximize, knee=knee,
                       weights=weights, max_drop=max_drop)


def export(run, chosen, out, *, overwrite: bool = False, int8: bool = True, verify: bool = True,
           latency: bool = True, repeats: int = 3, threads: int = 1, extra_tasks=()) -> ExportResult:
    """Export a front member for ONNX Runtime (with its early exits) into ``out`` and verify it.

    ``chosen``: a :class:`~evosearch.report.PickResult`, a candidate id (``"c12"``) or a pick YAML.
    ``int8``: int8 weights where the member's bits are <= 8. ``verify``: score the export on dev
    and test against the supernet's estimate and time it against the latency prediction."""
    import json

    from .deploy import export as export_folder, resolve_pick, verify as verify_folder
    from .report import PickResult
    from .training import load_checkpoint

    if isinstance(chosen, PickResult):
        if not chosen.found:
            raise EvosearchError(f"the pick found no member ({chosen.explanation}); relax it before exporting")
        chosen = chosen.candidate_id
    deployment = resolve_pick(getattr(run, "folder", run), chosen)  # a folder, a Run or a search result
    ckpt = load_checkpoint(deployment.supernet)
    folder = export_folder(deployment, out, overwrite=overwrite, checkpoint=ckpt, int8=int8)
    description = json.loads((folder / "model.json").read_text())
    report = None
    if verify:
        report = verify_folder(folder, checkpoint=ckpt, latency=latency, repeats=repeats, threads=threads,
                               extra_tasks=extra_tasks)
    return ExportResult(folder, description, report)


def sweep(supernet, output, *, seeds=(0,), algorithms=("nsga2",), spaces=("edgebert",), objectives=("default",),
          generations: int = 20, population: int = 32, dev_subset: int | None = 500, local_search: bool = False,
          cpus_per_trial: int = 1, max_concurrent: int | None = None, ray_address: str | None = None) -> dict:
    """Launch the grid supernets x seeds x algorithms x spaces x objective sets as Ray Tune
    trials, each a :func:`search` into ``output/runs/[<supernet>-]<space>-<objectives>-<algorithm>-s<seed>``,
    then compare them per configuration (:mod:`evosearch.report.sweep`: ``trials.csv``, ``summary.csv``,
    ``merged_front.csv``, ``sweep.png``). ``supernet``: one checkpoint folder or a list of them.
    A killed sweep is resumed by running it again: Tune restores its state (``Tuner.restore``)
    and each unfinished trial resumes its run folder. Returns the report's paths.
    An algorithm may be a search variant (:mod:`evosearch.search.variants`), e.g. ``nsga2+thresholds``
    or ``nsga2+surrogate``, so a sweep can compare them."""
    from ray import tune

    from .report.sweep import write_sweep_report
    from .search.variants import Variant

    algorithms = [Variant.parse(a).name for a in algorithms]  # a clear error before any trial starts

    supernets = [supernet] if isinstance(supernet, (str, Path)) else list(supernet)
    supernets = [str(Path(s).resolve()) for s in supernets]
    stems = [Path(s).name for s in supernets]
    if len(set(stems)) != len(stems):
        raise EvosearchError(f"supernet folders need distinct names in one sweep (they name the runs): {stems}")
    settings = dict(generations=generations, population=population, dev_subset=dev_subset,
                    local_search=local_search, runs=str(Path(output).resolve() / "runs"), named=len(supernets) > 1)

    def trial(config):
        import torch

        from evosearch import api as evosearch_api

        torch.set_num_threads(cpus_per_trial)
        variant = Variant.parse(config["algorithm"])
        name = f"{Path(str(config['space'])).stem}-{Path(str(config['objectives'])).stem}-{variant.name}-s{config['seed']}"
        if settings["named"]:
            name = f"{Path(config['supernet']).name}-{name}"
        folder = Path(settings["runs"]) / name
        common = dict(generations=settings["generations"], local_search=settings["local_search"], progress=False)
        if (folder / "config.yaml").is_file():
            result = evosearch_api.search(resume=folder, **common)
        else:
            result = evosearch_api.search(config["supernet"], space=config["space"], objectives=config["objectives"],
                                          **variant.search_options(), seed=config["seed"], folder=folder,
                                          population=settings["population"], dev_subset=settings["dev_subset"], **common)
        last = result.history[-1]
        tune.report({"hypervolume": last.hypervolume, "model_runs": last.model_runs, "run": str(folder)})

    grid = {"supernet": supernets, "seed": list(seeds), "algorithm": list(algorithms),
            "space": [str(s) for s in spaces], "objectives": [str(o) for o in objectives]}
    results = _tune_grid(trial, grid, output, "tune", cpus_per_trial, max_concurrent, ray_address)
    return write_sweep_report(Path(output).resolve(), sorted(r["run"] for r in results))


def sweep_train(output, grid: Mapping[str, Sequence], *, base: Mapping | None = None, cpus_per_trial: int = 1,
                max_concurrent: int | None = None, ray_address: str | None = None) -> Path:
    """Train one supernet per point of ``grid`` (:class:`~evosearch.training.TrainConfig` field ->
    values, e.g. ``{"learning_rate": [1e-4, 5e-5], "num_random": [1, 2]}``; ``base``: the fields
    every trial shares) as Ray Tune trials into ``output/supernets/<field>=<value>,...``. Every
    grid point is checked before any trial starts. A killed sweep resumes as :func:`sweep` does
    (finished trainings are kept, unfinished ones resume). Writes and returns
    ``output/trainings.csv``: one row per training, its fields and its dev accuracies (largest,
    half, smallest and largest at 4 bits, the same figures ``evosearch train`` prints); each
    folder is a supernet to give :func:`sweep` or :func:`search`."""
    import pandas as pd
    from ray import tune

    from .training.trainer import TrainConfig

    base = dict(base or {})
    _check_training_options({**grid, **base}, exclude=("output", "threads", "space"))
    if not grid or any(not list(values) for values in grid.values()):
        raise EvosearchError("give at least one training option with at least one value to sweep")
    points = [dict(zip(grid, values)) for values in itertools.product(*(list(v) for v in grid.values()))]
    for point in points:  # every configuration is checked before anything is written
        check_train_config(TrainConfig(**base, **point, threads=cpus_per_trial))
    root = Path(output).resolve() / "supernets"

    def trial(config):
        from evosearch import api as evosearch_api

        name = ",".join(f"{k}={v}" for k, v in config.items())
        folder = root / name
        resume = any((folder / f).exists() for f in TRAIN_FILES)
        result = evosearch_api.train(**base, **config, output=str(folder), threads=cpus_per_trial, resume=resume,
                                     progress=False)
        metrics = {k: v for k, v in result.dev_metrics.items() if isinstance(v, (int, float))}
        tune.report({"supernet": str(folder), **{f"dev_{k}": v for k, v in metrics.items()}})

    results = _tune_grid(trial, {k: list(v) for k, v in grid.items()}, output, "train-tune", cpus_per_trial,
                         max_concurrent, ray_address)
    rows = [{**{k: r["config"][k] for k in grid}, **{k: v for k, v in r.items() if k.startswith("dev_")},
             "supernet": r["supernet"]} for r in results]
    table = pd.DataFrame(rows).sort_values(list(grid), ignore_index=True)
    path = Path(output).resolve() / "trainings.csv"
    table.to_csv(path, index=False)
    return path


def _tune_grid(trial, grid: dict, output, name: str, cpus_per_trial: int, max_concurrent, ray_address) -> list[dict]:
    """Run ``trial`` on every point of ``grid`` as Ray Tune trials stored in ``output/<name>``
    (restored when it exists); returns each trial's last report with its ``config``."""
    import ray
    from ray import tune

    if ray_address and not ray.is_initialized():
        from .search.pools.ray_pool import check_ray_address

        check_ray_address(ray_address)  # before anything is written
    output = Path(output).resolve()
    output.mkdir(parents=True, exist_ok=True)
    started = False
    if not ray.is_initialized():
        ray.init(address=ray_address or "local", include_dashboard=False, logging_level="WARNING",
                 **({} if ray_address else {"num_cpus": os.cpu_count() or 1}))
        started = True
    try:
        trainable = tune.with_resources(trial, {"cpu": cpus_per_trial})
        path = output / name
        if tune.Tuner.can_restore(str(path)):
            tuner = tune.Tuner.restore(str(path), trainable, resume_errored=True)
        else:
            tuner = tune.Tuner(trainable, param_space={k: tune.grid_search(v) for k, v in grid.items()},
                               tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent),
                               run_config=tune.RunConfig(name=path.name, storage_path=str(output), verbose=0))
        results = tuner.fit()
        errors = [str(r.error) for r in results if r.error is not None]
        if errors:
            raise EvosearchError(f"{len(errors)} sweep trial(s) failed; first: {errors[0][:500]}")
        return [{**r.metrics, "config": r.config} for r in results if r.metrics]
    finally:
        if started:
            ray.shutdown()
