"""Tests of the analytical accelerator cost model (evosearch.hardware)."""

from __future__ import annotations

import copy
import random
from dataclasses import replace

import pytest

from evosearch.hardware import (
    CostModel,
    estimate,
    load_target,
    macs,
    pick_dvfs,
    price_ops,
    target_from_dict,
)
from evosearch.hardware.ops import Gemm, attention_pairs
from evosearch.specs import Architecture
from evosearch.specs import LayerConfig, SubnetConfig
from evosearch.specs.shapes import ALBERT_BASE as ALBERT, MINILM_L6 as MINILM
from .hardware_targets import shipped_target_data

TINY_ALBERT = Architecture("albert", 100, 8, 32, 8, (4,), (64,), (0,) * 4, 64, 2, 2)
TARGETS = ("edgebert-12nm", "generic-45nm")


def _all_banks_on(name: str):
    """The shipped target without power gating: the per-part costs (layers, ramps, embedding) are
    priced with every bank on and add up to its totals (gating: tests/test_hardware_power_gating.py)."""
    data = shipped_target_data(name)
    for level in data["memory"].values():
        level.pop("power_gating", None)
        level.pop("bank_kb", None)
    return target_from_dict(data)


def _random_config(arch: Architecture, rng: random.Random) -> SubnetConfig:
    return SubnetConfig(
        tuple(
            LayerConfig(
                heads=rng.randint(1, arch.heads_of_layer(i)),
                ffn=rng.randint(1, arch.ffn_of_layer(i)),
                bits=rng.choice((2, 4, 8, 16, 32)),
                span=rng.choice((None, 1, 4, 16, 40)),
            )
            for i in range(arch.num_layers)
        ),
        embedding_bits=rng.choice((4, 8, 32)),
    )


def _shrink(layer: LayerConfig, field: str, rng: random.Random) -> LayerConfig | None:
    if field == "heads" and layer.heads > 1:
        return replace(layer, heads=rng.randint(1, layer.heads - 1))
    if field == "ffn" and layer.ffn > 1:
        return replace(layer, ffn=rng.randint(1, layer.ffn - 1))
    if field == "bits":
        lower = [b for b in (2, 4, 8, 16) if b < layer.bits]
        return replace(layer, bits=rng.choice(lower)) if lower else None
    if field == "span":
        if layer.span is None:
            return replace(layer, span=rng.randint(1, 60))
        return replace(layer, span=rng.randint(1, layer.span - 1)) if layer.span > 1 else None
    return None


# ---------------------------------------------------------------------------------------------
# monotonicity


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("arch", [TINY_ALBERT, MINILM], ids=["tiny-albert", "minilm"])
def test_fewer_heads_neurons_bits_span_never_cost_more(target, arch):
    rng = random.Random(1)
    for _ in range(60):
        cfg = _random_config(arch, rng)
        base = estimate(arch, cfg, target, seq_lens={16: 1, 48: 2}, span_ramp=2)
        for field in ("heads", "ffn", "bits", "span"):
            i = rng.randrange(arch.num_layers)
            smaller = _shrink(cfg.layers[i], field, rng)
            if smaller is None:
                continue
            layers = list(cfg.layers)
            layers[i] = smaller
            c = estimate(arch, replace(cfg, layers=tuple(layers)), target, seq_lens={16: 1, 48: 2}, span_ramp=2)
            assert c.latency_ms <= base.latency_ms * (1 + 1e-12), (field, cfg.layers[i], smaller)
            assert c.energy_uj <= base.energy_uj * (1 + 1e-12), (field, cfg.layers[i], smaller)
            assert c.macs <= base.macs * (1 + 1e-12)
            assert c.model_size_bytes <= base.model_size_bytes


def test_longer_sentences_cost_more():
    cfg = SubnetConfig.uniform(MINILM, 0.5, bits=8)
    costs = [estimate(MINILM, cfg, "edgebert-12nm", seq_len=t) for t in (8, 16, 64, 128)]
    assert all(a.latency_ms < b.latency_ms and a.energy_uj < b.energy_uj for a, b in zip(costs, costs[1:]))


# ---------------------------------------------------------------------------------------------
# hand-computed examples


def _unit_target(**overrides) -> dict:
    """A 1x1-MAC target where only MAC energy counts: 1 pJ per 8x8-bit MAC, 1 GHz, free memory."""
    free = {"read_pj_per_bit": 0.0, "write_pj_per_bit": 0.0, "bandwidth_bits_per_cycle": 1e9}
    data = {
        "name": "unit",
        "technology_nm": 45,
        "compute": {"mac_array": [1, 1], "datapath_bits": 8, "activation_bits": 8, "accumulator_bits": 16,
                    "mac_energy_pj": 1.0},
        "vector_unit": {"lanes": 1, "op_energy_pj": 0.0,
                        "ops_per_element": {"softmax": 0, "layernorm": 0, "gelu": 0, "add": 0}},
        "memory": {"buf": dict(free)},
        "placement": {"weights": "buf", "embeddings": "buf", "activations": "buf", "partial_sums": "buf"},
        "dvfs": {"points": [{"voltage": 1.0, "frequency_mhz": 1000}]},
    }
    data.update(overrides)
    return data


