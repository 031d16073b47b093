"""export -> load_deployed -> verify, bit-width storage, and the transformers (hf/) path."""

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np

import pytest
import torch

import evosearch
from evosearch.cli import main
from evosearch.deploy import DeployError, Deployment, export, fits_hf, load_deployed
from evosearch.deploy.codec import decode, encode
from evosearch.supernet import LayerConfig, SubnetConfig, collect_exit_logits, early_exit, extract
from evosearch.supernet.quantize import quantize_rows, quantize_weight
from evosearch.training import load_checkpoint

from .tiny_runs import LEARNED_SPANS, make_checkpoint, make_run


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import os

    tmp = tmp_path_factory.mktemp("export")
    old = os.environ.get("EVOSEARCH_CACHE")
    os.environ["EVOSEARCH_CACHE"] = str(tmp / "cache")
    torch.set_num_threads(1)
    try:
        yield tmp, make_checkpoint(tmp, pooling="mean")
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


@pytest.mark.parametrize("scheme, bits", [("int", 8), ("int", 3), ("adaptivfloat", 8), ("int", 32)])
def test_pruned_tables_are_stored_as_a_mask_and_the_kept_codes(scheme, bits):
    w = torch.randn(12, 20, generator=torch.Generator().manual_seed(bits)) * 0.05
    keep = w.abs() >= w.abs().flatten().kthvalue(w.numel() - 96 + 1).values  # 96 of 240 kept (sparsity 0.6)
    stored = encode(w, bits, scheme, True, keep)
    pruned = torch.where(keep, w, torch.zeros_like(w))
    assert torch.equal(decode(stored), quantize_rows(pruned, bits, scheme))
    assert stored["mask"].nbytes == math.ceil(w.numel() / 8)
    kept_bytes = stored["values"].nbytes if bits == 32 else stored["codes"].nbytes
    assert kept_bytes == math.ceil(96 * bits / 8)  # only the kept entries, at `bits` bits


MIXED = SubnetConfig((LayerConfig(2, 24, 8, span=4), LayerConfig(4, 12, 4), LayerConfig(3, 48, 32)),
                     embedding_bits=8, quant="int")
ROOT = Path(__file__).resolve().parents[1]
DROPS_HEADS = SubnetConfig((LayerConfig(2, 24, 8), LayerConfig(4, 12, 4), LayerConfig(3, 48, 32)), embedding_bits=8)


def _dev(tmp, ckpt):
    import pandas as pd

    texts = pd.read_csv(tmp / "task" / "validation.csv")["text"].tolist()
    enc = ckpt.tokenizer(texts, padding=True, return_tensors="pt")
    batch = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
             "token_type_ids": enc["token_type_ids"], "labels": torch.zeros(len(texts), dtype=torch.long)}
    return texts, batch


def _thresholds(logits, exits: int = 2) -> list[float]:
    """A threshold per early exit that sends 10-90% of the sentences out there and lies in the widest
    gap between their entropies (no sentence sits on a threshold, where float noise could decide)."""
    from evosearch.supernet import exit_entropy

    out = []
    for entropies in exit_entropy(logits[:exits]):
        v = entropies.sort().values
        n = len(v)
        i = max(range(int(0.1 * n), int(0.9 * n)), key=lambda k: float(v[k + 1] - v[k]))
        assert float(v[i + 1] - v[i]) > 1e-5
        out.append(float(v[i] + v[i + 1]) / 2)
    return out


def _supernet_predictions(ckpt, config, texts, thresholds, int8_engine=True):
    """The supernet's early-exit predictions, one sentence at a time (as deployed)."""
    preds, exits = [], []
    for text in texts:
        enc = ckpt.tokenizer([text], return_tensors="pt")
        logits, _ = collect_exit_logits(ckpt.supernet, [{**enc, "labels": torch.zeros(1, dtype=torch.long)}], config,
                                        int8_engine=int8_engine)
        p, e = early_exit(logits, thresholds)
        preds.append(int(p[0]))
        exits.append(int(e[0]))
    return preds, exits


@pytest.mark.parametrize("quant, embedding_sparsity", [("int", 0.0), ("adaptivfloat", 0.0), ("int", 0.6),
                                                        ("adaptivfloat", 0.4)])
