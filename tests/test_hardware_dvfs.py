"""Per-sentence DVFS under a latency target (EdgeBERT): the policy, the energy objective, its YAML."""

from __future__ import annotations

import random

import pytest

from evosearch.hardware import (
    cost_model,
    dvfs_workload,
    estimate,
    estimate_workload,
    exit_profiles,
    load_target,
    pick_dvfs,
)
from evosearch.search import Evaluator, ObjectiveError, ObjectiveSet
from evosearch.specs import LayerConfig, SubnetConfig
from evosearch.workload import Workload
from evosearch.specs.shapes import ALBERT_BASE as ALBERT, MINILM_L6 as MINILM

from .tiny_models import SMALL, search_setup, tiny_batches

TARGET = load_target("edgebert-12nm")
TOP = TARGET.nominal_dvfs


def _one_sentence(length: int, exit_layer: int, layers: int = 12) -> Workload:
    return Workload((length,), layers, (exit_layer,))


@pytest.mark.parametrize("target", ["edgebert-12nm", "generic-45nm"])  # on-chip only; DRAM at fixed bandwidth
def test_exit_profiles_equal_estimate_at_every_point_with_everyone_leaving_at_k(target):
    """The profiles re-price the nominal model's ops at each point; pricing there directly agrees."""
    cfg = SubnetConfig.uniform(ALBERT, 0.5, bits=8, embedding_bits=8)
    exits = [1, 4, 7]
    tgt = load_target(target)
    profiles = exit_profiles(cost_model(ALBERT, tgt, seq_len=40), cfg, exits)
    assert len(profiles) == len(tgt.dvfs_points)
    for j, (latency, energy) in enumerate(profiles):
        for k in exits + [11]:
            c = estimate(ALBERT, cfg, tgt, seq_len=40, dvfs_point=j, exit_distribution={k: 1.0}, exits=exits)
            assert latency[k] * 1e-6 == pytest.approx(c.latency_ms, rel=1e-12)
            assert energy[k] * 1e-6 == pytest.approx(c.energy_uj, rel=1e-12)
    with pytest.raises(ValueError, match="one sequence length"):
        exit_profiles(cost_model(ALBERT, tgt, seq_lens=[20, 40]), cfg, exits)


def test_dvfs_picks_a_lower_point_when_the_target_allows_and_the_top_point_when_not():
    cfg = SubnetConfig.uniform(ALBERT, 1.0, bits=8, embedding_bits=8)
    full = _one_sentence(128, 11)
    nominal = estimate(ALBERT, cfg, TARGET, seq_len=128)
    # a deadline only the nominal (fastest) point meets: the top point
    tight = dvfs_workload(ALBERT, cfg, TARGET, full, nominal.latency_ms)
    assert tight.point_shares[TOP] == 1.0 and tight.miss_rate == 0.0
    assert tight.energy_uj == pytest.approx(nominal.energy_uj)
    # the same deadline for a sentence that leaves after 4 layers: a lower point, and less energy
    early = _one_sentence(128, 3)
    slow = dvfs_workload(ALBERT, cfg, TARGET, early, nominal.latency_ms)
    chosen = slow.point_shares.index(1.0)
    assert chosen < TOP and TARGET.dvfs_points[chosen].voltage < TARGET.nominal_point.voltage
    at_nominal = estimate(ALBERT, cfg, TARGET, seq_len=128, exit_distribution={3: 1.0})
    assert slow.energy_uj < at_nominal.energy_uj and slow.latency_ms <= nominal.latency_ms
    # the choice is the cheapest point that meets the deadline
    costs = [estimate(ALBERT, cfg, TARGET, seq_len=128, exit_distribution={3: 1.0}, dvfs_point=j)
             for j in range(len(TARGET.dvfs_points))]
    meets = [j for j, c in enumerate(costs) if c.latency_ms <= nominal.latency_ms]
    assert chosen == min(meets, key=lambda j: costs[j].energy_uj)
    # a deadline nothing meets: the fastest point, counted as a miss
    missed = dvfs_workload(ALBERT, cfg, TARGET, full, nominal.latency_ms / 2)
    assert missed.miss_rate == 1.0 and missed.point_shares[TOP] == 1.0


def test_pick_dvfs_picks_a_lower_point_when_the_target_allows():
    cfg = SubnetConfig.uniform(ALBERT, 1.0, bits=8, embedding_bits=8)
    nominal = estimate(ALBERT, cfg, TARGET, seq_len=128)
    assert pick_dvfs(ALBERT, cfg, TARGET, nominal.latency_ms, seq_len=128).index == TOP
    relaxed = pick_dvfs(ALBERT, cfg, TARGET, 3 * nominal.latency_ms, seq_len=128)
    assert relaxed.index < TOP and relaxed.cost.energy_uj < nominal.energy_uj


