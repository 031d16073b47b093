"""``evosearch verify``: export and check every member of a run's front as it would be deployed."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Export every member of a search run's front (the members `evosearch pick` offers) exactly as
`evosearch export` does, into a temporary folder, and check it on the dev set as deployed
(ONNX Runtime, one sentence at a time, early exit):

  accuracy   the export's against the supernet's estimate (same thresholds, same sentences), and
             the share of sentences with the same prediction (int8 agreement)
  latency    measured per sentence on real dev sentences against the CPU latency model's
             prediction for the same sentences and exits (the cpu_latency_ms objective)
  size       weights.safetensors against model_size_bytes, the ONNX graphs against onnx_size_bytes

Writes RUN/front_verification.csv (one row per member) and RUN/front_verification.json (MAPE
and Spearman of the latency prediction over the front); `evosearch report` shows them.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("verify", help="export and check every front member as deployed",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN", help="search run folder (results/<run-name>)")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads (default 1, as the latency model)")
    p.add_argument("--sentences", type=int, default=200, help="dev sentences timed per member (default 200)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per sentence; the fastest counts (default 3)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..deploy.front import format_front_verification, verify_front
    from ..errors import EvosearchError
    from ..report import load_run

    for name in ("threads", "sentences", "repeats"):
        if getattr(args, name) < 1:
            raise EvosearchError(f"--{name} {getattr(args, name)}: give at least 1")
    load_run(args.run)  # clear errors for a bad run folder first
    table, summary = verify_front(args.run, threads=args.threads, sentences=args.sentences, repeats=args.repeats)
    print(format_front_verification(table, summary))
    print(f"written to {args.run}/front_verification.csv and front_verification.json")
    return 0
