"""The CPU latency model of the ONNX deployment: its arithmetic, calibration, caching and `evosearch calibrate`.

Tiny random models only; no assertion depends on how fast anything runs.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel

from evosearch.cli import main
from evosearch.latency import (
    LatencyError,
    LatencyModel,
    calibrate,
    ensure_latency_model,
    predictor_path,
    random_subnet,
    segments,
    spearman,
    validate,
)
from evosearch.latency.machine import arch_shape
from evosearch.latency.model import FEATURES, segment_features
from evosearch.supernet import LayerConfig, SubnetConfig, supernet_from_hf

TINY = dict(vocab_size=60, hidden_size=32, num_attention_heads=4, intermediate_size=48, max_position_embeddings=64)


def tiny_bert(layers=3, seed=0):
    torch.manual_seed(seed)
    return supernet_from_hf(BertModel(BertConfig(num_hidden_layers=layers, **TINY))).eval()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EVOSEARCH_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def fitted():
    supernet = tiny_bert()
    return supernet, calibrate(supernet, threads=1, budget_s=0.0, min_subnets=6, repeats=2, lengths=(4, 12, 24))


def test_segments_end_at_active_exits():
    assert segments([0.0, 0.0], 3) == [(0, 2)]
    assert segments([0.2, 0.0, 0.1], 4) == [(0, 0), (1, 2), (3, 3)]
    assert segments([0.5, 0.5], 3) == [(0, 0), (1, 1), (2, 2)]


def test_prediction_follows_layers_lengths_and_exits():
    """The model adds one segment call per exit passed and each layer's cost at the sentence's length."""
    supernet = tiny_bert()
    coefficients = np.zeros(len(FEATURES))
    coefficients[FEATURES.index("call")] = 0.1
    coefficients[FEATURES.index("fp32:T*ffn")] = 0.001
    coefficients[FEATURES.index("int8:T*ffn")] = 0.0005
    model = LatencyModel(arch_shape(supernet.arch), {"threads": 1}, coefficients.tolist())
    config = SubnetConfig((LayerConfig(4, 48, 32), LayerConfig(4, 24, 8), LayerConfig(4, 48, 32)))
    # no early exit: one call; 10 tokens: 0.001 * 10 * (48 + 48) + 0.0005 * 10 * 24
    assert model.sentence_ms(config, [0.0, 0.0], 10) == pytest.approx(0.1 + 0.96 + 0.12)
    # exits after layers 0 and 1 active; a sentence leaving after layer 0 pays one call and layer 0
    assert model.sentence_ms(config, [0.3, 0.3], 10, exit_layer=0) == pytest.approx(0.1 + 0.48)
    assert model.sentence_ms(config, [0.3, 0.3], 10, exit_layer=2) == pytest.approx(0.3 + 0.96 + 0.12)
    # the expectation is the mean over sentences at their own lengths and exits
    expected = model.expected_ms(config, [0.3, 0.3], [10, 20], [0, 2])
    assert expected == pytest.approx((model.sentence_ms(config, [0.3, 0.3], 10, 0)
                                      + model.sentence_ms(config, [0.3, 0.3], 20, 2)) / 2)
    f = segment_features(config.layers[:2], 10, first=True)
    assert f[FEATURES.index("embed")] == 1 and f[FEATURES.index("int8:1")] == 1 and f[FEATURES.index("fp32:1")] == 1


def test_calibration_fits_and_validates(fitted):
    supernet, model = fitted
    assert model.machine["threads"] == 1 and model.calibration["subnets"] == 6
    assert all(c >= 0 for c in model.coefficients)  # non-negative least squares
    assert model.calibration["fit_mape_percent"] < 100
    result = validate(model, supernet, n=3, sentences=6, repeats=2)
    assert len(result.measured_ms) == 3 and all(m > 0 for m in result.measured_ms)
    assert all(p > 0 for p in result.predicted_ms) and result.noise_mape >= 0
    assert set(result.to_dict()) >= {"mape_percent", "spearman", "noise_mape_percent"}


def test_calibration_scales_times_to_its_median_speed(fitted):
    """A reference deployment is timed between sub-networks; the calibration keeps its median time
    and how much it varied."""
    supernet, model = fitted
    assert model.calibration["reference_ms"] > 0 and model.calibration["reference_spread_percent"] >= 0


def test_model_save_load_and_arch_check(fitted, tmp_path):
    supernet, model = fitted
    path = model.save(tmp_path / "m.json")
    again = LatencyModel.load(path, supernet.arch)
    config = random_subnet(supernet.arch, random.Random(1))
    assert again.expected_ms(config, [0.0, 0.0], [8, 16]) == model.expected_ms(config, [0.0, 0.0], [8, 16])
    with pytest.raises(LatencyError, match="calibrated for another architecture.*block_ffn"):
        LatencyModel.load(path, tiny_bert(layers=2).arch)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(LatencyError, match="cannot read the latency model"):
        LatencyModel.load(tmp_path / "bad.json")
    with pytest.raises(LatencyError, match="no latency model at"):
        LatencyModel.load(tmp_path / "missing.json")


def test_ensure_calibrates_once_per_thread_count_and_caches():
    supernet = tiny_bert(layers=2)
    said = []
    first = ensure_latency_model(supernet, threads=1, budget_s=0.0, announce=said.append)
    assert said and "calibrating" in said[0] and predictor_path(supernet.arch, 1).is_file()
    again = ensure_latency_model(supernet, threads=1, announce=said.append)
    assert len(said) == 1 and again.coefficients == first.coefficients  # from the cache
    assert predictor_path(supernet.arch, 2) != predictor_path(supernet.arch, 1)


def test_spearman_handles_ties_and_constants():
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_cli_calibrate_and_validate(tmp_path, capsys):
    from tests.tiny_runs import make_checkpoint

    ckpt = make_checkpoint(tmp_path / "m")
    out = tmp_path / "model.json"
    assert main(["calibrate", "--supernet", str(ckpt), "--budget", "0.01", "--out", str(out), "--validate", "3"]) == 0
    printed = capsys.readouterr().out
    assert "saved latency model" in printed and "MAPE" in printed and "noise floor" in printed
    assert json.loads(out.read_text())["kind"] == "evosearch-onnx-latency-model"
    assert json.loads(out.with_name("model.validation.json").read_text())["n"] == 3
    assert main(["calibrate", "--supernet", str(ckpt), "--threads", "0"]) == 2
    assert "--threads 0" in capsys.readouterr().err


def test_time_exits_runs_exactly_the_segments_up_to_each_exit(tmp_path):
    """Calibration times sentences that leave at a chosen exit: the runner's own early-exit path runs
    the segments up to it (each exit before it tested, not taken) and no further, and the
    deployment's thresholds are left as they were."""
    from evosearch.deploy.onnx import OnnxRunner, export_onnx
    from evosearch.latency import random_sentence, time_exits
    from evosearch.supernet import extract

    supernet = tiny_bert(layers=3)
    config = SubnetConfig.largest(supernet.arch)
    export_onnx(extract(supernet, config).eval(), config, [0.5, 0.5], tmp_path, max_length=None)
    runner = OnnxRunner(tmp_path)
    before = json.dumps(runner.manifest)
    calls = []

    class Counted:  # the real session, its calls recorded
        def __init__(self, k, session):
            self.k, self.session = k, session

        def run(self, *args):
            calls.append(self.k)
            return self.session.run(*args)

    runner.sessions = [Counted(k, s) for k, s in enumerate(runner.sessions)]
    sentence = random_sentence(60, 7, np.random.default_rng(0))
    for leave in range(3):
        calls.clear()
        assert time_exits(runner, [(sentence, leave)], repeats=2, warmup=1)[0] > 0
        assert calls == list(range(leave + 1)) * 3  # warm-up and two timed runs, each through segments 0..leave
    assert json.dumps(runner.manifest) == before
