"""Ray-parallel evaluation: 1 worker == 2 workers == in-process (same rows in the same order, so the same
candidate ids); a killed actor's work is redone."""

import time

import pandas as pd
import pytest

ray = pytest.importorskip("ray")

from evosearch.search import EvalPool, LocalPool, SearchRun  # noqa: E402
from evosearch.search.pools import RayPool  # noqa: E402

from .tiny_models import search_setup, tiny_batches  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
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


def _genomes(bound, n, seed=0):
    import numpy as np

    return [tuple(int(v) for v in g) for g in bound.random_genomes(n, np.random.default_rng(seed))]


def test_a_genome_that_kills_its_actor_every_time_is_isolated_not_fatal(local_ray, tmp_path):
    """Every task holding the poison genome loses its actor: the pool splits the task, records that
    genome as failed with the error, scores the others exactly, and a search run goes on."""
    from evosearch.runstore import RunStore
    from evosearch.search.pools.ray_pool import FAILED_VALUE

    supernet, bound, obj, ev = search_setup()
    genomes = _genomes(bound, 8)
    poison = genomes[5]

    def kill_holders(pool):
        for slot, held in pool.running.values():
            if poison in held:
                ray.kill(pool.actors[slot], no_restart=True)

    pool = RayPool(supernet, tiny_batches(), bound, obj, num_workers=2, on_dispatch=kill_holders)
    try:
        seen = []
        recs = pool.evaluate(genomes, lambda i, rec: seen.append(i))
    finally:
        pool.close()
    assert seen == list(range(8)) and pool.isolated == 1
    assert recs[5].error and "actor died" in recs[5].error and recs[5].F == (FAILED_VALUE,) * len(obj.objectives)
    assert [r.F for i, r in enumerate(recs) if i != 5] == [ev.evaluate(g).F for i, g in enumerate(genomes) if i != 5]
    store = RunStore(tmp_path)  # the store keeps it apart from the candidates, and a resume does not retry it
    for rec in recs:
        store.append_candidate(0, "evolve", rec)
    assert len(store.read_candidates()) == 7 and "actor died" in (tmp_path / "failures.csv").read_text()
    assert store.load_records()[poison].error


def test_a_replacement_that_cannot_start_leaves_the_work_to_the_live_actor(local_ray):
    """A lost node: an actor dies and its CPU is gone (taken here by a placeholder actor), so its
    replacement cannot be scheduled. The surviving actor takes the work; the call ends."""
    supernet, bound, obj, ev = search_setup()
    genomes = _genomes(bound, 10, seed=1)

    @ray.remote(num_cpus=1)
    class Placeholder:
        def ready(self):
            return True

    holders = []

    def lose_a_node(pool):
        if not holders:
            ray.kill(pool.actors[0], no_restart=True)
            holders.append(Placeholder.remote())
            ray.get(holders[0].ready.remote())

    pool = RayPool(supernet, tiny_batches(), bound, obj, num_workers=2, on_dispatch=lose_a_node, start_timeout_s=3)
    try:
        recs = pool.evaluate(genomes)  # the live actor does the dead one's work; the call does not wait
        assert [r.F for r in recs] == [ev.evaluate(g).F for g in genomes] and pool.failures == 1
        time.sleep(3.5)  # past the replacement's start deadline: the next call gives it up
        assert [r.F for r in pool.evaluate(genomes[:3])] == [r.F for r in recs[:3]]  # the pool goes on with one
        assert pool.lost_slots == 1 and pool.actors[0] is None
    finally:
        pool.close()
        ray.kill(holders[0])


def test_a_task_past_its_timeout_is_taken_as_hung_and_rerun(local_ray):
    supernet, bound, obj, ev = search_setup()
    genomes = _genomes(bound, 6, seed=2)

    def impatient_once(pool):  # the first dispatch waits 1 ms: every task counts as hung, then patience returns
        pool.task_timeout_s = 0.001 if pool.timeouts == 0 else 600

    pool = RayPool(supernet, tiny_batches(), bound, obj, num_workers=2, on_dispatch=impatient_once)
    try:
        recs = pool.evaluate(genomes)
    finally:
        pool.close()
    assert pool.timeouts >= 1 and pool.isolated == 0
    assert [r.F for r in recs] == [ev.evaluate(g).F for g in genomes]


def test_an_architecture_goes_back_to_the_actor_that_has_it_cached(local_ray):
    """Genomes that differ from earlier ones only in exit thresholds cost no model run in a later
    call: each architecture is routed to the actor holding its exit logits."""
    supernet, bound, obj, ev = search_setup()
    genomes = _genomes(bound, 12, seed=3)
    exits = [pos for pos, i in enumerate(bound.free) if bound.slots[i].gene == "exit_threshold"]
    assert exits and all(bound.upper[pos] > 0 for pos in exits)

    def other_thresholds(g):
        return tuple((v + 1) % (bound.upper[pos] + 1) if pos in exits else v for pos, v in enumerate(g))

    pool = RayPool(supernet, tiny_batches(), bound, obj, num_workers=2)
    try:
        pool.evaluate(genomes)
        runs = pool.forward_calls
        again = [other_thresholds(g) for g in reversed(genomes)]  # another order, other thresholds
        recs = pool.evaluate(again)
    finally:
        pool.close()
    assert pool.forward_calls == runs and all(r.cached_model for r in recs)
    assert [r.F for r in recs] == [ev.evaluate(g).F for g in again]


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


def test_cli_search_with_workers_stores_the_task_timeout(local_ray, tmp_path):
    import yaml

    from .tiny_runs import make_checkpoint, make_run

    ckpt = make_checkpoint(tmp_path / "ckpt")
    folder = make_run(tmp_path, ckpt, generations=1, population=6, extra=["--workers", "1", "--task-timeout", "120"])
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert config["workers"] == 1 and config["task_timeout"] == 120
    assert len(pd.read_csv(folder / "candidates.csv")) == 6
