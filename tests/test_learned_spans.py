"""Learned attention spans (adaptive attention span, Sukhbaatar et al., ACL 2019) as a training
option: the mask's gradient in the span, the L1 penalty shrinking spans, options, checkpoints."""

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from evosearch.cli import main
from evosearch.errors import EvosearchError
from evosearch.specs import Architecture
from evosearch.specs.spans import round_up_to_choice
from evosearch.supernet import LayerConfig, SubnetConfig, Supernet, extract, supernet_from_hf
from evosearch.supernet.span import span_bias, span_mask
from evosearch.training import load_checkpoint
from evosearch.training.importance import reorder_by_importance
from evosearch.training.space import TrainingSpace
from evosearch.training.trainer import TrainConfig, Trainer
from tests.tiny_models import TINY_CLASSIFIER, batch


def learned_span_supernet(span_max=16, seed=0) -> Supernet:
    torch.manual_seed(seed)
    hf = BertForSequenceClassification(BertConfig(**TINY_CLASSIFIER))
    return supernet_from_hf(hf, span_ramp=4, learned_span_max=span_max).eval()


def test_mask_gradient_in_the_span_is_nonzero_inside_the_ramp_and_zero_outside():
    ramp, spans = 4.0, torch.tensor([3.5, 0.5], requires_grad=True)
    mask = span_mask(12, spans, ramp)
    assert mask.shape == (2, 12, 12)
    for head, z in enumerate(spans.tolist()):
        for d in range(12):
            (grad,) = torch.autograd.grad(mask[head, 0, d], spans, retain_graph=True)
            inside = z < d < z + ramp
            assert grad[head] == pytest.approx(1 / ramp if inside else 0.0), (head, d)
            assert grad[1 - head] == 0
    bias = span_bias(12, spans, ramp)
    bias[torch.isfinite(bias)].sum().backward()
    assert torch.isfinite(spans.grad).all() and (spans.grad > 0).all()
    # the per-head mask equals the per-layer mask of the same span, and -inf where it is 0
    assert torch.equal(span_bias(12, torch.tensor([3.5]), ramp)[0], span_bias(12, 3.5, ramp))


def test_a_learned_span_supernet_runs_the_spans_of_the_heads_it_keeps_and_fixed_spans_override_them():
    supernet = learned_span_supernet()
    assert [s.tolist() for s in supernet.span_parameters()] == [[16.0] * 4] * 3
    ids, mask, types = batch(size=2, length=10)
    plain = supernet(ids, mask, types, config=SubnetConfig.largest(supernet.arch).with_layers(span=60))
    torch.testing.assert_close(supernet(ids, mask, types), plain)  # spans of max_length cover every sentence
    with torch.no_grad():
        for spans in supernet.span_parameters():
            spans.copy_(torch.tensor([1.0, 2.0, 1.0, 2.0]))
    narrow = supernet(ids, mask, types)
    assert not torch.allclose(narrow, plain)
    # two heads of span 1 and 2, rounded up: span 2 for every head is not the learned network
    fixed = SubnetConfig.largest(supernet.arch).with_layers(span=2)
    assert not torch.allclose(supernet(ids, mask, types, config=fixed), narrow)
    pick = SubnetConfig((LayerConfig(1, 24), LayerConfig(4, 48), LayerConfig(3, 12, span=4)))
    torch.testing.assert_close(extract(supernet, pick).eval()(ids, mask, types), supernet(ids, mask, types, config=pick),
                               atol=1e-5, rtol=0)
    assert supernet.learned_layer_spans() == [2, 2, 2]
    assert supernet.learned_layer_spans(choices=(None, 8, 3)) == [3, 3, 3]


def test_the_task_gradient_grows_short_spans_and_the_penalty_shrinks_them():
    """Spans learned to reproduce the last hidden states of the same network with unlimited
    attention (a target that needs long-range attention) grow from 2 tokens; with a large penalty
    they shrink (only the spans train here)."""

    def train_spans(penalty):
        supernet = learned_span_supernet()
        for spans in supernet.span_parameters():
            spans.data.fill_(2.0)
        ids, mask, types = batch(size=4, length=16)
        unlimited = SubnetConfig.largest(supernet.arch).with_layers(span=60)
        target = supernet.hidden_states(ids, mask, types, config=unlimited)[-1].detach()
        optimizer = torch.optim.Adam(supernet.span_parameters(), lr=0.2)
        for _ in range(30):
            optimizer.zero_grad()
            loss = ((supernet.hidden_states(ids, mask, types)[-1] - target) ** 2).mean()
            (loss + penalty * supernet.span_penalty()).backward()
            optimizer.step()
            supernet.clamp_learned_spans()
        return [s for layer in supernet.learned_spans() for s in layer]

    assert min(train_spans(0.0)) > 5
    assert max(train_spans(100.0)) < 1


