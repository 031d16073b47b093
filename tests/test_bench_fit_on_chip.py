"""scripts/bench_fit_on_chip.py on a tiny checkpoint and a target whose memories cut its grid."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from evosearch.training import load_checkpoint, save_checkpoint

from .hardware_targets import shipped_target_data
from .tiny_runs import make_checkpoint

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_fit_on_chip.py"

pytestmark = pytest.mark.usefixtures("private_cache")


def _bench(*argv: str) -> int:
    spec = importlib.util.spec_from_file_location("bench_fit_on_chip", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(list(argv))


def test_fit_on_chip_prices_layers_and_tables_apart_and_summarises_against_capacity(tmp_path, capsys):
    ckpt = load_checkpoint(make_checkpoint(tmp_path / "made"))
    bounds = {**dict(ckpt.bounds or {}), "sparsity": [0.0, 0.5], "embedding_bits": [8, 32],
              "embedding_sparsity": [0.0, 0.6]}
    supernet = save_checkpoint(tmp_path / "sparse", replace(ckpt, bounds=bounds))
    data = shipped_target_data("edgebert-12nm")
    data["memory"]["weight_sram"].update(capacity_kb=12, bank_kb=4)  # between the tiny grid's smallest and largest
    data["memory"]["rram"]["capacity_kb"] = 4
    target = tmp_path / "small.yaml"
    target.write_text(yaml.safe_dump(data))
    out = tmp_path / "fit.json"
    # a wide budget: the tiny model's labels are its own fp32 answers, which 4- and 8-bit layers miss often
    assert _bench("--supernet", str(supernet), "--target", str(target), "--bits", "4", "8", "--budget", "20",
                  "--out", str(out)) == 0
    report = json.loads(out.read_text())
    layers, tables = report["layers"], report["tables"]
    assert len(layers["rows"]) == 4 * 4 * 2 * 2  # heads x FFN fractions x bits x trained sparsities
    assert len(tables["rows"]) == 2 * 2  # trained embedding bits x embedding sparsities
    sizes = [r["weights_kb"] for r in layers["rows"]]
    assert min(sizes) < 12 < max(sizes)  # the capacity really cuts the grid
    fits = [r for r in layers["rows"] if r["weights_kb"] <= 12]
    assert layers["most_accurate_that_fits"]["accuracy"] == max(r["accuracy"] for r in fits)
    floor = report["uncompressed"]["accuracy"] - 0.20
    within = [r for r in layers["rows"] if r["accuracy"] >= floor - 1e-9]
    assert 0 < len(within) < len(layers["rows"])
    assert layers["smallest_within_budget"]["weights_kb"] == min(r["weights_kb"] for r in within)
    # sparse layers and pruned tables take less room; tables do not change the layers' footprint
    by = {(r["heads"], r["ffn"], r["bits"], r["sparsity"]): r for r in layers["rows"]}
    assert by[(1.0, 1.0, 8, 0.5)]["weights_kb"] < by[(1.0, 1.0, 8, 0.0)]["weights_kb"]
    assert by[(1.0, 1.0, 4, 0.0)]["weights_kb"] < by[(1.0, 1.0, 8, 0.0)]["weights_kb"]
    pruned = {(r["embedding_bits"], r["embedding_sparsity"]): r for r in tables["rows"]}
    assert pruned[(8, 0.6)]["embeddings_kb"] < pruned[(8, 0.0)]["embeddings_kb"] < pruned[(32, 0.0)]["embeddings_kb"]
    assert tables["capacity_kb"] == 4 and layers["capacity_kb"] == 12
    printed = capsys.readouterr().out
    assert "most accurate that fits" in printed and "smallest within 20 pt" in printed
