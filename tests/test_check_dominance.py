"""scripts/check_dominance.py on a run made through the CLI: zero after local search, and it
notices a front that a scored candidate beats."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pandas as pd

from .tiny_runs import make_checkpoint, make_run

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_dominance.py"


def _check(folder: Path, *args: str) -> tuple[int, dict]:
    spec = importlib.util.spec_from_file_location("check_dominance", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code = module.main([str(folder), *args])
    return code, json.loads((folder / "dominance_check.json").read_text())


def test_check_dominance_after_bounded_local_search(tmp_path):
    ckpt = make_checkpoint(tmp_path / "ckpt")
    folder = make_run(tmp_path, ckpt, generations=2, population=8, local_search=True, extra=["--front-size", "4"])
    code, report = _check(folder, "--rescore")
    assert code == 0 and report["dominated_members"] == [] and report["dominated_by_candidates"] == []
    assert 1 <= report["members"] <= 4 and 0 < report["scored_here"] <= report["neighbours"]

    # a "front" holding a candidate that another scored candidate beats is caught
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    cands = pd.read_csv(broken / "candidates.csv", dtype={"genome": str})
    F = cands[["F_0", "F_1"]].to_numpy(float)
    beaten = next(i for i in range(len(F)) if ((F <= F[i]).all(axis=1) & (F < F[i]).any(axis=1)).any())
    fronts = pd.read_csv(broken / "fronts.csv", dtype={"genome": str})
    row = cands.iloc[[beaten]].assign(generation=fronts["generation"].max() + 1)
    pd.concat([fronts, row[fronts.columns]]).to_csv(broken / "fronts.csv", index=False)
    code, report = _check(broken)
    assert code == 1 and report["dominated_by_candidates"] == [f"c{beaten}"]