def test_hand_computed_tiny_bert_on_unit_target():
    """BERT, 1 layer, H=4, 2 heads of dim 2, FFN 8, 2 labels, T=4, all 8-bit, 1x1 MAC array at 1 GHz.

    MACs: QKV 4*4*12 = 192; QK^T 2 heads * 16 pairs * 2 = 64; AV 64; out 4*4*4 = 64;
    FFN in 4*4*8 = 128; FFN out 4*8*4 = 128 -> layer 640. Final ramp: pooler 4*4 = 16,
    classifier 4*2 = 8 -> 24. No projection (BERT). Total 664 MACs.
    Energy: 664 MACs * 1 pJ = 664 pJ = 6.64e-4 uJ. Latency: 1 MAC/cycle -> 664 ns = 6.64e-4 ms.
    With 4-bit weights the weight GEMMs (192+64+128+128+24 = 536 MACs) cost 0.5 pJ each, QK^T/AV
    (activation x activation, 128 MACs) still 1 pJ: 268 + 128 = 396 pJ; latency unchanged
    (the 8-bit datapath gains no throughput from narrower weights).
    """
    arch = Architecture("bert", 10, 4, 4, 2, (2,), (8,), (0,), 16, 1, 2)
    target = target_from_dict(_unit_target())
    cfg8 = SubnetConfig((LayerConfig(2, 8, 8, None),), embedding_bits=8)
    c = estimate(arch, cfg8, target, seq_len=4)
    assert c.macs == 664
    assert macs(arch, cfg8, seq_len=4) == 664
    assert c.energy_uj == pytest.approx(664e-6)
    assert c.latency_ms == pytest.approx(664e-6)
    c4 = estimate(arch, replace(cfg8, layers=(LayerConfig(2, 8, 4, None),)), target, seq_len=4)
    assert c4.energy_uj == pytest.approx(396e-6)
    assert c4.latency_ms == pytest.approx(664e-6)
    # span 1 with no ramp: each token attends to itself only -> 4 pairs instead of 16 per head:
    # QK^T and AV drop from 64 to 2*4*2 = 16 MACs each -> 664 - 96 = 568
    cs = estimate(arch, replace(cfg8, layers=(LayerConfig(2, 8, 8, 1),)), target, seq_len=4)
    assert cs.macs == 568


def test_hand_computed_gemm_with_memory_levels():
    """One 8-bit GEMM, M=3, K=4, N=2, on a 2x2 weight-stationary array at 1 GHz.

    Cycles: M * ceil(K/2) * ceil(N/2) = 3 * 2 * 1 = 6. MACs 24 -> 24 pJ at 1 pJ/MAC.
    Weights: 4*2*8 = 64 bits read from 'w' (1 pJ/bit) = 64 pJ; 8 bits/cycle -> 8 cycles.
    Inputs: 3*4*8 * ceil(N/2)=1 -> 96 bits read from 'a' (0.5 pJ/bit) = 48 pJ.
    Partial sums: 3*2 outputs * (ceil(K/2) - 1) = 6 spills of 16 bits, written and read at 'p'
    (0.1 pJ/bit): 2 * 96 * 0.1 = 19.2 pJ. Outputs: 3*2*8 = 48 bits written to 'a' = 24 pJ.
    Time = max(6 ns compute, 8 ns for 'w', ...) = 8 ns (weight-bandwidth bound).
    Leakage 1 mW * 8 ns = 8 pJ. Energy = 24 + 64 + 48 + 19.2 + 24 + 8 = 187.2 pJ.
    """
    data = _unit_target()
    data["compute"] = dict(data["compute"], mac_array=[2, 2], leakage_mw=1.0)
    data["memory"] = {
        "w": {"read_pj_per_bit": 1.0, "write_pj_per_bit": 1.0, "bandwidth_bits_per_cycle": 8},
        "a": {"read_pj_per_bit": 0.5, "write_pj_per_bit": 0.5, "bandwidth_bits_per_cycle": 1000},
        "p": {"read_pj_per_bit": 0.1, "write_pj_per_bit": 0.1, "bandwidth_bits_per_cycle": 1000},
    }
    data["placement"] = {"weights": "w", "embeddings": "w", "activations": "a", "partial_sums": "p"}
    target = target_from_dict(data)
    (op,) = price_ops([Gemm("g", 3, 4, 2, 1, 8, "weights")], target)
    assert op.macs == 24 and op.cycles == 6
    assert op.bound == "w"
    assert op.time_ns == pytest.approx(8.0)
    assert op.compute_pj == pytest.approx(24.0)
    assert op.memory_pj == pytest.approx(64 + 48 + 19.2 + 24)
    assert op.leakage_pj == pytest.approx(8.0)
    assert op.energy_pj == pytest.approx(187.2)


