"""One entry point for every kind of task: :func:`load_task`."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path

from datasets import DatasetDict

from .builtin import BUILTIN_TASKS, load_builtin_task
from .errors import DataError
from .hub import HubLoadError, load_hub_task
from .local import SUFFIXES, load_local_task
from .task import TaskInfo

# A datasets name: "name", "name/config", "owner/name/config", or "owner/name:config".
_HUB_NAME = re.compile(r"^[\w.-]+(/[\w.-]+){0,2}(:[\w.-]*)?$")


def parse_hub_spec(spec: str) -> tuple[str, str | None]:
    """Split a hub spec into ``(name, config)``.

    ``glue/sst2`` → ``("glue", "sst2")``; ``owner/name/config`` → ``("owner/name", "config")``;
    a colon makes it explicit: ``owner/name:config`` → ``("owner/name", "config")`` and
    ``owner/name:`` → ``("owner/name", None)``.
    """
    if ":" in spec:
        name, config = spec.split(":", 1)
        return name, config or None
    parts = spec.split("/")
    if len(parts) == 1:
        return spec, None
    return "/".join(parts[:-1]), parts[-1]


def _unknown(spec: str, reason: str) -> DataError:
    """The error for a spec that names no task; it lists the built-in tasks."""
    close = difflib.get_close_matches(spec, BUILTIN_TASKS, n=1, cutoff=0.8)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return DataError(f"unknown task {spec!r} ({reason}). Built-in tasks: {', '.join(BUILTIN_TASKS)}.{hint}")


def load_task(
    spec: str,
    seed: int = 0,
    *,
    text_columns: Sequence[str] | None = None,
    label_column: str | None = None,
    regression: bool | None = None,
) -> tuple[DatasetDict, TaskInfo]:
    """Load a task as a ``DatasetDict`` (train / validation / test) and its :class:`TaskInfo`.

    Args:
        spec: a built-in task name (see :data:`BUILTIN_TASKS`), a path to a local file or
            folder of split files (see :mod:`evosearch.data.local`), or a ``datasets`` name
            (``glue/sst2``, ``imdb``, ``owner/name:config``; see :func:`parse_hub_spec`).
        seed: seed of the deterministic splits.
        text_columns, label_column: override the source's column names (not for built-in tasks).
        regression: force regression (``True``) or classification (``False``); default: the
            built-in task's kind, the dataset's label type, or classification for local files.

    Returns:
        ``(splits, info)``; every split has ``text`` [, ``text_pair``] and ``label`` columns.

    Raises:
        DataError: unknown task, unreadable data, missing columns, empty splits, bad labels.
    """
    if spec in BUILTIN_TASKS:
        if text_columns or label_column or regression is not None:
            raise DataError(f"built-in task {spec!r} has fixed columns and label type; do not override them")
        return load_builtin_task(spec, seed)
    path = Path(spec).expanduser()
    if path.exists():
        return load_local_task(path, seed, text_columns=text_columns, label_column=label_column, regression=bool(regression))
    if path.suffix.lower() in SUFFIXES or spec.startswith((".", "/", "~")):
        raise DataError(f"file {spec!r} does not exist")
    if not _HUB_NAME.match(spec):
        raise _unknown(spec, "not a built-in task, an existing file, or a datasets name")
    if "/" not in spec and difflib.get_close_matches(spec, BUILTIN_TASKS, n=1, cutoff=0.8):
        raise _unknown(spec, "not a built-in task")
    name, config = parse_hub_spec(spec)
    try:
        return load_hub_task(name, config, seed, text_columns=text_columns, label_column=label_column, regression=regression)
    except HubLoadError as err:
        raise DataError(f"{_unknown(spec, 'not a built-in task or an existing file')}\n{err}") from err
