"""Batches with dynamic padding: length-bucketed for evaluation, shuffled by seed for training."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from datasets import Dataset
from torch.utils.data import DataLoader

from .errors import DataError
from .task import LABEL


def pad_batch(columns: dict[str, Sequence], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Pad one batch, given column-wise, to its longest example.

    Returns ``input_ids``, ``attention_mask``, ``token_type_ids`` (zeros when the tokenizer made
    none) as int64 ``[batch, longest]`` tensors, and ``labels`` (int64 for classes, float32 for
    regression) and ``index`` when the batch has them.
    """
    ids = columns["input_ids"]
    width = max(len(x) for x in ids)
    batch = {
        "input_ids": torch.full((len(ids), width), pad_token_id, dtype=torch.long),
        "attention_mask": torch.zeros((len(ids), width), dtype=torch.long),
        "token_type_ids": torch.zeros((len(ids), width), dtype=torch.long),
    }
    types = columns.get("token_type_ids")
    for row, x in enumerate(ids):
        batch["input_ids"][row, : len(x)] = torch.as_tensor(x)
        batch["attention_mask"][row, : len(x)] = 1
        if types is not None:
            batch["token_type_ids"][row, : len(x)] = torch.as_tensor(types[row])
    if LABEL in columns:
        labels = list(columns[LABEL])
        dtype = torch.float32 if any(isinstance(v, float) for v in labels) else torch.long
        batch["labels"] = torch.tensor(labels, dtype=dtype)
    if "index" in columns:
        batch["index"] = torch.as_tensor(columns["index"], dtype=torch.long)
    return batch


def collate(features: list[dict], pad_token_id: int) -> dict[str, torch.Tensor]:
    """``collate_fn`` for a ``DataLoader`` over tokenized rows: :func:`pad_batch` on a list of rows."""
    return pad_batch({key: [f[key] for f in features] for key in features[0]}, pad_token_id)


def length_buckets(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Example indices grouped into batches of similar length (longest first, ties by index)."""
    if batch_size < 1:
        raise DataError(f"batch_size must be at least 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def _lengths(split: Dataset) -> list[int]:
    if "length" in split.column_names:
        return list(split["length"])
    return [len(x) for x in split["input_ids"]]


def make_eval_batches(split: Dataset, batch_size: int, pad_token_id: int) -> list[dict[str, torch.Tensor]]:
    """All examples of a tokenized split as padded batches, sorted by length so padding is small.

    Each batch carries ``index``: the row of each example in ``split``, so predictions can be
    put back in order (``preds[batch["index"]] = batch_preds``). Every row appears exactly once;
    the order is deterministic.
    """
    columns = ["input_ids", "token_type_ids", LABEL]
    table = split.select_columns([c for c in columns if c in split.column_names])
    batches = []
    for indices in length_buckets(_lengths(split), batch_size):
        rows = table[indices]
        rows["index"] = indices
        batches.append(pad_batch(rows, pad_token_id))
    return batches


def grouped_batches(lengths: Sequence[int], batch_size: int, seed: int, group: int = 50) -> list[list[int]]:
    """Shuffled batches of similar length (the ``group_by_length`` idea of HF's Trainer).

    Indices are shuffled by ``seed``, cut into chunks of ``group`` batches, each chunk sorted by
    length and cut into batches, and the batches shuffled again: the data order stays random
    while a batch pads to little more than its own lengths.
    """
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(lengths), generator=generator).tolist()
    chunk = batch_size * group
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    shuffle = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in shuffle]


def make_train_loader(
    split: Dataset, batch_size: int, pad_token_id: int, seed: int = 0, *, drop_last: bool = False, group_by_length: bool = False
) -> DataLoader:
    """A ``DataLoader`` that shuffles a tokenized split by ``seed`` and pads each batch dynamically.

    The same seed gives the same sequence of batches across runs; pass ``seed + epoch`` to
    reshuffle per epoch. ``group_by_length`` batches examples of similar length together
    (:func:`grouped_batches`), which cuts padding and time on short, varied sentences.
    """
    if batch_size < 1:
        raise DataError(f"batch_size must be at least 1, got {batch_size}")
    columns = [c for c in ("input_ids", "token_type_ids", LABEL) if c in split.column_names]
    collate_fn = partial(collate, pad_token_id=pad_token_id)
    batches = grouped_batches(_lengths(split), batch_size, seed) if group_by_length else None
    if batches and drop_last:
        batches = [b for b in batches if len(b) == batch_size]
    # A loader's own generator also keeps it from drawing on the global torch RNG (dropout's).
    generator = torch.Generator().manual_seed(seed)
    if group_by_length:
        return DataLoader(split.select_columns(columns), batch_sampler=batches, collate_fn=collate_fn, generator=generator)
    return DataLoader(
        split.select_columns(columns),
        batch_size=batch_size,
        shuffle=True,
        generator=generator,
        drop_last=drop_last,
        collate_fn=collate_fn,
    )
