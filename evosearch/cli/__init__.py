"""The ``evosearch`` command line: one module per subcommand, each with ``register`` and ``run``.

A subcommand module defines ``register(subparsers)`` (adds its parser and sets ``func``)
and is listed in :data:`COMMANDS`. Errors derived from :class:`evosearch.errors.EvosearchError`
are printed as one clear message, not a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import EvosearchError

DESCRIPTION = """\
evosearch finds compressed versions of ALBERT/BERT encoders for a target device.

Pipeline (each step is a subcommand; `evosearch quickstart` runs them all on the embedded default):
  prepare   load and tokenize a task (built-in sentiment sets, any `datasets` dataset, local files)
  train     fine-tune a checkpoint as a weight-sharing supernetwork (sandwich rule, early exits,
            quantization-aware, attention spans)
  search    multi-objective genetic search (NSGA-II) over per-layer heads, FFN neurons, bit
            widths, attention spans and exit thresholds, scored on the supernet and on a hardware
            latency/energy model
  sweep     a grid of searches (seeds x algorithms x spaces x objective sets) as Ray Tune trials,
            compared in one table and plot
  plot / pick / finetune / export / verify / report   look at the Pareto front, choose a
            deployment, fine-tune it, export it (ONNX Runtime with early exit), check every front
            member as deployed

Run `evosearch COMMAND --help` for the options of each command.
"""

# Subcommand modules, in pipeline order; each must define register(subparsers).
COMMANDS = ["quickstart", "info", "prepare", "train", "calibrate", "search", "sweep", "plot", "pick", "finetune", "export",
            "verify", "report"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evosearch", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args) or 0
    except EvosearchError as err:
        print(f"evosearch {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"evosearch {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
