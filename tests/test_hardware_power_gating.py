"""Power-gated memory banks (``power_gating: banks``): leakage follows the banks that hold data."""

from __future__ import annotations

import copy
import math

import pytest

from evosearch.hardware import (
    cost_model,
    dvfs_workload,
    estimate,
    estimate_workload,
    exit_profiles,
    load_target,
    target_from_dict,
)
from evosearch.hardware.target import MemoryLevel
from evosearch.specs import Architecture, SubnetConfig
from evosearch.workload import Workload
from evosearch.specs.shapes import ALBERT_BASE as ALBERT
from .hardware_targets import shipped_target_data, target_error

# a 4-layer BERT small enough to leave weight banks empty (MiniLM's 6 layers plus its 32-bit ramp fill
# the 2 MB weight SRAM even at quarter width and 4 bits)
BERT4 = Architecture("bert", 30522, 256, 256, 32, (8,) * 4, (1024,) * 4, tuple(range(4)), 512, 2, 2)


def _target(gated: tuple[str, ...] = ("weight_sram", "act_sram"), bank_kb: dict | None = None, **capacity):
    """edgebert-12nm with power gating on exactly the ``gated`` levels (bank sizes from the file unless
    ``bank_kb`` overrides them) and optional capacities (``act_sram=256``)."""
    data = shipped_target_data()
    for name, level in data["memory"].items():
        if name in capacity:
            level["capacity_kb"] = capacity[name]
        if name in gated:
            level["power_gating"] = "banks"
            level["bank_kb"] = (bank_kb or {}).get(name, level.get("bank_kb", 64))
        else:
            level.pop("power_gating", None)
            level.pop("bank_kb", None)
    return target_from_dict(data)


SMALL = SubnetConfig.uniform(BERT4, 0.25, bits=4, embedding_bits=8)  # 4-bit, quarter width: a few banks


def test_shipped_targets_gate_what_the_files_say():
    t = load_target("edgebert-12nm")
    assert (t.level("weight_sram").power_gating, t.level("weight_sram").bank_kb, t.level("weight_sram").banks) \
        == ("banks", 128.0, 16)
    assert (t.level("act_sram").power_gating, t.level("act_sram").bank_kb, t.level("act_sram").banks) \
        == ("banks", 64.0, 16)
    assert t.level("rram").power_gating == "none" and t.level("accumulators").power_gating == "none"
    assert all(lv.power_gating == "none" for lv in load_target("generic-45nm").memory)


def test_leakage_share_counts_whole_banks():
    level = MemoryLevel("buf", 0.1, 0.1, leakage_mw=16.0, capacity_kb=1024, bandwidth_bits_per_cycle=64,
                        power_gating="banks", bank_kb=64)
    kb = 8192.0  # bits
    assert level.banks == 16
    assert level.leakage_share(0) == 0.0  # holds nothing: every bank off
    assert level.leakage_share(1) == 1 / 16  # one bit keeps one bank on
    assert level.leakage_share(64 * kb) == 1 / 16  # exactly one bank
    assert level.leakage_share(64 * kb + 1) == 2 / 16
    assert level.leakage_share(1000 * kb) == 1.0  # 15.6 banks -> all 16
    assert level.leakage_share(5000 * kb) == 1.0  # more than fits: all banks on, never more
    ungated = MemoryLevel("buf", 0.1, 0.1, leakage_mw=16.0, capacity_kb=1024, bandwidth_bits_per_cycle=64)
    assert ungated.banks is None and ungated.leakage_share(0) == ungated.leakage_share(1) == 1.0


