"""The sparsity warm-up (TrainConfig.sparsity_warmup): sampled layer sparsities ramp up from 0 with
the cubic schedule of Zhu & Gupta (2017), as Sanh et al. (NeurIPS 2020) train movement and
magnitude pruning. The schedule, what a trained step really prunes, dense training untouched,
resume mid-ramp, the saved config and bad values."""

import csv
from dataclasses import replace

import pytest
import torch
from transformers import BertConfig, BertModel

from evosearch.cli import build_parser, main
from evosearch.cli.train import build_config
from evosearch.errors import EvosearchError
from evosearch.supernet import supernet_from_hf
from evosearch.supernet.modules import EncoderBlock
from evosearch.supernet.pruning import kept_per_row
from evosearch.training import trainer as trainer_module
from evosearch.training.space import SubnetSampler, TrainingSpace, cubic_sparsity_factor
from evosearch.training.trainer import STATE_FILE, ResumeError, TrainConfig, Trainer
from tests.tiny_models import TINY

pytestmark = pytest.mark.usefixtures("private_cache")

# 32-bit weights only, so that every zero of a prepared matrix is a pruned weight (4-bit rounding makes zeros too)
SPARSE = TrainingSpace(min_head_fraction=0.5, min_ffn_fraction=0.25, bits=(32,), spans=(None, 4), embedding_bits=(32,),
                       sparsity=(0.8,))
DENSE = replace(SPARSE, sparsity=(0.0,))


def config(tmp_path, tiny_model, tiny_task, name="run", **changes):
    """24 steps (96 training sentences, batches of 8, 2 epochs): 2 importance warm-up steps, then 22 sampled."""
    values = dict(model=tiny_model, task=tiny_task, output=str(tmp_path / name), max_length=16, batch_size=8,
                  epochs=2.0, importance_warmup=2, importance_batches=2, checkpoint_every=100, eval_batch_size=16,
                  learning_rate=1e-3, space=SPARSE, pruning="movement")
    values.update(changes)
    return TrainConfig(**values)


def test_the_schedule_is_zero_at_the_ramps_start_the_target_from_its_end_and_cubic_between():
    start, steps = 10, 20
    factors = [cubic_sparsity_factor(t, start, steps) for t in range(0, 41)]
    assert factors[:start + 1] == [0.0] * (start + 1)  # before and at the ramp's first step
    assert factors[start + steps:] == [1.0] * (41 - start - steps)  # exactly the target at and after its end
    for t in range(start, start + steps + 1):
        assert factors[t] == pytest.approx(1 - (1 - (t - start) / steps) ** 3, abs=1e-15)
    assert factors[15] == pytest.approx(1 - 0.75 ** 3) and factors[20] == pytest.approx(0.875)
    assert all(a < b for a, b in zip(factors[start:start + steps], factors[start + 1:start + steps + 1]))  # rising
    # cubic, not linear: the first quarter of the ramp reaches 58 % of the target, the last quarter adds 1.6 %
    assert factors[15] > 0.5 and factors[25] == pytest.approx(1 - 0.25 ** 3)


def test_the_trainer_ramps_over_the_given_fraction_of_the_steps_after_the_importance_warmup(tmp_path, tiny_model,
                                                                                           tiny_task):
    trainer = Trainer(config(tmp_path, tiny_model, tiny_task, sparsity_warmup=0.5))
    assert trainer.total_steps == 24 and trainer.sparsity_warmup_steps == 11  # round(0.5 * (24 - 2))
    assert trainer.sparsity_factor() == 0.0  # step 0
    assert [trainer.sparsity_factor(t) for t in (2, 13, 23)] == [0.0, 1.0, 1.0]
    assert trainer.sparsity_factor(7) == pytest.approx(1 - (1 - 5 / 11) ** 3)
    assert Trainer(config(tmp_path, tiny_model, tiny_task, sparsity_warmup=1)).sparsity_factor(23) < 1.0
    off = Trainer(config(tmp_path, tiny_model, tiny_task, sparsity_warmup=0))
    assert off.sparsity_warmup_steps == 0 and off.sparsity_factor(2) == 1.0


def test_the_sampler_scales_its_sparsities_after_the_same_draws():
    arch = supernet_from_hf(BertModel(BertConfig(num_hidden_layers=3, **TINY))).arch
    space = replace(SPARSE, sparsity=(0.0, 0.5, 0.8), bits=(4, 8, 32)).resolve(16)
    plain, scaled = SubnetSampler(arch, space, seed=3), SubnetSampler(arch, space, seed=3)
    for _ in range(20):
        with scaled.sparsities_scaled(0.25):
            drawn = [scaled.smallest(), scaled.random(), scaled.uniform()]
        for ours, theirs in zip(drawn, [plain.smallest(), plain.random(), plain.uniform()]):
            for a, b in zip(ours.layers, theirs.layers):
                assert a == replace(b, sparsity=0.25 * b.sparsity)
            assert ours.embedding_sparsity == theirs.embedding_sparsity  # embedding pruning is not ramped
    assert scaled.state() == plain.state()  # same RNG sequence
    assert scaled.smallest() == plain.smallest()  # back to the space's values after the block
    with pytest.raises(RuntimeError), scaled.sparsities_scaled(0.5):
        raise RuntimeError
    assert scaled.sparsity_factor == 1.0


