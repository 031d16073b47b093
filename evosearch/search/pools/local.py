"""In-process evaluation (``--workers 0``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..evaluator import Evaluator, Record


class LocalPool:
    """In-process evaluation (``--workers 0``)."""

    def __init__(self, evaluator: Evaluator):
        self.evaluator = evaluator

    def evaluate(self, genomes: Sequence[Sequence[int]], on_result: Callable[[int, Record], None] | None = None,
                 anchors: Sequence[Sequence[int] | None] | None = None):
        """Score ``genomes`` in order; ``anchors[i]`` (a genome) runs genome i from that genome's
        hidden states, each example only as deep as it goes (see :meth:`Evaluator.anchor`)."""
        out = []
        for i, g in enumerate(genomes):
            anchor = anchors[i] if anchors is not None else None
            if anchor is not None:
                self.evaluator.anchor(self.evaluator.space.decode(anchor)[0])
            rec = self.evaluator.evaluate(g, early_exit_only=anchor is not None)
            if on_result:
                on_result(i, rec)
            out.append(rec)
        return out

    @property
    def forward_calls(self) -> int:
        return self.evaluator.forward_calls

    def close(self):
        pass
