"""Is the front of a search run a front? Count the members that a one-gene change dominates.

For every member of the run's search front (its last front in ``fronts.csv``, on the dev subset
the run scored them on), every genome that differs in exactly one gene is scored on the same dev
subset with the same supernet and objectives, and compared with the member. A front is locally
optimal when no member is dominated by one of its neighbours; ``evosearch search`` with its
local-search stage (the default) promises that. The script also checks that no candidate the
run scored dominates a member (local search bounds its front, so some non-dominated candidates
are left out of it, but none may beat a member).

Neighbours the run already scored are read from ``candidates.csv``; the others are scored here
(``--rescore`` scores every neighbour again, ignoring the file). Scoring runs each dev example
only as deep as the neighbour's exits send it, starting from the member's hidden states where
the layers agree (the same exact computation the local search uses).

    python scripts/check_dominance.py results/quickstart/search --threads 1

Prints the counts and writes ``RUN/dominance_check.json``. Exit status 1 when a member is dominated.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def dominates(a, b) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="search run folder")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--rescore", action="store_true", help="score every neighbour again, even those in candidates.csv")
    args = parser.parse_args(argv)

    import numpy as np
    import torch
    import yaml
    from tqdm.auto import tqdm

    from evosearch.report import load_run
    from evosearch.search.context import SearchContext
    from evosearch.search.run import one_gene_neighbours

    torch.set_num_threads(args.threads)
    run = load_run(args.run)
    config = yaml.safe_load((run.folder / "config.yaml").read_text())
    context = SearchContext.of_run(config, where=str(run.folder / "config.yaml"))
    space, evaluator = context.space, context.evaluator
    n_obj = len(run.objectives)
    stored = {}
    if not args.rescore:
        for _, row in run.candidates.iterrows():
            genome = tuple(int(g) for g in str(row["genome"]).split("-"))
            stored[genome] = (tuple(row[f"F_{i}"] for i in range(n_obj)), float(row["cv"]))
    members = run.candidates.loc[run.search_front_ids]
    started = time.perf_counter()
    runs_before = evaluator.forward_calls
    report = {"run": str(run.folder), "members": len(members), "dev_examples": evaluator.num_examples,
              "dominated_members": [], "dominated_by_candidates": [], "neighbours": 0, "scored_here": 0}
    for cid, row in tqdm(list(members.iterrows()), desc="front members", unit="member"):
        genome = tuple(int(g) for g in str(row["genome"]).split("-"))
        F = tuple(row[f"F_{i}"] for i in range(n_obj))
        anchored = False
        better = []
        for neighbour in one_gene_neighbours(genome, space.upper):
            report["neighbours"] += 1
            if neighbour in stored:
                nF, cv = stored[neighbour]
            else:
                if not anchored:
                    evaluator.anchor(space.decode(genome)[0])
                    anchored = True
                rec = evaluator.evaluate(neighbour, early_exit_only=True)
                nF, cv = rec.F, rec.cv
                stored[neighbour] = (nF, cv)
                report["scored_here"] += 1
            if cv <= 0 and dominates(nF, F):
                better.append({"genome": "-".join(map(str, neighbour)), "F": [float(v) for v in nF]})
        if better:
            report["dominated_members"].append({"id": cid, "genome": row["genome"], "F": [float(v) for v in F],
                                                "dominated_by": better[:5], "count": len(better)})
    # a front member must also be non-dominated among everything the run scored
    all_F = run.candidates[[f"F_{i}" for i in range(n_obj)]].to_numpy(float)[run.candidates["cv"].to_numpy(float) <= 0]
    for cid, row in members.iterrows():
        F = row[[f"F_{i}" for i in range(n_obj)]].to_numpy(float)
        if (np.all(all_F <= F, axis=1) & np.any(all_F < F, axis=1)).any():
            report["dominated_by_candidates"].append(cid)
    report["model_runs"] = evaluator.forward_calls - runs_before
    report["seconds"] = round(time.perf_counter() - started, 1)
    n = len(report["dominated_members"])
    (run.folder / "dominance_check.json").write_text(json.dumps(report, indent=1))
    print(f"{run.folder}: {n} of {len(members)} front members are dominated by a one-gene neighbour "
          f"({report['neighbours']} neighbours, {report['scored_here']} scored here with {report['model_runs']} "
          f"model runs in {report['seconds']} s, on {evaluator.num_examples} dev examples)")
    for item in report["dominated_members"]:
        first = item["dominated_by"][0]
        print(f"  {item['id']} (F {np.round(item['F'], 6).tolist()}) by {item['count']} neighbours, e.g. "
              f"{first['genome']} (F {np.round(first['F'], 6).tolist()})")
    if report["dominated_by_candidates"]:
        print(f"  dominated by a candidate the run scored: {', '.join(report['dominated_by_candidates'])}")
    return 1 if n or report["dominated_by_candidates"] else 0


if __name__ == "__main__":
    sys.exit(main())
