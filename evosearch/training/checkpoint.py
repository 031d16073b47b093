"""The supernet checkpoint that `evosearch train` writes and `evosearch search` loads.

A folder holding:

* ``supernet.pt`` — the weights (state dict);
* ``supernet.json`` — the architecture, the span ramp, the task the supernet was trained on, the
  search-space bounds it was trained for and the training metadata;
* ``tokenizer/`` — the tokenizer, saved with ``save_pretrained``.
"""

from __future__ import annotations

import json
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
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    supernet = checkpoint.supernet
    torch.save(supernet.state_dict(), folder / "supernet.pt.tmp")
    (folder / "supernet.pt.tmp").replace(folder / "supernet.pt")
    description = {
        "format_version": FORMAT_VERSION,
        "architecture": supernet.arch.to_dict(),
        "span_ramp": supernet.span_ramp,
        "task": checkpoint.task,
        "bounds": checkpoint.bounds,
        "meta": checkpoint.meta,
    }
    (folder / "supernet.json").write_text(json.dumps(description, indent=2))
    if checkpoint.tokenizer is not None:
        checkpoint.tokenizer.save_pretrained(folder / "tokenizer")
    return folder


def load_checkpoint(folder: str | Path, map_location: str = "cpu") -> SupernetCheckpoint:
    from transformers import AutoTokenizer

    folder = Path(folder)
    description_file = folder / "supernet.json"
    if not description_file.is_file() or not (folder / "supernet.pt").is_file():
        raise CheckpointError(
            f"{folder} is not a supernet checkpoint (expected supernet.json and supernet.pt; "
            "create one with `evosearch train`)"
        )
    description = json.loads(description_file.read_text())
    if description.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{folder} has checkpoint format {description.get('format_version')}; this evosearch reads {FORMAT_VERSION}"
        )
    arch = Architecture.from_dict(description["architecture"])
    supernet = Supernet(arch, span_ramp=description["span_ramp"])
    supernet.load_state_dict(torch.load(folder / "supernet.pt", map_location=map_location, weights_only=True))
    tokenizer_dir = folder / "tokenizer"
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir) if tokenizer_dir.is_dir() else None
    return SupernetCheckpoint(
        supernet=supernet.eval(),
        tokenizer=tokenizer,
        task=description.get("task", {}),
        bounds=description.get("bounds", {}),
        meta=description.get("meta", {}),
    )
