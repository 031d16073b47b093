"""`evosearch sweep` on a tiny supernet: 2 seeds x 2 search variants as Ray Tune trials, then resumed."""

import pandas as pd
import pytest

from evosearch.cli import main
from evosearch.report import load_run

from .tiny_runs import make_checkpoint

pytest.importorskip("ray.tune")


def test_sweep_runs_a_grid_compares_it_and_resumes(tmp_path, capsys):
    ckpt = make_checkpoint(tmp_path / "ckpt")
    argv = ["sweep", "--supernet", str(ckpt), "--output", str(tmp_path / "sweep"), "--seeds", "0", "1",
            "--algorithms", "nsga2+thresholds", "random", "--spaces", "small", "--objectives", "default",
            "--generations", "2", "--population", "6", "--dev-subset", "0", "--max-concurrent", "2"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    trials = pd.read_csv(tmp_path / "sweep" / "trials.csv")
    assert sorted(zip(trials.variant, trials.seed)) == [("nsga2+thresholds", 0), ("nsga2+thresholds", 1),
                                                        ("random", 0), ("random", 1)]
    for row in trials.itertuples():  # each trial is an ordinary run folder; its figures are its own
        run = load_run(row.run)
        assert run.config["seed"] == row.seed and run.hypervolume["hypervolume"].iloc[-1] == pytest.approx(row.hypervolume)
        assert run.config["threshold_path"] == (row.variant == "nsga2+thresholds")  # the variant is what ran
        assert run.config["algorithm"] == row.algorithm == row.variant.split("+")[0]
    summary = pd.read_csv(tmp_path / "sweep" / "summary.csv")
    assert list(summary.seeds) == [2, 2] and "hypervolume_mean" in printed
    for variant, group in trials.groupby("variant"):
        row = summary[summary.variant == variant].iloc[0]
        assert row.hypervolume_mean == pytest.approx(group.hypervolume.mean())
    merged = pd.read_csv(tmp_path / "sweep" / "merged_front.csv")
    fronts = pd.concat([load_run(r).front for r in trials.run])
    assert 0 < len(merged) <= len(fronts)
    first, second = trials.objectives.iloc[0].split(",")  # error, model_size_bytes: both minimised
    for _, member in merged.iterrows():  # nothing from any trial's front dominates a merged member
        better = (fronts[first] <= member[first]) & (fronts[second] <= member[second])
        strictly = (fronts[first] < member[first]) | (fronts[second] < member[second])
        assert not (better & strictly).any()
    assert (tmp_path / "sweep" / "sweep.png").stat().st_size > 0
    sizes = {r: len(load_run(r).candidates) for r in trials.run}
    assert main(argv) == 0  # again: Tune restores the finished sweep, nothing is searched twice
    again = pd.read_csv(tmp_path / "sweep" / "trials.csv")
    pd.testing.assert_frame_equal(again.sort_values("run", ignore_index=True), trials.sort_values("run", ignore_index=True))
    assert {r: len(load_run(r).candidates) for r in trials.run} == sizes


@pytest.mark.parametrize("change, message", [
    ({"--supernet": "/no/such/ckpt"}, "supernet checkpoint /no/such/ckpt does not exist"),
    ({"--spaces": "nope"}, "search space 'nope' not found"),
    ({"--objectives": "nope"}, "nope"),
    ({"--generations": "0"}, "--generations 0: give at least 1"),
    ({"--algorithms": "nsga2+fast"}, "search variant 'nsga2+fast': write ALGORITHM[+surrogate][+thresholds]"),
    ({"--algorithms": "random+surrogate"}, "+surrogate screens offspring of nsga2 or nsga3 only"),
    ({"--ray-address": "ray://127.0.0.1:10001"}, "Ray Client (ray://) addresses are not supported"),
    ({"--ray-address": "127.0.0.1:1"}, "cannot reach the Ray cluster"),
])
def test_sweep_bad_input_is_named_before_any_trial(tmp_path, capsys, change, message):
    ckpt = make_checkpoint(tmp_path / "ckpt")
    argv = {"--supernet": str(ckpt), "--output": str(tmp_path / "sweep"), "--spaces": "small", "--objectives": "default",
            "--generations": "1"}
    argv.update(change)
    assert main(["sweep", *[x for pair in argv.items() for x in pair]]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()  # nothing started, nothing written


@pytest.mark.usefixtures("private_cache")
def test_training_sweep_then_a_sweep_over_its_supernets(tmp_path, tiny_model, tiny_task, capsys):
    out = tmp_path / "train-sweep"
    argv = ["sweep", "--output", str(out), "--train-grid", "learning_rate=1e-3,1e-4",
            "--train-option", f"model={tiny_model}", "--train-option", f"task={tiny_task}",
            "--train-option", "epochs=1", "--train-option", "batch_size=16", "--max-concurrent", "2"]
    assert main(argv) == 0
    table = pd.read_csv(out / "trainings.csv")
    assert list(table.learning_rate) == [1e-4, 1e-3] and "learning_rate" in capsys.readouterr().out
    from evosearch.training.checkpoint import read_description

    for row in table.itertuples():  # each row is the training's own dev figures, in a loadable checkpoint
        meta = read_description(row.supernet)["meta"]
        assert meta["dev"]["largest"] == pytest.approx(row.dev_largest)
        assert meta["dev"]["smallest"] == pytest.approx(row.dev_smallest)
    logs = {row.supernet: (tmp_path / row.supernet / "train_log.csv").stat().st_mtime for row in table.itertuples()}
    assert main(argv) == 0  # restored: nothing is trained again
    assert {s: (tmp_path / s / "train_log.csv").stat().st_mtime for s in logs} == logs
    # both supernets as one more dimension of a search sweep
    argv = ["sweep", "--supernet", *table.supernet, "--output", str(tmp_path / "sweep"), "--seeds", "0",
            "--algorithms", "random", "--spaces", "small", "--objectives", "default", "--generations", "1",
            "--population", "4", "--dev-subset", "0"]
    assert main(argv) == 0
    trials = pd.read_csv(tmp_path / "sweep" / "trials.csv")
    assert sorted(trials.supernet) == sorted(p.split("/")[-1] for p in table.supernet)
    assert len(pd.read_csv(tmp_path / "sweep" / "summary.csv")) == 2


@pytest.mark.parametrize("argv, message", [
    (["--train-grid", "lr=1"], "unknown training option(s) ['lr']"),
    (["--train-grid", "learning_rate=abc"], "learning_rate='abc': expected float"),
    (["--train-grid", "epochs=0"], "--epochs 0.0: give a positive number"),
    (["--train-grid", "epochs=1", "--train-option", "epochs=2"], "given in --train-grid and --train-option"),
    (["--train-option", "epochs=2"], "--train-option goes with --train-grid"),
    ([], "give --supernet CKPT"),
])
def test_training_sweep_bad_input_is_named_before_any_trial(tmp_path, capsys, argv, message):
    assert main(["sweep", "--output", str(tmp_path / "sweep"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()