def test_attention_pairs_counts_the_band():
    assert attention_pairs(5, None) == 25
    assert attention_pairs(5, 0) == 5
    assert attention_pairs(5, 1) == 5 + 2 * 4
    assert attention_pairs(5, 4) == 25
    assert attention_pairs(5, 100) == 25
    brute = sum(1 for i in range(9) for j in range(9) if abs(i - j) <= 3)
    assert attention_pairs(9, 3) == brute


# ---------------------------------------------------------------------------------------------
# number format (AdaptivFloat)


def test_adaptivfloat_mac_energy_is_the_stated_factor_of_int():
    """Only MAC energy counts on the unit target: the whole energy scales by the YAML's factor."""
    arch = Architecture("bert", 10, 4, 4, 2, (2,), (8,), (0,), 16, 1, 2)
    cfg = SubnetConfig((LayerConfig(2, 8, 8, None),), embedding_bits=8)
    as_int = estimate(arch, cfg, target_from_dict(_unit_target()), seq_len=4)
    af = _unit_target()
    af["compute"] = dict(af["compute"], number_format="adaptivfloat", format_mac_energy_factor=0.9)
    as_af = estimate(arch, cfg, target_from_dict(af), seq_len=4)
    assert as_af.energy_uj == pytest.approx(0.9 * as_int.energy_uj, rel=1e-12)
    assert as_af.latency_ms == as_int.latency_ms and as_af.model_size_bytes == as_int.model_size_bytes


def test_edgebert_target_prices_adaptivfloat_macs_at_its_factor():
    """On the shipped target, every GEMM's MAC energy is format_mac_energy_factor x the int8 MAC's;
    memory, leakage and vector-unit energy do not depend on the format."""
    data = shipped_target_data("edgebert-12nm")
    af = target_from_dict(data)
    assert af.number_format == "adaptivfloat" and af.format_mac_energy_factor == 0.9
    data["compute"]["number_format"] = "int"
    del data["compute"]["format_mac_energy_factor"]
    as_int = target_from_dict(data)
    cfg = SubnetConfig.uniform(MINILM, 0.5, bits=8, embedding_bits=8)
    a = estimate(MINILM, cfg, af, seq_len=32)
    b = estimate(MINILM, cfg, as_int, seq_len=32)
    for op_a, op_b in zip(a.layers[0].ops, b.layers[0].ops):
        factor = 0.9 if op_a.macs else 1.0
        assert op_a.compute_pj == pytest.approx(factor * op_b.compute_pj, rel=1e-12), op_a.name
        assert op_a.memory_pj == op_b.memory_pj and op_a.leakage_pj == op_b.leakage_pj
    assert a.energy_uj < b.energy_uj and a.latency_ms == b.latency_ms


# ---------------------------------------------------------------------------------------------
# activation width


def test_16_bit_activations_on_the_unit_target_by_hand():
    """The tiny BERT of the hand-computed example with 16-bit activations on an 8-bit MAC: weight GEMMs
    (536 MACs) take 2 passes at 2 pJ, activation x activation GEMMs (128 MACs) 4 passes at 4 pJ:
    1072 + 512 = 1584 pJ and 1584 cycles, against 664 at 8 bits."""
    arch = Architecture("bert", 10, 4, 4, 2, (2,), (8,), (0,), 16, 1, 2)
    data = _unit_target()
    data["compute"] = dict(data["compute"], activation_bits_supported=[8, 16])
    target = target_from_dict(data)
    cfg = SubnetConfig((LayerConfig(2, 8, 8, None),), embedding_bits=8)
    c8 = estimate(arch, cfg, target, seq_len=4)
    c16 = estimate(arch, cfg, target, seq_len=4, activation_bits=16)
    assert estimate(arch, cfg, target, seq_len=4, activation_bits=8) == c8
    assert c8.energy_uj == pytest.approx(664e-6) and c16.energy_uj == pytest.approx(1584e-6)
    assert c16.latency_ms == pytest.approx(1584e-6) and c16.macs == c8.macs
    assert c16.layers[0].activation_bits == 2 * c8.layers[0].activation_bits and c16.memory_kb > c8.memory_kb


def test_activation_width_must_be_one_the_target_runs():
    from evosearch.hardware import HardwareTargetError

    cfg = SubnetConfig.uniform(MINILM, 0.5, bits=8, embedding_bits=8)
    wide = estimate(MINILM, cfg, "edgebert-12nm", seq_len=32, activation_bits=16)
    narrow = estimate(MINILM, cfg, "edgebert-12nm", seq_len=32)
    assert wide.energy_uj > narrow.energy_uj and wide.latency_ms > narrow.latency_ms
    with pytest.raises(HardwareTargetError, match=r"activation_bits=4.*8, 16.*compute.activation_bits_supported"):
        estimate(MINILM, cfg, "edgebert-12nm", seq_len=32, activation_bits=4)
    unit = target_from_dict(_unit_target())  # no activation_bits_supported: its activation_bits only
    assert unit.activation_bits_supported == (8,)
    with pytest.raises(HardwareTargetError, match=r"at 8 bits \(field 'compute.activation_bits_supported'\)"):
        estimate(MINILM, cfg, unit, seq_len=32, activation_bits=16)


