"""The last step every loader shares: raw splits with named columns -> a checked task."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from datasets import Dataset, DatasetDict

from .columns import normalize_columns
from .labels import encode_labels
from .splits import check_nonempty, complete_splits
from .task import LABEL, TEXT, TEXT_PAIR, TaskInfo


def assemble_task(
    raw: dict[str, Dataset],
    columns: Sequence[str],
    label: str,
    regression: bool,
    *,
    name: str,
    source: str,
    seed: int,
    where: Callable[[str], str],
    keep: Callable[[Dataset], bool] = lambda ds: True,
) -> tuple[DatasetDict, TaskInfo]:
    """Rename columns, drop splits ``keep`` rejects, check, encode labels, complete the splits.

    ``where(split)`` names a split in error messages (a file path, or ``name [split]``).
    """
    splits = {split: normalize_columns(ds, columns, label, where(split)) for split, ds in raw.items()}
    splits = {split: ds for split, ds in splits.items() if keep(ds)}
    check_nonempty(splits)
    splits, num_labels, label_names = encode_labels(splits, regression, name)
    info = TaskInfo(
        name=name,
        text_columns=(TEXT, TEXT_PAIR)[: len(columns)],
        label_column=LABEL,
        num_labels=num_labels,
        label_names=label_names,
        is_regression=regression,
        source=f"{source}; text {list(columns)}, label {label!r}",
        seed=seed,
    )
    return complete_splits(splits, seed), info
