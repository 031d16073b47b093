"""The supernetwork against transformers, against its own extracted models, and its configs."""

import random

import pytest
import torch
from transformers import BertConfig, GPT2Config, GPT2Model

from tests.tiny_models import HF_MODELS, TINY, batch, save_tiny
from evosearch.supernet import (
    LayerConfig,
    ModelLoadError,
    SubnetConfig,
    SubnetConfigError,
    extract,
    load_pretrained,
    supernet_from_hf,
)

def random_config(arch, rng, quant="int"):
    return SubnetConfig(
        tuple(
            LayerConfig(
                heads=rng.randint(1, arch.heads_of_layer(i)),
                ffn=rng.randint(1, arch.ffn_of_layer(i)),
                bits=rng.choice([2, 4, 8, 16, 32]),
                span=rng.choice([None, 1, 4, 10]),
                sparsity=rng.choice([0.0, 0.0, 0.3, 0.75]),
            )
            for i in range(arch.num_layers)
        ),
        embedding_bits=rng.choice([4, 8, 32]),
        quant=quant,
        embedding_sparsity=rng.choice([0.0, 0.4, 0.6]),
    )


@pytest.mark.parametrize("name", HF_MODELS)
def test_full_supernet_equals_transformers(name):
    torch.manual_seed(0)
    hf = HF_MODELS[name]().eval()
    supernet = supernet_from_hf(hf).eval()
    ids, mask, types = batch()
    expected = hf(input_ids=ids, attention_mask=mask, token_type_ids=types)
    hidden = supernet.hidden_states(ids, mask, types)
    assert len(hidden) == hf.config.num_hidden_layers * getattr(hf.config, "inner_group_num", 1)
    torch.testing.assert_close(hidden[-1], expected.last_hidden_state, atol=1e-5, rtol=0)
    torch.testing.assert_close(supernet.ramps[-1].pool(hidden[-1]), expected.pooler_output, atol=1e-5, rtol=0)


def test_albert_virtual_layers_share_blocks():
    hf = HF_MODELS["albert-two-groups-two-inner"]()
    arch = supernet_from_hf(hf).arch
    assert arch.num_blocks == 4 and arch.num_layers == 8
    assert arch.block_of_layer == (0, 1, 0, 1, 2, 3, 2, 3)


@pytest.mark.parametrize("name", HF_MODELS)
@pytest.mark.parametrize("quant", ["int", "adaptivfloat"])
@pytest.mark.parametrize("pruning", ["magnitude", "movement"])
def test_sliced_equals_masked_reference_and_extracted(name, quant, pruning):
    torch.manual_seed(1)
    supernet = supernet_from_hf(HF_MODELS[name](), pruning=pruning).eval()
    with torch.no_grad():
        for scores in supernet.movement_scores():  # learned scores, unlike the weights' magnitudes
            scores.normal_()
    rng = random.Random(name + quant)
    ids, mask, types = batch(seed=3)
    for _ in range(4):
        config = random_config(supernet.arch, rng, quant)
        sliced = supernet(ids, mask, types, config=config)
        masked = supernet(ids, mask, types, config=config, masked=True)
        extracted = extract(supernet, config).eval()
        torch.testing.assert_close(sliced, masked, atol=1e-5, rtol=0)
        torch.testing.assert_close(extracted(ids, mask, types), sliced, atol=1e-5, rtol=0)
        n_params = sum(p.numel() for p in extracted.blocks.parameters())
        assert n_params <= sum(p.numel() for p in supernet.blocks.parameters()) * supernet.arch.num_layers