# ---------------------------------------------------------------------------------------------
# sparsity


def test_sparsity_helps_only_on_zero_skipping_hardware():
    cfg = SubnetConfig.uniform(MINILM, 1.0, bits=8, embedding_bits=8)
    sp = [0.7] * MINILM.num_layers
    for target, helps in (("edgebert-12nm", True), ("generic-45nm", False)):
        dense = estimate(MINILM, cfg, target, seq_len=64)
        sparse = estimate(MINILM, cfg, target, seq_len=64, sparsity=sp)
        if helps:
            assert sparse.energy_uj < dense.energy_uj and sparse.latency_ms < dense.latency_ms
            assert sparse.model_size_bytes < dense.model_size_bytes
        else:
            assert sparse.energy_uj == pytest.approx(dense.energy_uj)
            assert sparse.latency_ms == pytest.approx(dense.latency_ms)


def _with_encoding(encoding: str):
    """edgebert-12nm storing sparse data in ``encoding`` (its own: the bitmask; or a 4-bit index)."""
    data = shipped_target_data("edgebert-12nm")
    data["compute"]["sparse_encoding"] = encoding
    if encoding == "index":
        data["compute"]["index_bits"] = 4
    return target_from_dict(data)


def test_edgebert_stores_sparse_data_as_a_bitmask_and_the_encodings_cross_where_stated():
    """Bits per position: bitmask 1 + (1 - s) b, index (1 - s) (b + i); at 8-bit values and a 4-bit
    index the index wins only above s = 0.75."""
    assert load_target("edgebert-12nm").sparse_encoding == "bitmask"
    bitmask, index = _with_encoding("bitmask"), _with_encoding("index")
    assert bitmask.stored_bits_per_value(8, 0.6) == pytest.approx(1 + 0.4 * 8)
    assert index.stored_bits_per_value(8, 0.6) == pytest.approx(0.4 * 12)
    assert bitmask.stored_bits_per_value(8, 0.0) == index.stored_bits_per_value(8, 0.0) == 8
    for s, bitmask_smaller in ((0.5, True), (0.7, True), (0.8, False), (0.9, False)):
        assert (bitmask.stored_bits_per_value(8, s) < index.stored_bits_per_value(8, s)) == bitmask_smaller, s
    assert load_target("generic-45nm").stored_bits_per_value(8, 0.9) == 8  # no zero skipping: stored dense


@pytest.mark.parametrize("encoding", ["bitmask", "index"])
def test_sparse_layers_are_stored_and_read_in_the_targets_encoding(encoding):
    """The stored blocks and the weight bits each layer reads are the dense ones times
    stored_bits_per_value / bits; light sparsity costs more storage than none (mask or index overhead)."""
    from evosearch.hardware.proxies import block_matrix_params

    target = _with_encoding(encoding)
    cfg = SubnetConfig.uniform(MINILM, 1.0, bits=8, embedding_bits=8)
    dense = estimate(MINILM, cfg, target, seq_len=32)
    for s in (0.1, 0.6):
        sparse = estimate(MINILM, cfg, target, seq_len=32, sparsity=[s] * 6)
        per_value = target.stored_bits_per_value(8, s)
        matrices = MINILM.num_layers * block_matrix_params(384, 32, 12, 1536)
        assert (dense.model_size_bytes - sparse.model_size_bytes) * 8 == pytest.approx(matrices * (8 - per_value))
        sram = [lv.name for lv in target.memory].index("weight_sram")
        qkv = {name: next(o for o in cost.layers[0].ops if o.name == "qkv_proj") for name, cost in
               (("dense", dense), ("sparse", sparse))}
        assert qkv["sparse"].bits[sram] / qkv["dense"].bits[sram] == pytest.approx(per_value / 8)
    light = estimate(MINILM, cfg, target, seq_len=32, sparsity=[0.1] * 6)
    assert light.model_size_bytes > dense.model_size_bytes


