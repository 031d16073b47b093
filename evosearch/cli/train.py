"""``evosearch train``: fine-tune a checkpoint on a task as a weight-sharing supernetwork."""

from __future__ import annotations

import argparse
import dataclasses
import json

from ..errors import EvosearchError

HELP = """\
Fine-tune an ALBERT/BERT checkpoint on a task as a weight-sharing supernetwork and save a
supernet checkpoint (weights, architecture, tokenizer, search-space bounds, training metadata)
that `evosearch search` loads.

Heads and FFN neurons are first ranked by gradient importance and permuted so slicing keeps the
best; then every step trains several sub-networks (sandwich rule: largest + smallest + random,
with in-place distillation from the largest; each sampled sub-network's loss weighs half the
largest's), an exit classifier after every layer, sampled bit widths (quantization-aware),
sampled attention spans (or, with --span-mode learned, spans learned per head) and, with
--sparsity, sampled per-layer unstructured sparsities (pruned by magnitude, or by learned
movement scores with --pruning movement) that ramp up from 0 over the first 2/3 of the
sampled steps (--sparsity-warmup).

Defaults train the embedded MiniLM on movie-polarity in about 12 minutes on 2 idle CPU cores
(dev accuracy: largest 0.87, half width 0.86, smallest 0.82; docs/benchmarks.md). The dev and
test accuracies of reference sub-networks are printed and stored in the checkpoint.
A killed run continues with --resume (same --output and settings).
"""


