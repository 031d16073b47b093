"""`evosearch search` end to end on a tiny checkpoint and a local CSV task (no network)."""

import random

import pandas as pd
import pytest
import torch
import yaml
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

from evosearch.cli import main
from evosearch.supernet import supernet_from_hf
from evosearch.training import SupernetCheckpoint, save_checkpoint

from .tiny_models import TINY_CLASSIFIER as TINY
from .tiny_runs import make_run

WORDS = ["good", "bad", "great", "awful", "fine", "film", "plot", "actor", "boring", "fun", "the", "a", "is", "was"]


@pytest.fixture
def tiny_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("EVOSEARCH_CACHE", str(tmp_path / "cache"))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(tmp_path / "vocab.txt"))
    rng = random.Random(0)
    data = tmp_path / "task"
    data.mkdir()
    for split, n in [("train", 20), ("validation", 40), ("test", 10)]:
        rows = [{"text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))), "label": rng.randint(0, 1)}
                for _ in range(n)]
        pd.DataFrame(rows).to_csv(data / f"{split}.csv", index=False)
    torch.manual_seed(0)
    hf = BertForSequenceClassification(BertConfig(**TINY)).eval()
    ckpt = SupernetCheckpoint(supernet_from_hf(hf), tokenizer,
                              task={"spec": str(data), "num_labels": 2, "max_length": 16, "seed": 0},
                              bounds={"bits": [4, 8]})
    return save_checkpoint(tmp_path / "ckpt", ckpt)


def test_search_help(capsys):
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    out = capsys.readouterr().out
    assert "--resume" in out and "--ray-address" in out and "candidates.csv" in out


def test_search_cli_runs_and_resumes(tiny_checkpoint, tmp_path, capsys):
    torch.set_num_threads(1)
    common = ["--results", str(tmp_path / "results"), "--no-progress"]
    argv = ["search", "--supernet", str(tiny_checkpoint), "--space", "small", "--objectives", "default",
            "--generations", "2", "--population", "6", "--dev-subset", "25", "--batch-size", "8",
            "--run-name", "r", "--seed", "3", "--workers", "0", "--no-local-search"] + common
    assert main(argv) == 0
    run = tmp_path / "results" / "r"
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["dev_examples"] == 25 and cfg["algorithm"] == "nsga2" and len(cfg["reference_point"]) == 2
    assert cfg["algorithm_options"] == {"crossover": "uniform", "mutation": "reset", "mutation_rate": None,
                                        "surrogate": False}
    assert cfg["accuracy_arithmetic"] == "int8-engine"  # accuracy as the int8 export computes it
    assert len(pd.read_csv(run / "hypervolume.csv")) == 2
    final = pd.read_csv(run / "final_front.csv")
    assert len(final) >= 1
    n_before = len(pd.read_csv(run / "candidates.csv"))
    # extend the finished run by one generation
    assert main(["search", "--resume", str(run), "--generations", "3"] + common) == 0
    assert list(pd.read_csv(run / "hypervolume.csv").generation) == [0, 1, 2]
    assert len(pd.read_csv(run / "candidates.csv")) >= n_before
    assert main(argv) == 2  # the folder holds a run: refuse to overwrite
    assert "already holds a run" in capsys.readouterr().err
    # with the local-search stage (the default): rounds after the generations; then no extending
    with_ls = [a if a != "r" else "ls" for a in argv if a != "--no-local-search"] + ["--front-size", "3"]
    assert main(with_ls) == 0
    out = capsys.readouterr().out
    assert "local search:" in out and "final front re-scored on the full dev set" in out
    hv = pd.read_csv(tmp_path / "results" / "ls" / "hypervolume.csv")
    assert hv["stage"].tolist()[:2] == ["evolve", "evolve"] and set(hv["stage"][2:]) == {"local"}
    assert (hv["front_size"][2:] <= 3).all()
    assert yaml.safe_load((tmp_path / "results" / "ls" / "config.yaml").read_text())["front_size"] == 3
    assert main(["search", "--resume", str(tmp_path / "results" / "ls")] + common) == 0  # finished: nothing to do
    assert main(["search", "--resume", str(tmp_path / "results" / "ls"), "--generations", "3"] + common) == 2
    assert "its local-search stage has started" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value, words", [("--front-size", "0", "give at least 1"),
                                                ("--task-timeout", "0", "give a number of seconds above 0")])
def test_search_cli_bad_counts_are_named(flag, value, words, tiny_checkpoint, tmp_path, capsys):
    code = main(["search", "--supernet", str(tiny_checkpoint), "--results", str(tmp_path / "results"), flag, value])
    assert code == 2 and f"{flag} {value}: {words}" in capsys.readouterr().err and not (tmp_path / "results").exists()


def test_search_cli_space_outside_bounds(tiny_checkpoint, tmp_path, capsys):
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"name": "b", "genes": {"bits": {"choices": [2, 8]}}}))
    code = main(["search", "--supernet", str(tiny_checkpoint), "--space", str(space), "--results", str(tmp_path)])
    assert code == 2
    assert "gene 'bits', layer 0: 2 bits, but the supernet was trained for bit widths 4, 8" in capsys.readouterr().err


def test_runs_keep_the_accuracy_arithmetic_they_were_scored_with(tiny_checkpoint, tmp_path):
    """A run made before the int8-engine estimate (no accuracy_arithmetic in config.yaml) goes on in
    float, so that one run never mixes two ways of scoring; an unknown value is named."""
    from evosearch.errors import EvosearchError
    from evosearch.search.context import SearchContext

    run = make_run(tmp_path, tiny_checkpoint, generations=1, population=4)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert SearchContext.of_run(cfg).evaluator.int8_engine is True
    del cfg["accuracy_arithmetic"]
    assert SearchContext.of_run(cfg).evaluator.int8_engine is False
    with pytest.raises(EvosearchError, match="accuracy_arithmetic='int4'; allowed: int8-engine, float"):
        SearchContext.of_run({**cfg, "accuracy_arithmetic": "int4"})


def test_search_cli_threshold_path_is_stored_and_kept_on_resume(tiny_checkpoint, tmp_path, capsys):
    torch.set_num_threads(1)
    common = ["--results", str(tmp_path / "results"), "--no-progress"]
    space = tmp_path / "space.yaml"  # one threshold per exit
    space.write_text(yaml.safe_dump({"name": "p", "genes": {"heads": {"fractions": [0.5, 1.0]},
                                                            "bits": {"choices": [8, 32]},
                                                            "exit_threshold": {"choices": [0.0, 0.3, 0.6]}}}))
    argv = ["search", "--supernet", str(tiny_checkpoint), "--space", str(space), "--objectives", "default",
            "--generations", "2", "--population", "6", "--dev-subset", "25", "--batch-size", "8",
            "--run-name", "t", "--workers", "0", "--no-local-search", "--threshold-path"] + common
    assert main(argv) == 0
    run = tmp_path / "results" / "t"
    assert yaml.safe_load((run / "config.yaml").read_text())["threshold_path"] is True
    assert main(["search", "--resume", str(run), "--generations", "3"] + common) == 0
    assert list(pd.read_csv(run / "hypervolume.csv").generation) == [0, 1, 2]
    # a run made without it refuses the flag on resume, naming it
    assert main([a if a != "t" else "plain" for a in argv if a != "--threshold-path"]) == 0
    assert main(["search", "--resume", str(tmp_path / "results" / "plain"), "--threshold-path"] + common) == 2
    assert "--threshold-path True (the run has False)" in capsys.readouterr().err
