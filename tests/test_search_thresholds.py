"""The threshold path (evosearch.search.thresholds): exit thresholds completed from the exit-logit cache."""

import math
import numpy as np
import pandas as pd
import pytest
import torch

from evosearch.runstore import Record
from evosearch.search import Evaluator, ObjectiveSet, SearchRun, SearchSpace
from evosearch.search.thresholds import ThresholdPath, nondominated

from .test_search import Crash, CrashingPool, assert_same_run
from .tiny_models import SMALL, tiny_batches, tiny_supernet

torch.set_num_threads(1)

# one threshold per exit (the tiny model has 3 layers, so 2 exits), listed out of order on purpose
PER_EXIT = {**SMALL, "genes": {**SMALL["genes"], "exit_threshold": {"choices": [0.0, 0.6, 0.3, 0.9]}}}


def _setup():
    supernet = tiny_supernet()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # exits of their own, confident enough that some sentences leave early (the tiny
        for ramp in supernet.ramps:  # model's ramps are copies of one head, their entropies all near ln 2)
            ramp.classifier.weight.copy_(torch.randn(ramp.classifier.weight.shape, generator=g) * 4)
    bound = SearchSpace.from_dict(PER_EXIT).bind(supernet.arch)
    obj = ObjectiveSet.from_dict({"objectives": ["error", "mean_exit_layer"]})
    return supernet, bound, obj, Evaluator(supernet, tiny_batches(), bound, obj)


def _thresholds(bound, genome):
    """The genome's thresholds as the space lists them (fractions of ln(num_labels))."""
    return tuple(round(t / math.log(2), 6) for t in bound.decode(genome)[1])


def test_path_walks_from_never_exit_to_most_exit_one_step_at_a_time_without_model_runs():
    _, bound, obj, ev = _setup()
    path = ThresholdPath(bound, [1.0, 3.0])
    assert len(path.positions) == 2
    genome = tuple(int(g) for g in bound.random_genomes(1, np.random.default_rng(3))[0])
    ev.evaluate(genome, early_exit_only=False)  # a full run, as the search's pools make: exit logits cached
    runs = ev.forward_calls
    head = path.start(genome)
    assert _thresholds(bound, head) == (0.0, 0.0)
    current, walked = ev.evaluate(head, early_exit_only=False), [head]
    while steps := path.steps(current.genome):
        before = np.array(_thresholds(bound, current.genome))
        for step in steps:  # each step raises one exit's threshold to the next larger value
            diff = np.array(_thresholds(bound, step)) - before
            assert (diff >= 0).all() and np.count_nonzero(diff) == 1
        current = path.choose(current, [ev.evaluate(s, early_exit_only=False) for s in steps])
        walked.append(current.genome)
    assert _thresholds(bound, walked[-1]) == (0.9, 0.9)
    assert len(walked) == 1 + 2 * 3  # every step of both genes, once
    assert ev.forward_calls == runs  # the architecture's exit logits were cached: no model run


def _rec(F, G=()):
    return Record((0,), {}, (), {}, tuple(F), tuple(G))


def test_choose_takes_the_least_loss_per_unit_of_gain_in_any_units():
    path = ThresholdPath(SearchSpace.from_dict(PER_EXIT).bind(tiny_supernet().arch), [1.0, 100.0])
    here = _rec([0.10, 50.0])
    cheap_loss = _rec([0.11, 40.0])  # +0.01 / 1 for -10 / 100: ratio 0.1
    big_gain = _rec([0.16, 20.0])  # +0.06 for -0.3: ratio 0.2
    nothing = _rec([0.10, 50.0])
    worse = _rec([0.12, 55.0])
    assert path.choose(here, [big_gain, cheap_loss, nothing, worse]) is cheap_loss
    assert path.choose(here, [nothing, worse]) is nothing  # no gain anywhere: the smallest loss
    infeasible = _rec([0.0, 0.0], G=(1.0,))
    feasible = _rec([0.5, 60.0], G=(-1.0,))
    assert path.choose(_rec([0.1, 50.0], G=(0.0,)), [infeasible, feasible]) is feasible
    # the same choice with the cost objective in other units (reference point scaled alike)
    scaled = ThresholdPath(SearchSpace.from_dict(PER_EXIT).bind(tiny_supernet().arch), [1.0, 0.1])
    r = lambda rec: _rec([rec.F[0], rec.F[1] / 1000])
    assert scaled.choose(r(here), [r(big_gain), r(cheap_loss)]).F == r(cheap_loss).F


