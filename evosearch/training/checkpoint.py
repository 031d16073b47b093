"""The supernet checkpoint that `evosearch train` writes and `evosearch search` loads.

A folder holding:

* ``supernet.pt`` — the weights (state dict);
* ``supernet.json`` — the architecture, the span ramp, the task the supernet was trained on, the
  search-space bounds it was trained for and the training metadata;
* ``tokenizer/`` — the tokenizer, saved with ``save_pretrained``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import EvosearchError
from ..supernet import Architecture, Supernet

FORMAT_VERSION = 1


class CheckpointError(EvosearchError):
    """A folder that is not a readable supernet checkpoint."""


@dataclass
class SupernetCheckpoint:
    """What a supernet checkpoint holds, loaded.

    ``task``: how the task was loaded (``spec``, ``num_labels``, ``max_length``, ``seed`` ...);
    ``bounds``: the sub-network space the supernet was trained for (``bits``, ``min_heads``, ...);
    ``meta``: training metadata (strategy, steps, timings, dev accuracies).
    """

    supernet: Supernet
    tokenizer: object
    task: dict = field(default_factory=dict)
    bounds: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)


def save_checkpoint(folder: str | Path, checkpoint: SupernetCheckpoint) -> Path:
    """Write the checkpoint; each file through a temporary file and a rename, ``supernet.json`` (with
    the SHA-256 of ``supernet.pt``) last, so a crash leaves either the old or a checkable new one."""
    import shutil

    from ..fileio import atomic_write, sha256_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    supernet = checkpoint.supernet
    state = supernet.state_dict()
    digest = sha256_file(atomic_write(folder / "supernet.pt", lambda fh: torch.save(state, fh)))
    if checkpoint.tokenizer is not None:
        staged = folder / f".tokenizer.tmp-{os.getpid()}"
        shutil.rmtree(staged, ignore_errors=True)
        checkpoint.tokenizer.save_pretrained(staged)
        shutil.rmtree(folder / "tokenizer", ignore_errors=True)
        os.replace(staged, folder / "tokenizer")
    description = {
        "format_version": FORMAT_VERSION,
        "architecture": supernet.arch.to_dict(),
        "span_ramp": supernet.span_ramp,
        "task": checkpoint.task,
        "bounds": checkpoint.bounds,
        "meta": checkpoint.meta,
        "weights_sha256": digest,
    }
    atomic_write(folder / "supernet.json", json.dumps(description, indent=2))
    return folder


def read_description(folder: str | Path) -> dict:
    """``supernet.json`` of a checkpoint folder, with a clear error when it is missing or broken."""
    folder = Path(folder)
    description_file = folder / "supernet.json"
    if not folder.exists():
        raise CheckpointError(f"supernet checkpoint {folder} does not exist (create one with `evosearch train`)")
    if not description_file.is_file() or not (folder / "supernet.pt").is_file():
        raise CheckpointError(
            f"{folder} is not a supernet checkpoint (expected supernet.json and supernet.pt; "
            "create one with `evosearch train`)"
        )
    try:
        description = json.loads(description_file.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise CheckpointError(f"{description_file} is not valid JSON ({err}); the checkpoint is damaged: train "
                              "again, or restore the file from a copy") from None
    if not isinstance(description, dict):
        raise CheckpointError(f"{description_file} does not describe a supernet checkpoint")
    if description.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{folder} has checkpoint format {description.get('format_version')}; this evosearch reads {FORMAT_VERSION}"
        )
    return description


def load_checkpoint(folder: str | Path, map_location: str = "cpu") -> SupernetCheckpoint:
    from transformers import AutoTokenizer

    from ..fileio import sha256_file

    folder = Path(folder)
    description = read_description(folder)
    weights = folder / "supernet.pt"
    expected = description.get("weights_sha256")
    if expected is not None and sha256_file(weights) != expected:
        raise CheckpointError(f"{weights} does not match the checksum recorded in supernet.json when it was saved "
                              "(truncated, overwritten or corrupted): train again, or restore it from a copy")
    try:
        arch = Architecture.from_dict(description["architecture"])
        supernet = Supernet(arch, span_ramp=description["span_ramp"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{folder / 'supernet.json'} does not describe a supernet ({err})") from None
    try:
        state = torch.load(weights, map_location=map_location, weights_only=True)
        supernet.load_state_dict(state)
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for a damaged file
        raise CheckpointError(f"cannot read the weights in {weights}: the file is damaged or not an evosearch "
                              f"supernet ({type(err).__name__}{': ' + _first_line(err) if _first_line(err) else ''}); "
                              "train again, or restore it "
                              "from a copy") from None
    tokenizer_dir = folder / "tokenizer"
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir) if tokenizer_dir.is_dir() else None
    return SupernetCheckpoint(
        supernet=supernet.eval(),
        tokenizer=tokenizer,
        task=description.get("task", {}),
        bounds=description.get("bounds", {}),
        meta=description.get("meta", {}),
    )


def _first_line(err: Exception) -> str:
    """A short reason, never torch's advice to load the file with ``weights_only=False`` (unsafe for a
    file from elsewhere: it runs arbitrary code)."""
    import pickle

    if isinstance(err, pickle.UnpicklingError):
        return "it holds objects other than tensors"
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return "" if "weights_only" in text or "can still be loaded" in text else text
