"""Fine-tuning a picked sub-network on a tiny checkpoint and task."""

import json

import pytest
import torch
import yaml

from evosearch.cli import main
from evosearch.deploy import load_deployed
from evosearch.specs import LayerConfig, SubnetConfig
from evosearch.training import load_checkpoint
from evosearch.training.finetune import FinetuneConfig, finetune

from .tiny_runs import make_run

PICK = SubnetConfig((LayerConfig(1, 12, 4), LayerConfig(1, 12, 4, span=4), LayerConfig(2, 12, 8)), embedding_bits=8)
THRESHOLDS = [0.3, 0.3]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny supernet trained for one epoch on a learnable task (label 1 iff the sentence has w1)."""
    import os

    from transformers import BertConfig, BertModel

    from .tiny_models import TINY, save_tiny, write_keyword_task

    tmp = tmp_path_factory.mktemp("ft")
    os.environ["EVOSEARCH_CACHE"] = str(tmp / "cache")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = save_tiny(tmp, BertModel(BertConfig(num_hidden_layers=3, **TINY)), name="hf")
    write_keyword_task(tmp / "task.csv", 400)
    assert main(["train", "--model", str(model), "--task", str(tmp / "task.csv"), "--output", str(tmp / "supernet"),
                 "--max-length", "16", "--batch-size", "16", "--epochs", "8", "--spans", "none", "4",
                 "--importance-warmup", "5", "--learning-rate", "3e-3", "--quiet"]) == 0
    return tmp / "supernet"


def settings(**changes):
    values = dict(steps=12, batch_size=16, learning_rate=1e-3, checkpoint_every=4, seed=0)
    values.update(changes)
    return FinetuneConfig(**values)


def test_finetune_lowers_dev_loss_and_keeps_the_pick(checkpoint, tmp_path):
    result = finetune(checkpoint, PICK, THRESHOLDS, tmp_path / "ft", settings(), progress=False)
    assert result.steps == 12 and result.dev_loss_after < result.dev_loss_before
    assert set(result.before) == set(result.after) == {"validation", "test"}
    tuned = load_checkpoint(tmp_path / "ft")
    original = load_checkpoint(checkpoint)
    # the pick is unchanged: pick.yaml holds the same config and thresholds ...
    pick = yaml.safe_load((tmp_path / "ft" / "pick.yaml").read_text())
    assert SubnetConfig.from_dict(pick["config"]) == PICK and pick["thresholds"] == THRESHOLDS
    # ... and only the weights it uses moved: heads and neurons it drops keep the supernet's values
    block, source = tuned.supernet.blocks[0], original.supernet.blocks[0]
    width = PICK.layers[0].heads * tuned.supernet.arch.head_dim
    assert torch.equal(block.query.weight[width:], source.query.weight[width:])
    assert not torch.equal(block.query.weight[:width], source.query.weight[:width])
    assert torch.equal(tuned.supernet.embeddings.word.weight, original.supernet.embeddings.word.weight)  # frozen
    assert tuned.meta["finetune"]["steps"] == 12 and tuned.supernet.arch == original.supernet.arch


def test_resumed_finetune_equals_uninterrupted(checkpoint, tmp_path):
    full = finetune(checkpoint, PICK, THRESHOLDS, tmp_path / "full", settings(), progress=False)
    stopped = finetune(checkpoint, PICK, THRESHOLDS, tmp_path / "part", settings(max_seconds=1e-9), progress=False)
    assert stopped.steps == 1  # the time budget stopped it after one step
    resumed = finetune(checkpoint, PICK, THRESHOLDS, tmp_path / "part", settings(), resume=True, progress=False)
    assert resumed.steps == full.steps == 12
    a = load_checkpoint(tmp_path / "full").supernet.state_dict()
    b = load_checkpoint(tmp_path / "part").supernet.state_dict()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert resumed.after == full.after
    with pytest.raises(Exception, match="another fine-tune"):
        finetune(checkpoint, PICK, THRESHOLDS, tmp_path / "part", settings(learning_rate=1e-4), resume=True,
                 progress=False)


def test_export_of_a_finetuned_pick_matches_its_estimate(checkpoint, tmp_path, capsys):
    run = make_run(tmp_path, checkpoint, generations=2, population=6, dev_subset=0)
    assert main(["pick", str(run), "--knee", "--out", str(tmp_path / "pick.yaml")]) == 0
    assert main(["finetune", str(run), "--pick", str(tmp_path / "pick.yaml"), "--out", str(tmp_path / "ft"),
                 "--steps", "6", "--batch-size", "8", "--learning-rate", "1e-3", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "fine-tuned" in printed and "->" in printed and "dev loss" in printed
    assert main(["export", str(run), "--pick", str(tmp_path / "ft" / "pick.yaml"), "--out", str(tmp_path / "dep"),
                 "--no-latency"]) == 0
    report = json.loads((tmp_path / "dep" / "verification.json").read_text())
    assert report["accuracy_agrees"]
    model = json.loads((tmp_path / "dep" / "model.json").read_text())
    assert model["source"]["supernet"] == str((tmp_path / "ft").resolve())  # the fine-tuned weights are shipped
    assert main(["finetune", str(run), "--pick", str(tmp_path / "pick.yaml"), "--out", str(tmp_path / "ft")]) == 2
    assert "already holds a fine-tuned supernet" in capsys.readouterr().err
    deployed = load_deployed(tmp_path / "dep")
    assert deployed.config == SubnetConfig.from_dict(yaml.safe_load((tmp_path / "pick.yaml").read_text())["config"])
