"""Supernet training on a tiny random model and a tiny local task."""

import csv

import pytest
import torch
from transformers import AlbertConfig, AlbertModel, BertConfig, BertModel

from evosearch.cli import main
from evosearch.errors import EvosearchError
from evosearch.supernet import SubnetConfig, supernet_from_hf
from evosearch.training import load_checkpoint
from evosearch.training.importance import gradient_importance, reorder_by_importance
from evosearch.training.losses import distillation_loss, supervised_loss
from evosearch.training.space import SubnetSampler, TrainingSpace, TrainingSpaceError
from evosearch.training.strategies import RandomStrategy, SandwichStrategy, StandardStrategy
from evosearch.training.trainer import ResumeError, TrainConfig, Trainer
from tests.tiny_models import TINY, batch


pytestmark = pytest.mark.usefixtures("private_cache")


def tiny_config(tmp_path, tiny_model, tiny_task, **changes):
    values = dict(
        model=tiny_model, task=tiny_task, output=str(tmp_path / "run"), max_length=16, batch_size=8, epochs=1.0,
        importance_warmup=2, importance_batches=2, checkpoint_every=2, eval_batch_size=16, learning_rate=1e-3,
        space=TrainingSpace(min_head_fraction=0.5, min_ffn_fraction=0.25, bits=(4, 8, 32), spans=(None, 4), embedding_bits=(8, 32)),
    )
    values.update(changes)
    return TrainConfig(**values)


def hf_models():
    return [
        BertModel(BertConfig(num_hidden_layers=3, **TINY)),
        AlbertModel(AlbertConfig(embedding_size=16, num_hidden_layers=4, **TINY)),
    ]


@pytest.mark.parametrize("hf", hf_models(), ids=["bert", "albert-shared"])
def test_importance_permutation_leaves_full_network_unchanged(hf):
    torch.manual_seed(0)
    supernet = supernet_from_hf(hf)
    ids, mask, types = batch()
    labels = torch.tensor([0, 1, 1])
    batches = [{"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": labels}]
    before = supernet.eval()(ids, mask, types)
    heads, neurons = gradient_importance(supernet, batches, supervised_loss)
    assert len(heads) == supernet.arch.num_blocks  # ALBERT: one ordering per shared block
    reorder_by_importance(supernet, heads, neurons)
    torch.testing.assert_close(supernet(ids, mask, types), before, atol=1e-5, rtol=0)
    # after the permutation the scores come out sorted, most important first
    heads_after, neurons_after = gradient_importance(supernet, batches, supervised_loss)
    for scores in heads_after + neurons_after:
        assert torch.all(scores[:-1] >= scores[1:] - 1e-6 * scores.max())


def test_sampler_respects_bounds_and_extremes():
    arch = supernet_from_hf(BertModel(BertConfig(num_hidden_layers=3, **TINY))).arch
    space = TrainingSpace(min_head_fraction=0.5, min_ffn_fraction=0.25, bits=(4, 8), spans=(None, 6, 3), embedding_bits=(8,), sparsity=(0.0, 0.5))
    sampler = SubnetSampler(arch, space, seed=1)
    for _ in range(50):
        config = sampler.random()
        config.validate(arch)
        assert all(
            2 <= l.heads <= 4 and 12 <= l.ffn <= 48 and l.bits in (4, 8) and l.span in (None, 6, 3) and l.sparsity in (0.0, 0.5)
            for l in config.layers
        )
    smallest = sampler.smallest()
    assert all((l.heads, l.ffn, l.bits, l.span, l.sparsity) == (2, 12, 4, 3, 0.5) for l in smallest.layers)
    assert smallest.embedding_bits == 8
    assert sampler.largest() == SubnetConfig.largest(arch)
    for _ in range(20):
        uniform = sampler.uniform()
        uniform.validate(arch)
        assert len({(l.bits, l.span, l.sparsity) for l in uniform.layers}) == 1  # one choice for every layer
        assert len({(l.heads, l.ffn) for l in uniform.layers}) == 1  # same-size layers get the same width
    with pytest.raises(TrainingSpaceError, match="bits=\\[4, 12\\]; allowed: a non-empty list of 2, 3"):
        TrainingSpace(bits=(4, 12))
    with pytest.raises(TrainingSpaceError, match="sparsity=\\[1.0\\]; allowed: a non-empty list of fractions"):
        TrainingSpace(sparsity=(1.0,))
    with pytest.raises(TrainingSpaceError, match="min_head_fraction=0; allowed: a fraction in \\(0, 1\\]"):
        TrainingSpace(min_head_fraction=0)
    with pytest.raises(TrainingSpaceError, match="embedding_sparsity=\\[0.6, 1\\]; allowed: a non-empty list"):
        TrainingSpace(embedding_sparsity=(0.6, 1))


