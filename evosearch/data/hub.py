"""Tasks from any ``datasets`` dataset (``datasets.load_dataset``), with GLUE's columns built in.

GLUE's test labels are hidden (-1), so for GLUE the labelled validation split is halved by seed
into validation and test (see :func:`~evosearch.data.splits.complete_splits`); MNLI uses
``validation_matched`` as validation and ``validation_mismatched`` as test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import datasets
from datasets import Dataset, DatasetDict, Value

from .assemble import assemble_task
from .columns import guess_text_columns
from .errors import DataError
from .task import LABEL, SPLITS, TaskInfo


class HubLoadError(DataError):
    """``datasets.load_dataset`` failed (no network, unknown name or config)."""


@dataclass(frozen=True)
class GlueTask:
    """Columns and split names of one GLUE task."""

    text_columns: tuple[str, ...]
    regression: bool = False
    validation: str = "validation"
    test: str | None = None


GLUE_TASKS = {
    "cola": GlueTask(("sentence",)),
    "sst2": GlueTask(("sentence",)),
    "mrpc": GlueTask(("sentence1", "sentence2")),
    "stsb": GlueTask(("sentence1", "sentence2"), regression=True),
    "qqp": GlueTask(("question1", "question2")),
    "mnli": GlueTask(("premise", "hypothesis"), validation="validation_matched", test="validation_mismatched"),
    "qnli": GlueTask(("question", "sentence")),
    "rte": GlueTask(("sentence1", "sentence2")),
    "wnli": GlueTask(("sentence1", "sentence2")),
}


def is_glue(name: str) -> bool:
    """Whether ``name`` is GLUE (``glue``, ``nyu-mll/glue`` or a local copy in a folder named ``glue``)."""
    return name.rstrip("/").rsplit("/", 1)[-1] == "glue"


def _load(name: str, config: str | None) -> DatasetDict:
    """``datasets.load_dataset`` with its failures turned into a :class:`HubLoadError`."""
    try:
        loaded = datasets.load_dataset(name, config)
    except Exception as err:  # load_dataset raises many unrelated types (network, hub, config, files)
        raise HubLoadError(
            f"could not load dataset {name!r}" + (f" (config {config!r})" if config else "")
            + f" with datasets.load_dataset: {type(err).__name__}: {err}\n"
            "The Hugging Face hub may be unreachable from this machine, or the dataset or config "
            "name is wrong; local CSV/JSON/Parquet files and the built-in tasks work offline."
        ) from err
    if not isinstance(loaded, DatasetDict):
        raise DataError(f"dataset {name!r} did not load as a set of splits")
    return loaded


def _is_unlabelled(ds: Dataset) -> bool:
    """True when every label is missing or -1 (how GLUE hides its test labels)."""
    return all(v is None or v == -1 for v in ds[LABEL])


def load_hub_task(
    name: str,
    config: str | None = None,
    seed: int = 0,
    *,
    text_columns: Sequence[str] | None = None,
    label_column: str | None = None,
    regression: bool | None = None,
) -> tuple[DatasetDict, TaskInfo]:
    """Load ``datasets.load_dataset(name, config)`` as a task with train / validation / test.

    Args:
        name, config: as for ``datasets.load_dataset`` (e.g. ``"glue"``, ``"sst2"``).
        seed: seed for the splits that have to be made (see :func:`complete_splits`).
        text_columns: one or two text columns; default GLUE's for GLUE, else guessed from
            common names (``sentence1``/``sentence2``, ``premise``/``hypothesis``, ``text``, ...).
        label_column: default ``label``.
        regression: default from GLUE (``stsb``) or from the label feature (float → regression).
    """
    glue = GLUE_TASKS.get(config) if is_glue(name) and config else None
    if is_glue(name) and glue is None:
        raise DataError(f"GLUE config {config!r} is not supported; choose one of {', '.join(GLUE_TASKS)}")
    loaded = _load(name, config)
    where = f"dataset {name}" + (f"/{config}" if config else "")
    renames = {glue.validation: "validation", glue.test: "test"} if glue else {}
    raw = {renames.get(split, split): ds for split, ds in loaded.items() if split in renames or split in SPLITS}
    if not raw:
        raise DataError(f"{where}: none of the splits train/validation/test; splits present: {', '.join(loaded)}")
    first = raw.get("train", next(iter(raw.values())))
    columns = tuple(text_columns or (glue.text_columns if glue else guess_text_columns(first, where)))
    label = label_column or LABEL
    if regression is None:
        feature = first.features.get(label)
        regression = glue.regression if glue else isinstance(feature, Value) and feature.dtype.startswith("float")
    return assemble_task(
        raw, columns, label, regression,
        name=f"{name}/{config}" if config else name,
        source=f"datasets.load_dataset({name!r}, {config!r})",
        seed=seed,
        where=lambda split: f"{where} [{split}]",
        keep=lambda ds: not _is_unlabelled(ds),
    )
