"""``evosearch finetune``: fine-tune a picked sub-network on its own, before exporting it."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Fine-tune one sub-network of a search run (a candidate id or a pick file) on the task's training
split, as that one sub-network: its heads, neurons, bit widths (quantization-aware), spans and exit
thresholds are kept; every exit learns from the labels and, by distillation, from the largest
sub-network of the original supernet (or --teacher). Writes a supernet checkpoint with the
fine-tuned weights to --out, and --out/pick.yaml to export it with:

  evosearch export RUN --pick OUT/pick.yaml --out DEPLOY

(the export's verification then compares it with the fine-tuned supernet's own estimate).
Prints dev and test accuracy before and after. Stops after --steps or --max-minutes; a killed
fine-tune continues with --resume.
"""

EPILOG = """\
examples:
  evosearch finetune results/quickstart/search --pick results/quickstart/pick.yaml --out results/quickstart/finetuned
  evosearch finetune results/edgebert-nsga2-s0 --pick c42 --out ft-c42 --steps 600 --max-minutes 10
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("finetune", help="fine-tune a picked sub-network (distillation, quantization-aware)",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN", help="search run folder")
    p.add_argument("--pick", required=True, metavar="ID|YAML", help="a candidate id (c12) or a pick file")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the fine-tuned checkpoint")
    p.add_argument("--steps", type=int, default=300, help="optimizer steps of batch --batch-size (default 300)")
    p.add_argument("--max-minutes", type=float, help="stop after this many minutes, even before --steps")
    p.add_argument("--batch-size", type=int, default=32, help="(default 32)")
    p.add_argument("--learning-rate", type=float, default=2e-5, help="peak AdamW learning rate (default 2e-5)")
    p.add_argument("--teacher", metavar="CKPT", help="supernet checkpoint whose largest sub-network teaches "
                   "(default: the run's supernet)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--resume", action="store_true", help="continue a killed fine-tune in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    import torch

    from ..deploy import resolve_pick
    from ..errors import EvosearchError
    from ..fileio import FolderLock
    from ..training.finetune import FinetuneConfig, finetune

    if args.threads:
        if args.threads < 1:
            raise EvosearchError(f"--threads {args.threads}: give at least 1")
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise EvosearchError(f"--out {out} is a file; give a folder")
    if not args.resume and (out / "supernet.pt").exists():
        raise EvosearchError(f"{out} already holds a fine-tuned supernet; continue it with --resume or choose another --out")
    deployment = resolve_pick(args.run, args.pick)
    settings = FinetuneConfig(steps=args.steps, max_seconds=60 * args.max_minutes if args.max_minutes else None,
                              batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
                              teacher=args.teacher)
    with FolderLock(out, "fine-tune"):
        result = finetune(deployment.supernet, deployment.config, deployment.thresholds, out, settings,
                          resume=args.resume, progress=not args.quiet, task=deployment.task)
    print(f"fine-tuned {deployment.candidate or args.pick} for {result.steps} steps in {result.seconds:.0f} s")
    for split in result.before:
        print(f"  {split:<10} accuracy with early exit: {100 * result.before[split]:.2f}% -> "
              f"{100 * result.after[split]:.2f}%")
    print(f"  dev loss {result.dev_loss_before:.4f} -> {result.dev_loss_after:.4f}")
    print(f"export it with: evosearch export {args.run} --pick {out / 'pick.yaml'} --out DIR")
    return 0