def test_the_cost_model_prices_a_configs_own_layer_sparsity():
    """Without a ``sparsity`` argument the layers' own LayerConfig.sparsity is priced (a caller that
    passes only the config, as bench_compression did for sparse members, got dense costs)."""
    from evosearch.hardware import model_size_breakdown

    dense = SubnetConfig.uniform(MINILM, 1.0, bits=8, embedding_bits=8)
    sp = [0.8, 0.5, 0.0, 0.8, 0.5, 0.0]
    own = replace(dense, layers=tuple(replace(layer, sparsity=s) for layer, s in zip(dense.layers, sp)))
    given, implied = estimate(MINILM, dense, "edgebert-12nm", seq_len=32, sparsity=sp), \
        estimate(MINILM, own, "edgebert-12nm", seq_len=32)
    assert implied.energy_uj == given.energy_uj and implied.model_size_bytes == given.model_size_bytes
    assert implied.energy_uj < estimate(MINILM, dense, "edgebert-12nm", seq_len=32).energy_uj
    assert model_size_breakdown(MINILM, own, index_bits=0, sparse_encoding="bitmask")["blocks"] == \
        model_size_breakdown(MINILM, dense, sp, 0, sparse_encoding="bitmask")["blocks"]
    assert macs(MINILM, own, seq_len=32) == macs(MINILM, dense, seq_len=32, sparsity=sp)


def test_sparse_encoding_errors_name_the_field():
    from .hardware_targets import target_error

    assert "compute.sparse_encoding" in target_error(lambda d: d["compute"].update(sparse_encoding="csr"))
    assert "index, bitmask" in target_error(lambda d: d["compute"].update(sparse_encoding="csr"))
    message = target_error(lambda d: d["compute"].update(index_bits=4))
    assert "compute.index_bits" in message and "bitmask" in message


# ---------------------------------------------------------------------------------------------
# DVFS


def _no_leak_target():
    data = copy.deepcopy(shipped_target_data("edgebert-12nm"))
    data["compute"]["leakage_mw"] = 0.0
    for level in data["memory"].values():
        level["leakage_mw"] = 0.0
        level["scales_with_voltage"] = True
    return target_from_dict(data)


def test_dvfs_scaling_energy_v2_time_inverse_f():
    target = _no_leak_target()
    cfg = SubnetConfig.uniform(MINILM, 0.75, bits=8, embedding_bits=8)
    nominal = target.nominal_point
    base = estimate(MINILM, cfg, target, seq_len=64)
    for i, p in enumerate(target.dvfs_points):
        c = estimate(MINILM, cfg, target, seq_len=64, dvfs_point=i)
        assert c.energy_uj == pytest.approx(base.energy_uj * (p.voltage / nominal.voltage) ** 2, rel=1e-9)
        assert c.latency_ms == pytest.approx(base.latency_ms * nominal.frequency_mhz / p.frequency_mhz, rel=1e-9)
        assert c.dvfs == p


def test_pick_dvfs_lowest_energy_meeting_target():
    cfg = SubnetConfig.uniform(ALBERT, 1.0, bits=8, embedding_bits=8)
    target = load_target("edgebert-12nm")
    costs = [estimate(ALBERT, cfg, target, seq_len=64, dvfs_point=i) for i in range(len(target.dvfs_points))]
    for limit in (5.0, 20.0, 50.0, 1000.0):
        choice = pick_dvfs(ALBERT, cfg, target, limit, seq_len=64)
        feasible = [i for i, c in enumerate(costs) if c.latency_ms <= limit]
        if not feasible:
            assert choice is None
            continue
        best = min(feasible, key=lambda i: costs[i].energy_uj)
        assert choice.index == best
        assert choice.cost.latency_ms <= limit
        assert choice.cost.energy_uj == pytest.approx(costs[best].energy_uj)
    # a target nothing meets: None, clearly
    assert pick_dvfs(ALBERT, cfg, target, 1e-6, seq_len=64) is None
    # without leakage, the slowest feasible point is the cheapest
    nl = _no_leak_target()
    slowest = pick_dvfs(MINILM, SubnetConfig.uniform(MINILM, 0.5, bits=8), nl, 1000.0, seq_len=32)
    assert slowest.index == 0
    with pytest.raises(TypeError):
        pick_dvfs(MINILM, cfg, nl, 10.0, dvfs_point=0)


# ---------------------------------------------------------------------------------------------
# early exit


def test_deployed_exit_ramps_cost_what_they_compute():
    target = _all_banks_on("edgebert-12nm")
    cfg = SubnetConfig.uniform(ALBERT, 0.5, bits=8, embedding_bits=8)
    L = ALBERT.num_layers
    none = estimate(ALBERT, cfg, target, seq_len=64)
    # nobody leaves early: the deployment keeps no intermediate exit ramp, so nothing changes
    last = estimate(ALBERT, cfg, target, seq_len=64, exit_distribution=[0] * (L - 1) + [1])
    assert last.latency_ms == pytest.approx(none.latency_ms) and last.energy_uj == pytest.approx(none.energy_uj)
    # ramps deployed after every layer (thresholds above 0) but nobody confident enough to leave
    every = estimate(ALBERT, cfg, target, seq_len=64, exit_distribution=[0] * (L - 1) + [1],
                     exits=range(L - 1))
    ramp = every.ramps[0]
    assert every.latency_ms == pytest.approx(none.latency_ms + (L - 1) * ramp.latency_ms)
    assert every.energy_uj == pytest.approx(none.energy_uj + (L - 1) * ramp.energy_uj)
    # the intermediate ramps compute one [CLS] vector but read H x H pooler weights each
    # (weight-bandwidth bound): a few percent of the total at most
    assert every.energy_uj == pytest.approx(none.energy_uj, rel=0.05)
    assert every.model_size_bytes > last.model_size_bytes  # and are stored


