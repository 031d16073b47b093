"""The data stage: load a task, tokenize it, batch it.

    splits, info = load_task("movie-polarity", seed=0)      # or "glue/sst2", "data/reviews.csv"
    tokenized = tokenize_task(splits, info, tokenizer, max_length=128)
    loader = make_train_loader(tokenized["train"], 32, tokenizer.pad_token_id, seed=0)
    batches = make_eval_batches(tokenized["validation"], 128, tokenizer.pad_token_id)

``info.num_labels`` sizes the classifier head (1 for regression).
"""

from .batching import collate, grouped_batches, length_buckets, make_eval_batches, make_train_loader, pad_batch
from .builtin import BUILTIN_TASKS, DEFAULT_TASK
from .cache import cache_dir
from .errors import DataError
from .load import load_task
from .task import TaskInfo
from .tokenize import DEFAULT_MAX_LENGTH, load_tokenizer, tokenize_task

__all__ = [
    "BUILTIN_TASKS",
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_TASK",
    "DataError",
    "TaskInfo",
    "cache_dir",
    "collate",
    "grouped_batches",
    "length_buckets",
    "load_task",
    "load_tokenizer",
    "make_eval_batches",
    "make_train_loader",
    "pad_batch",
    "tokenize_task",
]
