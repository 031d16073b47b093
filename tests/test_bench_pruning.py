"""scripts/bench_pruning.py on two tiny checkpoints: one pruned by magnitude, one by movement scores."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from evosearch.supernet import Supernet
from evosearch.training import SupernetCheckpoint, load_checkpoint, save_checkpoint

from .tiny_runs import make_checkpoint

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_pruning.py"
TRAINED = [0.0, 0.5, 0.8, 0.9]

pytestmark = pytest.mark.usefixtures("private_cache")


def _bench(*argv: str) -> int:
    spec = importlib.util.spec_from_file_location("bench_pruning", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(list(argv))


def _pair(tmp_path: Path) -> tuple[Path, Path]:
    """The same tiny supernet twice: as trained for magnitude pruning, and with random movement scores."""
    ckpt = load_checkpoint(make_checkpoint(tmp_path / "made"))
    magnitude = save_checkpoint(tmp_path / "magnitude", replace(ckpt, bounds={"sparsity": TRAINED}))
    movement = Supernet(replace(ckpt.supernet.arch, pruning="movement"), span_ramp=ckpt.supernet.span_ramp)
    movement.load_state_dict(ckpt.supernet.state_dict(), strict=False)
    torch.manual_seed(0)
    with torch.no_grad():
        for scores in movement.movement_scores():
            scores.normal_()
    meta = {"train_config": {"pruning": "movement", "epochs": 3.0}}
    moved = save_checkpoint(tmp_path / "movement", SupernetCheckpoint(movement.eval(), ckpt.tokenizer, ckpt.task,
                                                                     {"sparsity": TRAINED}, meta))
    return magnitude, moved


def test_bench_pruning_reports_accuracy_against_sparsity(tmp_path, capsys):
    magnitude, movement = _pair(tmp_path)
    out = tmp_path / "pruning.json"
    assert _bench("--magnitude", str(magnitude), "--movement", str(movement), "--out", str(out), "--threads", "1") == 0
    report = json.loads(out.read_text())
    assert [row["sparsity"] for row in report["rows"]] == TRAINED  # 0.9 too: both were trained for it
    assert report["dev_examples"] == 60  # the whole dev split
    dense = report["rows"][0]
    assert dense["magnitude"] == dense["movement"] == 1.0  # the same weights, and the labels are the dense model's
    sparse = report["rows"][-1]
    assert sparse["magnitude"] < 1.0 and sparse["movement"] < 1.0 and sparse["trained"] == ["magnitude", "movement"]
    assert report["budget_differences"] == ["epochs: magnitude None, movement 3.0"]
    printed = capsys.readouterr().out
    assert "sparsity  magnitude  movement" in printed and "0.90" in printed and "not the same budget" in printed


def test_bench_pruning_refuses_swapped_checkpoints(tmp_path, capsys):
    magnitude, movement = _pair(tmp_path)
    assert _bench("--magnitude", str(movement), "--movement", str(magnitude), "--out", str(tmp_path / "x.json")) == 2
    assert "--magnitude" in (err := capsys.readouterr().err) and "was trained with pruning='movement', not 'magnitude'" in err
