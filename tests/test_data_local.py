"""Local files, `datasets` loading (on a local folder, offline) and the errors of load_task."""

import json

import datasets
import pandas as pd
import pytest

from evosearch.data import DataError, load_task
from evosearch.data.hub import load_hub_task
from evosearch.data.load import parse_hub_spec

ROWS = {
    "review": [f"review number {i} was {'good' if i % 2 else 'bad'}" for i in range(40)],
    "stars": [f"{'pos' if i % 2 else 'neg'}" for i in range(40)],
    "score": [i / 10 for i in range(40)],
    "other": list(range(40)),
}


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("EVOSEARCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf"))


@pytest.mark.parametrize("suffix", ["csv", "tsv", "json", "jsonl", "parquet"])
def test_local_file_formats_and_string_labels(tmp_path, suffix):
    frame = pd.DataFrame(ROWS)
    path = tmp_path / f"data.{suffix}"
    if suffix == "csv":
        frame.to_csv(path, index=False)
    elif suffix == "tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif suffix == "json":
        frame.to_json(path, orient="records")
    elif suffix == "jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path)
    splits, info = load_task(str(path), seed=0, text_columns=["review"], label_column="stars")
    assert (info.num_labels, info.label_names, info.is_regression) == (2, ("neg", "pos"), False)
    assert [len(splits[k]) for k in ("train", "validation", "test")] == [32, 4, 4]
    assert splits["train"].column_names == ["text", "label"]
    for split in splits.values():
        for text, label in zip(split["text"], split["label"]):
            assert label == ("good" in text)


def test_local_regression_and_whole_float_classes(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame(ROWS).assign(whole=[float(i % 3) for i in range(40)]).to_csv(path, index=False)
    splits, info = load_task(str(path), text_columns=["review"], label_column="score", regression=True)
    assert info.is_regression and info.num_labels == 1
    assert splits["test"].features["label"].dtype == "float32"
    splits, info = load_task(str(path), text_columns=["review"], label_column="whole")
    assert info.num_labels == 3 and info.label_names == ("0", "1", "2")


def test_sentence_pairs_guessed_and_folder_of_splits(tmp_path):
    pair = {"sentence1": ["a b", "c d", "e f", "g h"] * 5, "sentence2": ["x", "y", "z", "w"] * 5, "label": [0, 1, 1, 0] * 5}
    folder = tmp_path / "pairs"
    folder.mkdir()
    pd.DataFrame(pair).to_csv(folder / "train.csv", index=False)
    pd.DataFrame(pair).head(6).to_json(folder / "dev.jsonl", orient="records", lines=True)
    splits, info = load_task(str(folder), seed=0)
    assert info.text_columns == ("text", "text_pair") and info.is_pair
    assert splits["train"].column_names == ["text", "text_pair", "label"]
    assert len(splits["train"]) == 20 and len(splits["validation"]) + len(splits["test"]) == 6


def test_csv_keeps_na_text(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\nNA,1\nnull,0\nok,1\n,0\nfine,1\n")
    splits, _ = load_task(str(path))
    texts = sorted(t for s in splits.values() for t in s["text"])
    assert texts == ["", "NA", "fine", "null", "ok"]


def test_missing_column_names_it_and_lists_columns(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame(ROWS).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"missing column\(s\) 'sentence'.*columns present: review, stars, score, other"):
        load_task(str(path), text_columns=["sentence"], label_column="stars")
    with pytest.raises(DataError, match=r"missing column\(s\) 'label'"):
        load_task(str(path), text_columns=["review"])
    with pytest.raises(DataError, match="cannot tell which column holds the text.*review, stars"):
        load_task(str(path), label_column="stars")


def test_empty_split_and_too_few_rows(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "train.csv").write_text("text,label\na,0\nb,1\n")
    (folder / "test.csv").write_text("text,label\n")
    with pytest.raises(DataError, match="split\\(s\\) test have no rows"):
        load_task(str(folder))
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("text,label\na,0\nb,1\n")
    with pytest.raises(DataError, match="too few rows \\(2\\)"):
        load_task(str(tiny))


@pytest.mark.parametrize(
    ("labels", "regression", "message"),
    [
        (["pos", "neg"] * 5, True, "regression task needs numeric labels.*text"),
        ([0.5, 1.5] * 5, False, "whole numbers.*0.5.*regression=True"),
        ([-2, 1] * 5, False, "ids >= 0"),
        ([0] * 10, False, "at least two classes"),
        ([0, None] * 5, False, "5 row\\(s\\) of split 'train' have no label"),
    ],
)
def test_wrong_label_types(tmp_path, labels, regression, message):
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"text": f"t{i}", "label": v} for i, v in enumerate(labels)]))
    with pytest.raises(DataError, match=message):
        load_task(str(path), regression=regression)


