"""Where candidates are scored: the pool contract, and its two implementations.

A search hands a pool a list of genomes and gets one :class:`~evosearch.search.evaluator.Record`
per genome back, in order. :class:`LocalPool` scores them in this process; :class:`RayPool`
(imported lazily: it needs Ray) spreads them over Ray actors on one machine or a cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from ..evaluator import Record
from .local import LocalPool


@runtime_checkable
class EvalPool(Protocol):
    """What :class:`evosearch.search.SearchRun` needs of a pool."""

    forward_calls: int
    """Model runs (forward passes over the dev batches) spent so far."""

    def evaluate(self, genomes: Sequence[Sequence[int]], on_result: Callable[[int, Record], None] | None = None,
                 anchors: Sequence[Sequence[int] | None] | None = None) -> list[Record]:
        """Score ``genomes``; call ``on_result(i, record)`` for each, in input order. ``anchors[i]``
        (local search) is a genome whose hidden states genome ``i`` may start from."""

    def close(self) -> None:
        """Release workers."""


def __getattr__(name: str):
    if name == "RayPool":
        from .ray_pool import RayPool

        return RayPool
    raise AttributeError(name)


__all__ = ["EvalPool", "LocalPool", "RayPool"]