def register(subparsers) -> None:
    from ..specs import PRUNING_CRITERIA
    from ..training.trainer import DEFAULT_SPARSITY_WARMUP, SPAN_MODES, TrainConfig

    d = TrainConfig()
    p = subparsers.add_parser(
        "train", help="train a supernetwork on a task", description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--config", help="YAML file with any of the options below (command-line flags win)")
    p.add_argument("--model", help="model folder or hub name (default: the embedded MiniLM)")
    p.add_argument("--task", help=f"built-in task, datasets name (glue/sst2) or local file (default: {d.task})")
    p.add_argument("--regression", action="store_true", default=None,
                   help="the task's labels are real numbers (for a local file; built-in and datasets tasks know their kind)")
    p.add_argument("--output", help=f"run folder for checkpoints and logs (default: {d.output})")
    p.add_argument("--max-length", type=int, help=f"truncate inputs to this many tokens (default: {d.max_length})")
    p.add_argument("--train-subset", type=int, help="train on the first N shuffled training examples (default: all)")
    p.add_argument("--epochs", type=float, help=f"passes over the training data (default: {d.epochs})")
    p.add_argument("--batch-size", type=int, help=f"(default: {d.batch_size})")
    p.add_argument("--learning-rate", type=float, help=f"peak AdamW learning rate (default: {d.learning_rate})")
    p.add_argument("--strategy", choices=["sandwich", "random", "standard"], help=f"(default: {d.strategy})")
    p.add_argument("--num-random", type=int, help=f"random sub-networks per sandwich step (default: {d.num_random})")
    p.add_argument("--num-uniform", type=int, help=f"uniform-width sub-networks per sandwich step (default: {d.num_uniform})")
    p.add_argument("--temperature", type=float, help=f"distillation temperature (default: {d.temperature})")
    p.add_argument(
        "--regularize-largest-only", action=argparse.BooleanOptionalAction,
        help=f"dropout only for the largest network, not the sampled ones (BigNAS) (default: {d.regularize_largest_only})",
    )
    p.add_argument(
        "--sampled-weight", type=float,
        help=f"weight of each sampled sub-network's loss; the largest network's weighs 1 (default: {d.sampled_weight})",
    )
    p.add_argument(
        "--importance-warmup", type=int,
        help=f"largest-network-only steps before heads and neurons are ranked and sub-networks are sampled (default: {d.importance_warmup})",
    )
    p.add_argument("--teacher", help="fine-tuned checkpoint whose logits sub-networks distill from (default: the largest sub-network)")
    p.add_argument("--train-word-embeddings", action="store_true", help="also train the word embedding table (default: frozen, faster)")
    p.add_argument("--min-head-fraction", type=float, help=f"smallest fraction of heads trained (default: {d.space.min_head_fraction})")
    p.add_argument("--min-ffn-fraction", type=float, help=f"smallest fraction of FFN neurons trained (default: {d.space.min_ffn_fraction})")
    p.add_argument("--bits", type=int, nargs="+", help=f"weight bit widths sampled (default: {' '.join(map(str, d.space.bits))})")
    p.add_argument("--span-fractions", nargs="+",
                   help="attention spans sampled, as fractions of the task's reference length (95th percentile of "
                        "training lengths); 'none' = unlimited (default: none 0.5 0.25 0.125)")
    p.add_argument("--spans", nargs="+", help="attention spans sampled in tokens instead of fractions; 'none' = unlimited")
    p.add_argument("--span-ramp", type=int, help="ramp of the span mask in tokens (default: 1/16 of the reference length)")
    p.add_argument("--embedding-bits", type=int, nargs="+", help=f"(default: {' '.join(map(str, d.space.embedding_bits))})")
    p.add_argument("--sparsity", type=float, nargs="+",
                   help="per-layer unstructured sparsities sampled, as fractions of each weight row zeroed (default: 0, dense)")
    p.add_argument("--pruning", choices=PRUNING_CRITERIA,
                   help="which weights a sparsity zeroes: the smallest in magnitude, or those with the lowest learned "
                        "movement scores (Sanh et al., NeurIPS 2020; needs a --sparsity above 0); search and export "
                        f"use the same masks (default: {d.pruning})")
    p.add_argument("--sparsity-warmup", type=float, metavar="FRACTION",
                   help="ramp sampled sparsities up from 0 with a cubic schedule (Zhu & Gupta 2017, as Sanh et al. "
                        "2020) over this fraction of the steps after --importance-warmup, then train at the sampled "
                        "values; 0 = prune at full sparsity from the first sampled step (default: "
                        f"{DEFAULT_SPARSITY_WARMUP:.3g} with a --sparsity above 0, else 0)")
    p.add_argument("--span-mode", choices=SPAN_MODES,
                   help="attention spans sampled per sub-network from --spans/--span-fractions, or learned per head "
                        "with the adaptive-span L1 penalty (Sukhbaatar et al., ACL 2019); learned spans start at "
                        f"--max-length and every sub-network runs them (default: {d.span_mode})")
    p.add_argument("--span-penalty", type=float,
                   help="lambda of the span penalty lambda * mean(span) / max-length added to the loss (--span-mode "
                        f"learned; with 0 the spans stay at --max-length) (default: {d.span_penalty})")
    p.add_argument("--span-learning-rate", type=float,
                   help=f"learning rate of the learned spans, about tokens per step (default: {d.span_learning_rate})")
    p.add_argument("--embedding-sparsity", type=float, nargs="+",
                   help="fractions of each embedding table pruned by magnitude, sampled (EdgeBERT keeps 40%%: 0.6; "
                        f"default: {' '.join(map(str, d.space.embedding_sparsity))})")
    p.add_argument("--quant", choices=["int", "adaptivfloat"], help=f"quantization scheme (default: {d.space.quant})")
    p.add_argument("--checkpoint-every", type=int, help=f"save a resumable state every N steps (default: {d.checkpoint_every})")
    p.add_argument("--seed", type=int, help=f"seed of the training randomness (default: {d.seed})")
    p.add_argument("--split-seed", type=int, help=f"seed of the train/dev/test split, for tasks without fixed splits (default: {d.split_seed})")
    p.add_argument("--device", help="cpu or cuda (default: cpu)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: one per core, with OMP_WAIT_POLICY=PASSIVE so a shared machine does not slow them down)")
    p.add_argument("--resume", action="store_true", help="continue the run in --output from its last checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="train from scratch into an --output that holds a supernet: the old one is moved aside to "
                        "OUTPUT.replaced-<time>/ (never deleted)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


SPACE_FLAGS = {"min_head_fraction", "min_ffn_fraction", "bits", "spans", "span_fractions", "span_ramp", "embedding_bits",
               "quant", "sparsity", "embedding_sparsity"}


def build_config(args):
    """Merge the YAML config (if any) and the flags into a validated :class:`TrainConfig`."""
    from ..training.space import TrainingSpace
    from ..training.trainer import TrainConfig

    values = {}
    if args.config:
        import yaml

        try:
            with open(args.config) as f:
                values = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as err:
            raise EvosearchError(f"cannot read --config {args.config}: {err}") from None
        if not isinstance(values, dict):
            raise EvosearchError(f"--config {args.config} must hold a mapping of option: value")
    flags = {k: v for k, v in vars(args).items()
             if v is not None and k not in ("config", "resume", "overwrite", "quiet", "func", "command",
                                            "train_word_embeddings")}
    if args.train_word_embeddings:
        flags["freeze_word_embeddings"] = False
    for key, kind in (("spans", int), ("span_fractions", float)):
        if key in flags:
            flags[key] = [None if str(s).lower() in ("none", "null") else _number(key, s, kind) for s in flags[key]]
    values.update(flags)
    space = dict(values.pop("space", None) or {})
    space.update({k: values.pop(k) for k in list(values) if k in SPACE_FLAGS})
    allowed = {f.name for f in dataclasses.fields(TrainConfig)} - {"space"}
    unknown = set(values) - allowed
    if unknown:
        raise EvosearchError(f"unknown training option(s) {sorted(unknown)}; allowed: {', '.join(sorted(allowed | SPACE_FLAGS))}")
    return TrainConfig(**values, space=TrainingSpace.from_dict(space))


def _number(flag: str, text: str, kind):
    try:
        return kind(text)
    except ValueError:
        raise EvosearchError(f"--{flag.replace('_', '-')}: {text!r} is not a number (or 'none')") from None


def run(args) -> int:
    from .. import api

    result = api.train(build_config(args), resume=args.resume, overwrite=args.overwrite, progress=not args.quiet)
    if result.moved_aside:
        print(f"moved the earlier training in {result.folder} to {result.moved_aside}")
    print(f"supernet checkpoint: {result.folder}")
    if result.dev_metrics:
        print("dev accuracy (final exit):")
        for name, value in result.dev_metrics.items():
            print(f"  {name:<18} {json.dumps(value)}")
        print(f"test accuracies are in {result.folder / 'supernet.json'} (meta.test)")
    return 0