def test_dvfs_energy_is_at_most_the_nominal_energy_and_averages_the_sentences():
    rng = random.Random(0)
    layers = tuple(LayerConfig(rng.randint(1, 12), rng.randint(1, 1536), rng.choice((4, 8, 16)),
                               rng.choice((None, 8, 32))) for _ in range(6))
    cfg = SubnetConfig(layers, embedding_bits=8)
    lengths = tuple(rng.randint(8, 64) for _ in range(40))
    exit_layers = tuple(rng.choice((0, 1, 2, 5)) for _ in lengths)
    workload = Workload(lengths, 6, exit_layers)
    nominal = estimate_workload(MINILM, cfg, TARGET, workload)
    for deadline in (0.01, 0.2, 1.0, 100.0):
        d = dvfs_workload(MINILM, cfg, TARGET, workload, deadline)
        assert d.energy_uj <= nominal.energy_uj * (1 + 1e-12)
        assert sum(d.point_shares) == pytest.approx(1.0)
    # a generous deadline: every sentence at the cheapest point; the average of the per-sentence costs
    relaxed = dvfs_workload(MINILM, cfg, TARGET, workload, 100.0)
    assert relaxed.point_shares[0] == pytest.approx(1.0) and relaxed.miss_rate == 0.0
    low = estimate_workload(MINILM, cfg, TARGET, workload, dvfs_point=0)
    assert relaxed.energy_uj == pytest.approx(low.energy_uj, rel=1e-9)
    assert relaxed.latency_ms == pytest.approx(low.latency_ms, rel=1e-9)


def test_bad_latency_target_is_refused():
    cfg = SubnetConfig.uniform(MINILM, 0.5, bits=8)
    for bad in (0, -1.0, float("inf"), float("nan"), True, "fast"):
        with pytest.raises(ValueError, match="latency_target_ms"):
            dvfs_workload(MINILM, cfg, TARGET, _one_sentence(16, 5, 6), bad)


# ------------------------------------------------------------------ the objective set


def test_dvfs_energy_objective_is_selectable_in_an_objective_set():
    obj = ObjectiveSet.load("edgebert-dvfs")
    assert obj.objectives == ("error", "energy_dvfs_uj") and obj.latency_target_ms == 50
    assert obj.target == "edgebert-12nm" and "deadline_miss_rate" in obj.metrics
    assert ObjectiveSet.from_dict(obj.to_dict()) == obj


@pytest.mark.parametrize("data, words", [
    ({"objectives": ["error", "energy_dvfs_uj"], "target": "edgebert-12nm"}, ["latency_target_ms", "energy_dvfs_uj"]),
    ({"objectives": ["error"], "constraints": ["deadline_miss_rate <= 0"], "target": "edgebert-12nm"},
     ["latency_target_ms", "deadline_miss_rate"]),
    ({"objectives": ["error", "energy_uj"], "target": "edgebert-12nm", "latency_target_ms": 50},
     ["latency_target_ms", "energy_dvfs_uj"]),
    ({"objectives": ["error", "energy_dvfs_uj"], "target": "edgebert-12nm", "latency_target_ms": -5},
     ["latency_target_ms", "greater than 0"]),
    ({"objectives": ["error", "energy_dvfs_uj"], "target": "edgebert-12nm", "latency_target_ms": "soon"},
     ["latency_target_ms"]),
    ({"objectives": ["error", "energy_dvfs_uj"], "latency_target_ms": 5}, ["hardware target"]),
])
def test_objective_set_errors_name_the_latency_target(data, words):
    with pytest.raises(ObjectiveError) as info:
        ObjectiveSet.from_dict(data)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_evaluator_scores_the_dvfs_objective():
    supernet, bound, _, _ = search_setup(SMALL)
    obj = ObjectiveSet.from_dict({"objectives": ["error", "energy_dvfs_uj", "energy_uj"],
                                  "constraints": ["deadline_miss_rate <= 0"], "target": "edgebert-12nm",
                                  "latency_target_ms": 1.0})
    ev = Evaluator(supernet, tiny_batches(), bound, obj)
    rec = ev.evaluate([1] * bound.n_var)
    m = rec.metrics
    assert 0 < m["energy_dvfs_uj"] < m["energy_uj"]  # a tiny model meets 1 ms far below the top point
    assert m["deadline_miss_rate"] == 0.0 and rec.G == (0.0,)