def pruned_fraction_per_step(trainer, monkeypatch) -> dict[int, float]:
    """Train; for every step, the largest fraction of zeros in any ``ffn_in`` a sub-network ran with
    (rows of 32 inputs; 32-bit weights, so every zero is a pruned weight; the largest network is dense)."""
    seen: dict[int, float] = {}
    prepare = EncoderBlock._prepare

    def spy(block, layer, *args):
        weights = prepare(block, layer, *args)
        zeros = (weights.ffn_in == 0).float().mean().item()
        seen[trainer.step] = max(seen.get(trainer.step, 0.0), zeros)
        return weights

    monkeypatch.setattr(EncoderBlock, "_prepare", spy)
    trainer.train(progress=False)
    return seen


@pytest.mark.parametrize("pruning", ["movement", "magnitude"])
def test_trained_steps_prune_less_during_the_ramp(tmp_path, tiny_model, tiny_task, monkeypatch, pruning):
    ramped = Trainer(config(tmp_path, tiny_model, tiny_task, "ramped", pruning=pruning, sparsity_warmup=0.5))
    seen = pruned_fraction_per_step(ramped, monkeypatch)
    assert sorted(seen) == list(range(24))

    def expected(step):  # target 0.8 in every sampled layer, rows of 32
        return 1 - kept_per_row(0.8 * ramped.sparsity_factor(step), 32) / 32

    assert [seen[t] for t in range(24)] == pytest.approx([0.0, 0.0] + [expected(t) for t in range(2, 24)], abs=1e-6)
    assert seen[2] == 0.0  # the first sampled step prunes nothing
    assert 0 < seen[3] < seen[5] < seen[8] < 1 - 6 / 32  # less than the target during the ramp
    assert [seen[t] for t in range(13, 24)] == pytest.approx([1 - 6 / 32] * 11)  # 0.8 of 32: 6 kept, from its end on
    log = list(csv.DictReader(open(tmp_path / "ramped" / "train_log.csv")))
    assert [float(r["sparsity_factor"]) for r in log] == pytest.approx([ramped.sparsity_factor(t) for t in range(24)],
                                                                       abs=1e-5)

    monkeypatch.undo()
    at_once = Trainer(config(tmp_path, tiny_model, tiny_task, "at-once", pruning=pruning, sparsity_warmup=0))
    seen = pruned_fraction_per_step(at_once, monkeypatch)
    assert [seen[t] for t in range(2, 24)] == pytest.approx([1 - 6 / 32] * 22)  # without the ramp: full from step 2
    assert "sparsity_factor" not in open(tmp_path / "at-once" / "train_log.csv").readline()


def test_dense_training_never_enters_the_schedule(tmp_path, tiny_model, tiny_task, monkeypatch):
    dense = config(tmp_path, tiny_model, tiny_task, space=DENSE, pruning="magnitude")
    assert dense.sparsity_warmup == 0.0 and TrainConfig().sparsity_warmup == 0.0

    def refuse(*args):
        raise AssertionError("the sparsity warm-up was computed")

    monkeypatch.setattr(trainer_module, "cubic_sparsity_factor", refuse)
    trainer = Trainer(dense)
    assert trainer.sparsity_warmup_steps == 0
    drawn = []
    for name in ("smallest", "random"):
        draw = getattr(trainer.sampler, name)
        monkeypatch.setattr(trainer.sampler, name, lambda draw=draw: drawn.append(draw()) or drawn[-1])
    trainer.train(until_step=6, progress=False)
    # exactly what a sampler that knows nothing of the option draws: 4 sandwich steps of smallest + 1 random
    plain = SubnetSampler(trainer.supernet.arch, trainer.space, seed=dense.seed)
    assert drawn == [c for _ in range(4) for c in (plain.smallest(), plain.random())]
    assert trainer.sampler.state() == plain.state()
    assert "sparsity_factor" not in open(tmp_path / "run" / "train_log.csv").readline()
    # sparse training with the warm-up off does not compute it either (pruned at full sparsity as before)
    off = Trainer(config(tmp_path, tiny_model, tiny_task, "off", sparsity_warmup=0))
    off.train(until_step=4, progress=False)