def test_shared_albert_layers_slice_differently_and_extract_shrinks():
    torch.manual_seed(2)
    supernet = supernet_from_hf(HF_MODELS["albert-one-group-E!=H"]()).eval()
    ids, mask, types = batch()
    config = SubnetConfig((LayerConfig(4, 48), LayerConfig(1, 5), LayerConfig(2, 20, bits=4), LayerConfig(1, 5)))
    uniform = SubnetConfig((LayerConfig(1, 5),) * 4)
    assert not torch.allclose(supernet(ids, mask, types, config=config), supernet(ids, mask, types, config=uniform))
    extracted = extract(supernet, config)
    # layers 1 and 3 keep the same shape of the same shared block, so they keep sharing it
    assert extracted.arch.block_of_layer == (0, 1, 2, 1)
    assert extracted.blocks[1].query.weight.shape == (8, 32)
    assert extracted.blocks[1].ffn_in.weight.shape == (5, 32)


def test_sparsity_zeroes_that_fraction_of_each_sliced_row():
    supernet = supernet_from_hf(HF_MODELS["bert"]())
    weights = supernet.blocks[0].sliced_weights(LayerConfig(heads=2, ffn=20, sparsity=0.75), "int")
    assert weights.ffn_in.shape == (20, 32) and (weights.ffn_in == 0).sum(dim=1).eq(24).all()
    assert weights.attention_out.shape == (32, 16) and (weights.attention_out == 0).sum(dim=1).eq(12).all()
    kept = weights.ffn_in[0] != 0
    dropped_max = supernet.blocks[0].ffn_in.weight[0][~kept].abs().max()
    assert supernet.blocks[0].ffn_in.weight[0][kept].abs().min() >= dropped_max


@pytest.mark.parametrize("name", HF_MODELS)
@pytest.mark.parametrize("bits", [8, 32])
def test_embedding_pruning_keeps_sliced_equal_to_extracted(name, bits):
    """Embedding pruning (EdgeBERT): each table keeps the round((1 - s) n) largest magnitudes of the
    whole table, the sliced forward sees it, and the extracted model has the zeros baked in."""
    from evosearch.specs.embedding import TABLES, kept_entries

    torch.manual_seed(4)
    supernet = supernet_from_hf(HF_MODELS[name]()).eval()
    ids, mask, types = batch(seed=5)
    base = SubnetConfig.uniform(supernet.arch, 0.75, bits=8, embedding_bits=bits)
    pruned = SubnetConfig.uniform(supernet.arch, 0.75, bits=8, embedding_bits=bits, embedding_sparsity=0.6)
    extracted = extract(supernet, pruned).eval()
    for table in TABLES:
        original = getattr(supernet.embeddings, table).weight
        ours = getattr(extracted.embeddings, table).weight
        kept = ours != 0
        assert int(kept.sum()) == kept_entries(original.numel(), 0.6)
        assert original[kept].abs().min() >= original[~kept].abs().max()  # one threshold for the whole table
    sliced = supernet(ids, mask, types, config=pruned)
    torch.testing.assert_close(extracted(ids, mask, types), sliced, atol=1e-5, rtol=0)
    torch.testing.assert_close(supernet(ids, mask, types, config=pruned, masked=True), sliced, atol=1e-5, rtol=0)
    assert not torch.allclose(sliced, supernet(ids, mask, types, config=base))


def test_embedding_thresholds_follow_the_weights():
    """The cached per-table threshold is recomputed when a table changes (an optimizer step)."""
    supernet = supernet_from_hf(HF_MODELS["bert"]()).eval()
    first = supernet.embeddings.prune_thresholds(0.6)
    assert supernet.embeddings.prune_thresholds(0.6)[0] is first[0]  # cached
    assert supernet.embeddings.prune_thresholds(0.0) is None
    with torch.no_grad():
        supernet.embeddings.word.weight.mul_(2.0)
    again = supernet.embeddings.prune_thresholds(0.6)
    torch.testing.assert_close(again[0], 2 * first[0])
    torch.testing.assert_close(again[1], first[1])


