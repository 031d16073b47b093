"""The run store: flat sub-network columns, Parquet beside the CSV, old runs still readable."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from evosearch.report import load_run
from evosearch.runstore import RunFolderError, RunStore, config_columns, config_from_columns
from evosearch.spaces import SearchSpace
from evosearch.training import load_checkpoint

from .tiny_runs import make_checkpoint, make_run

CONFIG = {"layers": [{"heads": 4, "ffn": 48, "bits": 8, "span": None, "sparsity": 0.0},
                     {"heads": 2, "ffn": 24, "bits": 4, "span": 6, "sparsity": 0.5}],
          "embedding_bits": 16, "quant": "adaptivfloat"}


def test_flat_columns_round_trip_through_a_csv(tmp_path):
    row = {"genome": "0-1", **config_columns(CONFIG, [0.25]), "error": 0.1}
    assert list(row)[1:6] == ["heads_0", "heads_1", "ffn_0", "ffn_1", "bits_0"]
    pd.DataFrame([row]).to_csv(tmp_path / "t.csv", index=False)
    back = pd.read_csv(tmp_path / "t.csv").iloc[0]  # the empty span cell comes back as NaN
    assert config_from_columns(back) == ({**CONFIG, "embedding_sparsity": 0.0}, [0.25])
    pruned = {**CONFIG, "embedding_sparsity": 0.6}
    assert config_from_columns(pd.Series(config_columns(pruned, [0.25]))) == (pruned, [0.25])
    old = back.drop("embedding_sparsity")  # a run written before embedding pruning
    assert config_from_columns(old)[0]["embedding_sparsity"] == 0.0
    with pytest.raises(KeyError, match="heads_0"):
        config_from_columns({"error": 0.1})


def test_rows_fit_a_header_from_before_embedding_pruning():
    from evosearch.runstore.columns import fit_header

    header = [c for c in config_columns(CONFIG, [0.25]) if c != "embedding_sparsity"]
    assert "embedding_sparsity" not in fit_header(config_columns(CONFIG, [0.25]), header)
    with pytest.raises(ValueError, match="embedding_sparsity=0.6 cannot be recorded"):
        fit_header(config_columns({**CONFIG, "embedding_sparsity": 0.6}, [0.25]), header)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("store")
    ckpt = make_checkpoint(tmp / "ckpt")
    return ckpt, make_run(tmp, ckpt, generations=2, population=8, local_search=True)


def test_search_writes_flat_columns_and_parquet_that_agree(finished_run):
    ckpt, folder = finished_run
    csv = pd.read_csv(folder / "candidates.csv", dtype={"genome": str})
    parquet = pd.read_parquet(folder / "candidates.parquet")
    assert len(parquet) == len(csv) and list(parquet.index) == [f"c{i}" for i in range(len(csv))]
    pd.testing.assert_frame_equal(parquet.reset_index(drop=True), csv, check_dtype=False)
    assert "config" not in csv and "thresholds" not in csv
    assert pd.read_parquet(folder / "final_front.parquet")["on_full_front"].isin([0, 1]).all()
    # a user's filter on a per-layer gene selects exactly the genomes that decode to it
    stored = load_checkpoint(ckpt)
    space = SearchSpace.load("small").bind(stored.supernet.arch, stored.bounds)
    decoded = [space.decode([int(g) for g in key.split("-")])[0] for key in csv["genome"]]
    eight = csv.query("bits_0 == 8")
    assert 0 < len(eight) < len(csv) or set(csv["bits_0"]) == {8}
    assert [c.layers[0].bits == 8 for c in decoded] == list(csv["bits_0"] == 8)
    # the report reads the same store: its config of a row is the decoded genome
    run = load_run(folder)
    cid = run.front_ids[0]
    assert config_from_columns(run.candidate(cid))[0] == decoded[int(cid[1:])].to_dict()


def test_runs_written_with_json_config_columns_still_load(finished_run, tmp_path):
    _, folder = finished_run
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.yaml").write_text((folder / "config.yaml").read_text())
    new = pd.read_csv(folder / "candidates.csv", dtype={"genome": str})
    configs = [config_from_columns(r) for _, r in new.iterrows()]
    flat = [c for c in new.columns if c in config_columns(*configs[0])]
    legacy = new.drop(columns=flat)
    legacy.insert(3, "config", [json.dumps(c) for c, _ in configs])
    legacy.insert(4, "thresholds", [json.dumps(t) for _, t in configs])
    legacy.to_csv(old / "candidates.csv", index=False)
    legacy.iloc[:3].to_csv(old / "fronts.csv", index=False)
    back = RunStore(old).read_candidates()
    assert list(back.columns) == list(new.columns)
    assert [config_from_columns(r) for _, r in back.iterrows()] == configs
    # a resume reads it too, and rewrites both files in the flat layout so its new rows fit
    store = RunStore(old)
    records = store.load_records()
    assert len(records) == len(set(new["genome"]))
    upgraded = pd.read_csv(old / "candidates.csv", dtype={"genome": str})
    pd.testing.assert_frame_equal(upgraded, new, check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_csv(old / "fronts.csv", dtype={"genome": str}), new.iloc[:3],
                                  check_dtype=False)
    store.append_candidate(9, "local", next(iter(records.values())))
    assert len(store.read_candidates()) == len(new) + 1


def test_missing_or_empty_runs_are_named(tmp_path):
    with pytest.raises(RunFolderError, match="does not exist"):
        RunStore(tmp_path / "nope").read_config()
    (tmp_path / "config.yaml").write_text("objectives: {objectives: [error]}\n")
    (tmp_path / "candidates.csv").write_text("")
    with pytest.raises(RunFolderError, match="candidates.csv is empty"):
        RunStore(tmp_path).read_candidates()


def test_the_store_imports_no_torch():
    code = "import sys, evosearch.runstore; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
