"""Tasks from local CSV / TSV / JSON / JSON Lines / Parquet files.

``path`` is either one file (split 80/10/10 by seed) or a folder with one file per split, named
``train``, ``validation`` (or ``dev`` / ``valid``) and ``test`` with a supported suffix; missing
splits are made as in :func:`~evosearch.data.splits.complete_splits`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
from datasets import Dataset, DatasetDict

from .assemble import assemble_task
from .columns import guess_text_columns
from .errors import DataError
from .task import LABEL, TaskInfo

SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet")
_SPLIT_NAMES = {"train": "train", "validation": "validation", "dev": "validation", "valid": "validation", "test": "test"}


def read_table(path: Path) -> Dataset:
    """Read one file into a :class:`Dataset` (CSV cells ``NA``/``null`` stay text; empty cells are missing)."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", keep_default_na=False, na_values=[""])
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix == ".jsonl":
            frame = pd.read_json(path, lines=True)
        elif suffix == ".json":
            try:
                frame = pd.read_json(path)
            except ValueError:
                frame = pd.read_json(path, lines=True)
        else:
            raise DataError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(SUFFIXES)}")
        return Dataset.from_pandas(frame, preserve_index=False)
    except (ValueError, OSError, pa.ArrowException, pd.errors.ParserError) as err:
        raise DataError(f"could not read {path}: {type(err).__name__}: {err}") from err


def _split_files(folder: Path) -> dict[str, Path]:
    """``{split: file}`` for the split files in ``folder``."""
    found: dict[str, Path] = {}
    for file in sorted(folder.iterdir()):
        split = _SPLIT_NAMES.get(file.stem.lower())
        if split and file.suffix.lower() in SUFFIXES:
            if split in found:
                raise DataError(f"{folder}: two files for split {split!r}: {found[split].name} and {file.name}")
            found[split] = file
    if not found:
        raise DataError(
            f"{folder}: no split files; expected train / validation (dev, valid) / test with a suffix in {', '.join(SUFFIXES)}"
        )
    return found


def load_local_task(
    path: str | Path,
    seed: int = 0,
    *,
    text_columns: Sequence[str] | None = None,
    label_column: str | None = None,
    regression: bool = False,
) -> tuple[DatasetDict, TaskInfo]:
    """Load a task from a local file or folder of split files.

    Args:
        path: a file, or a folder of split files (see the module docstring).
        seed: seed of the splits that have to be made.
        text_columns: one or two text columns (default guessed from common names).
        label_column: default ``label``.
        regression: ``True`` for a real-valued label; otherwise labels are classes (strings are
            mapped to ids in sorted order and become the label names).
    """
    path = Path(path)
    files = _split_files(path) if path.is_dir() else {"train": path}
    raw = {split: read_table(file) for split, file in files.items()}
    columns = tuple(text_columns or guess_text_columns(raw["train"] if "train" in raw else next(iter(raw.values())), str(path)))
    label = label_column or LABEL
    return assemble_task(
        raw, columns, label, regression,
        name=str(path),
        source=f"local {', '.join(str(f) for f in files.values())}",
        seed=seed,
        where=lambda split: str(files[split]),
    )