def test_nondominated_keeps_one_of_equal_points():
    a, b, c, d = _rec([0.1, 5.0]), _rec([0.2, 4.0]), _rec([0.2, 6.0]), _rec([0.1, 5.0])
    assert nondominated([a, b, c, d]) == [a, b]


def test_search_with_the_threshold_path(tmp_path):
    _, bound, obj, ev = _setup()
    kw = dict(generations=4, population=8, seed=2, progress=False)
    result = SearchRun(tmp_path / "path", bound, obj, ev, threshold_path=True, **kw).run()
    cands = pd.read_csv(tmp_path / "path" / "candidates.csv")
    walked = cands[cands.stage == "thresholds"]
    assert len(walked) > 0 and len(cands) == len(set(cands.genome))
    # the path costs no model run: one per architecture the search asked for
    asked = cands[cands.stage == "evolve"]
    architectures = {bound.decode(tuple(int(x) for x in g.split("-")))[0] for g in asked.genome}
    assert result.history[-1].model_runs == len(architectures)
    assert {bound.decode(tuple(int(x) for x in g.split("-")))[0] for g in walked.genome} <= architectures
    # the front is the non-dominated set of everything stored, path points included
    F = cands[["F_0", "F_1"]].to_numpy()
    for r in result.front:
        assert not ((F <= np.array(r.F)).all(axis=1) & (F < np.array(r.F)).any(axis=1)).any()
    # on this tiny space the walked front is at least as good as a plain search's at equal model runs
    plain = SearchRun(tmp_path / "plain", bound, obj, Evaluator(ev.supernet, ev.batches, bound, obj), **kw).run()
    assert result.hypervolume >= plain.hypervolume - 1e-12


def test_resume_with_the_threshold_path_equals_uninterrupted(tmp_path):
    _, bound, obj, ev = _setup()
    kw = dict(generations=4, population=8, seed=5, progress=False, threshold_path=True)
    full = SearchRun(tmp_path / "full", bound, obj, ev, **kw).run()
    crash_pool = CrashingPool(ev, budget=60)
    with pytest.raises(Crash):
        SearchRun(tmp_path / "crashed", bound, obj, ev, pool=crash_pool, **kw).run()
    with pytest.raises(Exception, match="threshold_path"):
        SearchRun(tmp_path / "crashed", bound, obj, ev, resume=True, **{**kw, "threshold_path": False}).run()
    resumed = SearchRun(tmp_path / "crashed", bound, obj, ev, pool=CrashingPool(ev, budget=None), resume=True,
                        **kw).run()
    assert_same_run(full, resumed)


def test_local_search_with_the_threshold_path_ends_locally_optimal(tmp_path):
    _, bound, obj, ev = _setup()
    result = SearchRun(tmp_path / "ls", bound, obj, ev, threshold_path=True, local_search=True, generations=2,
                       population=6, front_size=4, seed=1, progress=False).run()
    cands = pd.read_csv(tmp_path / "ls" / "candidates.csv")
    assert (cands.stage == "thresholds").any() and (cands.stage == "local").any()
    scored = {tuple(int(x) for x in g.split("-")) for g in cands.genome}
    from evosearch.search.run import dominates, one_gene_neighbours

    assert len(result.front) <= 4
    for member in result.front:  # every one-gene neighbour was scored, and none dominates the member
        for n in one_gene_neighbours(member.genome, bound.upper):
            assert n in scored or n in {r.genome for r in result.front}
            assert not dominates(ev.evaluate(n, early_exit_only=False), member)
    # neighbours' thresholds walked from the cache: one model run per architecture scored
    architectures = {bound.decode(g)[0] for g in scored}
    assert result.history[-1].model_runs == len(architectures)