@pytest.mark.usefixtures("private_cache")
def test_learned_spans_shrink_under_the_penalty(tmp_path, tiny_model, tiny_task):
    def trained(penalty, name):
        config = TrainConfig(model=tiny_model, task=tiny_task, output=str(tmp_path / name), max_length=16,
                             batch_size=16, epochs=5.0, importance_warmup=2, importance_batches=2,
                             checkpoint_every=100, eval_batch_size=32, learning_rate=1e-3, span_mode="learned",
                             span_penalty=penalty, span_learning_rate=0.5)
        trainer = Trainer(config)
        assert trainer.space.spans == (None,)  # no span is sampled
        spans = trainer.supernet.span_parameters()
        assert len(spans) == 3 and all(s.tolist() == [16.0] * 4 for s in spans)
        decayed = {id(p) for g in trainer.optimizer.param_groups if g["weight_decay"] > 0 for p in g["params"]}
        assert not decayed & {id(s) for s in spans}
        trainer.train(progress=False)
        assert trainer.step == 30
        return trainer

    penalised = trained(10.0, "penalised")
    mean = penalised.supernet.span_penalty().item() * 16
    # 16 tokens at first; Adam moves them about 0.5 tokens per step under the warm-up and decay of the rate
    assert all(0 <= s < 12 for layer in penalised.supernet.learned_spans() for s in layer), mean
    log = (tmp_path / "penalised" / "train_log.csv").read_text().splitlines()
    assert log[0].endswith("loss_span,mean_span") and float(log[-1].split(",")[-1]) == pytest.approx(mean, abs=1e-3)
    # without the penalty nothing pulls the spans in: at 16 tokens the mask covers every sentence
    assert trained(0.0, "free").supernet.span_penalty().item() == 1.0

    folder = penalised.save_supernet(penalised.evaluate(), 1.0)
    ckpt = load_checkpoint(folder)
    assert ckpt.supernet.arch.learned_span_max == 16
    assert ckpt.meta["train_config"]["span_mode"] == "learned" and ckpt.bounds["spans"] == [None]
    assert ckpt.supernet.learned_spans() == penalised.supernet.learned_spans()
    ids, mask, types = batch(size=4, length=12)
    ids = ids % 40 + 5
    torch.testing.assert_close(ckpt.supernet(ids, mask, types), penalised.supernet.eval()(ids, mask, types),
                               atol=0, rtol=0)
    from evosearch.deploy import Deployment, export, load_deployed

    pick = SubnetConfig((LayerConfig(2, 24), LayerConfig(4, 48), LayerConfig(3, 12, span=4)), embedding_bits=32)
    deployed = load_deployed(export(Deployment(pick, [0.0] * 3, folder), tmp_path / "deployed", int8=False))
    torch.testing.assert_close(deployed.torch_model()(ids, mask, types), ckpt.supernet(ids, mask, types, config=pick),
                               atol=1e-5, rtol=0)


def test_reorder_by_importance_moves_learned_spans_with_their_heads():
    supernet = learned_span_supernet()
    with torch.no_grad():
        for spans in supernet.span_parameters():
            spans.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    heads = [torch.tensor([0.1, 0.4, 0.3, 0.2])] * 3
    reorder_by_importance(supernet, heads, [torch.zeros(48)] * 3)
    assert supernet.learned_spans() == [[2.0, 3.0, 4.0, 1.0]] * 3


def test_round_up_to_choice():
    assert round_up_to_choice(5, (None, 8, 4)) == 8
    assert round_up_to_choice(4, (None, 8, 4)) == 4
    assert round_up_to_choice(9, (None, 8, 4)) is None
    with pytest.raises(ValueError, match="exceeds every choice"):
        round_up_to_choice(9, (8, 4))