def test_float_onnx_export_equals_supernet(setup, tmp_path, quant, embedding_sparsity):
    """Sliced supernet = extracted = exported (compact weights and ONNX), with embedding pruning too."""
    tmp, ckpt_dir = setup
    ckpt = load_checkpoint(ckpt_dir)
    config = SubnetConfig(MIXED.layers, MIXED.embedding_bits, quant, embedding_sparsity)

    texts, batch = _dev(tmp, ckpt)
    logits, _ = collect_exit_logits(ckpt.supernet, [batch], config, int8_engine=False)
    thresholds = _thresholds(logits)  # 10-90% leave at each early exit
    out = export(Deployment(config, thresholds, ckpt_dir), tmp_path / "dep", int8=False)
    desc = json.loads((out / "model.json").read_text())
    assert desc["storage_notes"] == []  # every quantized tensor stored as codes
    stored = {k: v for k, v in desc["tensors"].items() if v["format"] != "float32"}
    assert "blocks.0.query.weight" in stored and "embeddings.word.weight" in stored
    assert "blocks.2.query.weight" not in stored  # the 32-bit layer stays float
    assert desc["hf"]["exported"] is False and "pool with 'mean'" in desc["hf"]["reason"]
    assert desc["onnx"] == {"segments": 3, "int8_segments": 0}
    model = evosearch.load_deployed(out)
    # the compact weights are exactly the extracted sub-network's
    reference = extract(ckpt.supernet, config).state_dict()
    for k, v in model.torch_model().state_dict().items():
        assert torch.equal(v, reference[k]), k
    # ONNX Runtime, one sentence at a time with early exit, equals the supernet
    labels, exits = model.predict(texts)
    assert (labels, exits) == _supernet_predictions(ckpt, config, texts, thresholds, int8_engine=False)
    assert 0 < sum(e < 2 for e in exits) < len(exits)  # some inputs exit early, some run to the end
    # padded batches of several sentences give the same answers
    assert model.predict(texts, batch_size=16) == (labels, exits)
    one = model.predict("good film")
    assert len(one[0]) == 1 and 0 <= one[1][0] <= 2
    pruning = desc["embedding_pruning"]
    if not embedding_sparsity:
        assert pruning is None and "mask" not in json.dumps(desc["tensors"]["embeddings.word.weight"])
        return
    # the compact file stores each pruned table as presence bits + the kept codes: what model_size_bytes counts
    from evosearch.hardware import model_size_bytes
    from evosearch.specs.embedding import kept_entries, table_shapes

    arch = ckpt.supernet.arch
    assert pruning["sparsity"] == embedding_sparsity
    for name, (rows, width) in table_shapes(arch).items():
        n, kept = rows * width, kept_entries(rows * width, embedding_sparsity)
        assert pruning["kept_entries"][name] == kept
        scales = rows * 4  # float32 scales (int) or int32 exponent biases (adaptivfloat), one per row
        assert pruning["stored_bytes"][name] == math.ceil(n / 8) + math.ceil(kept * 8 / 8) + scales
    dense = export(Deployment(replace(config, embedding_sparsity=0.0), thresholds, ckpt_dir), tmp_path / "dense",
                   int8=False)
    predicted = model_size_bytes(arch, config) - model_size_bytes(arch, replace(config, embedding_sparsity=0.0))
    stored = lambda d: sum(t["bytes"] for t in json.loads((d / "model.json").read_text())["tensors"].values())  # noqa: E731
    assert stored(out) - stored(dense) == pytest.approx(predicted, abs=3)  # up to the byte rounding of 3 masks
    on_disk = (out / "weights.safetensors").stat().st_size - (dense / "weights.safetensors").stat().st_size
    assert predicted < on_disk < predicted + 3 * 100  # plus three more entries in the safetensors header
    # ONNX keeps dense tables: pruning changes their values, not the graphs' size
    onnx_bytes = lambda d: sum(p.stat().st_size for p in (d / "onnx").glob("*.onnx"))  # noqa: E731
    assert abs(onnx_bytes(out) - onnx_bytes(dense)) < 0.01 * onnx_bytes(dense)


