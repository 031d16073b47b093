"""Scoring genomes on the supernet and the cost models, with the exit-logit cache.

One forward pass of a sub-network records every exit's logits; accuracy and the exit-layer
distribution for *any* threshold vector follow without the model (:func:`early_exit`). So the
:class:`Evaluator` caches each architecture's per-exit logits on the dev batches, keyed by its
:class:`SubnetConfig`: genomes differing only in exit thresholds never run the model again.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
import numpy as np
import torch

from ..runstore import Record
from ..supernet import SubnetConfig, Supernet, early_exit
from ..supernet.inference import LayerStates, collect_exit_logits, collect_states, early_exit_run
from ..metrics import METRICS, MetricInputs
from ..workload import Workload
from .objectives import ObjectiveError, ObjectiveSet, cpu_latency_model
from ..spaces import BoundSpace, SearchSpaceError


class Evaluator:
    """Holds a supernet, dev batches and an objective set; scores genomes of a bound space.

    ``batches``: a list of dicts with ``input_ids``, ``attention_mask`` (optional),
    ``token_type_ids`` (optional) and ``labels`` tensors, as the data pipeline makes them.
    ``cache_size``: how many architectures' exit logits to keep (least recently used dropped).
    ``int8_engine``: estimate accuracy in the int8 deployment's arithmetic (the default; see
    :mod:`evosearch.supernet.model`); False for the supernet's float arithmetic, as runs made
    before that existed were scored.
    """

    def __init__(self, supernet: Supernet, batches: Sequence[Mapping], space: BoundSpace,
                 objectives: ObjectiveSet, cache_size: int = 512, lazy: bool = True, latency_model=None,
                 int8_engine: bool = True):
        if not batches:
            raise SearchSpaceError("the evaluator got no dev batches")
        self.supernet = supernet.eval()
        self.arch = supernet.arch
        self.batches = list(batches)
        self.space = space
        self.objectives = objectives
        self.cache_size = cache_size
        self.lazy = lazy  # run each example only as deep as its exits send it (exact, not cached)
        self.int8_engine = int8_engine
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
        self.workload = Workload(tuple(lengths), self.arch.num_layers)  # the dev sentences, in batch order
        self.latency_model = latency_model
        if "cpu_latency_ms" in objectives.metrics and latency_model is None:
            self.latency_model = cpu_latency_model(supernet, objectives)
        _check_activation_gene(space, objectives)

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
        logits, _ = collect_exit_logits(self.supernet, self.batches, config, int8_engine=self.int8_engine)
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
        self._anchor = collect_states(self.supernet, self.batches, config, self.int8_engine)
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
        activation_bits = self.space.activation_bits(genome)
        metrics, cached = self.metrics(config, thresholds, sparsity, early_exit_only, activation_bits)
        F = tuple(self.objectives.F(metrics))
        G = tuple(self.objectives.G(metrics))
        return Record(genome, config.to_dict(), tuple(thresholds), metrics, F, G,
                      time.perf_counter() - start, cached)

    def metrics(self, config: SubnetConfig, thresholds: Sequence[float], sparsity=None,
                early_exit_only: bool = False, activation_bits: int | None = None) -> tuple[dict, bool]:
        """Every metric the objectives need (:data:`evosearch.metrics.METRICS`), and whether the
        exit logits came from the cache. With a model run, also accuracy, error, the mean exit
        layer and the share of dev sentences leaving at each exit (``exit_share_<k>``); with the
        hardware-only ``activation_bits`` gene, its value (``activation_bits``)."""
        wanted = self.objectives.metrics
        cached = False
        accuracy, exits = None, None
        if any(METRICS[m].model for m in wanted):
            if early_exit_only and config not in self._cache:
                config.validate(self.arch)
                preds, exit_layer = early_exit_run(self.supernet, self.batches, config, list(thresholds), self._anchor,
                                                   self.int8_engine)
                self.forward_calls += 1
            else:
                logits, cached = self.exit_logits(config)
                preds, exit_layer = early_exit(logits, list(thresholds))
            accuracy = float((preds == self.labels).float().mean())
            exits = exit_layer.tolist()
        priced = self.supernet.with_learned_spans(config)  # learned spans priced per layer (their largest)
        inputs = MetricInputs(self.arch, priced, thresholds, self.workload.with_exits(exits), accuracy, sparsity,
                              self.objectives.target, self.supernet.span_ramp, self.latency_model,
                              latency_target_ms=self.objectives.latency_target_ms, activation_bits=activation_bits)
        out: dict[str, float] = {}
        if activation_bits is not None:
            out["activation_bits"] = float(activation_bits)
        if accuracy is not None:
            for name in ("accuracy", "error", "mean_exit_layer"):
                out[name] = float(METRICS[name].compute(inputs))
            out.update({f"exit_share_{k}": p for k, p in enumerate(inputs.workload.exit_distribution())})
        for name in wanted:
            if name not in out:
                out[name] = float(METRICS[name].compute(inputs))
        return out, cached


def reference_point(space: BoundSpace, objectives: ObjectiveSet, evaluator: Evaluator, margin: float = 1.1) -> list[float]:
    """A fixed hypervolume reference point in pymoo's minimisation space (``sign * value``).

    Explicit values from the objective set win. Otherwise the metric's own reference
    (:data:`evosearch.metrics.METRICS`: ``error`` 1, ``accuracy`` 0, ...), ``mean_exit_layer`` L;
    cost metrics: ``margin`` x their value at the space's most expensive point (largest of every
    gene, no early exit), which bounds every candidate.
    """
    genome = space.largest_genome()
    config, thresholds = space.decode(genome)
    costs = None
    ref = []
    for name, sign in zip(objectives.objectives, objectives.signs):
        if name in objectives.reference_point:
            value = objectives.reference_point[name]
        elif METRICS[name].reference is not None:
            value = METRICS[name].reference
        elif name == "mean_exit_layer":
            value = float(space.arch.num_layers)
        else:
            if costs is None:
                no_exit = tuple(0.0 for _ in thresholds)
                costs, _ = evaluator.metrics(config, no_exit, None, activation_bits=space.activation_bits(genome))
            value = margin * costs[name]
        if not math.isfinite(value):
            raise ObjectiveError(f"reference_point: {name} = {value}; give a finite value")
        ref.append(sign * float(value))
    return ref


def _check_activation_gene(space: BoundSpace, objectives: ObjectiveSet) -> None:
    """The hardware-only ``activation_bits`` gene needs a hardware metric and a target that runs its widths."""
    slot = next((s for s in space.slots if s.gene == "activation_bits"), None)
    if slot is None:
        return
    if not objectives.needs_target:
        raise SearchSpaceError(f"space {space.space.name!r}: gene 'activation_bits' changes only hardware metrics "
                               "(latency_ms, energy_uj, ...), and the objective set has none; remove the gene or "
                               "add a hardware metric and a target")
    from ..hardware import HardwareTargetError, load_target

    target = load_target(objectives.target)
    for bits in slot.values:
        try:
            target.resolve_activation_bits(bits)
        except HardwareTargetError as err:
            raise SearchSpaceError(f"space {space.space.name!r}: gene 'activation_bits': {err}") from None


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


def records_front_mask(records: Sequence[Record]) -> np.ndarray:
    """:func:`front_mask` of scored records (their ``F`` and ``G``)."""
    if not records:
        return np.zeros(0, dtype=bool)
    F = np.array([r.F for r in records], dtype=float).reshape(len(records), -1)
    G = np.array([r.G for r in records], dtype=float).reshape(len(records), -1)
    return front_mask(F, G if G.size else None)


def hypervolume(F: np.ndarray, ref: Sequence[float]) -> float:
    """pymoo's hypervolume of the points in ``F`` that dominate ``ref`` (0 when none does)."""
    from pymoo.indicators.hv import HV

    F = np.asarray(F, dtype=float).reshape(-1, len(ref))
    ref = np.asarray(ref, dtype=float)
    F = F[np.all(F < ref, axis=1)]
    if len(F) == 0:
        return 0.0
    return float(HV(ref_point=ref)(F))
