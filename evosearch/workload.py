"""The workload every cost is an expectation over: the task's sentences and where each one exits.

One inference serves one sentence (batch 1, as a deployed model answers requests). A candidate's
workload is the dev sentences' lengths together with the exit layer each one takes under the
candidate's thresholds (measured on the supernet). Cost metrics average over it: the hardware
model per length with that length's exit distribution, the CPU latency model per sentence, MACs
per length and exit. Keeping length and exit together matters: longer sentences need not exit
where shorter ones do. Torch-free.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Workload:
    """Sentence lengths (tokens) and, per sentence, its 0-based exit layer (None: every sentence
    runs all ``num_layers`` layers)."""

    lengths: tuple[int, ...]
    num_layers: int
    exits: tuple[int, ...] | None = None
    batch_size: int = 1

    def __post_init__(self):
        object.__setattr__(self, "lengths", tuple(int(t) for t in self.lengths))
        if self.exits is not None:
            object.__setattr__(self, "exits", tuple(int(e) for e in self.exits))
            if len(self.exits) != len(self.lengths):
                raise ValueError(f"{len(self.exits)} exits for {len(self.lengths)} sentences")
            if any(not 0 <= e < self.num_layers for e in self.exits):
                raise ValueError(f"exit layers must lie in [0, {self.num_layers - 1}]")
        if not self.lengths or any(t < 1 for t in self.lengths):
            raise ValueError("a workload needs at least one sentence, each of at least 1 token")

    def with_exits(self, exits: Sequence[int] | None) -> "Workload":
        return Workload(self.lengths, self.num_layers, None if exits is None else tuple(exits), self.batch_size)

    @property
    def size(self) -> int:
        return len(self.lengths)

    @property
    def exit_layers(self) -> tuple[int, ...]:
        return self.exits if self.exits is not None else (self.num_layers - 1,) * self.size

    def length_histogram(self) -> dict[int, int]:
        return dict(Counter(self.lengths))

    def exit_distribution(self) -> list[float]:
        """Share of sentences leaving at each exit."""
        counts = Counter(self.exit_layers)
        return [counts.get(k, 0) / self.size for k in range(self.num_layers)]

    def by_length(self) -> list[tuple[int, float, list[float]]]:
        """``(length, share of sentences, exit distribution of the sentences of that length)``."""
        groups: dict[int, Counter] = {}
        for t, e in zip(self.lengths, self.exit_layers):
            groups.setdefault(t, Counter())[e] += 1
        out = []
        for t in sorted(groups):
            n = sum(groups[t].values())
            out.append((t, n / self.size, [groups[t].get(k, 0) / n for k in range(self.num_layers)]))
        return out

    def pairs(self) -> dict[tuple[int, int], float]:
        """Share of sentences per ``(length, exit layer)``."""
        return {key: n / self.size for key, n in Counter(zip(self.lengths, self.exit_layers)).items()}

    @property
    def mean_length(self) -> float:
        return sum(self.lengths) / self.size
