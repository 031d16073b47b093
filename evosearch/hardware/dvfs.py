"""Per-sentence DVFS under a latency target, EdgeBERT's central mechanism (Tambe et al., MICRO 2021).

EdgeBERT runs every sentence at its own voltage/frequency point. After the first layer, the entropy
of its exit ramp goes through a lookup table that predicts the exit layer, and the DVFS controller
sets the LDO voltage and ADPLL clock (one of 16 code pairs, harvard-acc/EdgeBERT
``hw/cmod/Dvfs/Dvfs.h``) at which the predicted remaining layers just meet the sentence's latency
target: the lowest energy that still answers in time.

:func:`dvfs_workload` prices that policy with an *oracle* exit prediction ("latency-aware DVFS with
oracle exit prediction"): every sentence of a workload, with its length and the exit layer it takes,
runs at the lowest-energy operating point of the target whose latency for exactly its layers meets
the target; energy and latency are expectations over the sentences. It differs from EdgeBERT's
entropy-predictor version in three ways:

* the exit layer is known, not predicted: a predictor that over-predicts picks a faster point than
  needed, one that under-predicts must speed up later or miss the deadline (the oracle is never
  worse);
* EdgeBERT runs the first layer at the nominal point, before it has the entropy, and the rest at
  the chosen point; here the whole sentence runs at one point (with discrete points a two-point
  schedule is occasionally cheaper than any single point, so this is not a strict bound);
* switching points costs nothing here (EdgeBERT integrates a fast-switching LDO and a fast-locking
  ADPLL for this; their settling time is not modelled).

So for the same hardware numbers this is close to a lower bound on EdgeBERT's energy.

A sentence that misses the target even at the fastest point runs at that point and counts in
``miss_rate``. Time left before the deadline is power-gated and costs nothing, as everywhere in
:mod:`evosearch.hardware`, so running fast and idling ("race to idle") is not charged for the idle
time: the DVFS saving is not overstated by idle leakage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import accumulate
from typing import Sequence

from ..specs import Architecture, SubnetConfig
from .model import CostModel, _as_target, cost_model


@dataclass(frozen=True)
class DVFSCost:
    """Expected per-sentence cost of a workload under per-sentence DVFS (see module docstring)."""

    energy_uj: float
    latency_ms: float
    miss_rate: float  # share of sentences over the latency target even at the fastest point
    point_shares: tuple[float, ...]  # share of sentences run at each of the target's DVFS points


def exit_profiles(model: CostModel, config: SubnetConfig, exits: Sequence[int] | None = None,
                  sparsity: Sequence[float] | None = None) -> list[tuple[list[float], list[float]]]:
    """For each DVFS point of the target: latency (ns) and energy (pJ) of one sentence that leaves
    after layer k, for every k.

    The sentence runs the embeddings, layers 0..k and the deployed exit ramps among them (``exits``
    and the last layer, as :meth:`CostModel.estimate` keeps them): cumulative sums of the per-part
    costs, re-priced at every point from ``model``'s (one sequence length) ops, less the leakage of
    power-gated banks (:meth:`CostModel.gated_leakage_mw`) over that time.
    """
    cost = model.estimate(config, None, sparsity, exits)
    parts = [[cost.embedding]] + [[layer] + ([ramp] if ramp else []) for layer, ramp in zip(cost.layers, cost.ramps)]
    steps = [[model.at_dvfs_points(p) for p in group] for group in parts]
    out = []
    for j, point in enumerate(model.target.dvfs_points):
        totals = [(sum(lat[j] for lat, _ in group), sum(en[j] for _, en in group)) for group in steps]
        latency = list(accumulate(t[0] for t in totals))[1:]
        energy = list(accumulate(t[1] for t in totals))[1:]
        gated_mw = model.gated_leakage_mw(cost.level_bits, point)  # power-gated banks, as estimate takes them off
        if gated_mw:
            energy = [e - gated_mw * t for e, t in zip(energy, latency)]
        out.append((latency, energy))
    return out


def dvfs_workload(
    arch: Architecture,
    config: SubnetConfig,
    target,
    workload,
    latency_target_ms: float,
    *,
    exits: Sequence[int] | None = None,
    sparsity: Sequence[float] | None = None,
    span_ramp: int = 0,
    activation_bits: int | None = None,
) -> DVFSCost:
    """Per-sentence DVFS over a :class:`evosearch.workload.Workload` with a per-sentence latency
    target in ms (module docstring: EdgeBERT's policy with an oracle exit prediction).

    ``exits``: the layers with a deployed exit ramp (default: where the workload's sentences leave).
    ``activation_bits``: as in :func:`evosearch.hardware.estimate`.
    """
    if isinstance(latency_target_ms, bool) or not isinstance(latency_target_ms, (int, float)) \
            or not math.isfinite(latency_target_ms) or latency_target_ms <= 0:
        raise ValueError(f"latency_target_ms={latency_target_ms!r}; allowed: a finite number of ms > 0")
    tgt = _as_target(target)
    if workload.exits is not None and exits is None:
        exits = sorted(set(workload.exits))
    points = tgt.dvfs_points
    fastest = max(range(len(points)), key=lambda j: points[j].frequency_mhz)
    # a latency equal to the target up to rounding meets it (a target taken from estimate() sums the
    # same parts in another order than the cumulative profiles do)
    deadline_ns = latency_target_ms * 1e6 * (1.0 + 1e-12)
    shares = [0.0] * len(points)
    energy = latency = missed = 0.0
    by_length: dict[int, list[tuple[int, float]]] = {}
    for (length, exit_layer), share in workload.pairs().items():
        by_length.setdefault(length, []).append((exit_layer, share))
    for length, classes in by_length.items():
        model = cost_model(arch, tgt, seq_len=length, span_ramp=span_ramp, activation_bits=activation_bits)
        profiles = exit_profiles(model, config, exits, sparsity)
        for k, share in classes:
            meets = [j for j, (lat, _) in enumerate(profiles) if lat[k] <= deadline_ns]
            if meets:
                j = min(meets, key=lambda i: profiles[i][1][k])
            else:
                j = fastest
                missed += share
            shares[j] += share
            latency += share * profiles[j][0][k]
            energy += share * profiles[j][1][k]
    return DVFSCost(energy * 1e-6, latency * 1e-6, missed, tuple(shares))
