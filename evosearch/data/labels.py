"""Check label columns and encode them: class ids for classification, floats for regression."""

from __future__ import annotations

from datasets import ClassLabel, Dataset, Value

from .errors import DataError
from .task import LABEL

_INT_PREFIXES = ("int", "uint")


def _kind(feature) -> str:
    """One of ``class``, ``string``, ``int``, ``float``, ``bool`` or ``other`` for a label feature."""
    if isinstance(feature, ClassLabel):
        return "class"
    if isinstance(feature, Value):
        if feature.dtype in ("string", "large_string"):
            return "string"
        if feature.dtype == "bool":
            return "bool"
        if feature.dtype.startswith(_INT_PREFIXES):
            return "int"
        if feature.dtype.startswith("float"):
            return "float"
    return "other"


def encode_labels(splits: dict[str, Dataset], regression: bool, where: str) -> tuple[dict[str, Dataset], int, tuple[str, ...] | None]:
    """Encode the ``label`` column of every split the same way.

    Classification: a ``ClassLabel`` keeps its names; strings become ids in sorted order (the
    strings are the names); non-negative integers (and floats that are whole numbers, and
    booleans) are ids ``0..max``. Regression: numbers become float32.

    Returns:
        ``(splits, num_labels, label_names)``; ``num_labels`` is 1 and ``label_names`` ``None``
        for regression.

    Raises:
        DataError: missing labels, strings or classes for regression, non-integer or negative
            numbers for classification, fewer than two classes, or different label types per split.
    """
    kinds = {_kind(ds.features[LABEL]) for ds in splits.values()}
    if len(kinds) > 1 and kinds != {"int", "float"}:
        raise DataError(f"{where}: the label column has different types in different splits ({', '.join(sorted(kinds))})")
    kind = kinds.pop() if len(kinds) == 1 else "float"
    values = {name: list(ds[LABEL]) for name, ds in splits.items()}
    for name, column in values.items():
        missing = sum(v is None for v in column)
        if missing:
            raise DataError(f"{where}: {missing} row(s) of split {name!r} have no label")
    example = next((column[0] for column in values.values() if column), None)
    if kind == "other":
        raise DataError(f"{where}: the label column holds {splits['train'].features[LABEL]}; expected numbers or strings")
    if regression:
        if kind not in ("int", "float"):
            raise DataError(
                f"{where}: a regression task needs numeric labels, but the label column holds "
                f"{'class names' if kind == 'class' else 'text' if kind == 'string' else 'booleans'} (e.g. {example!r})"
            )
        return {n: ds.cast_column(LABEL, Value("float32")) for n, ds in splits.items()}, 1, None
    if kind == "class":
        names = splits["train"].features[LABEL].names
        if any(ds.features[LABEL].names != names for ds in splits.values()):
            raise DataError(f"{where}: the splits disagree on the class names")
    elif kind == "string":
        names = sorted({v for column in values.values() for v in column})
    else:
        numbers = {v for column in values.values() for v in column}
        odd = sorted(v for v in numbers if v != int(v))
        if odd:
            raise DataError(
                f"{where}: classification labels must be whole numbers, but the label column holds "
                f"{odd[0]!r}; for a regression task pass regression=True (--regression)"
            )
        if min(numbers) < 0:
            raise DataError(
                f"{where}: classification labels must be ids >= 0, but the label column holds {min(numbers)!r} "
                "(-1 usually marks unlabelled rows)"
            )
        names = [str(i) for i in range(int(max(numbers)) + 1)]
        if kind in ("float", "bool"):
            splits = {n: ds.cast_column(LABEL, Value("int64")) for n, ds in splits.items()}
    if len(names) < 2:
        raise DataError(f"{where}: classification needs at least two classes, found {names}")
    feature = ClassLabel(names=names)
    return {n: ds.cast_column(LABEL, feature) for n, ds in splits.items()}, len(names), tuple(names)
