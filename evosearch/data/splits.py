"""Deterministic train/validation/test splits by seed."""

from __future__ import annotations

import numpy as np
from datasets import Dataset, DatasetDict

from .errors import DataError
from .task import SPLITS

#: Share of the rows that go to validation and to test when a source has only a train split.
HELD_OUT_FRACTION = 0.1


def split_off(ds: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Split ``ds`` into ``(rest, part)`` where ``part`` holds ``fraction`` of the rows (at least one).

    The rows of ``part`` are drawn by a seeded permutation; both halves keep the original row order.
    """
    n = len(ds)
    size = max(1, int(round(n * fraction)))
    if n < size + 1:
        raise DataError(f"too few rows ({n}) to split off a held-out part; the task needs more data")
    order = np.random.default_rng(seed).permutation(n)
    return ds.select(np.sort(order[size:])), ds.select(np.sort(order[:size]))


def split_by_seed(ds: Dataset, seed: int, fraction: float = HELD_OUT_FRACTION) -> DatasetDict:
    """Split one dataset into train / validation / test (``1 - 2f``, ``f``, ``f``) by a seeded permutation."""
    n = len(ds)
    size = max(1, int(round(n * fraction)))
    if n < 2 * size + 1:
        raise DataError(f"too few rows ({n}) to split into train, validation and test; need at least 3")
    order = np.random.default_rng(seed).permutation(n)
    parts = (order[2 * size:], order[:size], order[size:2 * size])
    return DatasetDict({name: ds.select(np.sort(idx)) for name, idx in zip(SPLITS, parts)})


def complete_splits(splits: dict[str, Dataset], seed: int) -> DatasetDict:
    """Return train / validation / test from the labelled splits a source provides.

    - only ``train``: split it 80/10/10 by seed;
    - ``train`` and ``validation``: split validation in half by seed into validation and test
      (GLUE's own test labels are hidden, so this is how GLUE tasks get a labelled test split);
    - ``train`` and ``test``: split 10% of train off as validation.

    Raises:
        DataError: there is no train split, or a resulting split is empty.
    """
    if "train" not in splits:
        raise DataError(f"no labelled 'train' split; splits available: {', '.join(sorted(splits)) or 'none'}")
    check_nonempty(splits)
    if set(splits) >= set(SPLITS):
        result = DatasetDict({name: splits[name] for name in SPLITS})
    elif "validation" in splits:
        validation, test = split_off(splits["validation"], 0.5, seed)
        result = DatasetDict(train=splits["train"], validation=validation, test=test)
    elif "test" in splits:
        train, validation = split_off(splits["train"], HELD_OUT_FRACTION, seed)
        result = DatasetDict(train=train, validation=validation, test=splits["test"])
    else:
        result = split_by_seed(splits["train"], seed)
    check_nonempty(result)
    return result


def check_nonempty(splits: dict[str, Dataset]) -> None:
    """Raise :class:`DataError` naming every split that has no rows."""
    empty = [name for name, ds in splits.items() if len(ds) == 0]
    if empty:
        raise DataError(f"split(s) {', '.join(empty)} have no rows; the task needs data in every split")