def test_span_options_are_checked_with_clear_errors(tmp_path, capsys):
    with pytest.raises(EvosearchError, match="span_mode='adaptive'; allowed: sampled, learned"):
        TrainConfig(span_mode="adaptive")
    with pytest.raises(EvosearchError, match="span_penalty=-1; allowed: a number >= 0"):
        TrainConfig(span_mode="learned", span_penalty=-1)
    with pytest.raises(EvosearchError, match="span_learning_rate=0; allowed: a number > 0"):
        TrainConfig(span_mode="learned", span_learning_rate=0)
    with pytest.raises(EvosearchError, match=r"span_penalty=0.5 needs span_mode='learned' \(span_mode='sampled'\)"):
        TrainConfig(span_penalty=0.5)
    with pytest.raises(EvosearchError, match=r"span_mode='learned' learns the spans .*\(spans=\[None, 4\]\)"):
        TrainConfig(span_mode="learned", space=TrainingSpace(spans=(None, 4)))
    with pytest.raises(EvosearchError, match=r"give no spans or span_fractions \(span_fractions=\[0.5\]\)"):
        TrainConfig(span_mode="learned", space=TrainingSpace(span_fractions=(0.5,)))
    with pytest.raises(ValueError, match="learned_span_max=0; allowed: null or an integer >= 1"):
        Architecture.from_dict({**learned_span_supernet().arch.to_dict(), "learned_span_max": 0})
    learned = TrainConfig(span_mode="learned", span_penalty=0.1)
    assert TrainConfig.from_dict(learned.to_dict()) == learned  # as a checkpoint's train_config reads back
    bad = tmp_path / "bad.yaml"
    bad.write_text("span_mode: Learned\n")
    assert main(["train", "--config", str(bad), "--output", str(tmp_path / "x")]) == 2
    assert "span_mode='Learned'; allowed: sampled, learned" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--span-mode", "adaptive", "--output", str(tmp_path / "y")])
    assert "--span-mode: invalid choice: 'adaptive'" in capsys.readouterr().err
    assert main(["train", "--span-penalty", "0.1", "--output", str(tmp_path / "z")]) == 2
    assert "span_penalty=0.1 needs span_mode='learned'" in capsys.readouterr().err


def test_old_architectures_have_no_learned_spans():
    data = learned_span_supernet().arch.to_dict()
    del data["learned_span_max"]
    assert Architecture.from_dict(data).learned_span_max is None


def test_the_search_prices_learned_spans_per_layer_and_scores_accuracy_with_the_learned_masks():
    from evosearch.search import Evaluator, ObjectiveSet, SearchSpace
    from tests.tiny_models import SMALL, tiny_batches

    supernet = learned_span_supernet()
    with torch.no_grad():
        for spans in supernet.span_parameters():
            spans.copy_(torch.tensor([1.0, 2.5, 3.0, 0.0]))
    bound = SearchSpace.from_dict(SMALL).bind(supernet.arch)
    evaluator = Evaluator(supernet, tiny_batches(), bound, ObjectiveSet.from_dict({"objectives": ["error", "macs"]}))
    config = SubnetConfig((LayerConfig(2, 48), LayerConfig(4, 48), LayerConfig(4, 48, span=8)))
    priced = supernet.with_learned_spans(config)
    assert [layer.span for layer in priced.layers] == [3, 3, 8]  # the largest of the kept heads' spans, rounded up
    assert supernet.learned_layer_spans() == [3, 3, 3]
    metrics, _ = evaluator.metrics(config, [0.0] * 3)
    wide, _ = evaluator.metrics(config.with_layers(span=64), [0.0] * 3)  # span + ramp beyond every sentence
    assert metrics["macs"] == evaluator.metrics(priced, [0.0] * 3)[0]["macs"] < wide["macs"]


def test_a_search_space_with_integer_spans_is_refused_for_learned_spans():
    from evosearch.errors import EvosearchError as Error
    from evosearch.search import SearchSpace
    from tests.tiny_models import SMALL

    arch = learned_span_supernet().arch
    with pytest.raises(Error, match=r"gene 'span', layer 0: span 4, but the supernet learned its spans .*give the "
                                    r"gene only null"):
        SearchSpace.from_dict({**SMALL, "genes": {**SMALL["genes"], "span": {"choices": [None, 4]}}}).bind(arch)
    SearchSpace.from_dict({**SMALL, "genes": {**SMALL["genes"], "span": {"choices": [None]}}}).bind(arch)
