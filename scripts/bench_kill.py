#!/usr/bin/env python
"""kill -9 at random points of train, search, export and calibrate: does the next run recover?

For each command, a first uninterrupted run gives the reference result and its duration. Then,
until ``--kills`` runs were killed while running: the command is started afresh, killed with
SIGKILL after a random delay in [0, duration) (a run that ends before its delay is counted as an
attempt, not a kill), and the command a user would run next is run to completion (train and search: the same command with ``--resume`` when a state exists; export
and calibrate: the same command again, with ``--overwrite`` when the folder exists). A recovery
counts when that next run succeeds and its result is usable (the checkpoint loads, the run's
front is read, the export loads and predicts, the latency model loads); it is *identical* when
it equals the uninterrupted run's result (same checkpoint tensors, same final front, same
export files, same latency-model shape).

By default everything runs on a tiny random BERT and a tiny task made in a temporary folder, so
the whole loop takes minutes; ``--keep`` keeps that folder.

    python scripts/bench_kill.py --kills 20

Writes results/bench/kill.json with the counts per command.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = [sys.executable, "-m", "evosearch"]


def make_inputs(root: Path) -> dict:
    """A tiny BERT checkpoint folder, a tiny CSV task, a trained supernet, a search run and a pick."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    model = root / "model"
    model.mkdir(parents=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(55)]
    (model / "vocab.txt").write_text("\n".join(vocab))
    BertTokenizerFast(vocab=str(model / "vocab.txt")).save_pretrained(model)
    BertModel(BertConfig(vocab_size=60, hidden_size=32, num_attention_heads=4, intermediate_size=48,
                         max_position_embeddings=64, num_hidden_layers=3)).save_pretrained(model)
    rng = random.Random(0)
    task = root / "task.csv"
    with open(task, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i in range(300):
            words = [f"w{rng.randint(2, 50)}" for _ in range(rng.randint(3, 12))]
            if i % 2:
                words.insert(rng.randint(0, len(words)), "w1")
            writer.writerow([" ".join(words), i % 2])
    return {"model": model, "task": task}


def commands(root: Path, inputs: dict) -> dict:
    train = [*PY, "train", "--model", str(inputs["model"]), "--task", str(inputs["task"]), "--max-length", "16",
             "--batch-size", "8", "--epochs", "4", "--checkpoint-every", "3", "--importance-warmup", "2",
             "--spans", "none", "4", "--quiet", "--threads", "1"]
    search = [*PY, "search", "--supernet", str(root / "supernet"), "--space", "small", "--objectives", "edgebert-energy",
              "--generations", "4", "--population", "8", "--dev-subset", "30", "--workers", "0", "--threads", "1",
              "--no-progress", "--results", str(root)]
    return {
        "train": {"run": lambda out: train + ["--output", str(out)],
                  "next": lambda out: train + ["--output", str(out)] + (["--resume"] if (out / "training_state.pt").exists() else [])},
        "search": {"run": lambda out: search + ["--run-name", out.name],
                   "next": lambda out: ([*PY, "search", "--resume", str(out), "--no-progress", "--threads", "1"]
                                        if (out / "config.yaml").exists() else search + ["--run-name", out.name])},
        "export": {"run": lambda out: [*PY, "export", str(root / "run"), "--pick", str(root / "pick.yaml"), "--out",
                                       str(out), "--repeats", "1"],
                   "next": lambda out: [*PY, "export", str(root / "run"), "--pick", str(root / "pick.yaml"), "--out",
                                        str(out), "--repeats", "1"] + (["--overwrite"] if out.exists() and any(out.iterdir()) else [])},
        "calibrate": {"run": lambda out: [*PY, "calibrate", "--supernet", str(root / "supernet"), "--budget", "3",
                                          "--out", str(out / "model.json")],
                      "next": lambda out: [*PY, "calibrate", "--supernet", str(root / "supernet"), "--budget", "3",
                                           "--out", str(out / "model.json")]},
    }


def usable(command: str, out: Path):
    """A comparable digest of the result in ``out``, or raise when it cannot be used."""
    if command == "train":
        import torch

        from evosearch.training import load_checkpoint

        ckpt = load_checkpoint(out)
        return {k: v.clone() for k, v in ckpt.supernet.state_dict().items()}
    if command == "search":
        from evosearch.report import load_run

        run = load_run(out)
        assert run.rescored, "the search did not finish"
        return sorted(run.final_front["genome"])
    if command == "export":
        from evosearch.deploy import load_deployed

        model = load_deployed(out)
        labels, _ = model.predict(["w1 w2 w3", "w4 w5"])
        assert (out / "verification.json").is_file()
        return sorted(p.name for p in (out / "onnx").iterdir()), labels
    from evosearch.latency import LatencyModel

    model = LatencyModel.load(out / "model.json")
    return len(model.coefficients)


def same(a, b) -> bool:
    if isinstance(a, dict):
        import torch

        return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    return a == b


def run(cmd, env, timeout=900):
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kills", type=int, default=20, help="kills per command (default 20)")
    p.add_argument("--commands", default="train,search,export,calibrate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument("--out", default="results/bench/kill.json")
    args = p.parse_args(argv)

    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="bench-kill-"))
    env = {**os.environ, "EVOSEARCH_CACHE": str(root / "cache"), "EVOSEARCH_CALIBRATION_BUDGET": "2",
           "OMP_NUM_THREADS": "1"}
    inputs = make_inputs(root)
    cmds = commands(root, inputs)
    # the shared inputs of the later commands: a supernet, a run, a pick
    for step in (cmds["train"]["run"](root / "supernet"), cmds["search"]["run"](root / "run"),
                 [*PY, "pick", str(root / "run"), "--knee", "--out", str(root / "pick.yaml")]):
        done = run(step, env)
        if done.returncode:
            print(done.stdout[-2000:], done.stderr[-2000:])
            raise SystemExit(f"setup step failed: {' '.join(step[:4])}")
    results = {}
    for command in args.commands.split(","):
        reference_out = root / f"{command}-reference"
        started = time.perf_counter()
        done = run(cmds[command]["run"](reference_out), env)
        duration = time.perf_counter() - started
        if done.returncode:
            raise SystemExit(f"uninterrupted {command} failed: {done.stderr[-2000:]}")
        reference = usable(command, reference_out)
        counts = {"kills": 0, "killed_while_running": 0, "recovered": 0, "identical": 0, "failures": [],
                  "uninterrupted_seconds": round(duration, 1)}
        k = -1
        while counts["killed_while_running"] < args.kills and k < 5 * args.kills:  # runs that end before their kill
            k += 1                                                                  # time are counted, not kills
            out = root / f"{command}-{k}"
            delay = rng.uniform(0.0, duration)
            proc = subprocess.Popen(cmds[command]["run"](out), env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                counts["killed_while_running"] += 1
            counts["kills"] += 1
            nxt = run(cmds[command]["next"](out), env)
            try:
                if nxt.returncode:
                    raise RuntimeError(f"next run exited {nxt.returncode}: {(nxt.stderr or nxt.stdout)[-300:]}")
                result = usable(command, out)
            except Exception as err:  # noqa: BLE001 - a failed recovery is what we count
                counts["failures"].append({"kill": k, "after_s": round(delay, 2), "error": str(err)[-500:]})
                status = f"FAILED: {str(err)[-200:]}"
            else:
                counts["recovered"] += 1
                identical = same(result, reference)
                counts["identical"] += int(identical)
                status = "recovered" + (", identical" if identical else ", differs from the uninterrupted run")
            shutil.rmtree(out, ignore_errors=True)
            print(f"{command}: attempt {k + 1}, kill {counts['killed_while_running']}/{args.kills} after {delay:.1f} s "
                  f"-> {status}", flush=True)
        results[command] = counts
        print(f"== {command}: {counts['kills']} kills ({counts['killed_while_running']} while running, uninterrupted run "
              f"{duration:.1f} s): {counts['recovered']} recovered, {counts['identical']} identical to the "
              f"uninterrupted result, {len(counts['failures'])} failures", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"kills_per_command": args.kills, "seed": args.seed, "results": results,
                                          "date": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=1))
    print(f"wrote {args.out}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if all(not r["failures"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