def test_sampler_draws_embedding_sparsity_and_old_spaces_read_as_dense():
    arch = supernet_from_hf(BertModel(BertConfig(num_hidden_layers=3, **TINY))).arch
    sampler = SubnetSampler(arch, TrainingSpace(embedding_sparsity=(0.0, 0.6)).resolve(32), seed=1)
    drawn = {sampler.random().embedding_sparsity for _ in range(30)} | {sampler.uniform().embedding_sparsity
                                                                        for _ in range(30)}
    assert drawn == {0.0, 0.6}
    assert sampler.smallest().embedding_sparsity == 0.6 and sampler.largest().embedding_sparsity == 0.0
    assert TrainingSpace().embedding_sparsity == (0.0,)  # dense by default, as the shipped edgebert space searches
    dense = SubnetSampler(arch, TrainingSpace(embedding_sparsity=(0.0,)).resolve(32), seed=3)
    assert {dense.random().embedding_sparsity for _ in range(10)} == {0.0}


class RecordingSampler(SubnetSampler):
    """The real sampler, remembering which kind of sub-network each step asked for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def largest(self):
        self.calls.append("largest")
        return super().largest()

    def smallest(self):
        self.calls.append("smallest")
        return super().smallest()

    def random(self):
        self.calls.append("random")
        return super().random()

    def uniform(self):
        self.calls.append("uniform")
        return super().uniform()


@pytest.mark.parametrize(
    "strategy, expected",
    [
        (StandardStrategy(), ["largest"]),
        (RandomStrategy(), ["random"]),
        (SandwichStrategy(num_random=2), ["largest", "smallest", "random", "random"]),
        (SandwichStrategy(num_random=1, num_uniform=1), ["largest", "smallest", "random", "uniform"]),
    ],
)
def test_each_strategy_samples_what_it_claims(strategy, expected):
    supernet = supernet_from_hf(BertModel(BertConfig(num_hidden_layers=3, num_labels=2, **TINY)))
    sampler = RecordingSampler(supernet.arch, TrainingSpace().resolve(32), seed=0)
    ids, mask, types = batch()
    losses = strategy(supernet.train(), {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": torch.tensor([0, 1, 0])}, sampler)
    assert sampler.calls == expected
    assert len(losses) == len(expected) and all(v >= 0 for v in losses.values())
    assert supernet.blocks[0].query.weight.grad is not None


def test_regularize_largest_only_runs_sampled_subnetworks_without_dropout():
    torch.manual_seed(0)
    supernet = supernet_from_hf(BertModel(BertConfig(num_hidden_layers=3, num_labels=2, hidden_dropout_prob=0.5, **TINY)))
    ids, mask, types = batch()
    fixed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": torch.tensor([0, 1, 0])}
    teacher = torch.randn(3, 2)  # a fixed target, so only dropout can change the sampled losses

    def sampled_losses(regularize_largest_only):
        sampler = SubnetSampler(supernet.arch, TrainingSpace().resolve(32), seed=0)
        strategy = SandwichStrategy(num_random=1, regularize_largest_only=regularize_largest_only)
        losses = strategy(supernet.train(), fixed, sampler, teacher)
        assert supernet.training  # train mode is restored for the next step
        return losses

    first, second = sampled_losses(True), sampled_losses(True)
    assert first["largest"] != second["largest"]  # the largest network still draws dropout masks
    assert first["smallest"] == second["smallest"] and first["random0"] == second["random0"]
    with_dropout = sampled_losses(False)
    assert with_dropout["smallest"] != first["smallest"]


def test_sampled_weight_scales_the_sampled_subnetworks_gradients():
    torch.manual_seed(0)
    supernet = supernet_from_hf(BertModel(BertConfig(num_hidden_layers=3, num_labels=2, hidden_dropout_prob=0, attention_probs_dropout_prob=0, **TINY)))
    ids, mask, types = batch()
    fixed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": torch.tensor([0, 1, 0])}

    def gradient(strategy):
        supernet.zero_grad(set_to_none=True)
        strategy(supernet.train(), fixed, SubnetSampler(supernet.arch, TrainingSpace().resolve(32), seed=0))
        return supernet.blocks[0].query.weight.grad.clone()

    largest_only = gradient(StandardStrategy())
    torch.testing.assert_close(gradient(SandwichStrategy(num_random=1, sampled_weight=0.0)), largest_only)
    full, half = gradient(SandwichStrategy(num_random=1)), gradient(SandwichStrategy(num_random=1, sampled_weight=0.5))
    torch.testing.assert_close(half - largest_only, 0.5 * (full - largest_only), atol=1e-6, rtol=1e-4)
    with pytest.raises(EvosearchError, match="sampled_weight"):
        SandwichStrategy(sampled_weight=-1)


def test_training_steps_change_weights_and_lower_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    supernet = supernet_from_hf(BertModel(BertConfig(num_hidden_layers=3, num_labels=2, hidden_dropout_prob=0, attention_probs_dropout_prob=0, **TINY)))
    sampler = SubnetSampler(supernet.arch, TrainingSpace().resolve(32), seed=0)
    ids, mask, types = batch()
    fixed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": torch.tensor([0, 1, 0])}
    optimizer = torch.optim.AdamW(supernet.parameters(), lr=1e-3)
    before = supernet.blocks[1].ffn_in.weight.detach().clone()
    loss_before = supervised_loss(supernet.eval()(ids, mask, types), fixed["labels"]).item()
    for _ in range(5):
        optimizer.zero_grad()
        SandwichStrategy(num_random=1)(supernet.train(), fixed, sampler)
        optimizer.step()
    assert not torch.equal(before, supernet.blocks[1].ffn_in.weight)
    assert supervised_loss(supernet.eval()(ids, mask, types), fixed["labels"]).item() < loss_before


def test_distillation_loss_is_zero_for_identical_logits():
    logits = torch.randn(3, 5, 2)
    assert distillation_loss(logits[-1:].expand(3, 5, 2), logits[-1], 2.0).item() == pytest.approx(0, abs=1e-6)
    assert distillation_loss(logits, logits[-1], 2.0).item() > 0


def test_training_seed_leaves_the_split_alone(tmp_path, tiny_model, tiny_task):
    def dev_ids(**seeds):
        trainer = Trainer(tiny_config(tmp_path, tiny_model, tiny_task, **seeds))
        return sorted(tuple(row.tolist()) for b in trainer.eval_batches["validation"] for row in b["input_ids"]), trainer

    base, trainer = dev_ids(seed=0)
    other_seed, other = dev_ids(seed=1)
    assert base == other_seed  # same dev examples for another training seed
    assert not torch.equal(trainer.supernet.ramps[0].classifier.weight, other.supernet.ramps[0].classifier.weight)
    assert dev_ids(split_seed=1)[0] != base


def test_external_teacher_is_the_distillation_target(tmp_path, tiny_model, tiny_task):
    trainer = Trainer(tiny_config(tmp_path, tiny_model, tiny_task, teacher=tiny_model, regularize_largest_only=True))
    batch = next(trainer._batches_from(0))
    target = trainer._teacher_logits(batch)
    assert target.shape == (batch["input_ids"].shape[0], 2) and not target.requires_grad
    smallest = trainer.sampler.smallest()
    losses = trainer.strategy(trainer.supernet.train(), batch, trainer.sampler, target)
    with torch.no_grad():  # sampled sub-networks run without dropout here, so this is the same forward
        student = trainer.supernet.eval()(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], config=smallest)
    assert losses["smallest"] == pytest.approx(distillation_loss(student, target, 2.0).item(), rel=1e-5)
    largest_target = trainer.supernet(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])[-1]
    assert losses["smallest"] != pytest.approx(distillation_loss(student, largest_target, 2.0).item(), rel=1e-3)


def test_resume_reproduces_the_uninterrupted_run(tmp_path, tiny_model, tiny_task):
    straight = Trainer(tiny_config(tmp_path, tiny_model, tiny_task, output=str(tmp_path / "straight")))
    straight.train(progress=False)
    interrupted = Trainer(tiny_config(tmp_path, tiny_model, tiny_task, output=str(tmp_path / "killed")))
    interrupted.train(until_step=3, progress=False)  # importance ordering happened at step 2
    del interrupted
    resumed = Trainer(tiny_config(tmp_path, tiny_model, tiny_task, output=str(tmp_path / "killed")))
    resumed.load_state()
    assert resumed.step == 3
    resumed.train(progress=False)
    assert resumed.step == straight.step == 12
    for (name, a), b in zip(straight.supernet.state_dict().items(), resumed.supernet.state_dict().values()):
        torch.testing.assert_close(a, b, atol=0, rtol=0, msg=name)
    rows = list(csv.DictReader(open(tmp_path / "killed" / "train_log.csv")))
    assert [int(r["step"]) for r in rows] == list(range(1, 13))


def test_resume_errors_are_clear(tmp_path, tiny_model, tiny_task):
    with pytest.raises(ResumeError, match="nothing to resume"):
        Trainer(tiny_config(tmp_path, tiny_model, tiny_task)).load_state()
    Trainer(tiny_config(tmp_path, tiny_model, tiny_task)).train(until_step=2, progress=False)
    other = Trainer(tiny_config(tmp_path, tiny_model, tiny_task, seed=1))
    with pytest.raises(ResumeError, match="belongs to another run \\(seed: saved 0, now 1\\)"):
        other.load_state()


def test_train_cli_writes_a_loadable_checkpoint(tmp_path, tiny_model, tiny_task, capsys):
    out = tmp_path / "cli-run"
    code = main([
        "train", "--model", tiny_model, "--task", tiny_task, "--output", str(out), "--max-length", "16",
        "--batch-size", "16", "--epochs", "1", "--bits", "4", "32", "--spans", "none", "4", "--quiet",
    ])
    assert code == 0
    printed = capsys.readouterr().out
    assert "supernet checkpoint" in printed and "largest_4bit" in printed
    checkpoint = load_checkpoint(out)
    assert checkpoint.task["num_labels"] == 2 and checkpoint.bounds["bits"] == [4, 32] and checkpoint.bounds["spans"] == [None, 4]
    assert set(checkpoint.meta["dev"]) >= {"largest", "half", "smallest", "largest_4bit", "largest_per_exit"}
    assert set(checkpoint.meta["test"]) == set(checkpoint.meta["dev"])  # the untouched split, reported alongside
    assert 0 <= checkpoint.meta["test"]["largest"] <= 1
    assert (out / "train_log.csv").is_file()
    ids, mask, types = batch()
    assert checkpoint.supernet(ids, mask, types).shape == (3, 3, 2)


def test_train_cli_errors(tmp_path, tiny_model, tiny_task, capsys):
    assert main(["train", "--model", tiny_model, "--task", "no-such-task", "--output", str(tmp_path / "x")]) == 2
    assert "unknown task" in capsys.readouterr().err.lower()
    assert main(["train", "--model", str(tmp_path), "--task", tiny_task, "--output", str(tmp_path / "y")]) == 2
    assert "cannot read a model config" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("learning_rat: 0.1\n")
    assert main(["train", "--config", str(bad), "--output", str(tmp_path / "z")]) == 2
    assert "unknown training option(s) ['learning_rat']" in capsys.readouterr().err


def test_resume_refuses_a_changed_space_or_teacher(tmp_path, tiny_model, tiny_task):
    Trainer(tiny_config(tmp_path, tiny_model, tiny_task)).train(until_step=2, progress=False)
    narrower = TrainingSpace(min_head_fraction=0.5, min_ffn_fraction=0.25, bits=(8, 32), spans=(None, 4),
                             embedding_bits=(8, 32))
    with pytest.raises(ResumeError, match="belongs to another run \\(space: saved .*'bits': \\[4, 8, 32\\]"):
        Trainer(tiny_config(tmp_path, tiny_model, tiny_task, space=narrower)).load_state()
    teacher = Trainer(tiny_config(tmp_path, tiny_model, tiny_task, teacher=tiny_model))
    with pytest.raises(ResumeError, match="teacher: saved None, now '"):
        teacher.load_state()


def test_resume_of_a_state_from_before_embedding_pruning_reads_it_as_dense(tmp_path, tiny_model, tiny_task):
    from dataclasses import replace

    from evosearch.training.trainer import STATE_FILE

    config = tiny_config(tmp_path, tiny_model, tiny_task)
    Trainer(config).train(until_step=2, progress=False)
    path = tmp_path / "run" / STATE_FILE
    state = torch.load(path, weights_only=True)
    del state["config"]["space"]["embedding_sparsity"]  # as written before the gene existed
    torch.save(state, path)
    Trainer(config).load_state()  # dense embeddings, as the default trains them
    with pytest.raises(ResumeError, match="'embedding_sparsity': \\[0.0\\]"):
        Trainer(replace(config, space=replace(config.space, embedding_sparsity=(0.0, 0.6)))).load_state()


def test_regression_losses_are_the_weighted_mse_of_every_exit():
    torch.manual_seed(0)
    logits, labels, teacher = torch.randn(3, 5, 1), torch.randn(5), torch.randn(5, 1)
    weights = torch.tensor([1.0, 2.0, 3.0]) / 6  # exit i weighs (i + 1) / (1 + 2 + 3)
    mse = torch.stack([torch.nn.functional.mse_loss(logits[i, :, 0], labels) for i in range(3)])
    torch.testing.assert_close(supervised_loss(logits, labels), (weights * mse).sum())
    to_teacher = torch.stack([torch.nn.functional.mse_loss(logits[i], teacher) for i in range(3)])
    torch.testing.assert_close(distillation_loss(logits, teacher, temperature=2.0), (weights * to_teacher).sum())


def test_a_regression_task_trains_with_one_output_per_exit(tmp_path, tiny_model):
    import random

    rng = random.Random(0)
    rows = ["text,label"]
    for _ in range(96):  # the score is the share of "w1" tokens: learnable from the words alone
        words = [rng.choice(["w1", "w2", "w3", "w4"]) for _ in range(rng.randint(3, 10))]
        rows.append(f"{' '.join(words)},{words.count('w1') / len(words):.4f}")
    task = tmp_path / "rating.csv"
    task.write_text("\n".join(rows) + "\n")
    trainer = Trainer(tiny_config(tmp_path, tiny_model, str(task), epochs=2.0, regression=True))
    assert trainer.task.is_regression
    trainer.train(progress=False)
    log = list(csv.DictReader(open(tmp_path / "run" / "train_log.csv")))
    losses = [float(r["loss_largest"]) for r in log]
    assert len(losses) == trainer.step and all(0 <= x < 10 for x in losses)
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4  # the MSE goes down from the untrained start
    ids, mask, types = batch()
    assert trainer.supernet(ids, mask, types).shape[-1] == 1
