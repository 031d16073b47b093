"""The built-in sentiment tasks, made from the human-rated sentence sets of the VADER paper.

``<source>-polarity``: binary, rating > 0 is ``positive`` (1), < 0 ``negative`` (0), rating 0
is dropped. ``<source>-rating``: regression on the mean rating in [-4, 4]. Sources: ``movie``
(Rotten Tomatoes snippets, the default), ``tweet``, ``amazon``, ``nyt``.
"""

from __future__ import annotations

from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from .splits import split_by_seed
from .task import LABEL, TEXT, TaskInfo
from .vader import SOURCE_FILES, VADER_REQUIREMENT, fetch_vader_files, read_ratings

DEFAULT_TASK = "movie-polarity"
POLARITY_NAMES = ("negative", "positive")
#: Task name -> (source, is_regression).
BUILTIN_TASKS = {
    f"{source}-{kind}": (source, kind == "rating") for kind in ("polarity", "rating") for source in SOURCE_FILES
}


def load_builtin_task(name: str, seed: int = 0, *, cache: Path | None = None) -> tuple[DatasetDict, TaskInfo]:
    """Load a built-in task (fetching the sentence files on first use) split 80/10/10 by ``seed``.

    ``name`` must be a key of :data:`BUILTIN_TASKS`; ``cache`` defaults to the user cache folder.
    """
    source, regression = BUILTIN_TASKS[name]
    path = fetch_vader_files(cache)[source]
    rows = read_ratings(path)
    if regression:
        features = Features({TEXT: Value("string"), LABEL: Value("float32")})
        data = {TEXT: [text for _, _, text in rows], LABEL: [rating for _, rating, _ in rows]}
    else:
        features = Features({TEXT: Value("string"), LABEL: ClassLabel(names=list(POLARITY_NAMES))})
        kept = [(text, int(rating > 0)) for _, rating, text in rows if rating != 0]
        data = {TEXT: [text for text, _ in kept], LABEL: [label for _, label in kept]}
    splits = split_by_seed(Dataset.from_dict(data, features=features), seed)
    info = TaskInfo(
        name=name,
        text_columns=(TEXT,),
        label_column=LABEL,
        num_labels=1 if regression else 2,
        label_names=None if regression else POLARITY_NAMES,
        is_regression=regression,
        source=f"{VADER_REQUIREMENT} sdist, {SOURCE_FILES[source]}",
        seed=seed,
    )
    return splits, info