def test_early_exit_at_layer_zero_costs_one_layer():
    target = _all_banks_on("edgebert-12nm")
    cfg = SubnetConfig.uniform(ALBERT, 1.0, bits=8, embedding_bits=8)
    L = ALBERT.num_layers
    none = estimate(ALBERT, cfg, target, seq_len=64)
    first = estimate(ALBERT, cfg, target, seq_len=64, exit_distribution={0: 1.0})
    body = none.energy_uj - none.embedding.energy_uj - none.ramps[-1].energy_uj
    one = first.energy_uj - first.embedding.energy_uj - first.ramps[0].energy_uj
    assert one == pytest.approx(body / L)
    assert first.run_probability == (1.0,) + (0.0,) * (L - 1)


def test_early_exit_is_linear_in_the_distribution():
    rng = random.Random(3)
    cfg = _random_config(ALBERT, rng)
    L = ALBERT.num_layers
    p = [rng.random() for _ in range(L)]
    q = [rng.random() for _ in range(L)]
    p = [x / sum(p) for x in p]
    q = [x / sum(q) for x in q]
    a = 0.3
    mix = [a * x + (1 - a) * y for x, y in zip(p, q)]
    cp, cq, cm = (estimate(ALBERT, cfg, "edgebert-12nm", seq_len=40, exit_distribution=d) for d in (p, q, mix))
    assert cm.energy_uj == pytest.approx(a * cp.energy_uj + (1 - a) * cq.energy_uj)
    assert cm.latency_ms == pytest.approx(a * cp.latency_ms + (1 - a) * cq.latency_ms)
    assert cm.macs == pytest.approx(a * cp.macs + (1 - a) * cq.macs)
    # counts are normalised
    counts = estimate(ALBERT, cfg, "edgebert-12nm", seq_len=40, exit_distribution=[10 * x for x in p])
    assert counts.energy_uj == pytest.approx(cp.energy_uj)


def test_bad_exit_distribution_is_refused():
    cfg = SubnetConfig.uniform(MINILM)
    with pytest.raises(ValueError, match="6 exits"):
        estimate(MINILM, cfg, "edgebert-12nm", exit_distribution=[1, 0])
    with pytest.raises(ValueError, match="exit layer"):
        estimate(MINILM, cfg, "edgebert-12nm", exit_distribution={7: 1})


# ---------------------------------------------------------------------------------------------
# sequence lengths


def test_length_distribution_is_the_weighted_average():
    cfg = _random_config(MINILM, random.Random(5))
    e = {t: estimate(MINILM, cfg, "generic-45nm", seq_len=t) for t in (16, 32, 50)}
    mixed = estimate(MINILM, cfg, "generic-45nm", seq_lens=[16, 16, 32, 50])
    hist = estimate(MINILM, cfg, "generic-45nm", seq_lens={16: 2, 32: 1, 50: 1})
    for c in (mixed, hist):
        assert c.energy_uj == pytest.approx((2 * e[16].energy_uj + e[32].energy_uj + e[50].energy_uj) / 4)
        assert c.latency_ms == pytest.approx((2 * e[16].latency_ms + e[32].latency_ms + e[50].latency_ms) / 4)
        assert c.macs == pytest.approx((2 * e[16].macs + e[32].macs + e[50].macs) / 4)
    # the on-chip activation footprint is sized for the longest sentence
    assert mixed.memory_kb == pytest.approx(e[50].memory_kb)
    with pytest.raises(ValueError):
        estimate(MINILM, cfg, "generic-45nm", seq_lens=[])
    with pytest.raises(ValueError):
        estimate(MINILM, cfg, "generic-45nm", seq_len=8, seq_lens=[8])


# ---------------------------------------------------------------------------------------------
# ALBERT shared weights, memory, caching