def test_embedding_pruning_passes_gradients_to_kept_entries_only():
    supernet = supernet_from_hf(HF_MODELS["bert"]()).train()
    ids, mask, types = batch()
    config = SubnetConfig.largest(supernet.arch).__class__(SubnetConfig.largest(supernet.arch).layers,
                                                           embedding_sparsity=0.6)
    supernet(ids, mask, types, config=config).sum().backward()
    grad = supernet.embeddings.word.weight.grad
    kept = supernet.embeddings.pruned_table("word", 0.6) != 0
    assert grad[~kept].abs().max() == 0 and grad[kept].abs().max() > 0


def test_largest_config_is_default_and_equals_no_config():
    supernet = supernet_from_hf(HF_MODELS["bert"]()).eval()
    ids, mask, types = batch()
    largest = SubnetConfig.largest(supernet.arch)
    torch.testing.assert_close(supernet(ids, mask, types), supernet(ids, mask, types, config=largest))


def test_gradients_reach_shared_weights_through_quantization():
    supernet = supernet_from_hf(HF_MODELS["albert-one-group-E!=H"]()).train()
    ids, mask, types = batch()
    config = SubnetConfig.uniform(supernet.arch, 0.5, bits=4, span=3, embedding_bits=8)
    supernet(ids, mask, types, config=config).sum().backward()
    block = supernet.blocks[0]
    assert block.query.weight.grad[:16].abs().sum() > 0  # kept heads learn (straight-through)
    assert block.query.weight.grad[16:].abs().sum() == 0  # sliced-away heads get nothing
    assert supernet.embeddings.word.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "layers, field",
    [
        ([LayerConfig(5, 48)] * 4, "layer 0: heads=5; allowed: an integer in [1, 4]"),
        ([LayerConfig(4, 48)] * 3 + [LayerConfig(4, 0)], "layer 3: ffn=0; allowed: an integer in [1, 48]"),
        ([LayerConfig(4, 48), LayerConfig(4, 48, bits=3.5)] + [LayerConfig(4, 48)] * 2, "layer 1: bits=3.5; allowed: 2, 3"),
        ([LayerConfig(4, 48)] * 2 + [LayerConfig(4, 48, span=0), LayerConfig(4, 48)], "layer 2: span=0; allowed: an integer in [1, 64]"),
        ([LayerConfig(4, 48)] * 3, "the config has 3 layers; this model has 4 virtual layers"),
        ([LayerConfig(4, 48, sparsity=1.0)] * 4, "layer 0: sparsity=1.0; allowed: a fraction in [0, 1)"),
    ],
)
def test_out_of_bounds_config_names_layer_field_and_range(layers, field):
    supernet = supernet_from_hf(HF_MODELS["albert-one-group-E!=H"]())
    ids, mask, types = batch()
    with pytest.raises(SubnetConfigError) as err:
        supernet(ids, mask, types, config=SubnetConfig(tuple(layers)))
    assert field in str(err.value)


def test_bad_embedding_bits_and_scheme():
    arch = supernet_from_hf(HF_MODELS["bert"]()).arch
    for bad in (1.0, -0.1, "0.6", True):
        with pytest.raises(SubnetConfigError, match=f"embedding_sparsity={bad!r}; allowed: a fraction in \\[0, 1\\)"):
            SubnetConfig(SubnetConfig.largest(arch).layers, embedding_sparsity=bad).validate(arch)
    with pytest.raises(SubnetConfigError, match="embedding_bits=12; allowed: 2, 3, 4"):
        SubnetConfig.largest(arch).__class__(SubnetConfig.largest(arch).layers, embedding_bits=12).validate(arch)
    with pytest.raises(SubnetConfigError, match="quant='fp8'; allowed: int, adaptivfloat"):
        SubnetConfig(SubnetConfig.largest(arch).layers, quant="fp8").validate(arch)


def test_config_dict_round_trip():
    arch = supernet_from_hf(HF_MODELS["bert"]()).arch
    config = random_config(arch, random.Random(5), "adaptivfloat")
    assert SubnetConfig.from_dict(config.to_dict()) == config
    with pytest.raises(SubnetConfigError, match="needs 'layers'"):
        SubnetConfig.from_dict({"layer": []})
    old = {k: v for k, v in config.to_dict().items() if k != "embedding_sparsity"}  # written before the gene
    assert SubnetConfig.from_dict(old).embedding_sparsity == 0.0


