"""Movement pruning (Sanh et al., NeurIPS 2020) beside magnitude pruning: the straight-through
gradient of the scores, the per-row masks, training, checkpoints, extraction and export."""

from dataclasses import replace

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from evosearch.cli import main
from evosearch.errors import EvosearchError
from evosearch.specs import Architecture
from evosearch.supernet import LayerConfig, SubnetConfig, Supernet, extract, supernet_from_hf
from evosearch.supernet.modules import MATRICES
from evosearch.supernet.pruning import movement_prune
from evosearch.training import load_checkpoint
from evosearch.training.importance import reorder_by_importance
from evosearch.training.space import TrainingSpace
from evosearch.training.trainer import TrainConfig, Trainer
from tests.tiny_models import TINY_CLASSIFIER, batch


def movement_supernet(seed=0) -> Supernet:
    """A tiny BERT with movement scores, random so that every mask is decided (no ties)."""
    torch.manual_seed(seed)
    supernet = supernet_from_hf(BertForSequenceClassification(BertConfig(**TINY_CLASSIFIER)), pruning="movement")
    with torch.no_grad():
        for scores in supernet.movement_scores():
            scores.normal_()
    return supernet.eval()


def test_movement_scores_move_the_mask_in_the_direction_of_the_gradient():
    """One SGD step on the scores: S -= lr * dL/dW' * W. A kept weight whose removal would lower the
    loss loses score, a dropped one whose return would lower it gains score, and the mask flips."""
    weight = torch.ones(1, 4)
    scores = torch.tensor([[0.4, 0.3, 0.2, 0.1]], requires_grad=True)
    pull = torch.tensor([[0.0, 1.0, -1.0, 0.0]])  # loss = W'_1 - W'_2: drop weight 1, keep weight 2

    pruned = movement_prune(weight, scores, 0.5, 4)
    assert pruned.tolist() == [[1.0, 1.0, 0.0, 0.0]]  # the top half of the scores
    loss = (pull * pruned).sum()
    loss.backward()
    torch.testing.assert_close(scores.grad, pull * weight, atol=0, rtol=0)  # dL/dS = dL/dW' * W (STE)
    torch.optim.SGD([scores], lr=0.15).step()
    torch.testing.assert_close(scores.detach(), torch.tensor([[0.4, 0.15, 0.35, 0.1]]))
    after = movement_prune(weight, scores, 0.5, 4)
    assert after.tolist() == [[1.0, 0.0, 1.0, 0.0]]
    assert (pull * after).sum() < loss

    # the sign of the weight matters: a negative weight that the loss pushes further from zero gains score
    negative = torch.tensor([[1.0, 1.0, -1.0, 1.0]])
    scores = torch.tensor([[0.4, 0.3, 0.2, 0.1]], requires_grad=True)
    (torch.tensor([[0.0, 0.0, 1.0, 0.0]]) * movement_prune(negative, scores, 0.5, 4)).sum().backward()
    assert scores.grad[0, 2] == -1.0  # gradient descent raises the score of weight 2


def test_scores_learn_by_the_straight_through_rule_inside_the_supernet():
    """Through a real sliced, sparse, shared forward: after one SGD step on the scores each sliced
    score moved by -lr * (dL/dW') * W, and the scores of dropped heads and neurons did not move."""
    supernet = movement_supernet().train()
    for module in supernet.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    config = SubnetConfig((LayerConfig(2, 20, sparsity=0.5), LayerConfig(4, 48, sparsity=0.8), LayerConfig(3, 30)))
    weights = supernet.subnet_weights(config)
    for layer in weights.layers:
        for name in MATRICES:
            getattr(layer, name).retain_grad()
    ids, mask, types = batch()
    supernet(ids, mask, types, weights=weights)[-1, :, 1].sum().backward()
    before = [{name: scores.detach().clone() for name, scores in block.scores.items()} for block in supernet.blocks]
    optimizer = torch.optim.SGD(supernet.movement_scores(), lr=1e4)  # moves far above the scores' rounding
    optimizer.step()
    for block, block_before, layer_weights, layer in zip(supernet.blocks, before, weights.layers, config.layers):
        for name, (unit, dim) in MATRICES.items():
            kept = layer.heads * 8 if unit == "heads" else layer.ffn
            index = (slice(None, kept), slice(None)) if dim == 0 else (slice(None), slice(None, kept))
            pruned_grad = getattr(layer_weights, name).grad
            full_weight = getattr(block, name).weight.detach()
            moved = block.scores[name].detach() - block_before[name]
            torch.testing.assert_close(moved[index], -1e4 * pruned_grad * full_weight[index], atol=1e-6, rtol=1e-4)
            assert moved.abs().sum() > 0
            untouched = torch.ones_like(moved, dtype=torch.bool)
            untouched[index] = False
            assert not moved[untouched].any()