def test_unreadable_and_missing_files(tmp_path):
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(DataError, match="could not read"):
        load_task(str(broken))
    with pytest.raises(DataError, match="does not exist"):
        load_task(str(tmp_path / "nope.csv"))


def test_unknown_task_lists_builtin_tasks():
    with pytest.raises(DataError, match="unknown task 'movie-polarty'.*movie-polarity, tweet-polarity.*Did you mean 'movie-polarity'"):
        load_task("movie-polarty")
    with pytest.raises(DataError, match="unknown task 'what is this\\?'.*nyt-rating"):
        load_task("what is this?")
    with pytest.raises(DataError, match="fixed columns"):
        load_task("movie-polarity", text_columns=["x"])


def test_parse_hub_spec():
    assert parse_hub_spec("glue/sst2") == ("glue", "sst2")
    assert parse_hub_spec("imdb") == ("imdb", None)
    assert parse_hub_spec("nyu-mll/glue/mnli") == ("nyu-mll/glue", "mnli")
    assert parse_hub_spec("stanfordnlp/imdb:") == ("stanfordnlp/imdb", None)
    assert parse_hub_spec("owner/name:cfg") == ("owner/name", "cfg")


def _glue_folder(tmp_path):
    """A local copy of GLUE's layout (folder named ``glue`` with configs), loadable offline."""
    root = tmp_path / "glue"
    (root / "sst2").mkdir(parents=True)
    (root / "stsb").mkdir()
    pd.DataFrame({"sentence": [f"s{i}" for i in range(10)], "label": [i % 2 for i in range(10)], "idx": range(10)}).to_csv(root / "sst2/train.csv", index=False)
    pd.DataFrame({"sentence": [f"v{i}" for i in range(6)], "label": [i % 2 for i in range(6)], "idx": range(6)}).to_csv(root / "sst2/validation.csv", index=False)
    pd.DataFrame({"sentence": ["t0", "t1"], "label": [-1, -1], "idx": [0, 1]}).to_csv(root / "sst2/test.csv", index=False)
    stsb = pd.DataFrame({"sentence1": [f"a{i}" for i in range(8)], "sentence2": [f"b{i}" for i in range(8)], "label": [i * 0.6 for i in range(8)]})
    stsb.to_csv(root / "stsb/train.csv", index=False)
    stsb.head(4).to_csv(root / "stsb/validation.csv", index=False)
    configs = "".join(
        f"- config_name: {cfg}\n  data_files:\n" + "".join(f"  - split: {s}\n    path: {cfg}/{s}.csv\n" for s in splits)
        for cfg, splits in [("sst2", ["train", "validation", "test"]), ("stsb", ["train", "validation"])]
    )
    (root / "README.md").write_text(f"---\nconfigs:\n{configs}---\n")
    return root


def test_hub_loader_on_local_glue_copy(tmp_path):
    root = _glue_folder(tmp_path)
    splits, info = load_hub_task(str(root), "sst2", seed=0)
    assert (info.num_labels, info.is_regression, info.text_columns) == (2, False, ("text",))
    # GLUE's unlabelled test split is dropped; validation is halved into validation and test.
    assert [len(splits[k]) for k in ("train", "validation", "test")] == [10, 3, 3]
    assert set(splits["test"]["text"]) <= {f"v{i}" for i in range(6)}
    splits, info = load_hub_task(str(root), "stsb", seed=0)
    assert info.is_regression and info.is_pair and info.num_labels == 1
    with pytest.raises(DataError, match="GLUE config 'sts' is not supported.*stsb"):
        load_hub_task(str(root), "sts")
    with pytest.raises(DataError, match="missing column\\(s\\) 'question'"):
        load_hub_task(str(root), "sst2", text_columns=["question"])


def test_hub_failure_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="(?s)could not load dataset .*unreachable"):
        load_hub_task(str(tmp_path / "no-such-folder" / "glue"), "sst2")
