"""The description of a loaded task, returned next to its :class:`datasets.DatasetDict`."""

from __future__ import annotations

from dataclasses import dataclass

#: Output column names: every loader renames its text and label columns to these.
TEXT = "text"
TEXT_PAIR = "text_pair"
LABEL = "label"
#: The three splits every loader returns.
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class TaskInfo:
    """What a model needs to know about a task.

    The datasets returned with it always have the columns ``text`` (and ``text_pair`` for
    sentence-pair tasks) and ``label``: int64 class ids for classification, float32 for
    regression.

    Attributes:
        name: the task spec as given (``movie-polarity``, ``glue/sst2``, a file path).
        text_columns: output text columns, ``("text",)`` or ``("text", "text_pair")``.
        label_column: always ``"label"``.
        num_labels: number of classes; 1 for regression (the size of the classifier head).
        label_names: class names by id (``None`` for regression).
        is_regression: whether the label is a real number.
        source: where the data came from and which original columns were used.
        seed: the seed of the train/validation/test split.
    """

    name: str
    text_columns: tuple[str, ...]
    label_column: str
    num_labels: int
    label_names: tuple[str, ...] | None
    is_regression: bool
    source: str
    seed: int

    @property
    def is_pair(self) -> bool:
        """Whether examples are sentence pairs."""
        return len(self.text_columns) == 2
