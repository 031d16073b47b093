"""CPU latency measurement, the int8 inference model, the latency predictor and `evosearch calibrate`.

Tiny random models only; no assertion depends on how fast anything runs.
"""

from __future__ import annotations

import json
import random

import pytest
import torch
from transformers import AlbertConfig, AlbertModel, BertConfig, BertModel

from evosearch.cli import main
from evosearch.supernet import LayerConfig, SubnetConfig, extract, supernet_from_hf
from evosearch.latency import (
    LatencyError,
    LatencyPredictor,
    calibrate,
    default_predictor_path,
    inference_model,
    load_predictor,
    measure_interleaved,
    measure_latency,
    measure_subnet,
    random_subnet,
    spearman,
    validate,
)

TINY = dict(vocab_size=60, hidden_size=32, num_attention_heads=4, intermediate_size=48, max_position_embeddings=64)
SMALL_GRID = dict(heads_grid=[1, 2, 4], ffn_grid=[1, 24, 48], repeats=2, warmup=1, rounds=1,
                  calibration_subnets=8, calibration_rounds=2)


def tiny_bert(layers=3, seed=0):
    torch.manual_seed(seed)
    return supernet_from_hf(BertModel(BertConfig(num_hidden_layers=layers, **TINY))).eval()


def tiny_albert(seed=0):
    torch.manual_seed(seed)
    return supernet_from_hf(AlbertModel(AlbertConfig(embedding_size=16, num_hidden_layers=4, **TINY))).eval()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EVOSEARCH_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def fitted():
    supernet = tiny_bert()
    return supernet, calibrate(supernet, threads=1, **SMALL_GRID)


def test_measure_latency_records_settings():
    supernet = tiny_bert()
    model = extract(supernet, SubnetConfig.uniform(supernet.arch, 0.5))
    threads_before = torch.get_num_threads()
    result = measure_latency(model, batch_size=2, seq_len=8, repeats=7, warmup=2, threads=1)
    assert result.median_ms > 0 and result.min_ms > 0
    assert result.min_ms <= result.q1_ms <= result.median_ms <= result.q3_ms
    assert result.iqr_ms >= 0
    assert (result.repeats, result.warmup, result.batch_size, result.seq_len, result.threads) == (7, 2, 2, 8, 1)
    assert len(result.samples_ms) == 7 and result.int8 is False
    assert torch.get_num_threads() == threads_before  # threads restored
    assert set(result.to_dict()) >= {"median_ms", "iqr_ms", "threads", "batch_size", "seq_len"}


def test_measure_rejects_bad_requests():
    supernet = tiny_bert()
    with pytest.raises(LatencyError, match="repeats"):
        measure_latency(supernet, repeats=0)
    with pytest.raises(LatencyError, match="exceeds"):
        measure_latency(supernet, seq_len=65)


def test_measure_subnet_measures_int8_only_for_low_bit_layers():
    supernet = tiny_bert()
    float_only = measure_subnet(supernet, SubnetConfig.largest(supernet.arch), repeats=3, warmup=1, seq_len=8)
    assert float_only.int8 is None and float_only.best is float_only.fp32
    mixed = SubnetConfig.largest(supernet.arch)
    mixed = SubnetConfig((LayerConfig(4, 48, 8),) + mixed.layers[1:])
    both = measure_subnet(supernet, mixed, repeats=3, warmup=1, seq_len=8)
    assert both.int8 is not None and both.int8.int8 and not both.fp32.int8
    assert both.best.median_ms == min(both.fp32.median_ms, both.int8.median_ms)
    assert both.int8_speedup > 0


def test_measure_interleaved_gives_two_independent_halves():
    supernet = tiny_bert()
    models = [inference_model(supernet, SubnetConfig.uniform(supernet.arch, f)) for f in (0.25, 1.0)]
    every, even, odd = measure_interleaved(models, seq_len=8, rounds=4, repeats=2, warmup=1, threads=1)
    assert [m.repeats for m in every] == [8, 8] and [m.repeats for m in even] == [4, 4] == [m.repeats for m in odd]


@pytest.mark.parametrize("make", [tiny_bert, tiny_albert], ids=["bert", "albert"])
def test_inference_model_equals_extracted_model(make):
    supernet = make()
    rng = random.Random(3)
    ids = torch.randint(1, 60, (3, 12))
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    for _ in range(3):
        config = random_subnet(supernet.arch, rng, bits=(4, 8, 32), spans=(None, 3, 8), min_ffn=1)
        with torch.no_grad():
            expected = extract(supernet, config).eval()(ids, mask)
            got = inference_model(supernet, config)(ids, mask)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_int8_dynamic_model_agrees_with_float():
    torch.manual_seed(0)
    supernet = supernet_from_hf(BertModel(BertConfig(num_hidden_layers=2, **{**TINY, "num_labels": 4}))).eval()
    config = SubnetConfig.uniform(supernet.arch, 1.0, bits=8)
    float_model = inference_model(supernet, config)
    int8_model = inference_model(supernet, config, int8=True)
    assert int8_model.int8_layers == (True, True)
    assert isinstance(int8_model.blocks[0].ffn_in, torch.ao.nn.quantized.dynamic.Linear)
    ids = torch.randint(1, 60, (64, 10))
    with torch.no_grad():
        a, b = float_model(ids)[-1], int8_model(ids)[-1]
    agree = (a.argmax(-1) == b.argmax(-1)).float().mean().item()
    assert agree >= 0.9, agree
    assert (a - b).abs().max() < 0.1 * a.abs().max() + 0.05