def test_albert_shared_block_is_stored_once_as_the_union():
    full = SubnetConfig.largest(ALBERT).with_layers(bits=8)
    layers = list(full.layers)
    layers[3] = LayerConfig(4, 1000, 4, None)
    mixed = replace(full, layers=tuple(layers))
    # the union of the layers is still the full block at 8 bits: same size as the full model
    c_full = estimate(ALBERT, full, "edgebert-12nm", seq_len=32)
    c_mixed = estimate(ALBERT, mixed, "edgebert-12nm", seq_len=32)
    assert c_mixed.model_size_bytes == c_full.model_size_bytes
    assert c_mixed.energy_uj < c_full.energy_uj  # ...but layer 3 reads and computes less
    # shrinking every layer shrinks the stored union
    small = SubnetConfig.uniform(ALBERT, 0.5, bits=8)
    assert estimate(ALBERT, small, "edgebert-12nm", seq_len=32).model_size_bytes < c_full.model_size_bytes
    # the same shape with one block per layer (BERT-style) stores 12 blocks
    unshared = replace(ALBERT, block_heads=(12,) * 12, block_ffn=(3072,) * 12, block_of_layer=tuple(range(12)))
    c_unshared = estimate(unshared, full, "edgebert-12nm", seq_len=32)
    block_bytes = (4 * 768 * 768 + 2 * 768 * 3072) * 1 + (3 * 768 + 768 * 5 + 3072 + 768) * 4
    assert c_unshared.model_size_bytes - c_full.model_size_bytes == pytest.approx(11 * block_bytes)
    # the compute is identical: shared weights are read once per virtual layer either way
    assert c_unshared.energy_uj == pytest.approx(c_full.energy_uj)


def test_embeddings_placement_changes_cost_and_footprint():
    data = shipped_target_data("edgebert-12nm")
    in_sram = copy.deepcopy(data)
    in_sram["placement"]["embeddings"] = "weight_sram"
    t_rram, t_sram = target_from_dict(data), target_from_dict(in_sram)
    cfg = SubnetConfig.uniform(ALBERT, 1.0, bits=8, embedding_bits=8)
    a = estimate(ALBERT, cfg, t_rram, seq_len=32)
    b = estimate(ALBERT, cfg, t_sram, seq_len=32)
    # ReRAM reads cost more per bit than SRAM (NVMExplorer), and the lookup is a small part
    assert a.embedding.energy_uj > b.embedding.energy_uj
    assert dict(a.level_bits)["rram"] > 0 and "rram" not in dict(b.level_bits)
    assert a.memory_kb == pytest.approx(b.memory_kb)
    assert not b.fits_on_chip  # 2 MB of SRAM cannot hold the 7 MB 8-bit block + 3.9 MB embeddings


def test_warm_queries_hit_the_layer_cache_and_give_a_fresh_models_answers():
    """Speed is benchmarked in scripts/bench_hardware_model.py; here: a second pass prices no new layer
    shape, and the cached answers equal those of a model that never saw the other configs (the cache
    key holds everything a layer's cost depends on)."""
    model = CostModel(ALBERT, "edgebert-12nm", seq_lens={t: 1 for t in range(8, 65, 4)})
    rng = random.Random(0)
    configs = [_random_config(ALBERT, rng) for _ in range(50)]
    first = [model.estimate(cfg) for cfg in configs]
    shapes = len(model._layers)
    again = [model.estimate(cfg) for cfg in reversed(configs)][::-1]
    assert len(model._layers) == shapes
    for cfg, a, b in zip(configs[::7], first[::7], again[::7]):
        fresh = CostModel(ALBERT, "edgebert-12nm", seq_lens={t: 1 for t in range(8, 65, 4)}).estimate(cfg)
        assert a == b == fresh


def test_wrong_config_is_refused():
    from evosearch.specs import SubnetConfigError

    with pytest.raises(SubnetConfigError, match="virtual layers"):
        estimate(MINILM, SubnetConfig.largest(ALBERT), "edgebert-12nm")
    bad = SubnetConfig((LayerConfig(13, 10, 8),) * 6)
    with pytest.raises(SubnetConfigError, match="heads"):
        estimate(MINILM, bad, "edgebert-12nm")


