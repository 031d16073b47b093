"""plot / pick / report on a real (tiny) search run."""

import os

import pytest
import yaml

from evosearch.cli import main
from evosearch.report import ReportError, load_run, pick, write_report
from evosearch.report.plots import plot_all, plot_front

from .tiny_runs import make_checkpoint, make_run


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    old = os.environ.get("EVOSEARCH_CACHE")
    os.environ["EVOSEARCH_CACHE"] = str(tmp / "cache")
    try:
        ckpt = make_checkpoint(tmp)
        yield make_run(tmp, ckpt, objectives="three-way", generations=4, population=12, local_search=True)
    finally:
        if old is None:
            os.environ.pop("EVOSEARCH_CACHE", None)
        else:
            os.environ["EVOSEARCH_CACHE"] = old


def test_plots_have_expected_points(run_folder, tmp_path):
    run = load_run(run_folder)
    plots = {p.name: p for p in plot_all(run, out_dir=tmp_path)}
    assert set(plots) == {"front_energy_uj_vs_error", "pairwise", "hypervolume", "layers"}
    for p in plots.values():
        assert [f.suffix for f in p.files] == [".png", ".svg"] and all(f.stat().st_size > 1000 for f in p.files)
    distinct = run.candidates["genome"].nunique()
    front = plots["front_energy_uj_vs_error"].points
    n_front, n_search = len(run.front_ids), len(run.search_front_ids)
    assert front[f"Pareto front, full dev ({n_front})"] == n_front  # the re-scored, re-filtered front
    assert front[f"search front, dev subset ({n_search})"] == n_search
    others = sum(n for k, n in front.items() if k.startswith(("dominated", "infeasible")))
    assert others + n_search == distinct
    # the uncompressed model and the three uniform widths, scored by the search's final stage
    assert sum(n for k, n in front.items() if "no exit" in k) == 4
    assert (run_folder / "baselines.csv").is_file()
    rows = len(run.hypervolume)  # 4 generations, then the local-search rounds
    assert rows > 4 and set(run.hypervolume["stage"]) == {"evolve", "local"}
    assert plots["hypervolume"].points == {"generation": rows, "evaluations": rows}
    assert set(plots["layers"].points.values()) == {n_front * 3, n_front * 2}  # 3 layers, 2 exit thresholds
    assert len([k for k in plots["pairwise"].points if k.endswith(f"Pareto front, full dev ({n_front})")]) == 3


def test_plot_any_two_metrics_and_units(run_folder, tmp_path):
    run = load_run(run_folder)
    p = plot_front(run, "latency_ms", "accuracy", tmp_path)
    assert p.name == "front_accuracy_vs_latency_ms" and p.png.is_file()
    import matplotlib.image

    assert matplotlib.image.imread(p.png).shape[0] > 300
    from evosearch.report import unit_for

    assert unit_for("accuracy").label == "Accuracy (%) ↑"
    assert unit_for("model_size_bytes", [3e6, 5e6]).unit == "MB"
    assert unit_for("energy_uj", [250.0]).unit == "µJ"


