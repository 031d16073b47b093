"""Optional cross-check of the GEMM compute model against zigzag-dse (skipped when not installed).

zigzag-dse is not a dependency (``pip install zigzag-dse six`` to run this). We build a 16x16
weight-stationary array (C unrolled over D1, K over D2, as EdgeBERT's MAC array) with zero-cost
memories, run a grid of transformer GEMMs through zigzag's LOMA mapper and compare

* MAC energy: ours vs zigzag's ``mac_energy`` — tolerance 0.5 %;
* compute cycles: ours vs zigzag's ``ideal_temporal_cycle`` — tolerance 0.5 % on shapes that
  fill the array (dimensions multiples of 16; zigzag's ideal count ignores under-filled tiles,
  ours charges them).

Not compared: zigzag's total latency (its port model adds ~2x stall cycles to this toy
accelerator's cycle count) and memory energy (zigzag searches loop orders; ours fixes a
weight-stationary loop nest).
"""

from __future__ import annotations

import pytest

zigzag_api = pytest.importorskip("zigzag.api")

from evosearch.hardware import price_ops, target_from_dict  # noqa: E402
from evosearch.hardware.ops import Gemm  # noqa: E402

HW_YAML = """name: evosearch_ws_16x16
memories:
  rf_w:
    size: 8
    r_cost: 0.0
    w_cost: 0.0
    area: 0
    latency: 1
    operands: [I2]
    ports:
      - name: r_port_1
        type: read
        bandwidth_min: 8
        bandwidth_max: 8
        allocation: ["I2, tl"]
      - name: w_port_1
        type: write
        bandwidth_min: 8
        bandwidth_max: 8
        allocation: ["I2, fh"]
    served_dimensions: []
  rf_o:
    size: 16
    r_cost: 0.0
    w_cost: 0.0
    area: 0
    latency: 1
    operands: [O]
    ports:
      - name: r_port_1
        type: read
        bandwidth_min: 16
        bandwidth_max: 16
        allocation: ["O, tl"]
      - name: r_port_2
        type: read
        bandwidth_min: 16
        bandwidth_max: 16
        allocation: ["O, th"]
      - name: w_port_1
        type: write
        bandwidth_min: 16
        bandwidth_max: 16
        allocation: ["O, fh"]
      - name: w_port_2
        type: write
        bandwidth_min: 16
        bandwidth_max: 16
        allocation: ["O, fl"]
    served_dimensions: []
  sram:
    size: 134217728
    r_cost: 0.0
    w_cost: 0.0
    area: 0
    latency: 1
    operands: [I1, I2, O]
    ports:
      - name: r_port_1
        type: read
        bandwidth_min: 8
        bandwidth_max: 4096
        allocation: ["I1, tl", "I2, tl", "O, tl", "O, th"]
      - name: w_port_1
        type: write
        bandwidth_min: 8
        bandwidth_max: 4096
        allocation: ["I1, fh", "I2, fh", "O, fh", "O, fl"]
    served_dimensions: [D1, D2]
operational_array:
  unit_energy: 0.118
  unit_area: 1
  dimensions: [D1, D2]
  sizes: [16, 16]
"""

MAPPING_YAML = """- name: default
  spatial_mapping:
    D1:
      - C, 16
    D2:
      - K, 16
  memory_operand_links:
    O: O
    W: I2
    I: I1
"""

# (M tokens, K, N): QKV / out projection / FFN of ALBERT-base and MiniLM at T = 32 and 128
GRID = [(32, 768, 768), (128, 768, 2304), (128, 768, 3072), (32, 3072, 768), (64, 384, 1536), (128, 1536, 384)]


def _target():
    free = {"read_pj_per_bit": 0.0, "write_pj_per_bit": 0.0, "bandwidth_bits_per_cycle": 1e9}
    return target_from_dict({
        "name": "zigzag-twin", "technology_nm": 12,
        "compute": {"mac_array": [16, 16], "datapath_bits": 8, "activation_bits": 8, "accumulator_bits": 16,
                    "mac_energy_pj": 0.118},
        "vector_unit": {"lanes": 16, "op_energy_pj": 0.0,
                        "ops_per_element": {"softmax": 0, "layernorm": 0, "gelu": 0, "add": 0}},
        "memory": {"buf": free},
        "placement": {"weights": "buf", "embeddings": "buf", "activations": "buf", "partial_sums": "buf"},
        "dvfs": {"points": [{"voltage": 0.8, "frequency_mhz": 1000}]},
    })


@pytest.mark.parametrize("m, k, n", GRID)
def test_gemm_matches_zigzag(tmp_path, m, k, n):
    hw = tmp_path / "hw.yaml"
    hw.write_text(HW_YAML)
    mapping = tmp_path / "map.yaml"
    mapping.write_text(MAPPING_YAML)
    workload = [{
        "id": 0, "name": "gemm", "operator_type": "Gemm", "equation": "O[b][k]+=I[b][c]*W[c][k]",
        "loop_dims": ["B", "C", "K"], "loop_sizes": [m, k, n],
        "operand_precision": {"I": 8, "W": 8, "O": 16, "O_final": 8}, "operand_source": {"I": 0},
    }]
    out = zigzag_api.get_hardware_performance_zigzag(
        workload, str(hw), str(mapping), opt="latency", dump_folder=str(tmp_path / "out"),
        loma_show_progress_bar=False,
    )
    cme = out[2][0][0]
    (ours,) = price_ops([Gemm("g", m, k, n, 1, 8, "weights")], _target())
    assert ours.compute_pj == pytest.approx(cme.mac_energy, rel=0.005)
    assert ours.cycles == pytest.approx(cme.ideal_temporal_cycle, rel=0.005)
