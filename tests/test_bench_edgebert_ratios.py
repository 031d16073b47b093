"""scripts/bench_edgebert_ratios.py: EdgeBERT's ratios next to ours (analytical, a few seconds)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_edgebert_ratios.py"


def _module():
    spec = importlib.util.spec_from_file_location("bench_edgebert_ratios", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up while the module loads
    spec.loader.exec_module(module)
    return module


def test_constants_copied_from_the_quickstart_run_are_consistent():
    m = _module()
    assert sum(m.PICK_EXIT_COUNTS) == sum(m.DEV_LENGTHS.values()) == 1057
    assert len(m.PICK_LAYERS) == len(m.PICK_EXIT_COUNTS) == len(m.PICK_THRESHOLDS) + 1 == m.MINILM.num_layers
    assert m.PICK_EXIT_COUNTS[1] == 0 and m.PICK_THRESHOLDS[1] == 0.0  # no ramp after layer 2: nobody leaves there
    mean_exit = sum((k + 1) * n for k, n in enumerate(m.PICK_EXIT_COUNTS)) / 1057
    assert abs(mean_exit - m.PICK_RUN["mean_exit_layer"]) < 1e-9  # layers counted from 1, as the run does
    assert max(m.DEV_LENGTHS) <= 64  # the quickstart tokenizes at max_length 64


def test_bench_writes_the_side_by_side_table(tmp_path, capsys):
    m = _module()
    out = tmp_path / "ratios.json"
    assert m.main(["--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "up to 7.0x" in printed and "up to 2.5x" in printed and "1.73 MB" in printed
    data = json.loads(out.read_text())
    assert data["edgebert"] == {"no_exit/dvfs": 7.0, "early_exit/dvfs": 2.5, "envm_embeddings_mb": 1.73}
    assert data["runtime_s"] > 0
    names = [s["setup"] for s in data["setups"]]
    assert any("ALBERT" in n for n in names) and any("dev lengths" in n for n in names)
    for s in data["setups"]:
        gated, on = s["by_gating"]["shipped"], s["by_gating"]["off"]
        for row in (gated, on):
            assert row["no_exit"] > row["early_exit"] > row["dvfs"] > 0 and row["miss_rate"] == 0
            assert row["no_exit/dvfs"] == row["no_exit"] / row["dvfs"]
        assert gated["no_exit"] < on["no_exit"] and on["gated_leakage_uj_no_exit"] == 0
        assert s["by_gating"]["4kb"]["no_exit"] <= gated["no_exit"]  # finer banks gate at least as much
        if s["envm"] is not None:
            envm = s["envm"]
            assert envm["rram"]["lookup_uj"] < envm["dram"]["lookup_uj"]
            assert envm["rram"]["dvfs_uj"] <= envm["dram"]["dvfs_uj"] < envm["sram"]["dvfs_uj"]
            assert envm["sram"]["sram_kb"] >= envm["embedding_tables_kb"] and envm["sram"]["refill_uj"] > 0
