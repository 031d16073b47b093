"""`evosearch quickstart` end to end on a tiny random model and a tiny local task."""

import json

import pytest

from evosearch.cli import main

pytestmark = pytest.mark.usefixtures("private_cache")


def test_quickstart_runs_every_step_then_reuses_them(tmp_path, tiny_model, tiny_task, capsys):
    out = tmp_path / "qs"
    argv = ["quickstart", "--fast", "--model", tiny_model, "--task", tiny_task, "--output", str(out), "--threads", "1"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for step in ("== train:", "== search:", "== plot:", "== pick:", "== export:", "== verify the front:", "== report:"):
        assert step in printed
    assert "Pareto front" in printed and "rough" in printed
    for path in ("supernet/supernet.json", "search/final_front.csv", "search/plots", "pick.yaml",
                 "deployed/verification.json", "deployed/onnx/manifest.json", "search/front_verification.csv",
                 "report.html"):
        assert (out / path).exists(), path
    assert "picked: the lowest energy_uj among the" in printed and "within 1 pt of the uncompressed model" in printed
    assert "The front as deployed" in (out / "report.html").read_text()
    assert json.loads((out / "deployed" / "verification.json").read_text())["accuracy_agrees"]

    assert main(argv) == 0  # a second run trains nothing and resumes the finished search
    again = capsys.readouterr().out
    assert "using the supernet already trained" in again and "search (resuming)" in again