def test_leakage_scales_with_the_occupied_banks():
    """Energy = the all-banks-on energy less leakage_mw x (1 - used / banks) x latency for each gated level."""
    gated, all_on = _target(), _target(gated=())
    for seq_len in (16, 128):
        c = estimate(BERT4, SMALL, gated, seq_len=seq_len)
        ref = estimate(BERT4, SMALL, all_on, seq_len=seq_len)
        assert c.latency_ms == ref.latency_ms and c.level_bits == ref.level_bits
        held = dict(c.level_bits)
        saved_mw = 0.0
        for name in ("weight_sram", "act_sram"):
            level = gated.level(name)
            used = math.ceil(held[name] / 8192 / level.bank_kb)
            assert 0 < used < level.banks  # this small model leaves banks empty in both
            saved_mw += level.leakage_mw * (1 - used / level.banks)
        assert c.gated_leakage_uj == pytest.approx(saved_mw * c.latency_ms, rel=1e-12)  # mW x ms = uJ
        assert c.energy_uj == pytest.approx(ref.energy_uj - c.gated_leakage_uj, rel=1e-12)
        parts, ref_parts = c.energy_breakdown_uj, ref.energy_breakdown_uj
        assert parts["leakage"] == pytest.approx(ref_parts["leakage"] - c.gated_leakage_uj)
        assert parts["compute"] == ref_parts["compute"] and parts["memory"] == ref_parts["memory"]
    # a longer sentence keeps more activation banks on
    short, long = (estimate(BERT4, SMALL, gated, seq_len=t) for t in (16, 128))
    assert dict(short.level_bits)["act_sram"] < dict(long.level_bits)["act_sram"]
    assert short.gated_leakage_uj / short.latency_ms > long.gated_leakage_uj / long.latency_ms


def test_smaller_bank_gates_at_least_as_much():
    coarse = estimate(BERT4, SMALL, _target(), seq_len=128)
    fine = estimate(BERT4, SMALL, _target(bank_kb={"weight_sram": 4, "act_sram": 4}), seq_len=128)
    assert fine.gated_leakage_uj >= coarse.gated_leakage_uj and fine.energy_uj <= coarse.energy_uj


def test_a_model_that_fills_the_memory_leaks_as_before():
    full = SubnetConfig.uniform(ALBERT, 1.0, bits=8, embedding_bits=8)  # 7 MB of weights in a 2 MB SRAM
    only_weights = _target(gated=("weight_sram",))
    c = estimate(ALBERT, full, only_weights, seq_len=128)
    ref = estimate(ALBERT, full, _target(gated=()), seq_len=128)
    assert dict(c.level_bits)["weight_sram"] / 8192 > only_weights.level("weight_sram").capacity_kb
    assert c.gated_leakage_uj == 0.0 and c.energy_uj == ref.energy_uj
    # activations exactly filling a smaller activation buffer: every bank on, leakage unchanged
    act_kb = dict(ref.level_bits)["act_sram"] / 8192
    tight = _target(gated=("act_sram",), bank_kb={"act_sram": act_kb / 4}, act_sram=act_kb)
    c = estimate(ALBERT, full, tight, seq_len=128)
    assert c.gated_leakage_uj == 0.0
    assert c.energy_uj == pytest.approx(estimate(ALBERT, full, _target(gated=(), act_sram=act_kb),
                                                 seq_len=128).energy_uj, rel=1e-15)


def test_gated_leakage_scales_with_voltage_as_leakage_does():
    t = _target()
    top = estimate(BERT4, SMALL, t, seq_len=64)
    low = estimate(BERT4, SMALL, t, seq_len=64, dvfs_point=0)
    ratio = (t.dvfs_points[0].voltage / t.nominal_point.voltage) ** t.leakage_voltage_exponent
    assert low.gated_leakage_uj / low.latency_ms == pytest.approx(ratio * top.gated_leakage_uj / top.latency_ms)


