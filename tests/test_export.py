"""export -> load_deployed -> verify, bit-width storage, and the transformers (hf/) path."""

import json
import math

import pytest
import torch

import evosearch
from evosearch.cli import main
from evosearch.deploy import DeployError, Deployment, export, load_deployed
from evosearch.deploy.codec import decode, encode
from evosearch.supernet import LayerConfig, SubnetConfig, collect_exit_logits, early_exit, extract
from evosearch.supernet.quantize import quantize_rows, quantize_weight
from evosearch.training import load_checkpoint

from .test_report_fixtures import make_checkpoint, make_run


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import os

    tmp = tmp_path_factory.mktemp("export")
    old = os.environ.get("EVOSEARCH_CACHE")
    os.environ["EVOSEARCH_CACHE"] = str(tmp / "cache")
    torch.set_num_threads(1)
    try:
        yield tmp, make_checkpoint(tmp)
    finally:
        if old is None:
            os.environ.pop("EVOSEARCH_CACHE", None)
        else:
            os.environ["EVOSEARCH_CACHE"] = old


@pytest.mark.parametrize("scheme, bits", [("int", b) for b in (2, 3, 4, 5, 8, 16)] + [
    ("adaptivfloat", b) for b in (4, 6, 8, 16)])
@pytest.mark.parametrize("per_row", [False, True])
def test_codes_dequantize_to_the_fake_quantized_weights(scheme, bits, per_row):
    w = torch.randn(12, 20, generator=torch.Generator().manual_seed(bits)) * 0.05
    w[3, 4] = 0.0
    stored = encode(w, bits, scheme, per_row)
    expected = quantize_rows(w, bits, scheme) if per_row else quantize_weight(w, bits, scheme)
    assert torch.equal(decode(stored), expected)
    assert stored["codes"].nbytes == math.ceil(w.numel() * bits / 8)  # really stored at `bits` bits


MIXED = SubnetConfig((LayerConfig(2, 24, 8, span=4), LayerConfig(4, 12, 4), LayerConfig(3, 48, 32)),
                     embedding_bits=8, quant="int")


@pytest.mark.parametrize("quant", ["int", "adaptivfloat"])
def test_export_load_predict_equals_supernet(setup, tmp_path, quant):
    tmp, ckpt_dir = setup
    ckpt = load_checkpoint(ckpt_dir)
    config = SubnetConfig(MIXED.layers, MIXED.embedding_bits, quant)
    import pandas as pd

    from evosearch.supernet import exit_entropy

    texts = pd.read_csv(tmp / "task" / "validation.csv")["text"].tolist()
    enc = ckpt.tokenizer(texts, padding=True, return_tensors="pt")
    batch = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
             "token_type_ids": enc["token_type_ids"], "labels": torch.zeros(len(texts), dtype=torch.long)}
    logits, _ = collect_exit_logits(ckpt.supernet, [batch], config)
    thresholds = exit_entropy(logits[:2]).quantile(0.4, dim=1).tolist()  # ~40% leave at each early exit
    out = export(Deployment(config, thresholds, ckpt_dir), tmp_path / "dep")
    desc = json.loads((out / "model.json").read_text())
    assert desc["storage_notes"] == []  # every quantized tensor stored as codes
    stored = {k: v for k, v in desc["tensors"].items() if v["format"] != "float32"}
    assert "blocks.0.query.weight" in stored and "embeddings.word.weight" in stored
    assert "blocks.2.query.weight" not in stored  # the 32-bit layer stays float
    assert desc["hf"]["exported"] is False and "heads" in desc["hf"]["reason"]
    model = evosearch.load_deployed(out)
    # the stored weights are exactly the extracted sub-network's
    reference = extract(ckpt.supernet, config).state_dict()
    for k, v in model.model.state_dict().items():
        assert torch.equal(v, reference[k]), k
    # early-exit predictions on raw texts (batches of 16, exited inputs dropped) equal the supernet's
    labels, exits = model.predict(texts, batch_size=16)
    preds, exit_layer = early_exit(logits, thresholds)
    assert labels == preds.tolist() and exits == exit_layer.tolist()
    assert 0 < sum(e < 2 for e in exits) < len(exits)  # some inputs exit early, some run to the end
    one = model.predict("good film")
    assert len(one[0]) == 1 and 0 <= one[1][0] <= 2


@pytest.mark.parametrize("model_type", ["bert", "albert"])
def test_hf_save_pretrained_matches_final_exit(tmp_path, model_type):
    from transformers import AutoModelForSequenceClassification

    ckpt_dir = make_checkpoint(tmp_path / "m", model_type=model_type)
    ckpt = load_checkpoint(ckpt_dir)
    config = SubnetConfig.uniform(ckpt.supernet.arch, 1.0).with_layers(ffn=24)
    out = export(Deployment(config, [0.0, 0.0], ckpt_dir), tmp_path / "dep")
    assert json.loads((out / "model.json").read_text())["hf"]["exported"] is True
    hf = AutoModelForSequenceClassification.from_pretrained(out / "hf").eval()
    assert hf.config.intermediate_size == 24 and hf.config.model_type == model_type
    model = load_deployed(out)
    enc = model.tokenize(["good film", "the plot was boring and bad", "fun"])
    with torch.no_grad():
        theirs = hf(**enc).logits
    ours = model.exit_logits(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])[-1]
    assert torch.allclose(theirs, ours, atol=1e-5)


def test_cli_export_verifies(setup, tmp_path, capsys):
    tmp, ckpt_dir = setup
    run = make_run(tmp_path, ckpt_dir, generations=2, population=8)
    assert main(["pick", str(run), "--knee"]) == 0
    pick_file = next((run / "picks").glob("c*.yaml"))
    capsys.readouterr()
    assert main(["export", str(run), "--pick", str(pick_file), "--out", str(tmp_path / "d"), "--repeats", "3"]) == 0
    out = capsys.readouterr().out
    assert "verification:" in out and "supernet estimate" in out and "measured only" in out
    report = json.loads((tmp_path / "d" / "verification.json").read_text())
    assert report["accuracy_agrees"] and set(report["accuracy"]) == {"validation", "test"}
    for split in report["accuracy"].values():
        assert abs(split["difference_pt"]) <= 0.5
    assert report["latency"]["measured_full_depth_ms"] > 0 and report["latency"]["predicted"] is None
    assert report["size"]["weights_bytes"] > 0
    # by candidate id, refusing to overwrite, then --overwrite
    cid = pick_file.stem
    assert main(["export", str(run), "--pick", cid, "--out", str(tmp_path / "d"), "--no-verify"]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert main(["export", str(run), "--pick", cid, "--out", str(tmp_path / "d"), "--no-latency", "--overwrite"]) == 0
    assert main(["export", str(run), "--pick", "c99999", "--out", str(tmp_path / "e")]) == 2
    assert "no candidate 'c99999'" in capsys.readouterr().err


def test_load_deployed_errors(tmp_path):
    with pytest.raises(DeployError, match="is not an evosearch deployment"):
        load_deployed(tmp_path)