@pytest.mark.parametrize("sparsity, kept_of_32, kept_of_16", [(0.5, 16, 8), (0.75, 8, 4), (0.8, 6, 3), (0.9, 3, 2)])
def test_movement_mask_keeps_exactly_the_stated_fraction_per_row_by_score(sparsity, kept_of_32, kept_of_16):
    supernet = movement_supernet()
    block = supernet.blocks[0]
    weights = block.sliced_weights(LayerConfig(heads=2, ffn=20, sparsity=sparsity), "int")
    assert weights.ffn_in.shape == (20, 32) and (weights.ffn_in != 0).sum(dim=1).eq(kept_of_32).all()
    assert weights.attention_out.shape == (32, 16) and (weights.attention_out != 0).sum(dim=1).eq(kept_of_16).all()
    # the kept weights are those of the highest scores, not of the largest magnitudes
    scores = block.scores["attention_out"][:, :16].detach()
    for row in range(32):
        kept = weights.attention_out[row] != 0
        assert scores[row][kept].min() > scores[row][~kept].max()
        torch.testing.assert_close(weights.attention_out[row][kept], block.attention_out.weight[row, :16][kept].detach())
    magnitude = supernet_from_hf(BertForSequenceClassification(BertConfig(**TINY_CLASSIFIER)))
    magnitude.load_state_dict({k: v for k, v in supernet.state_dict().items() if ".scores." not in k})
    by_magnitude = magnitude.blocks[0].sliced_weights(LayerConfig(heads=2, ffn=20, sparsity=sparsity), "int")
    assert not torch.equal(by_magnitude.attention_out != 0, weights.attention_out != 0)
    # equal scores (as at initialisation) still keep exactly that many per row
    with torch.no_grad():
        block.scores["ffn_in"].zero_()
    tied = block.sliced_weights(LayerConfig(heads=2, ffn=20, sparsity=sparsity), "int")
    assert (tied.ffn_in != 0).sum(dim=1).eq(kept_of_32).all()


def test_movement_reorder_by_importance_moves_scores_with_their_weights():
    supernet = movement_supernet()
    ids, mask, types = batch()
    sparse = SubnetConfig.largest(supernet.arch).with_layers(sparsity=0.5)
    before = supernet(ids, mask, types, config=sparse)
    generator = torch.Generator().manual_seed(1)
    heads = [torch.rand(4, generator=generator) for _ in supernet.blocks]
    neurons = [torch.rand(48, generator=generator) for _ in supernet.blocks]
    reorder_by_importance(supernet, heads, neurons)
    torch.testing.assert_close(supernet(ids, mask, types, config=sparse), before, atol=1e-5, rtol=0)


def test_movement_checkpoint_architecture_and_extracted_model_carry_no_surprises():
    supernet = movement_supernet()
    assert supernet.arch.pruning == "movement" and len(supernet.movement_scores()) == 6 * 3
    config = SubnetConfig.largest(supernet.arch).with_layers(sparsity=0.8)
    extracted = extract(supernet, config)
    assert extracted.arch.pruning == "magnitude" and extracted.movement_scores() == []
    assert not any(".scores." in k for k in extracted.state_dict())
    # the mask is baked in: 80% zeros in every row of every extracted matrix
    for name in MATRICES:
        weight = getattr(extracted.blocks[0], name).weight
        assert (weight != 0).sum(dim=1).eq(round(0.2 * weight.shape[1])).all(), name


