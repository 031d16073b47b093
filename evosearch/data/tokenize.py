"""Tokenize a task with a model's tokenizer and cache the result on disk.

Examples are truncated to ``max_length`` tokens and not padded (batches are padded
dynamically, see :mod:`evosearch.data.batching`). The tokenized splits keep ``label`` and gain
``input_ids``, ``attention_mask``, ``token_type_ids`` (when the tokenizer makes them) and
``length``. They are saved under ``<cache>/tokenized/<task>-<key>/``, where the key hashes the
task's data (so its split seed too), the tokenizer's vocabulary and rules, and ``max_length``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
from datasets import DatasetDict, load_from_disk

from .cache import cache_dir
from .errors import DataError
from .task import TaskInfo

DEFAULT_MAX_LENGTH = 128
#: Bump when the layout of tokenized datasets changes, so old caches are not reused.
FORMAT_VERSION = 1


def load_tokenizer(path: str | Path):
    """``AutoTokenizer.from_pretrained(path)`` with a clear error when it fails."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError) as err:
        raise DataError(f"could not load a tokenizer from {path}: {err}") from err


def tokenizer_fingerprint(tokenizer) -> str:
    """A hash of what decides a tokenizer's output: class, vocabulary, rules and special tokens.

    Truncation and padding settings are left out: a fast tokenizer stores the last call's.
    """
    digest = hashlib.sha256(type(tokenizer).__name__.encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        state = json.loads(backend.to_str())
        state.pop("truncation", None)
        state.pop("padding", None)
        digest.update(json.dumps(state, sort_keys=True).encode())
    else:
        digest.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    digest.update(json.dumps(tokenizer.special_tokens_map, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def data_fingerprint(splits: DatasetDict) -> str:
    """A hash of the rows of every split (Arrow IPC bytes), so any change of data or split shows."""
    digest = hashlib.sha256()
    for name in sorted(splits):
        table = splits[name].with_format("arrow")[:]
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table.combine_chunks())
        digest.update(name.encode())
        digest.update(sink.getvalue().to_pybytes())
    return digest.hexdigest()


def tokenize_task(
    splits: DatasetDict,
    info: TaskInfo,
    tokenizer,
    max_length: int = DEFAULT_MAX_LENGTH,
    *,
    cache: Path | None | bool = None,
) -> DatasetDict:
    """Tokenize every split; reuse a cached copy when one exists for the same data, tokenizer and length.

    Args:
        splits, info: as returned by :func:`~evosearch.data.load.load_task`.
        tokenizer: a ``transformers`` tokenizer.
        max_length: truncation length in tokens (pairs are truncated longest-first).
        cache: cache folder (default :func:`~evosearch.data.cache.cache_dir`); ``False`` skips the cache.
    """
    if max_length < 2:
        raise DataError(f"max_length must be at least 2 tokens, got {max_length}")

    def encode(batch):
        texts = [batch[c] for c in info.text_columns]
        encoded = tokenizer(*texts, truncation=True, max_length=max_length)
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    def run() -> DatasetDict:
        return splits.map(encode, batched=True, remove_columns=list(info.text_columns), desc="tokenizing")

    if cache is False:
        return run()
    key = hashlib.sha256(
        f"{FORMAT_VERSION}:{data_fingerprint(splits)}:{tokenizer_fingerprint(tokenizer)}:{max_length}".encode()
    ).hexdigest()[:16]
    folder = (cache or cache_dir()) / "tokenized" / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', info.name)[-60:]}-{key}"
    if folder.is_dir():
        return load_from_disk(str(folder))
    tokenized = run()
    # each writer has its own partial folder (two searches may tokenize the same task at once);
    # the first rename wins and the others drop their copy
    partial = folder.with_name(f"{folder.name}.part-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tokenized.save_to_disk(str(partial))
    try:
        os.replace(partial, folder)
    except OSError:
        if not folder.is_dir():
            raise
        shutil.rmtree(partial, ignore_errors=True)
    return load_from_disk(str(folder))