def test_int8_flags_are_checked_against_bits():
    supernet = tiny_bert()
    config = SubnetConfig.largest(supernet.arch)  # all 32-bit
    with pytest.raises(LatencyError, match="layer 0 runs at 32 bits"):
        inference_model(supernet, config, int8=[True, False, False])
    assert inference_model(supernet, config, int8=True).int8_layers == (False, False, False)


def test_predictor_orders_big_above_small_and_round_trips(fitted, tmp_path):
    supernet, predictor = fitted
    arch = supernet.arch
    full = SubnetConfig.largest(arch)
    small = SubnetConfig.uniform(arch, 0.25)
    assert predictor.predict(full) >= predictor.predict(small) > 0
    assert predictor.raw_ms(full) >= predictor.raw_ms(small)
    exits = predictor.predict_exits(full)
    assert exits == sorted(exits) and exits[-1] == pytest.approx(predictor.predict(full))
    for method in ("table", "regression"):
        assert predictor.predict(full, method=method) > 0
    path = predictor.save(tmp_path / "p.json")
    loaded = LatencyPredictor.load(path, arch)
    rng = random.Random(1)
    for config in [full, small] + [random_subnet(arch, rng, min_ffn=1) for _ in range(5)]:
        for method in ("table", "regression"):
            assert loaded.predict(config, method=method) == predictor.predict(config, method=method)
        assert loaded.int8_plan(config) == predictor.int8_plan(config)


def test_predictor_table_is_monotone(fitted):
    _, predictor = fitted
    for kind, table in predictor.tables.items():
        for i in range(len(table)):
            for j in range(len(table[i])):
                assert i == 0 or table[i][j] >= table[i - 1][j]
                assert j == 0 or table[i][j] >= table[i][j - 1]
    assert predictor.block_ms(3, 30) <= predictor.block_ms(4, 48)


def test_predictor_refuses_another_architecture(fitted, tmp_path):
    _, predictor = fitted
    path = predictor.save(tmp_path / "p.json")
    other = tiny_bert(layers=2)
    with pytest.raises(LatencyError, match=r"block_of_layer: calibrated \[0, 1, 2\], model \[0, 1\]"):
        LatencyPredictor.load(path, other.arch)
    wider = supernet_from_hf(BertModel(BertConfig(num_hidden_layers=3, **{**TINY, "intermediate_size": 64})))
    with pytest.raises(LatencyError, match="block_ffn"):
        LatencyPredictor.load(path, wider.arch)
    with pytest.raises(LatencyError, match="calibrated for 3"):
        predictor.predict(SubnetConfig.largest(other.arch))


def test_load_predictor_from_cache(fitted):
    supernet, predictor = fitted
    with pytest.raises(LatencyError, match="evosearch calibrate"):
        load_predictor(supernet.arch, threads=1)
    path = predictor.save(default_predictor_path(supernet.arch, 1, 32, 1))
    assert "latency" in str(path.parent) and str(path).startswith(str(path.parents[1]))
    loaded = load_predictor(supernet.arch, threads=1)
    assert loaded.predict(SubnetConfig.largest(supernet.arch)) == predictor.predict(SubnetConfig.largest(supernet.arch))
    with pytest.raises(LatencyError, match="sequence length 32"):
        load_predictor(supernet.arch, seq_len=16, threads=1, path=path)


def test_validate_reports_mape_spearman_and_noise(fitted):
    supernet, predictor = fitted
    result = validate(predictor, supernet, 4, repeats=2, warmup=1, rounds=2)
    assert len(result.measured_ms) == len(result.predicted_ms) == 4
    assert result.mape >= 0 and result.noise_mape >= 0
    data = result.to_dict()
    assert data["n"] == 4 and len(data["configs"]) == 4


def test_spearman():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 2, 3], [1, 2, 2, 3]) == pytest.approx(1.0)


def save_tiny(tmp_path):
    from transformers import BertForSequenceClassification, BertTokenizerFast

    torch.manual_seed(0)
    folder = tmp_path / "model"
    folder.mkdir()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(55)]
    (folder / "vocab.txt").write_text("\n".join(vocab))
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    BertForSequenceClassification(BertConfig(num_hidden_layers=2, **TINY)).save_pretrained(folder)
    return folder


def test_calibrate_cli_end_to_end(tmp_path, capsys):
    folder = save_tiny(tmp_path)
    out = tmp_path / "predictor.json"
    code = main([
        "calibrate", "--model", str(folder), "--seq-len", "8", "--threads", "1", "--out", str(out),
        "--validate", "4", "--repeats", "2", "--calibration-subnets", "8",
    ])
    assert code == 0
    text = capsys.readouterr().out
    assert "MAPE" in text and "Spearman" in text and str(out) in text
    data = json.loads(out.read_text())
    assert data["seq_len"] == 8 and data["machine"]["threads"] == 1
    assert (tmp_path / "predictor.validation.json").is_file()
    predictor = LatencyPredictor.load(out)
    assert predictor.predict(SubnetConfig(tuple(LayerConfig(4, 48) for _ in range(2)))) > 0


def test_calibrate_cli_default_path_and_errors(tmp_path, capsys):
    folder = save_tiny(tmp_path)
    assert main(["calibrate", "--model", str(folder), "--seq-len", "8", "--threads", "1", "--repeats", "1",
                 "--calibration-subnets", "8"]) == 0
    saved = list((tmp_path / "cache" / "latency").glob("*.json"))
    assert len(saved) == 1
    assert main(["calibrate", "--model", str(folder), "--seq-len", "1000"]) == 2
    assert "exceeds" in capsys.readouterr().err