def test_readme_onnx_example_runs_the_int8_export(setup, tmp_path):
    """The README's runner (onnxruntime and the tokenizer only) on an int8 export agrees with the supernet."""
    tmp, ckpt_dir = setup
    ckpt = load_checkpoint(ckpt_dir)
    texts, batch = _dev(tmp, ckpt)
    logits, _ = collect_exit_logits(ckpt.supernet, [batch], MIXED)
    thresholds = _thresholds(logits)
    out = export(Deployment(MIXED, thresholds, ckpt_dir), tmp_path / "dep")
    manifest = json.loads((out / "onnx" / "manifest.json").read_text())
    assert [s["int8"] for s in manifest["segments"]] == [True, True, False]  # layers 0, 1 at <= 8 bits; layer 2 float
    readme = (ROOT / "README.md").read_text()
    code = readme.split("<!-- onnx-example:start -->")[1].split("<!-- onnx-example:end -->")[0]
    code = code.strip().removeprefix("```python").removesuffix("```")
    code = code.replace('folder = "results/quickstart/deployed"', f"folder = {str(out)!r}")
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    theirs = [namespace["classify"](t) for t in texts]
    expected = list(zip(*_supernet_predictions(ckpt, MIXED, texts, thresholds)))
    agree = sum(a[0] == b[0] for a, b in zip(theirs, expected)) / len(texts)
    print(f"int8 agreement with the supernet: {agree:.4f} on {len(texts)} sentences")
    assert agree >= 0.995, agree  # the issue's bar for int8 (reported by verify on real runs)
    float_out = export(Deployment(MIXED, thresholds, ckpt_dir), tmp_path / "float", int8=False)
    namespace = {}
    exec(compile(code.replace(repr(str(out)), repr(str(float_out))), "README.md", "exec"), namespace)
    expected_float = list(zip(*_supernet_predictions(ckpt, MIXED, texts, thresholds, int8_engine=False)))
    assert [namespace["classify"](t) for t in texts] == expected_float  # float32: exactly the supernet's answers


@pytest.mark.parametrize("model_type, embedding_sparsity", [("bert", 0.0), ("albert", 0.0), ("albert-groups", 0.0),
                                                             ("bert", 0.6), ("albert", 0.6)])