def test_cli_plot_errors(run_folder, tmp_path, capsys):
    assert main(["plot", str(run_folder), "--x", "speed"]) == 2
    err = capsys.readouterr().err
    assert "unknown objective 'speed'" in err and "error, energy_uj, latency_ms, accuracy" in err
    assert main(["plot", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.yaml").write_text(yaml.safe_dump({"objectives": {"objectives": ["error"]}}))
    assert main(["pick", str(tmp_path / "empty"), "--knee"]) == 2
    assert "has no candidates yet" in capsys.readouterr().err
    assert main(["plot", str(run_folder), "--only", "hypervolume", "--out", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "hypervolume.png").is_file()


def test_pick_by_constraints(run_folder, tmp_path):
    run = load_run(run_folder)
    front = run.front
    bound = float(front["accuracy"].median())
    result = pick(run, where=[f"accuracy>={bound}"], minimize="energy_uj")
    assert result.found and result.candidate_id in run.front_ids  # only front members are offered
    ok = front[front["accuracy"] >= bound]
    assert front.loc[result.candidate_id, "energy_uj"] == ok["energy_uj"].min()
    path = result.write(tmp_path / "p.yaml")
    data = yaml.safe_load(path.read_text())
    assert data["candidate"] == result.candidate_id and data["config"]["layers"] and len(data["thresholds"]) == 2
    # percent form and strict operators
    assert pick(run, where=[f"accuracy>={100 * bound}%"], minimize="energy_uj").candidate_id == result.candidate_id


def test_pick_nothing_feasible_shows_nearest(run_folder, capsys):
    run = load_run(run_folder)
    low = float(run.candidates["energy_uj"].min())
    result = pick(run, where=["accuracy>=0.999", f"energy_uj<={low / 2}"], minimize="latency_ms")
    assert not result.found and len(result.nearest) == min(5, len(run.front))
    assert list(result.nearest["_violation"]) == sorted(result.nearest["_violation"])
    code = main(["pick", str(run_folder), "--where", "accuracy>=0.999", "--where", f"energy_uj<={low / 2}"])
    out = capsys.readouterr().out
    assert code == 1 and "No candidate meets the constraints" in out and "Nearest candidates" in out
    assert not (run_folder / "picks" / "None.yaml").exists()


def test_pick_errors(run_folder):
    run = load_run(run_folder)
    with pytest.raises(ReportError, match="cannot read --where 'accuracy => 3'.*metrics: error, energy_uj"):
        pick(run, where=["accuracy => 3"])
    with pytest.raises(ReportError, match="unknown metric in --where 'acc'; this run has: error"):
        pick(run, where=["acc>=0.5"])
    with pytest.raises(ReportError, match="'params', which is not an objective of this run; objectives: error"):
        pick(run, weights="params=1")
    with pytest.raises(ReportError, match="choose one way"):
        pick(run, knee=True, weights="error=1")


def test_weights_pick_the_extremes_of_the_front(run_folder, capsys):
    run = load_run(run_folder)
    a = pick(run, weights="error=1")
    b = pick(run, weights={"energy_uj": 1.0})
    front = run.front
    assert front.loc[a.candidate_id, "error"] == front["error"].min()
    assert front.loc[b.candidate_id, "energy_uj"] == front["energy_uj"].min()
    assert a.candidate_id != b.candidate_id  # the fixture's front has a real trade-off
    assert main(["pick", str(run_folder), "--knee"]) == 0
    out = capsys.readouterr().out
    assert "Picked c" in out and "heads" in out and "picks/c" in out


def test_report_embeds_images(run_folder, tmp_path):
    run = load_run(run_folder)
    path = write_report(run, tmp_path / "r.html")
    text = path.read_text()
    assert text.count("data:image/png;base64,") == 4
    assert "Pareto front (" in text and "objectives" in text
    for cid in run.front_ids:
        assert f"<td>{cid}</td>" in text
    md = write_report(run, tmp_path / "r.md").read_text()
    assert md.count("](data:image/png;base64,") == 4 and md.startswith("# evosearch run")
    assert main(["report", str(run_folder)]) == 0
    assert (run_folder / "report.html").is_file()


def test_knee_is_the_same_member_in_any_unit(run_folder, tmp_path):
    """The knee normalises each objective by the front's ideal and nadir: µJ or mJ, same member."""
    import pandas as pd

    run = load_run(run_folder)
    knee = pick(run, knee=True).candidate_id
    for scale in (1e-3, 1e3):
        scaled = load_run(run_folder)
        for frame in (scaled.candidates, scaled.final_front):
            frame["energy_uj"] = frame["energy_uj"] * scale
            col = f"F_{scaled.objectives.index('energy_uj')}"
            frame[col] = frame[col] * scale
        assert pick(scaled, knee=True).candidate_id == knee
    assert isinstance(run.front, pd.DataFrame)


def test_max_drop_picks_the_cheapest_member_near_the_uncompressed_model(run_folder, capsys):
    run = load_run(run_folder)
    reference = float(run.baseline("uncompressed")["accuracy"])
    for drop in (0.0, 5.0, 50.0):
        result = pick(run, max_drop=drop)
        front = run.front
        near = front[front["accuracy"] >= reference - drop / 100 - 1e-12]
        if len(near):
            assert result.found and front.loc[result.candidate_id, "error"] >= 0
            assert front.loc[result.candidate_id, "energy_uj"] == near["energy_uj"].min()
            assert "uncompressed model" in result.explanation
        else:
            assert not result.found
    assert main(["pick", str(run_folder), "--max-drop", "50"]) == 0
    assert "within 50 pt of the uncompressed model" in capsys.readouterr().out
    with pytest.raises(ReportError, match="choose one way"):
        pick(run, knee=True, max_drop=1.0)


def test_knee_of_a_known_front(tmp_path):
    """A front whose knee is plain: going either way from (0.1, 0.1) (normalised) trades a lot of one
    objective for little of the other. The pick is that member, in µJ and in mJ."""
    from evosearch.runstore import Record, RunStore

    layer = {"heads": 4, "ffn": 48, "bits": 8, "span": None, "sparsity": 0.0}
    points = [(0.0, 1.0), (0.05, 0.5), (0.1, 0.1), (0.5, 0.05), (1.0, 0.0)]  # c2 is the knee
    for scale, unit in ((1.0, "µJ"), (1e-3, "mJ")):
        store = RunStore(tmp_path / unit)
        store.write_config({"objectives": {"objectives": ["error", "energy_uj"], "constraints": []}})
        for i, (x, y) in enumerate(points):
            error, energy = 0.1 + 0.2 * x, (100 + 400 * y) * scale
            store.append_candidate(0, "evolve", Record((i,), {"layers": [layer], "embedding_bits": 32, "quant": "int"},
                                                       (), {"error": error, "accuracy": 1 - error, "energy_uj": energy},
                                                       (error, energy), ()))
        run = load_run(store.folder)
        assert run.front_ids == [f"c{i}" for i in range(5)]
        assert pick(run, knee=True).candidate_id == "c2", unit


def test_config_table_shows_embedding_pruning():
    from evosearch.report.pick import config_table

    layer = {"heads": 4, "ffn": 48, "bits": 8, "span": None, "sparsity": 0.0}
    pruned = config_table({"layers": [layer, layer], "embedding_bits": 8, "quant": "int", "embedding_sparsity": 0.6},
                          [0.1])
    assert "embedding bits: 8; embedding sparsity: 0.6 (keeps 40%); quantization: int" in pruned
    old = config_table({"layers": [layer, layer], "embedding_bits": 8, "quant": "int"}, [0.1])  # before the gene
    assert "embedding sparsity" not in old
