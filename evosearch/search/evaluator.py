"""Scoring genomes on the supernet and the cost models, with the exit-logit cache.

One forward pass of a sub-network records every exit's logits; accuracy and the exit-layer
distribution for *any* threshold vector follow without the model (:func:`early_exit`). So the
:class:`Evaluator` caches each architecture's per-exit logits on the dev batches, keyed by its
:class:`SubnetConfig`: genomes differing only in exit thresholds never run the model again.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..supernet import SubnetConfig, Supernet, early_exit
from ..supernet.inference import LayerStates, collect_exit_logits, collect_states, early_exit_run
from .objectives import METRICS, ObjectiveError, ObjectiveSet, cpu_latency_predictor
from .space import BoundSpace, SearchSpaceError


@dataclass
class Record:
    """One evaluated candidate."""

    genome: tuple[int, ...]
    config: dict
    thresholds: tuple[float, ...]
    metrics: dict
    F: tuple[float, ...]
    G: tuple[float, ...]
    eval_time_s: float = 0.0
    cached_model: bool = False  # the exit logits came from the cache (no forward pass)

    @property
    def cv(self) -> float:
        """Constraint violation: sum of positive G (0 = feasible)."""
        return float(sum(max(0.0, g) for g in self.G))

    @property
    def feasible(self) -> bool:
        return self.cv <= 0.0


def genome_key(genome: Sequence[int]) -> str:
    return "-".join(str(int(g)) for g in genome)


class Evaluator:
    """Holds a supernet, dev batches and an objective set; scores genomes of a bound space.

    ``batches``: a list of dicts with ``input_ids``, ``attention_mask`` (optional),
    ``token_type_ids`` (optional) and ``labels`` tensors, as the data pipeline makes them.
    ``cache_size``: how many architectures' exit logits to keep (least recently used dropped).
    """

    def __init__(self, supernet: Supernet, batches: Sequence[Mapping], space: BoundSpace,
                 objectives: ObjectiveSet, cache_size: int = 512, lazy: bool = True):
        if not batches:
            raise SearchSpaceError("the evaluator got no dev batches")
        self.supernet = supernet.eval()
        self.arch = supernet.arch
        self.batches = list(batches)
        self.space = space
        self.objectives = objectives
        self.cache_size = cache_size
        self.lazy = lazy  # run each example only as deep as its exits send it (exact, not cached)
        self._cache: OrderedDict[SubnetConfig, torch.Tensor] = OrderedDict()
        self._anchor: LayerStates | None = None
        self.forward_calls = 0  # architectures run through the model (not batches)
        labels = [b.get("labels", b.get("label")) for b in self.batches]
        if any(l is None for l in labels):
            raise SearchSpaceError("every dev batch needs a 'labels' tensor")
        self.labels = torch.cat([torch.as_tensor(l) for l in labels])
        if self.arch.num_labels < 2:
            raise ObjectiveError("search with early exits needs a classification task (num_labels >= 2); "
                                 "regression tasks are not supported by the search yet")
        lengths = []
        for b in self.batches:
            mask = b.get("attention_mask")
            if mask is None:
                lengths += [int(b["input_ids"].shape[1])] * int(b["input_ids"].shape[0])
            else:
                lengths += [int(x) for x in torch.as_tensor(mask).sum(dim=1).tolist()]
        self.seq_lens = dict(Counter(lengths))
        self.mean_len = max(1, int(round(sum(lengths) / len(lengths))))
        self._cpu_predictor = None
        if "cpu_latency_ms" in objectives.metrics:
            self._cpu_predictor = cpu_latency_predictor(self.arch, objectives.cpu_predictor)

    @property
    def num_examples(self) -> int:
        return int(self.labels.numel())

    # ------------------------------------------------------------------ model
    def exit_logits(self, config: SubnetConfig) -> tuple[torch.Tensor, bool]:
        """Per-exit logits ``(num_layers, N, num_labels)`` on all dev batches, and whether cached."""
        hit = self._cache.get(config)
        if hit is not None:
            self._cache.move_to_end(config)
            return hit, True
        config.validate(self.arch)
        logits, _ = collect_exit_logits(self.supernet, self.batches, config)
        self.forward_calls += 1
        self._remember(config, logits)
        return logits, False

    def _remember(self, config: SubnetConfig, logits: torch.Tensor) -> None:
        self._cache[config] = logits
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def anchor(self, config: SubnetConfig) -> None:
        """Keep ``config``'s hidden states after every layer: genomes evaluated with
        ``early_exit_only=True`` that share its first layers start from them (Pareto local search
        evaluates one member's one-gene neighbours this way). One anchor at a time."""
        if self._anchor is not None and self._anchor.config == config:
            return
        config.validate(self.arch)
        self._anchor = collect_states(self.supernet, self.batches, config)
        self.forward_calls += 1
        self._remember(config, self._anchor.logits)

    # ------------------------------------------------------------------ scoring
    def evaluate(self, genome: Sequence[int], early_exit_only: bool | None = None) -> Record:
        """Score a genome. ``early_exit_only`` (default: the evaluator's ``lazy``) runs each dev
        example only as deep as the genome's thresholds send it, starting from the anchor's states
        where the layers agree: the same metrics at a fraction of the cost, but the exit logits are
        not kept for other thresholds. An architecture whose exit logits are cached costs no run."""
        if early_exit_only is None:
            early_exit_only = self.lazy
        start = time.perf_counter()
        genome = tuple(int(g) for g in genome)
        config, thresholds = self.space.decode(genome)
        sparsity = self.space.sparsity(genome)
        metrics, cached = self.metrics(config, thresholds, sparsity, early_exit_only)
        F = tuple(self.objectives.F(metrics))
        G = tuple(self.objectives.G(metrics))
        return Record(genome, config.to_dict(), tuple(thresholds), metrics, F, G,
                      time.perf_counter() - start, cached)

    def metrics(self, config: SubnetConfig, thresholds: Sequence[float], sparsity=None,
                early_exit_only: bool = False) -> tuple[dict, bool]:
        wanted = self.objectives.metrics
        out: dict[str, float] = {}
        cached = False
        dist = None
        L = self.arch.num_layers
        if any(METRICS[m].model for m in wanted):
            if early_exit_only and config not in self._cache:
                config.validate(self.arch)
                preds, exit_layer = early_exit_run(self.supernet, self.batches, config, list(thresholds), self._anchor)
                self.forward_calls += 1
            else:
                logits, cached = self.exit_logits(config)
                preds, exit_layer = early_exit(logits, list(thresholds))
            acc = float((preds == self.labels).float().mean())
            counts = torch.bincount(exit_layer, minlength=L).double()
            dist = (counts / counts.sum()).tolist()
            out["accuracy"] = acc
            out["error"] = 1.0 - acc
            out["mean_exit_layer"] = float(sum((i + 1) * p for i, p in enumerate(dist)))
            out["exit_distribution"] = json.dumps([round(p, 6) for p in dist])
        from ..hardware import proxies

        early = any(t > 0 for t in thresholds)
        if "params" in wanted:
            out["params"] = float(proxies.parameter_count(self.arch, config, early_exit=early))
        if "model_size_bytes" in wanted:
            out["model_size_bytes"] = float(proxies.model_size_bytes(self.arch, config, sparsity, early_exit=early))
        if "iccr" in wanted:
            out["iccr"] = float(proxies.iccr(self.arch, config, sparsity))
        if "macs" in wanted:
            out["macs"] = self._expected_macs(config, dist, sparsity)
        if self.objectives.needs_target:
            from ..hardware import estimate

            cost = estimate(self.arch, config, self.objectives.target, seq_lens=self.seq_lens,
                            exit_distribution=dist, sparsity=sparsity, span_ramp=self.supernet.span_ramp)
            out["latency_ms"] = float(cost.latency_ms)
            out["energy_uj"] = float(cost.energy_uj)
            out["memory_kb"] = float(cost.memory_kb)
            out["fits_on_chip"] = 1.0 if cost.fits_on_chip else 0.0
        if self._cpu_predictor is not None:
            exits = dist or [0.0] * (L - 1) + [1.0]
            out["cpu_latency_ms"] = float(sum(p * self._cpu_predictor.predict(config, exit_layer=k + 1)
                                              for k, p in enumerate(exits) if p > 0))
        return out, cached

    def _expected_macs(self, config: SubnetConfig, dist, sparsity) -> float:
        from ..hardware import proxies

        L = self.arch.num_layers
        dist = dist or [0.0] * (L - 1) + [1.0]
        total = 0.0
        for k, p in enumerate(dist):
            if p <= 0:
                continue
            prefix = SubnetConfig(config.layers[: k + 1], config.embedding_bits, config.quant)
            total += p * proxies.macs(self.arch, prefix, seq_len=self.mean_len, span_ramp=self.supernet.span_ramp,
                                      sparsity=None if sparsity is None else list(sparsity)[: k + 1] + [0.0] * (L - k - 1))
        return float(total)


def reference_point(space: BoundSpace, objectives: ObjectiveSet, evaluator: Evaluator, margin: float = 1.1) -> list[float]:
    """A fixed hypervolume reference point in pymoo's minimisation space (``sign * value``).

    Explicit values from the objective set win. Otherwise: ``error`` 1.0, ``accuracy`` 0,
    ``mean_exit_layer`` L, ``iccr`` 0; cost metrics: ``margin`` x their value at the space's
    most expensive point (largest of every gene, no early exit), which bounds every candidate.
    """
    config, thresholds = space.largest()
    costs = None
    ref = []
    fixed = {"error": 1.0, "accuracy": 0.0, "mean_exit_layer": float(space.arch.num_layers), "iccr": 0.0,
             "fits_on_chip": 0.0}
    for name, sign in zip(objectives.objectives, objectives.signs):
        if name in objectives.reference_point:
            value = objectives.reference_point[name]
        elif name in fixed:
            value = fixed[name]
        else:
            if costs is None:
                no_exit = tuple(0.0 for _ in thresholds)
                costs, _ = evaluator.metrics(config, no_exit, None)
            value = margin * costs[name]
        if not math.isfinite(value):
            raise ObjectiveError(f"reference_point: {name} = {value}; give a finite value")
        ref.append(sign * float(value))
    return ref


def front_mask(F: np.ndarray, G: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask of the feasible non-dominated rows (pymoo's non-dominated sorting).

    With no feasible row, the rows of least constraint violation form the "front".
    """
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    F = np.asarray(F, dtype=float)
    mask = np.zeros(len(F), dtype=bool)
    if len(F) == 0:
        return mask
    if G is not None and np.asarray(G).size:
        cv = np.clip(np.asarray(G, dtype=float), 0, None).sum(axis=1)
    else:
        cv = np.zeros(len(F))
    feasible = np.flatnonzero(cv <= 0)
    if len(feasible) == 0:
        mask[cv == cv.min()] = True
        return mask
    nd = NonDominatedSorting().do(F[feasible], only_non_dominated_front=True)
    mask[feasible[nd]] = True
    return mask


def hypervolume(F: np.ndarray, ref: Sequence[float]) -> float:
    """pymoo's hypervolume of the points in ``F`` that dominate ``ref`` (0 when none does)."""
    from pymoo.indicators.hv import HV

    F = np.asarray(F, dtype=float).reshape(-1, len(ref))
    ref = np.asarray(ref, dtype=float)
    F = F[np.all(F < ref, axis=1)]
    if len(F) == 0:
        return 0.0
    return float(HV(ref_point=ref)(F))
