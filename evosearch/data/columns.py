"""Check, guess and rename the text and label columns of a dataset."""

from __future__ import annotations

from collections.abc import Sequence

from datasets import Dataset, Value

from .errors import DataError
from .task import LABEL, TEXT, TEXT_PAIR

#: Text columns tried in order when the caller names none.
COMMON_TEXT_COLUMNS = (
    ("sentence1", "sentence2"),
    ("premise", "hypothesis"),
    ("question1", "question2"),
    ("question", "sentence"),
    ("text",),
    ("sentence",),
)
_STRING_TYPES = ("string", "large_string")


def require_columns(ds: Dataset, columns: Sequence[str], where: str) -> None:
    """Raise :class:`DataError` naming the missing ``columns`` and listing those that exist."""
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {', '.join(map(repr, missing))}; "
            f"columns present: {', '.join(ds.column_names)}"
        )


def guess_text_columns(ds: Dataset, where: str) -> tuple[str, ...]:
    """The first of :data:`COMMON_TEXT_COLUMNS` that ``ds`` has, else a :class:`DataError`."""
    for candidate in COMMON_TEXT_COLUMNS:
        if all(c in ds.column_names for c in candidate):
            return candidate
    raise DataError(
        f"{where}: cannot tell which column holds the text; name it (text_columns / --text-column); "
        f"columns present: {', '.join(ds.column_names)}"
    )


def normalize_columns(ds: Dataset, text_columns: Sequence[str], label_column: str, where: str) -> Dataset:
    """Keep only the text and label columns, renamed to ``text`` [, ``text_pair``], ``label``.

    Text columns of numbers are cast to strings and missing texts become ``""``.
    """
    if not 1 <= len(text_columns) <= 2:
        raise DataError(f"{where}: give one or two text columns, not {len(text_columns)}")
    require_columns(ds, [*text_columns, label_column], where)
    for column in text_columns:
        feature = ds.features[column]
        if not isinstance(feature, Value):
            raise DataError(f"{where}: text column {column!r} holds {feature}, not text")
        if feature.dtype not in _STRING_TYPES:
            ds = ds.cast_column(column, Value("string"))
    ds = ds.select_columns([*text_columns, label_column])
    targets = (TEXT, TEXT_PAIR)[: len(text_columns)]
    ds = ds.rename_columns({src: dst for src, dst in zip([*text_columns, label_column], [*targets, LABEL]) if src != dst})
    if any(ds.data.column(c).null_count for c in targets):
        ds = ds.map(lambda row: {c: row[c] or "" for c in targets})
    return ds