def test_hf_save_pretrained_matches_final_exit(tmp_path, model_type, embedding_sparsity):
    from transformers import AutoModelForSequenceClassification

    ckpt_dir = make_checkpoint(tmp_path / "m", model_type=model_type)
    ckpt = load_checkpoint(ckpt_dir)
    L = ckpt.supernet.arch.num_layers
    config = SubnetConfig.uniform(ckpt.supernet.arch, 1.0, embedding_sparsity=embedding_sparsity).with_layers(ffn=24)
    out = export(Deployment(config, [0.0] * (L - 1), ckpt_dir), tmp_path / "dep")
    hf_desc = json.loads((out / "model.json").read_text())["hf"]
    assert hf_desc["exported"] is True and ("pruned" in hf_desc["note"]) == bool(embedding_sparsity)
    hf = AutoModelForSequenceClassification.from_pretrained(out / "hf").eval()
    assert hf.config.intermediate_size == 24 and hf.config.model_type == model_type.split("-")[0]
    model = load_deployed(out)
    enc = model.tokenize(["good film", "the plot was boring and bad", "fun"], tensors="pt")
    with torch.no_grad():
        theirs = hf(**enc).logits.numpy()
    ours = model.exit_logits(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])[-1]
    assert np.allclose(theirs, ours, atol=1e-5)
    # ... and both are the sliced supernet's final exit
    with torch.no_grad():
        sliced = ckpt.supernet.eval()(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"], config=config)[-1]
    assert np.allclose(sliced.numpy(), ours, atol=1e-5)
    zero = float((hf.get_input_embeddings().weight == 0).float().mean())  # the padding row is zero anyway
    assert zero == pytest.approx(embedding_sparsity, abs=0.02) if embedding_sparsity else zero < 0.05


def test_albert_with_per_layer_bits_gets_a_message_not_an_exception(tmp_path):
    ckpt_dir = make_checkpoint(tmp_path / "m", model_type="albert-groups")
    arch = load_checkpoint(ckpt_dir).supernet.arch
    config = SubnetConfig.uniform(arch, 1.0)
    config = SubnetConfig(tuple(replace_bits(l, 8 if i == 0 else 32) for i, l in enumerate(config.layers)))
    ok, why = fits_hf(config, arch)
    assert not ok and "share weights" in why
    out = export(Deployment(config, [0.0] * (arch.num_layers - 1), ckpt_dir), tmp_path / "dep")
    assert json.loads((out / "model.json").read_text())["hf"] == {"exported": False, "reason": why}
    assert not (out / "hf").exists() and (out / "onnx" / "manifest.json").is_file()


def test_learned_spans_get_no_hf_copy(tmp_path):
    """transformers has no span mask: on a supernet with learned spans, a sub-network that fits hf/
    in every other way (first-token exits, all heads, one FFN width) gets none, and says why."""
    ckpt_dir = make_checkpoint(tmp_path / "m", learned_spans=LEARNED_SPANS)
    arch = load_checkpoint(ckpt_dir).supernet.arch
    config = SubnetConfig.uniform(arch, 1.0)
    ok, why = fits_hf(config, arch)
    assert not ok and "learned attention spans" in why
    assert fits_hf(config, replace(arch, learned_span_max=None)) == (True, "")
    out = export(Deployment(config, [0.0] * (arch.num_layers - 1), ckpt_dir), tmp_path / "dep", int8=False)
    assert json.loads((out / "model.json").read_text())["hf"] == {"exported": False, "reason": why}
    assert not (out / "hf").exists()


def replace_bits(layer, bits):
    from dataclasses import replace

    return replace(layer, bits=bits)


def test_failed_export_leaves_nothing_behind(setup, tmp_path, monkeypatch):
    tmp, ckpt_dir = setup
    import sys

    export_module = sys.modules["evosearch.deploy.export"]  # (the package's `export` is the function)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_module, "export_onnx", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        export(Deployment(MIXED, [0.1, 0.1], ckpt_dir), tmp_path / "dep")
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its temporary sibling


def test_overwrite_removes_only_what_the_export_wrote(setup, tmp_path):
    tmp, ckpt_dir = setup
    out = export(Deployment(MIXED, [0.1, 0.1], ckpt_dir), tmp_path / "dep")
    (out / "notes.txt").write_text("mine")
    (out / "mydata").mkdir()
    (out / "mydata" / "keep.csv").write_text("a,b\n")
    with pytest.raises(DeployError, match="exists and is not empty"):
        export(Deployment(MIXED, [0.0, 0.0], ckpt_dir), out)
    export(Deployment(MIXED, [0.0, 0.0], ckpt_dir), out, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine" and (out / "mydata" / "keep.csv").is_file()
    manifest = json.loads((out / "onnx" / "manifest.json").read_text())
    assert len(manifest["segments"]) == 1  # the new export, not a mix: the old segment files are gone
    assert sorted(p.name for p in (out / "onnx").iterdir()) == ["manifest.json", "segment0.onnx"]
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "data.csv").write_text("x")
    with pytest.raises(DeployError, match="not an earlier export"):
        export(Deployment(MIXED, [0.0, 0.0], ckpt_dir), tmp_path / "plain", overwrite=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DeployError, match="is a file"):
        export(Deployment(MIXED, [0.0, 0.0], ckpt_dir), tmp_path / "file")


def test_cli_export_verifies(setup, tmp_path, capsys):
    tmp, ckpt_dir = setup
    run = make_run(tmp_path, ckpt_dir, generations=2, population=8)
    assert main(["pick", str(run), "--knee"]) == 0
    pick_file = next((run / "picks").glob("c*.yaml"))
    capsys.readouterr()
    assert main(["export", str(run), "--pick", str(pick_file), "--out", str(tmp_path / "d"), "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    assert "verification (onnxruntime" in out and "supernet estimate" in out and "predicted" in out
    report = json.loads((tmp_path / "d" / "verification.json").read_text())
    assert report["accuracy_agrees"] and set(report["accuracy"]) == {"validation", "test"}
    for split in report["accuracy"].values():
        assert abs(split["difference_pt"]) <= 0.5 and 0.9 <= split["prediction_agreement"] <= 1
    latency = report["latency"]
    assert latency["measured_ms"] > 0 and latency["predicted_ms"] > 0  # calibrated on first use
    assert report["size"]["weights_bytes"] > 0 and report["size"]["onnx_bytes"] > 0
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


@pytest.mark.parametrize("model_type", ["bert", "albert"])
def test_int8_engine_estimate_is_what_onnx_runtime_computes(tmp_path, model_type):
    """The supernet's int8-engine arithmetic reproduces the int8 export's logits, sentence by
    sentence; its float arithmetic does not. A padded batch gives each sentence's own answer."""
    ckpt_dir = make_checkpoint(tmp_path / "m", model_type=model_type, pooling="mean")
    ckpt = load_checkpoint(ckpt_dir)
    L = ckpt.supernet.arch.num_layers
    bits = ([8, 4, 32] * L)[:L]
    uniform = SubnetConfig.uniform(ckpt.supernet.arch, 0.75, embedding_bits=8)
    config = SubnetConfig(tuple(replace(layer, bits=b) for layer, b in zip(uniform.layers, bits)), embedding_bits=8,
                          embedding_sparsity=0.6 if model_type == "albert" else 0.0)  # pruned tables, int8 projection
    texts, batch = _dev(tmp_path / "m", ckpt)
    out = export(Deployment(config, [0.0] * (L - 1), ckpt_dir), tmp_path / "dep")
    runner = load_deployed(out).runner
    engine_err = float_err = 0.0
    for text in texts[:40]:
        enc = ckpt.tokenizer([text], return_tensors="pt")
        (theirs,) = runner.exit_logits(enc["input_ids"].numpy(), enc["attention_mask"].numpy(),
                                      enc["token_type_ids"].numpy())
        one = [{**enc, "labels": torch.zeros(1, dtype=torch.long)}]
        engine = collect_exit_logits(ckpt.supernet, one, config)[0][-1].numpy()
        plain = collect_exit_logits(ckpt.supernet, one, config, int8_engine=False)[0][-1].numpy()
        engine_err = max(engine_err, float(np.abs(engine - theirs).max()))
        float_err = max(float_err, float(np.abs(plain - theirs).max()))
    print(f"{model_type}: max |logit difference| to ONNX Runtime int8: engine arithmetic {engine_err:.2e}, "
          f"float {float_err:.2e}")
    assert engine_err < 1e-3 and engine_err < float_err / 20
    padded, _ = collect_exit_logits(ckpt.supernet, [batch], config)
    single = torch.cat([collect_exit_logits(ckpt.supernet, [{**ckpt.tokenizer([t], return_tensors="pt"),
                                                              "labels": torch.zeros(1, dtype=torch.long)}], config)[0]
                        for t in texts], dim=1)
    torch.testing.assert_close(padded, single, atol=1e-4, rtol=1e-4)




@pytest.mark.parametrize("config", [None, DROPS_HEADS], ids=["largest", "drops-heads"])
def test_learned_span_export_equals_supernet(tmp_path, config):
    """On a supernet with learned spans, sliced supernet = extracted = exported (as
    test_float_onnx_export_equals_supernet checks it): the compact weights hold the kept heads'
    spans, and ONNX Runtime runs their masks with the supernet's logits and early-exit answers."""
    ckpt_dir = make_checkpoint(tmp_path / "m", pooling="mean", learned_spans=LEARNED_SPANS)
    ckpt = load_checkpoint(ckpt_dir)
    supernet = ckpt.supernet
    config = config or SubnetConfig.largest(supernet.arch)
    texts, batch = _dev(tmp_path / "m", ckpt)
    inputs = (batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    with torch.no_grad():
        sliced = supernet(*inputs, config=config)
        unlimited = supernet(*inputs, config=config.with_layers(span=64))  # span + ramp beyond every sentence
        extracted = extract(supernet, config).eval()(*inputs)
    assert (sliced - unlimited).abs().max() > 0.05  # the learned masks change the logits (tolerance: 1e-4)
    torch.testing.assert_close(extracted, sliced, atol=1e-5, rtol=0)
    thresholds = _thresholds(collect_exit_logits(supernet, [batch], config, int8_engine=False)[0])
    out = export(Deployment(config, thresholds, ckpt_dir), tmp_path / "float", int8=False)
    model = load_deployed(out)
    spans = {k: v for k, v in model.torch_model().state_dict().items() if k.endswith(".spans")}
    assert [v.tolist() for v in spans.values()] == [s[:layer.heads] for s, layer in zip(LEARNED_SPANS, config.layers)]
    onnx_logits = model.exit_logits(*inputs)
    assert len(onnx_logits) == 3  # one segment per exit
    np.testing.assert_allclose(np.stack(onnx_logits), sliced.numpy(), atol=1e-4, rtol=0)
    labels, exits = model.predict(texts)
    assert (labels, exits) == _supernet_predictions(ckpt, config, texts, thresholds, int8_engine=False)
    assert 0 < sum(e < 2 for e in exits) < len(exits)
