"""Dev batches for the search, from :mod:`evosearch.data` (used by the CLI and the benchmark).

The search scores candidates on a fixed, seeded random subset of the validation split
(``subset`` examples) and re-scores the final front on the whole split.
"""

from __future__ import annotations

import numpy as np


def dev_batches(tokenizer, task_spec: str, *, seed: int = 0, max_length: int = 128, subset: int | None = None,
                batch_size: int = 32, subset_seed: int = 0):
    """``(subset_batches, full_batches, info)`` of the task's validation split.

    ``subset=None`` (or >= the split size) uses the whole split for both.
    """
    from ..data import load_task, make_eval_batches, tokenize_task

    splits, info = load_task(task_spec, seed=seed)
    tokenized = tokenize_task(splits, info, tokenizer, max_length=max_length)
    dev = tokenized["validation"]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    full = make_eval_batches(dev, batch_size, pad)
    if subset is None or subset >= len(dev):
        return full, full, info
    rows = np.sort(np.random.default_rng(subset_seed).permutation(len(dev))[:subset])
    return make_eval_batches(dev.select(rows.tolist()), batch_size, pad), full, info