def test_hardware_model_and_search_spaces_import_no_torch():
    """The leaves stay light: pricing a config or reading a space must not pull in torch."""
    import subprocess
    import sys

    code = ("import sys, evosearch.hardware, evosearch.spaces, evosearch.specs; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------------------------------------
# embedding pruning (EdgeBERT: embeddings pruned to 40% in ReRAM eNVM)


def _emb(arch, bits=8, sparsity=0.0):
    base = SubnetConfig.largest(arch).with_layers(bits=8)
    return SubnetConfig(base.layers, embedding_bits=bits, embedding_sparsity=sparsity)


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("encoding", ["bitmask", "index"])
def test_pruned_embeddings_shrink_storage_and_lookup_energy_by_the_stated_factor(bits, encoding):
    """On a zero-skipping target, each pruned table is stored in its sparse encoding (a presence
    bit per entry plus the kept values, or the kept values with index_bits each) and each looked-up
    row is read at stored_bits_per_value / b of the dense bits."""
    from evosearch.specs.embedding import kept_entries, table_shapes

    target = _with_encoding(encoding)
    assert target.zero_skipping and dict(target.placement)["embeddings"] == "rram"
    dense = estimate(MINILM, _emb(MINILM, bits), target, seq_len=32)
    pruned = estimate(MINILM, _emb(MINILM, bits, 0.6), target, seq_len=32)
    factor = target.stored_bits_per_value(bits, 0.6) / bits
    ln = 2 * MINILM.embedding_size * 32
    tables = [r * w for r, w in table_shapes(MINILM).values()]
    if encoding == "bitmask":
        expected = sum(n + kept_entries(n, 0.6) * bits for n in tables)
    else:
        expected = sum(kept_entries(n, 0.6) for n in tables) * (bits + target.index_bits)
    assert dict(pruned.level_bits)["rram"] - ln == expected
    assert (dict(pruned.level_bits)["rram"] - ln) / (dict(dense.level_bits)["rram"] - ln) == pytest.approx(factor, rel=1e-6)
    assert dense.model_size_bytes - pruned.model_size_bytes == pytest.approx(
        (sum(tables) * bits - expected) / 8)
    rram = [lv.name for lv in target.memory].index("rram")
    read = {name: next(o for o in cost.embedding.ops if o.name == "embedding_lookup") for name, cost in
            (("dense", dense), ("pruned", pruned))}
    assert read["pruned"].bits[rram] / read["dense"].bits[rram] == pytest.approx(factor)
    assert read["pruned"].memory_pj < read["dense"].memory_pj and pruned.energy_uj < dense.energy_uj
    assert pruned.layers == dense.layers  # the layers do not change


def test_pruned_embeddings_cost_the_same_without_zero_skipping():
    dense = estimate(MINILM, _emb(MINILM), "generic-45nm", seq_len=32)
    pruned = estimate(MINILM, _emb(MINILM, sparsity=0.6), "generic-45nm", seq_len=32)
    assert (pruned.energy_uj, pruned.latency_ms, pruned.model_size_bytes) == (
        dense.energy_uj, dense.latency_ms, dense.model_size_bytes)


def test_on_chip_fit_counts_the_compressed_embeddings():
    """An eNVM sized between the pruned and the dense tables: only the pruned ones fit."""
    from evosearch.specs.embedding import embedding_tables_bits

    data = shipped_target_data("edgebert-12nm")
    for level in ("weight_sram", "act_sram"):
        data["memory"][level]["capacity_kb"] = 1e9  # only the embedding level decides here
    sparse_kb = embedding_tables_bits(ALBERT, 8, 0.6, "mask") / 8192  # edgebert-12nm's bitmask
    dense_kb = embedding_tables_bits(ALBERT, 8) / 8192
    data["memory"]["rram"]["capacity_kb"] = (sparse_kb + dense_kb) / 2
    target = target_from_dict(data)
    assert not estimate(ALBERT, _emb(ALBERT), target, seq_len=32).fits_on_chip
    assert estimate(ALBERT, _emb(ALBERT, sparsity=0.6), target, seq_len=32).fits_on_chip


def test_onchip_excess_is_the_overflow_per_level_and_zero_exactly_when_it_fits():
    """onchip_excess_kb sums, over the on-chip levels with a capacity, the KB held beyond it: a
    graded distance to fitting, falling as the model shrinks, 0 exactly when fits_on_chip."""
    target = load_target("edgebert-12nm")
    sizes = []
    for fraction, bits, sparsity in ((1.0, 8, 0.0), (0.5, 8, 0.0), (0.5, 4, 0.0), (0.25, 4, 0.8)):
        cfg = SubnetConfig.uniform(MINILM, fraction, bits=bits, embedding_bits=8)
        cost = estimate(MINILM, replace(cfg, embedding_sparsity=sparsity), target, seq_len=32)
        held = dict(cost.level_bits)
        expected = sum(max(0.0, held[lv.name] / 8192 - lv.capacity_kb) for lv in target.memory
                       if lv.name in held and lv.capacity_kb is not None)
        assert cost.excess_kb == pytest.approx(expected)
        assert (cost.excess_kb == 0) == cost.fits_on_chip
        sizes.append(cost.excess_kb)
    assert sizes[0] > sizes[1] > sizes[2] > 0 and sizes[3] == 0  # the last one fits: 4-bit quarter layers, 80 % pruned tables


def test_minilm_embeddings_do_not_fit_edgebert_envm_even_pruned():
    """The quickstart's MiniLM tables at 8 bits, 40% kept: 6.0 MB in the target's bitmask encoding
    (a bit per entry plus the kept values) against the 4 MB eNVM of edgebert-12nm (whose capacity
    holds ALBERT's tables, which do fit)."""
    target = load_target("edgebert-12nm")
    cap = target.level("rram").capacity_kb
    minilm = dict(estimate(MINILM, _emb(MINILM, 8, 0.6), target, seq_len=32).level_bits)["rram"] / 8192
    albert = dict(estimate(ALBERT, _emb(ALBERT, 8, 0.6), target, seq_len=32).level_bits)["rram"] / 8192
    assert minilm == pytest.approx(6113, abs=1) and minilm > cap
    assert albert == pytest.approx(2003, abs=1) and albert < cap