@pytest.mark.parametrize("name", ["albert-one-group-E!=H", "bert"])
def test_load_pretrained_from_local_folder(tmp_path, name):
    torch.manual_seed(0)
    hf = HF_MODELS[name]().eval()
    folder = save_tiny(tmp_path, hf)
    supernet, tokenizer = load_pretrained(folder, num_labels=3)
    encoded = tokenizer(["w1 w2 w3", "w4"], padding=True, return_tensors="pt")
    logits = supernet.eval()(encoded["input_ids"], encoded["attention_mask"])
    assert logits.shape == (supernet.arch.num_layers, 2, 3)
    expected = hf(**encoded).last_hidden_state
    torch.testing.assert_close(supernet.hidden_states(encoded["input_ids"], encoded["attention_mask"])[-1], expected, atol=1e-5, rtol=0)


def test_sequence_classification_checkpoint_keeps_its_head(tmp_path):
    from transformers import BertForSequenceClassification

    torch.manual_seed(0)
    hf = BertForSequenceClassification(BertConfig(num_hidden_layers=2, num_labels=3, **TINY)).eval()
    supernet, _ = load_pretrained(save_tiny(tmp_path, hf))
    ids, mask, types = batch()
    torch.testing.assert_close(
        supernet.eval()(ids, mask, types)[-1], hf(input_ids=ids, attention_mask=mask, token_type_ids=types).logits, atol=1e-5, rtol=0
    )
    with pytest.raises(ModelLoadError, match="classification head with 3 labels, but the task has 2"):
        load_pretrained(tmp_path / "model", num_labels=2)


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(ModelLoadError, match="cannot read a model config"):
        load_pretrained(tmp_path / "does-not-exist")
    folder = tmp_path / "gpt2"
    GPT2Model(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50)).save_pretrained(folder)
    with pytest.raises(ModelLoadError, match="'gpt2' checkpoint; evosearch supports ALBERT and BERT"):
        load_pretrained(folder)


def test_embedded_default_loads():
    supernet, tokenizer = load_pretrained(num_labels=2)
    assert supernet.arch.model_type == "bert" and supernet.arch.num_layers == 6 and supernet.arch.hidden_size == 384
    encoded = tokenizer(["a gripping, beautifully shot film"], return_tensors="pt")
    assert supernet.eval()(**{k: encoded[k] for k in ("input_ids", "attention_mask")}).shape == (6, 1, 2)


def test_mean_pooled_exits_ignore_padding_and_survive_extraction():
    torch.manual_seed(3)
    supernet = supernet_from_hf(HF_MODELS["albert-one-group-E!=H"](), pooling="mean").eval()
    ids, _, _ = batch(size=1, length=12)
    padded = torch.cat([ids, torch.zeros(1, 7, dtype=torch.long)], dim=1)
    mask = torch.cat([torch.ones(1, 12, dtype=torch.long), torch.zeros(1, 7, dtype=torch.long)], dim=1)
    torch.testing.assert_close(supernet(padded, mask), supernet(ids), atol=1e-5, rtol=0)
    config = random_config(supernet.arch, random.Random(9))
    torch.testing.assert_close(extract(supernet, config).eval()(padded, mask), supernet(padded, mask, config=config), atol=1e-5, rtol=0)


def test_pooling_follows_the_checkpoint(tmp_path):
    import json

    folder = save_tiny(tmp_path, HF_MODELS["bert"]())
    assert load_pretrained(folder, num_labels=2)[0].arch.pooling == "cls"
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}))
    assert load_pretrained(folder, num_labels=2)[0].arch.pooling == "mean"
    assert load_pretrained(folder, num_labels=2, pooling="cls")[0].arch.pooling == "cls"
