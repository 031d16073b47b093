"""scripts/bench_search.py summarize: runs to the target, seeds merged across files, and ratios
taken on the seeds both variants ran, on hand-made curves."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_search.py"


def _bench(*argv: str) -> int:
    spec = importlib.util.spec_from_file_location("bench_search", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(list(argv))


def _curve(points):
    return [{"generation": i, "stage": "evolve", "model_runs": runs, "evaluations": runs, "hypervolume": hv,
             "front_size": 3, "seconds": float(runs)} for i, (runs, hv) in enumerate(points)]


def _write(folder: Path, tag: str, runs: dict, budget: int = 100) -> str:
    data = {"reference_point": [1.0, 10.0], "accuracy_arithmetic": "float", "budget_model_runs": budget,
            "runs": {name: [{"seed": seed, "curve": _curve(points), "finished": False, "complete": True}
                            for seed, points in seeds.items()] for name, seeds in runs.items()}}
    path = folder / f"search-{tag}.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_summarize_counts_unreached_seeds_as_lower_bounds_and_compares_on_common_seeds(tmp_path):
    files = [
        _write(tmp_path, "ref", {"nsga2+ls": {0: [(100, 5.0), (1000, 10.0)]}}),  # target: 0.99 * 10 = 9.9
        _write(tmp_path, "old", {"nsga2-sbx-pm": {0: [(100, 5.0), (400, 9.95)], 1: [(100, 6.0), (800, 9.9)]}}),
        _write(tmp_path, "a", {"nsga2+thresholds": {0: [(50, 9.0), (100, 9.95)], 1: [(100, 9.0)]}}),
        # seed 1 carried further in another file: the furthest curve counts; seed 2 has no baseline
        _write(tmp_path, "b", {"nsga2+thresholds": {1: [(100, 9.0), (300, 9.91)], 2: [(100, 9.92)]}}),
        _write(tmp_path, "c", {"random": {0: [(100, 8.0), (500, 8.5)], 1: [(100, 8.0), (700, 8.6)]}}),
    ]
    assert _bench("summarize", *files, "--reference", "ref:nsga2+ls", "--out", str(tmp_path), "--budget", "100") == 0
    summary = json.loads((tmp_path / "search-summary.json").read_text())
    assert summary["target_hv"] == pytest.approx(9.9)
    table = summary["table"]
    old, path, random = table["nsga2-sbx-pm"], table["nsga2+thresholds"], table["random"]
    assert old["model_runs_to_target"] == [400, 800] and old["model_runs_to_target_mean"] == 600
    assert path["seed_list"] == [0, 1, 2] and path["model_runs_to_target"] == [100, 300, 100]
    assert path["hv_at_budget_mean"] == pytest.approx((9.95 + 9.0 + 9.92) / 3)
    # on seeds 0 and 1 only: (100 + 300) / 2 against (400 + 800) / 2
    assert path["ratio_seeds"] == [0, 1] and path["ratio_to_old_nsga2"] == pytest.approx(200 / 600)
    assert path["ratio_bound"] == "exact"
    # random never reaches it: its mean counts the runs it had, a lower bound, and so is the ratio
    assert random["model_runs_to_target"] == [None, None] and random["mean_is_lower_bound"]
    assert random["model_runs_to_target_mean"] == 600 and random["ratio_bound"] == "at least"
    assert random["ratio_to_old_nsga2"] == pytest.approx(1.0)