def test_pruning_values_are_checked_with_clear_errors(tmp_path, capsys):
    with pytest.raises(EvosearchError, match="pruning='random'; allowed: magnitude, movement"):
        TrainConfig(pruning="random", space=TrainingSpace(sparsity=(0.0, 0.5)))
    with pytest.raises(EvosearchError, match=r"pruning='movement' needs a sparsity above 0 .*sparsity=\[0.0\]"):
        TrainConfig(pruning="movement")
    with pytest.raises(ValueError, match="pruning='l1'; allowed: magnitude, movement"):
        replace(movement_supernet().arch, pruning="l1")
    bad = tmp_path / "bad.yaml"
    bad.write_text("pruning: Movement\nsparsity: [0.0, 0.5]\n")
    assert main(["train", "--config", str(bad), "--output", str(tmp_path / "z")]) == 2
    assert "pruning='Movement'; allowed: magnitude, movement" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--pruning", "l1", "--output", str(tmp_path / "y")])
    assert "--pruning: invalid choice: 'l1'" in capsys.readouterr().err
    assert main(["train", "--pruning", "movement", "--output", str(tmp_path / "x")]) == 2
    assert "pruning='movement' needs a sparsity above 0" in capsys.readouterr().err


def test_old_architectures_read_as_magnitude():
    data = movement_supernet().arch.to_dict()
    del data["pruning"]
    assert Architecture.from_dict(data).pruning == "magnitude"


@pytest.mark.usefixtures("private_cache")
def test_movement_training_round_trips_and_its_subnetworks_extract_and_export_exactly(tmp_path, tiny_model, tiny_task):
    from evosearch.deploy import Deployment, export, load_deployed

    space = TrainingSpace(min_head_fraction=0.5, min_ffn_fraction=0.25, bits=(8, 32), spans=(None, 4),
                          embedding_bits=(32,), sparsity=(0.0, 0.5, 0.8))
    config = TrainConfig(model=tiny_model, task=tiny_task, output=str(tmp_path / "run"), max_length=16, batch_size=16,
                         epochs=1.0, importance_warmup=2, importance_batches=2, checkpoint_every=100,
                         eval_batch_size=32, learning_rate=1e-3, pruning="movement", space=space)
    trainer = Trainer(config)
    assert trainer.supernet.arch.pruning == "movement"
    scores = {id(p) for p in trainer.supernet.movement_scores()}
    decayed = [p for group in trainer.optimizer.param_groups if group["weight_decay"] > 0 for p in group["params"]]
    assert scores and not scores & {id(p) for p in decayed}  # no weight decay on the scores
    trainer.train(progress=False)
    trained = trainer.supernet.movement_scores()
    assert all(s.abs().sum() > 0 for s in trained)  # the scores learned
    folder = trainer.save_supernet(trainer.evaluate(), 1.0)

    ckpt = load_checkpoint(folder)
    supernet = ckpt.supernet
    assert supernet.arch.pruning == "movement" and ckpt.meta["train_config"]["pruning"] == "movement"
    for saved, live in zip(supernet.movement_scores(), trained):
        assert torch.equal(saved, live.detach())
    ids, mask, types = batch(size=4, length=10)
    ids = ids % 40 + 5  # the tiny tokenizer's vocabulary
    pick = SubnetConfig((LayerConfig(2, 24, 8, sparsity=0.8), LayerConfig(4, 48, 32, sparsity=0.5),
                         LayerConfig(3, 12, 32, span=4, sparsity=0.8)), embedding_bits=32)
    sliced = supernet(ids, mask, types, config=pick)
    torch.testing.assert_close(trainer.supernet.eval()(ids, mask, types, config=pick), sliced, atol=0, rtol=0)
    extracted = extract(supernet, pick).eval()
    torch.testing.assert_close(extracted(ids, mask, types), sliced, atol=1e-5, rtol=0)
    out = export(Deployment(pick, [0.0, 0.0], folder), tmp_path / "deployed", int8=False)
    deployed = load_deployed(out).torch_model()
    reference = extracted.state_dict()
    for name, value in deployed.state_dict().items():
        assert torch.equal(value, reference[name]), name
    torch.testing.assert_close(deployed(ids, mask, types), sliced, atol=1e-5, rtol=0)


@pytest.mark.usefixtures("private_cache")
def test_a_training_state_saved_before_the_pruning_option_resumes(tmp_path, tiny_model, tiny_task):
    config = TrainConfig(model=tiny_model, task=tiny_task, output=str(tmp_path / "run"), max_length=16, batch_size=16,
                         epochs=1.0, importance_warmup=1, importance_batches=1, checkpoint_every=2)
    Trainer(config).train(until_step=2, progress=False)
    state_file = tmp_path / "run" / "training_state.pt"
    state = torch.load(state_file, weights_only=True)
    del state["config"]["pruning"]
    torch.save(state, state_file)
    resumed = Trainer(config)
    resumed.load_state()
    assert resumed.step == 2
