"""Supernet training quality across seeds: the issue-3 goals, with their run-to-run spread.

Collects finished training runs (folders written by ``evosearch train``) and prints, per run and
as mean ± standard deviation, the wall time and the accuracy of the reference sub-networks
(largest, half width, smallest of the trained space, largest at 4-bit weights) on the dev split
(which the training defaults were tuned on) and on the untouched test split.

    for seed in 0 1 2; do evosearch train --seed $seed --output results/train-s$seed; done
    python scripts/bench_training.py results/train-s0 results/train-s1 results/train-s2 --label default

Writes results/bench/training-<label>.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

GOALS = {"largest": 0.86, "half": 0.83, "smallest": 0.75, "largest_4bit": 0.84}


def read_run(folder: Path) -> dict:
    meta = json.loads((folder / "supernet.json").read_text())["meta"]
    config = meta["train_config"]
    row = {"run": folder.name, "seed": config["seed"], "minutes": round(meta["train_seconds"] / 60, 1), "threads": config.get("threads")}
    for split in ("dev", "test"):
        for name in GOALS:
            row[f"{split}_{name}"] = meta.get(split, {}).get(name)
    row["dev_largest_per_exit"] = meta["dev"].get("largest_per_exit")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="training run folders (each with supernet.json)")
    parser.add_argument("--label", default="default", help="name of this training setup (output file name)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    runs = pd.DataFrame([read_run(folder) for folder in args.runs])
    columns = ["minutes"] + [f"{split}_{name}" for split in ("dev", "test") for name in GOALS]
    summary = runs[columns].agg(["mean", "std", "min"]).round(4)
    met = {name: bool((runs[f"dev_{name}"] >= goal).all()) for name, goal in GOALS.items()}

    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(runs.drop(columns=["dev_largest_per_exit"]).to_string(index=False))
        print()
        print(summary.to_string())
    print("\ndev goals met by every run:", ", ".join(f"{n} >= {g}: {'yes' if met[n] else 'no'}" for n, g in GOALS.items()))

    out = args.out or Path("results/bench") / f"training-{args.label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"label": args.label, "goals": GOALS, "runs": runs.to_dict("records"),
                               "summary": summary.to_dict(), "dev_goals_met_by_every_run": met}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