def test_resume_mid_ramp_reproduces_the_uninterrupted_run(tmp_path, tiny_model, tiny_task):
    straight = Trainer(config(tmp_path, tiny_model, tiny_task, "straight", sparsity_warmup=0.5))
    straight.train(progress=False)
    interrupted = Trainer(config(tmp_path, tiny_model, tiny_task, "killed", sparsity_warmup=0.5, checkpoint_every=7))
    interrupted.train(until_step=7, progress=False)  # mid-ramp: the ramp runs from step 2 to 13
    assert 0 < interrupted.sparsity_factor() < 1
    del interrupted
    resumed = Trainer(config(tmp_path, tiny_model, tiny_task, "killed", sparsity_warmup=0.5, checkpoint_every=7))
    resumed.load_state()
    assert resumed.step == 7 and resumed.sparsity_factor() == straight.sparsity_factor(7)
    resumed.train(progress=False)
    assert resumed.step == straight.step == 24
    for (name, a), b in zip(straight.supernet.state_dict().items(), resumed.supernet.state_dict().values()):
        torch.testing.assert_close(a, b, atol=0, rtol=0, msg=name)
    logs = [list(csv.DictReader(open(tmp_path / run / "train_log.csv"))) for run in ("straight", "killed")]
    assert [r["sparsity_factor"] for r in logs[0]] == [r["sparsity_factor"] for r in logs[1]]
    assert [r["loss_smallest"] for r in logs[0]] == [r["loss_smallest"] for r in logs[1]]
    # the saved training config records the value, and a resume with another one is refused
    assert torch.load(tmp_path / "killed" / STATE_FILE, weights_only=True)["config"]["sparsity_warmup"] == 0.5
    other = Trainer(config(tmp_path, tiny_model, tiny_task, "killed", sparsity_warmup=0.25))
    with pytest.raises(ResumeError, match=r"sparsity_warmup: saved 0.5, now 0.25"):
        other.load_state()


def test_the_default_is_saved_resolved_and_old_states_read_as_off(tmp_path, tiny_model, tiny_task):
    default = config(tmp_path, tiny_model, tiny_task)
    assert default.sparsity_warmup == pytest.approx(2 / 3)
    assert default.to_dict()["sparsity_warmup"] == default.sparsity_warmup
    assert TrainConfig.from_dict(default.to_dict()) == default  # as a checkpoint's train_config reads back
    Trainer(default).train(until_step=3, progress=False)
    path = tmp_path / "run" / STATE_FILE
    state = torch.load(path, weights_only=True)
    del state["config"]["sparsity_warmup"]  # as written before the option existed: no ramp
    torch.save(state, path)
    with pytest.raises(ResumeError, match=r"sparsity_warmup: saved 0.0, now 0.666"):
        Trainer(default).load_state()
    Trainer(replace(default, sparsity_warmup=0.0)).load_state()


@pytest.mark.parametrize("value", [1.5, -0.1, True, "half", float("nan")])
def test_bad_values_are_refused_naming_the_field(value):
    with pytest.raises(EvosearchError, match=r"sparsity_warmup=.*; allowed: a fraction in \[0, 1\]"):
        TrainConfig(space=SPARSE, sparsity_warmup=value)


def test_a_warmup_without_sparsity_and_bad_cli_or_yaml_values_are_refused(tmp_path, capsys):
    with pytest.raises(EvosearchError, match=r"sparsity_warmup=0.5 ramps up sampled sparsities, but the training "
                                             r"space has none above 0 \(sparsity=\[0.0\]\)"):
        TrainConfig(sparsity_warmup=0.5)
    assert main(["train", "--sparsity", "0", "0.5", "--sparsity-warmup", "2", "--output", str(tmp_path / "x")]) == 2
    assert "sparsity_warmup=2.0; allowed: a fraction in [0, 1]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--sparsity-warmup", "most", "--output", str(tmp_path / "y")])
    assert "--sparsity-warmup: invalid float value: 'most'" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("sparsity: [0.0, 0.5]\nsparsity_warmup: yes\n")
    assert main(["train", "--config", str(bad), "--output", str(tmp_path / "z")]) == 2
    assert "sparsity_warmup=True; allowed: a fraction in [0, 1]" in capsys.readouterr().err
    good = tmp_path / "good.yaml"
    good.write_text("sparsity: [0.0, 0.5]\nsparsity_warmup: 0.25\n")
    args = build_parser().parse_args(["train", "--config", str(good)])
    assert build_config(args).sparsity_warmup == 0.25
    args = build_parser().parse_args(["train", "--config", str(good), "--sparsity-warmup", "0"])
    assert build_config(args).sparsity_warmup == 0.0  # the flag wins
