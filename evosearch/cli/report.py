"""``evosearch report``: one self-contained HTML (or Markdown) page of a search run."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Write one self-contained page for a search run folder: the run's configuration (space,
objectives, constraints, algorithm, supernet, task), every plot of `evosearch plot` embedded as
an image (no side files needed), the Pareto front as a table (objectives and every metric, with
per-layer heads / FFN neurons / bits / span, exit thresholds), the final front re-scored on the
full dev set, and the hypervolume per generation. HTML by default (RUN/report.html); Markdown with
--format md or an --out ending in .md.
"""

EPILOG = """\
examples:
  evosearch report results/edgebert-nsga2-s0
  evosearch report results/edgebert-nsga2-s0 --out edgebert.md
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="write a self-contained HTML/Markdown page of a run",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN", help="search run folder (results/<run-name>)")
    p.add_argument("--out", metavar="FILE", help="output file (default: RUN/report.html, or .md with --format md)")
    p.add_argument("--format", choices=["html", "md"], help="html (default) or md")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..report import load_run, write_report

    r = load_run(args.run)
    out = args.out
    if out is None and args.format == "md":
        out = r.folder / "report.md"
    path = write_report(r, out, fmt=args.format or (None if out else "html"))
    print(f"wrote {path} ({Path(path).stat().st_size / 1e3:.0f} kB, plots embedded)")
    return 0
