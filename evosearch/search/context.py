"""Everything a search scores with: the supernet checkpoint, the bound space, the objectives and
the evaluators on the dev subset and the full dev set, built the same way for a new search, a
resumed one and any tool that re-scores a run (``scripts/check_dominance.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import EvosearchError
from .evaluator import Evaluator
from .objectives import ObjectiveSet
from ..spaces import BoundSpace, SearchSpace


#: How a run estimates accuracy (``accuracy_arithmetic`` in its config.yaml): "int8-engine", the
#: arithmetic of the int8 deployment (every run since it existed), or "float", the supernet's own
#: (runs whose config.yaml does not say; a resumed one keeps scoring that way).
ARITHMETICS = ("int8-engine", "float")


@dataclass
class SearchContext:
    checkpoint: object  # evosearch.training.SupernetCheckpoint
    task: str
    space: BoundSpace
    objectives: ObjectiveSet
    evaluator: Evaluator  # the dev subset candidates are scored on
    full_evaluator: Evaluator  # the whole dev set (the same object when there is no subset)

    @classmethod
    def build(cls, supernet: str | Path, space: SearchSpace, objectives: ObjectiveSet, *, task: str | None = None,
              dev_subset: int | None = None, batch_size: int = 32, int8_engine: bool = True) -> "SearchContext":
        from ..training import load_checkpoint
        from .devdata import dev_batches

        ckpt = load_checkpoint(supernet)
        stored = dict(ckpt.task or {})
        task = task or stored.get("spec")
        if not task:
            raise EvosearchError(f"the checkpoint {supernet} names no task; give --task SPEC")
        if ckpt.tokenizer is None:
            raise EvosearchError(f"the checkpoint {supernet} has no tokenizer/ folder")
        subset, full, _ = dev_batches(ckpt.tokenizer, task, seed=int(stored.get("seed", 0)),
                                      max_length=int(stored.get("max_length", 128)), subset=dev_subset,
                                      batch_size=batch_size)
        bound = space.bind(ckpt.supernet.arch, ckpt.bounds)
        evaluator = Evaluator(ckpt.supernet, subset, bound, objectives, int8_engine=int8_engine)
        full_evaluator = evaluator if full is subset else Evaluator(ckpt.supernet, full, bound, objectives,
                                                                    int8_engine=int8_engine)
        return cls(ckpt, task, bound, objectives, evaluator, full_evaluator)

    @classmethod
    def of_run(cls, config: dict, where: str = "config.yaml") -> "SearchContext":
        """The context a run folder's ``config.yaml`` describes."""
        if not config.get("supernet"):
            raise EvosearchError(f"{where} does not say which supernet was searched")
        arithmetic = config.get("accuracy_arithmetic", "float")
        if arithmetic not in ARITHMETICS:
            raise EvosearchError(f"{where}: accuracy_arithmetic={arithmetic!r}; allowed: {', '.join(ARITHMETICS)}")
        return cls.build(config["supernet"], SearchSpace.from_dict(config["space"], where=f"{where}: space"),
                         ObjectiveSet.from_dict(config["objectives"], where=f"{where}: objectives"),
                         task=config.get("task"), dev_subset=config.get("dev_subset"),
                         batch_size=int(config.get("batch_size", 32)), int8_engine=arithmetic == "int8-engine")
