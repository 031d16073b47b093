"""Bad input and ordinary mistakes, one parametrized test per command: every case exits with the
stated code and message, and leaves every file that existed before exactly as it was (checksums)."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import shutil
import time
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertModel

from evosearch.cli import main
from evosearch.fileio import FolderLock

from .tiny_runs import make_checkpoint, make_run
from .tiny_models import TINY, save_tiny


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "cache" not in p.parts}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny checkpoint, a finished search run with a pick, an export, a trained supernet folder."""
    import os

    tmp = tmp_path_factory.mktemp("world")
    old = os.environ.get("EVOSEARCH_CACHE")
    os.environ["EVOSEARCH_CACHE"] = str(tmp / "cache")
    os.environ["EVOSEARCH_CALIBRATION_BUDGET"] = "0"
    torch.set_num_threads(1)
    try:
        ckpt = make_checkpoint(tmp / "m")
        run = make_run(tmp, ckpt, generations=2, population=6, dev_subset=30)
        assert main(["pick", str(run), "--knee", "--out", str(tmp / "pick.yaml")]) == 0
        assert main(["export", str(run), "--pick", str(tmp / "pick.yaml"), "--out", str(tmp / "deployed"),
                     "--no-verify"]) == 0
        torch.manual_seed(0)
        model = save_tiny(tmp, BertModel(BertConfig(num_hidden_layers=2, **TINY)), name="hf")
        task = tmp / "tiny.csv"
        rng = random.Random(0)
        with open(task, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            for i in range(60):
                writer.writerow([" ".join(f"w{rng.randint(2, 50)}" for _ in range(rng.randint(3, 9))), i % 2])
        train = ["train", "--model", str(model), "--task", str(task), "--max-length", "16", "--batch-size", "16",
                 "--epochs", "1", "--quiet", "--spans", "none", "4", "--importance-warmup", "1"]
        assert main(train + ["--output", str(tmp / "trained")]) == 0
        yield {"tmp": tmp, "ckpt": ckpt, "run": run, "train": train}
    finally:
        os.environ.pop("EVOSEARCH_CALIBRATION_BUDGET", None)
        if old is None:
            os.environ.pop("EVOSEARCH_CACHE", None)
        else:
            os.environ["EVOSEARCH_CACHE"] = old


def run_case(world, tmp_path, argv, code, message, prepare=None, capsys=None):
    """Copy the world, let ``prepare`` damage it, run ``argv`` (``{X}`` placeholders), check code,
    message and that no pre-existing file changed."""
    root = tmp_path / "w"
    shutil.copytree(world["tmp"], root, ignore=shutil.ignore_patterns("cache"))
    config = root / "results" / "run" / "config.yaml"  # it names the checkpoint by absolute path: point it at the copy
    config.write_text(config.read_text().replace(str(world["ckpt"]), str(root / "m" / "ckpt")))
    places = {"root": root, "ckpt": root / "m" / "ckpt", "run": root / "results" / "run",
              "deployed": root / "deployed", "trained": root / "trained", "pick": root / "pick.yaml"}
    if prepare:
        prepare(places)
    before = snapshot(root)
    args = [a.format(**{k: str(v) for k, v in places.items()}) for a in argv]
    started = time.perf_counter()
    assert main(args) == code
    seconds = time.perf_counter() - started
    err = capsys.readouterr() if capsys else None
    text = (err.err + err.out) if err else ""
    assert message in text, text[-2000:]
    assert "Traceback" not in text and "weights_only=False" not in text
    after = snapshot(root)
    changed = [f for f, digest in before.items() if after.get(f) != digest]
    assert not changed, f"pre-existing files changed or removed: {changed}"
    line = next((l.strip() for l in text.splitlines() if message in l), message)
    TABLE.append({"command": argv[0], "input": " ".join(args[1:]).replace(str(root), "W"),
                  "exit code": code, "message": line.replace(str(root), "W"), "files changed": len(changed)})
    return seconds, text


TABLE: list[dict] = []


@pytest.fixture(scope="module", autouse=True)
def write_table():
    """With EVOSEARCH_BAD_INPUT_TABLE=FILE, every case run here is written to FILE (JSON lines) for the
    issue notes and docs: command, input, exit code, message, number of pre-existing files changed."""
    import os

    yield
    target = os.environ.get("EVOSEARCH_BAD_INPUT_TABLE")
    if target:
        with open(target, "a") as f:
            for row in TABLE:
                f.write(json.dumps(row) + "\n")


def garbage(path: Path):
    path.write_bytes(b"\x00not a torch file" * 100)


def truncate(path: Path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def garble_middle_line(run: Path):
    lines = (run / "candidates.csv").read_text().splitlines(keepends=True)
    lines[len(lines) // 2] = "3,evolve,1-2,{broken\n"
    (run / "candidates.csv").write_text("".join(lines))


SEARCH = ["search", "--supernet", "{ckpt}", "--space", "small", "--objectives", "default", "--generations", "1",
          "--population", "4", "--results", "{root}/results", "--no-progress", "--workers", "0"]

CASES = {
    "search": [
        ("supernet.json not JSON", SEARCH + ["--run-name", "a"], 2, "is not valid JSON",
         lambda p: (p["ckpt"] / "supernet.json").write_text("{oops")),
        ("supernet.pt garbage", SEARCH + ["--run-name", "a"], 2, "does not match the checksum",
         lambda p: garbage(p["ckpt"] / "supernet.pt")),
        ("supernet.pt truncated", SEARCH + ["--run-name", "a"], 2, "does not match the checksum",
         lambda p: truncate(p["ckpt"] / "supernet.pt")),
        ("supernet.pt garbage, no checksum", SEARCH + ["--run-name", "a"], 2, "cannot read the weights",
         lambda p: (garbage(p["ckpt"] / "supernet.pt"), _drop_checksum(p["ckpt"]))),
        ("supernet folder missing", ["search", "--supernet", "{root}/nope", "--results", "{root}/results"], 2,
         "does not exist", None),
        ("negative dev subset", SEARCH + ["--run-name", "a", "--dev-subset", "-5"], 2, "--dev-subset -5: give 0 or more", None),
        ("negative workers", SEARCH + ["--run-name", "a", "--workers", "-3"], 2, "--workers -3: give 0 or more", None),
        ("population of one", SEARCH + ["--run-name", "a", "--population", "1"], 2, "--population 1: give at least 2", None),
        ("zero generations", SEARCH + ["--run-name", "a", "--generations", "0"], 2, "--generations 0", None),
        ("mutation rate above 1", SEARCH + ["--run-name", "a", "--mutation-rate", "2"], 2, "give a probability", None),
        ("unknown space", SEARCH[:4] + ["nope"] + SEARCH[5:] + ["--run-name", "a"], 2, "search space 'nope' not found", None),
        ("same run name again", SEARCH + ["--run-name", "run"], 2, "already holds a run", None),
        ("resume with another population", ["search", "--resume", "{run}", "--population", "99", "--no-progress"], 2,
         "--population 99 (the run has 6)", None),
        ("resume with another seed", ["search", "--resume", "{run}", "--seed", "3", "--no-progress"], 2,
         "--seed 3 (the run has 0)", None),
        ("resume with another space", ["search", "--resume", "{run}", "--space", "uniform", "--no-progress"], 2,
         "--space uniform", None),
        ("resume a folder that is no run", ["search", "--resume", "{deployed}"], 2, "no config.yaml there", None),
        ("garbled line mid-file", ["search", "--resume", "{run}", "--no-progress"], 2, "is damaged",
         lambda p: garble_middle_line(p["run"])),
        ("unreachable Ray address", SEARCH + ["--run-name", "a", "--ray-address", "127.0.0.1:1"], 2,
         "cannot reach the Ray cluster", None),
        ("Ray Client address", SEARCH + ["--run-name", "a", "--ray-address", "ray://127.0.0.1:10001"], 2,
         "Ray Client (ray://) addresses are not supported", None),
        ("run folder held by another process", ["search", "--resume", "{run}", "--no-progress"], 2, "is in use", "lock"),
    ],
    "train": [
        ("output holds a finished supernet", ["{train}", "--output", "{trained}"], 2, "already holds a supernet training", None),
        ("resume and overwrite", ["{train}", "--output", "{trained}", "--resume", "--overwrite"], 2, "not both", None),
        ("resume a finished run", ["{train}", "--output", "{trained}", "--resume"], 0, "supernet checkpoint", None),
        ("zero epochs", ["{train}", "--output", "{root}/t2", "--epochs", "0"], 2, "--epochs 0.0: give a positive", None),
        ("negative train subset", ["{train}", "--output", "{root}/t2", "--train-subset", "-5"], 2,
         "--train-subset -5", None),
        ("output is a file", ["{train}", "--output", "{pick}"], 2, "is a file", None),
        ("training state garbage", ["{train}", "--output", "{trained}", "--resume"], 2, "cannot read the training state",
         lambda p: garbage(p["trained"] / "training_state.pt")),
    ],
    "export": [
        ("out is a file", ["export", "{run}", "--pick", "{pick}", "--out", "{pick}"], 2, "is a file", None),
        ("out holds other files", ["export", "{run}", "--pick", "{pick}", "--out", "{ckpt}", "--overwrite"], 2,
         "not an earlier export", None),
        ("out holds an export", ["export", "{run}", "--pick", "{pick}", "--out", "{deployed}"], 2,
         "exists and is not empty", None),
        ("unknown candidate", ["export", "{run}", "--pick", "c99999", "--out", "{root}/e"], 2, "no candidate 'c99999'", None),
        ("pick file missing", ["export", "{run}", "--pick", "{root}/none.yaml", "--out", "{root}/e"], 2, "does not exist", None),
    ],
    "report": [
        ("empty candidates.csv", ["report", "{run}"], 2, "is empty", lambda p: (p["run"] / "candidates.csv").write_text("")),
        ("no such run", ["report", "{root}/nope"], 2, "does not exist", None),
        ("plot an unknown metric", ["plot", "{run}", "--x", "speed"], 2, "unknown objective 'speed'", None),
        ("pick with a bad condition", ["pick", "{run}", "--where", "accuracy => 3"], 2, "cannot read --where", None),
        ("pick with a negative drop", ["pick", "{run}", "--max-drop", "-1"], 2, "--max-drop -1", None),
    ],
    "calibrate": [
        ("zero threads", ["calibrate", "--supernet", "{ckpt}", "--threads", "0"], 2, "--threads 0", None),
        ("negative budget", ["calibrate", "--supernet", "{ckpt}", "--budget", "-1"], 2, "--budget -1", None),
        ("two validation networks", ["calibrate", "--supernet", "{ckpt}", "--validate", "2"], 2, "--validate 2", None),
        ("damaged supernet", ["calibrate", "--supernet", "{ckpt}"], 2, "is not valid JSON",
         lambda p: (p["ckpt"] / "supernet.json").write_text("[")),
    ],
}


def _drop_checksum(ckpt: Path):
    description = json.loads((ckpt / "supernet.json").read_text())
    description.pop("weights_sha256")
    (ckpt / "supernet.json").write_text(json.dumps(description))


def _case_ids(command):
    return [case[0] for case in CASES[command]]


def _run(world, tmp_path, capsys, case):
    name, argv, code, message, prepare = case
    argv = [part for a in argv for part in (world["train"] if a == "{train}" else [a])]
    if prepare == "lock":
        _run_locked(world, tmp_path, capsys, argv, code, message)
    else:
        seconds, _ = run_case(world, tmp_path, argv, code, message, prepare, capsys)
        assert seconds < 60
    TABLE[-1]["case"] = name


def _run_locked(world, tmp_path, capsys, argv, code, message):
    """The run folder is locked by another writer (here: this test holds the lock)."""
    holder = {}

    def take(places):
        holder["lock"] = FolderLock(places["run"], "search run").__enter__()

    try:
        run_case(world, tmp_path, argv, code, message, take, capsys)
    finally:
        if "lock" in holder:
            holder["lock"].__exit__(None, None, None)


@pytest.mark.parametrize("case", CASES["search"], ids=_case_ids("search"))
def test_search_bad_input(world, tmp_path, capsys, case):
    _run(world, tmp_path, capsys, case)


@pytest.mark.parametrize("case", CASES["train"], ids=_case_ids("train"))
def test_train_bad_input(world, tmp_path, capsys, case):
    _run(world, tmp_path, capsys, case)


@pytest.mark.parametrize("case", CASES["export"], ids=_case_ids("export"))
def test_export_bad_input(world, tmp_path, capsys, case):
    _run(world, tmp_path, capsys, case)


@pytest.mark.parametrize("case", CASES["report"], ids=_case_ids("report"))
def test_report_plot_pick_bad_input(world, tmp_path, capsys, case):
    _run(world, tmp_path, capsys, case)


@pytest.mark.parametrize("case", CASES["calibrate"], ids=_case_ids("calibrate"))
def test_calibrate_bad_input(world, tmp_path, capsys, case):
    _run(world, tmp_path, capsys, case)


def test_train_overwrite_moves_the_old_supernet_aside(world, tmp_path, capsys):
    root = tmp_path / "w"
    shutil.copytree(world["tmp"] / "trained", root / "trained")
    before = snapshot(root / "trained")
    assert main(world["train"] + ["--output", str(root / "trained"), "--overwrite"]) == 0
    assert "moved the earlier training" in capsys.readouterr().out
    aside = next(root.glob("trained.replaced-*"))
    assert snapshot(aside) == {k: v for k, v in before.items() if not k.startswith(".lock")}
    assert (root / "trained" / "supernet.pt").is_file()


def test_export_overwrite_keeps_user_files(world, tmp_path):
    root = tmp_path / "w"
    shutil.copytree(world["tmp"] / "deployed", root / "deployed")
    (root / "deployed" / "notes.txt").write_text("mine")
    (root / "deployed" / "mydata").mkdir()
    (root / "deployed" / "mydata" / "keep.csv").write_text("a,b\n")
    mine = {k: v for k, v in snapshot(root / "deployed").items() if k.startswith(("notes", "mydata"))}
    assert main(["export", str(world["run"]), "--pick", str(world["tmp"] / "pick.yaml"), "--out",
                 str(root / "deployed"), "--overwrite", "--no-verify"]) == 0
    after = snapshot(root / "deployed")
    assert {k: after[k] for k in mine} == mine