def test_dvfs_profiles_and_workloads_take_the_gated_banks_off_too():
    t = _target()
    exits = [0, 1]
    profiles = exit_profiles(cost_model(BERT4, t, seq_len=40), SMALL, exits)
    for j in (0, 7, t.nominal_dvfs):
        for k in exits + [3]:
            c = estimate(BERT4, SMALL, t, seq_len=40, dvfs_point=j, exit_distribution={k: 1.0}, exits=exits)
            assert profiles[j][1][k] * 1e-6 == pytest.approx(c.energy_uj, rel=1e-12)
    work = Workload((12, 40, 40, 90), 4, (0, 1, 3, 3))
    w = estimate_workload(BERT4, SMALL, t, work)
    per = [estimate(BERT4, SMALL, t, seq_len=n, exit_distribution={k: 1.0}, exits=exits)
           for n, k in zip(work.lengths, work.exits)]
    assert w.energy_uj == pytest.approx(sum(c.energy_uj for c in per) / 4)
    assert w.gated_leakage_uj == pytest.approx(sum(c.gated_leakage_uj for c in per) / 4)
    # per-sentence DVFS on the gated target spends less than on the same target with every bank on
    deadline = 2 * max(c.latency_ms for c in per)
    assert dvfs_workload(BERT4, SMALL, t, work, deadline).energy_uj \
        < dvfs_workload(BERT4, SMALL, _target(gated=()), work, deadline).energy_uj


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda d: d["memory"]["act_sram"].update(power_gating="sometimes"),
         ["memory.act_sram.power_gating", "sometimes", "none, banks"]),
        (lambda d: d["memory"]["act_sram"].update(power_gating=True),
         ["memory.act_sram.power_gating", "wrong type", "string"]),
        (lambda d: d["memory"]["act_sram"].pop("bank_kb"), ["missing", "memory.act_sram.bank_kb"]),
        (lambda d: d["memory"]["act_sram"].update(bank_kb=0), ["memory.act_sram.bank_kb", "> 0"]),
        (lambda d: d["memory"]["act_sram"].update(bank_kb="big"), ["memory.act_sram.bank_kb", "number"]),
        (lambda d: d["memory"]["act_sram"].update(bank_kb=100), ["memory.act_sram.bank_kb", "whole number",
                                                                 "1024"]),
        (lambda d: d["memory"]["act_sram"].update(bank_kb=2048), ["memory.act_sram.bank_kb", "whole number"]),
        (lambda d: d["memory"]["act_sram"].update(power_gating="none"), ["memory.act_sram.bank_kb", "'none'"]),
        (lambda d: d["memory"]["rram"].update(bank_kb=64), ["memory.rram.bank_kb", "power_gating"]),
        (lambda d: d["memory"]["accumulators"].update(power_gating="banks", bank_kb=1, capacity_kb=64),
         ["memory.accumulators.power_gating", "partial_sums", "'none'"]),
        (lambda d: d["memory"]["accumulators"].update(power_gating="banks", bank_kb=1),
         ["memory.accumulators", "capacity_kb"]),
        (lambda d: d["memory"]["rram"].update(power_gating="banks", bank_kb=64, on_chip=False),
         ["memory.rram.power_gating", "off-chip", "'none'"]),
    ],
)
def test_power_gating_schema_errors_name_the_field(mutate, words):
    message = target_error(mutate)
    for word in words:
        assert word in message, (word, message)


def test_gating_a_level_that_holds_nothing_switches_it_off():
    """rram gated with leakage: with the embeddings in weight_sram instead, it holds nothing and leaks nothing."""
    data = shipped_target_data()
    data["memory"]["rram"].update(leakage_mw=10.0, power_gating="banks", bank_kb=256)
    t = target_from_dict(data)
    c = estimate(BERT4, SMALL, t, seq_len=32)
    assert dict(c.level_bits)["rram"] / 8192 > 4096  # MiniLM-size tables overfill it: all banks on
    data_on = copy.deepcopy(data)
    data_on["memory"]["rram"].update(power_gating="none")
    data_on["memory"]["rram"].pop("bank_kb")
    assert c.gated_leakage_uj == estimate(BERT4, SMALL, target_from_dict(data_on), seq_len=32).gated_leakage_uj
    data["placement"]["embeddings"] = "weight_sram"
    data["memory"]["weight_sram"]["capacity_kb"] = 65536
    data["memory"]["weight_sram"]["bank_kb"] = 128
    moved = estimate(BERT4, SMALL, target_from_dict(data), seq_len=32)
    assert "rram" not in dict(moved.level_bits)
    assert moved.gated_leakage_uj > 0
    rram_part = 10.0 * moved.latency_ms  # mW x ms = uJ
    assert moved.gated_leakage_uj >= rram_part * (1 - 1e-12)
