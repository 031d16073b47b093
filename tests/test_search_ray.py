"""Ray-parallel evaluation: 1 worker == 2 workers == in-process (same rows in the same order, so the same
candidate ids); a killed actor's work is redone."""

import pandas as pd
import pytest

ray = pytest.importorskip("ray")

from evosearch.search import EvalPool, LocalPool, SearchRun  # noqa: E402
from evosearch.search.pools import RayPool  # noqa: E402

from .tiny_models import search_setup, tiny_batches  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


def _run(folder, pool=None):
    supernet, bound, obj, ev = search_setup()
    assert isinstance(LocalPool(ev), EvalPool)
    if pool == "ray1" or pool == "ray2":
        pool = RayPool(supernet, tiny_batches(), bound, obj, num_workers=int(pool[-1]))
        assert isinstance(pool, EvalPool)
    try:
        result = SearchRun(folder, bound, obj, ev, generations=2, population=8, seed=7, pool=pool,
                           progress=False).run()
    finally:
        if pool is not None:
            pool.close()
    cands = pd.read_csv(folder / "candidates.csv").drop(columns=["eval_time_s", "cached_model"])
    return result, cands.reset_index(drop=True)  # in file order: candidate ids (row numbers) must match too


def test_ray_workers_match_in_process(local_ray, tmp_path):
    results = {name: _run(tmp_path / name, None if name == "local" else name) for name in ["local", "ray1", "ray2"]}
    (r0, c0), (r1, c1), (r2, c2) = results.values()
    pd.testing.assert_frame_equal(c1, c2)
    pd.testing.assert_frame_equal(c0, c1)
    assert [(r.genome, r.F) for r in r1.front] == [(r.genome, r.F) for r in r2.front]
    assert [(r.genome, r.F) for r in r0.front] == [(r.genome, r.F) for r in r2.front]


def test_killed_worker_is_replaced_and_its_genomes_rerun(local_ray):
    supernet, bound, obj, ev = search_setup()
    kills = []

    def kill_first_actor(pool):
        if not kills:
            kills.append(pool.actors[0])
            ray.kill(pool.actors[0], no_restart=True)

    pool = RayPool(supernet, tiny_batches(), bound, obj, num_workers=2, on_dispatch=kill_first_actor)
    try:
        genomes = [tuple(g) for g in bound.random_genomes(10, __import__("numpy").random.default_rng(0))]
        seen = []
        recs = pool.evaluate(genomes, lambda i, rec: seen.append(i))
        assert pool.failures >= 1 and kills and pool.actors[0] is not kills[0]
    finally:
        pool.close()
    assert seen == list(range(10))  # reported in input order despite the dead actor
    expected = [ev.evaluate(g) for g in genomes]
    assert [r.F for r in recs] == [r.F for r in expected]


def test_cpu_latency_objective_in_ray_workers(local_ray, tmp_path):
    """Workers get the driver's latency model: the same cpu_latency_ms as in-process, no calibration of their own."""
    from evosearch.latency import LatencyModel
    from evosearch.latency.machine import arch_shape
    from evosearch.latency.model import FEATURES
    from evosearch.search import Evaluator, ObjectiveSet

    supernet, bound, _, _ = search_setup()
    coefficients = [0.1 if f in ("call", "fp32:T*ffn", "int8:T*ffn") else 0.0 for f in FEATURES]
    path = LatencyModel(arch_shape(supernet.arch), {"threads": 1}, coefficients).save(tmp_path / "m.json")
    obj = ObjectiveSet.from_dict({"objectives": ["error", "cpu_latency_ms"], "cpu_predictor": str(path)})
    local = Evaluator(supernet, tiny_batches(), bound, obj)
    pool = RayPool(supernet, tiny_batches(), bound, obj, num_workers=2, latency_model=local.latency_model)
    try:
        genomes = [tuple(g) for g in bound.random_genomes(6, __import__("numpy").random.default_rng(1))]
        remote = pool.evaluate(genomes)
    finally:
        pool.close()
    assert [r.metrics["cpu_latency_ms"] for r in remote] == [local.evaluate(g).metrics["cpu_latency_ms"] for g in genomes]
