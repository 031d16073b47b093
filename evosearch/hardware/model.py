"""Cost of one inference of a sub-network on a hardware target: latency, energy, memory, size.

Public entry points:

* :func:`estimate` — one call per candidate (caches everything reusable behind the scenes);
* :class:`CostModel` — the same, bound to (architecture, target, length distribution, DVFS point,
  activation width); hold one in a search loop;
* :func:`pick_dvfs` — one operating point for a whole workload: the lowest-energy point whose
  expected latency meets a target (EdgeBERT's per-sentence policy, Tambe et al. MICRO 2021, is
  :func:`evosearch.hardware.dvfs.dvfs_workload`).

Workload. Costs are for one sentence; with a sequence-length distribution (a list of lengths or a
``{length: count}`` histogram) every per-layer cost is the weighted average over lengths (all
costs are linear in the per-length costs). Early exit (DeeBERT/EdgeBERT) is an expectation over
the per-input exit-layer distribution p_k: layer i and its exit ramp run with probability
P(exit >= i) = sum_{k >= i} p_k. Without an exit distribution only the final pooler+classifier
runs (so "everyone exits at the last layer" costs that plus the L - 1 intermediate ramps).

Embeddings. The lookup tables are read from the target's ``embeddings`` level (EdgeBERT: ReRAM
eNVM); pruned at ``config.embedding_sparsity`` on a zero-skipping target, they are stored and read
in the target's sparse encoding (non-zeros with ``index_bits`` each, or a presence bit per entry
plus the non-zeros), and the on-chip fit (``fits_on_chip``, ``memory_kb``) counts that compressed
size against the level's capacity.

Power-gated memories. A memory level with ``power_gating: banks`` leaks only through the banks
that hold this model's data (:meth:`MemoryLevel.leakage_share`): its weights and embeddings if
they are placed there, and the peak live activations of the longest sentence priced. The per-part
costs (``layers``, ``ramps``, ``embedding``) are priced with every bank on, so they can be cached
per layer shape; the leakage of the gated banks, power times the expected latency (leakage is
charged per unit of run time), is taken off the totals and reported as ``gated_leakage_uj``.

Caching. A layer's cost is a pure function of (heads, ffn, bits, span, sparsity) once the target,
DVFS point, lengths and ramp are fixed; each :class:`CostModel` keeps a dict of them, and
:func:`estimate` keeps one :class:`CostModel` per (arch, target, lengths, ramp, DVFS point).
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..specs import Architecture
from ..specs import SubnetConfig, SubnetConfigError
from .cost import OpCost, price_ops, pricer, weighted_sum
from .ops import embedding_ops, layer_activation_bits, layer_ops, ramp_ops
from .proxies import _sparsity, model_size_breakdown, ramp_layers
from .target import DVFSPoint, HardwareTarget, load_target

DEFAULT_SEQ_LEN = 128


@dataclass(frozen=True)
class LayerCost:
    """Cost of one part of the network (a layer, the embeddings, an exit ramp), length-averaged."""

    ops: tuple[OpCost, ...]
    latency_ns: float
    energy_pj: float
    macs: float
    activation_bits: float = 0.0  # peak live activations at the longest length

    @classmethod
    def of(cls, ops: list[OpCost], activation_bits: float = 0.0) -> "LayerCost":
        return cls(tuple(ops), sum(o.time_ns for o in ops), sum(o.energy_pj for o in ops),
                   sum(o.macs for o in ops), activation_bits)

    @property
    def latency_ms(self) -> float:
        return self.latency_ns * 1e-6

    @property
    def energy_uj(self) -> float:
        return self.energy_pj * 1e-6


@dataclass(frozen=True)
class HardwareCost:
    """Totals (expectations over lengths and exits) and the per-layer breakdown of one sub-network."""

    latency_ms: float
    energy_uj: float
    memory_kb: float  # on-chip footprint: on-chip weights + on-chip embeddings + peak activations
    model_size_bytes: float  # as the target stores it (sparse weights and pruned embeddings in its encoding)
    macs: float
    fits_on_chip: bool  # every on-chip level with a capacity holds what is placed in it
    excess_kb: float  # by how much the on-chip levels overflow their capacities, summed (0 when it fits)
    target: str
    dvfs: DVFSPoint
    embedding: LayerCost
    layers: tuple[LayerCost, ...]  # one per virtual layer (cost if it runs)
    ramps: tuple[LayerCost | None, ...]  # exit ramp after each layer (None where none runs)
    run_probability: tuple[float, ...]  # P(layer i runs)
    level_bits: tuple[tuple[str, float], ...] = ()  # on-chip storage per level (bits)
    gated_leakage_uj: float = 0.0  # leakage of power-gated (empty) banks, already taken off energy_uj

    @property
    def energy_breakdown_uj(self) -> dict[str, float]:
        """Expected energy split into compute (MACs + vector ops), memory accesses and leakage (net of
        the power-gated banks)."""
        parts = {"compute": 0.0, "memory": 0.0, "leakage": -self.gated_leakage_uj}
        items = [(self.embedding, 1.0)] + list(zip(self.layers, self.run_probability))
        items += [(r, p) for r, p in zip(self.ramps, self.run_probability) if r is not None]
        for part, p in items:
            for o in part.ops:
                parts["compute"] += p * o.compute_pj * 1e-6
                parts["memory"] += p * o.memory_pj * 1e-6
                parts["leakage"] += p * o.leakage_pj * 1e-6
        return parts

    def summary(self) -> dict:
        return {"latency_ms": self.latency_ms, "energy_uj": self.energy_uj, "memory_kb": self.memory_kb,
                "model_size_bytes": self.model_size_bytes, "macs": self.macs, "fits_on_chip": self.fits_on_chip,
                "excess_kb": self.excess_kb,
                "target": self.target, "voltage": self.dvfs.voltage, "frequency_mhz": self.dvfs.frequency_mhz}


def normalize_lengths(seq_len: int | None = None, seq_lens=None) -> tuple[tuple[int, float], ...]:
    """((length, weight), ...) with weights summing to 1, from one length, a list or a histogram."""
    if seq_lens is not None and seq_len is not None:
        raise ValueError("give either seq_len or seq_lens, not both")
    if seq_lens is None:
        t = DEFAULT_SEQ_LEN if seq_len is None else seq_len
        items = [(t, 1.0)]
    elif isinstance(seq_lens, Mapping):
        items = list(seq_lens.items())
    else:
        items = list(Counter(seq_lens).items())
    if not items:
        raise ValueError("seq_lens is empty")
    for t, w in items:
        if not isinstance(t, int) or isinstance(t, bool) or t < 1:
            raise ValueError(f"sequence length {t!r}; allowed: an integer >= 1")
        if w < 0:
            raise ValueError(f"length {t} has a negative weight {w}")
    total = float(sum(w for _, w in items))
    if total <= 0:
        raise ValueError("the sequence-length histogram has zero total weight")
    return tuple(sorted((t, w / total) for t, w in items if w > 0))


def _distribution(dist, num_layers: int) -> list[float]:
    """A per-layer exit distribution (list or {layer: p}) as a checked list of L probabilities."""
    if isinstance(dist, Mapping):
        p = [0.0] * num_layers
        for k, w in dist.items():
            if not isinstance(k, int) or not 0 <= k < num_layers:
                raise ValueError(f"exit layer {k!r}; allowed: an integer in [0, {num_layers - 1}]")
            p[k] += float(w)
    else:
        p = [float(w) for w in dist]
        if len(p) != num_layers:
            raise ValueError(f"exit_distribution has {len(p)} entries; this model has {num_layers} exits")
    if any(w < 0 for w in p):
        raise ValueError("exit_distribution has a negative probability")
    if sum(p) <= 0:
        raise ValueError("exit_distribution sums to zero")
    return p


def _exit_survival(dist, num_layers: int) -> tuple[float, ...]:
    """P(layer i runs) = P(exit layer >= i) from a per-layer exit distribution (list or {layer: p})."""
    p = _distribution(dist, num_layers)
    total = sum(p)
    surv = []
    acc = 0.0
    for w in reversed(p):
        acc += w / total
        surv.append(acc)
    return tuple(reversed(surv))


class CostModel:
    """Cost model bound to one architecture, target, length distribution, span ramp and DVFS point."""

    def __init__(
        self,
        arch: Architecture,
        target: "HardwareTarget | str | Path",
        seq_len: int | None = None,
        seq_lens=None,
        span_ramp: int = 0,
        dvfs_point=None,
        lengths: tuple[tuple[int, float], ...] | None = None,
        activation_bits: int | None = None,
    ) -> None:
        self.arch = arch
        self.target = target if isinstance(target, HardwareTarget) else load_target(target)
        self.point = self.target.resolve_dvfs(dvfs_point)
        self.activation_bits = self.target.resolve_activation_bits(activation_bits)
        self.lengths = lengths if lengths is not None else normalize_lengths(seq_len, seq_lens)
        self.max_len = max(t for t, _ in self.lengths)
        if span_ramp < 0:
            raise ValueError(f"span_ramp={span_ramp}; allowed: an integer >= 0")
        self.span_ramp = span_ramp
        self._layers: dict = {}
        self._ramps: dict = {}
        self._embeddings: dict = {}
        self._at_points: dict = {}
        self._max_heads = max(arch.block_heads)
        self._max_ffn = max(arch.block_ffn)
        t = self.target
        place = dict(t.placement)
        self._weights_on_chip = t.level(place["weights"]).on_chip
        self._emb_on_chip = t.level(place["embeddings"]).on_chip
        self._index_bits = t.index_bits if t.zero_skipping else None
        self._embedding_storage = t.table_storage  # pruned embedding tables in the target's sparse encoding
        self._gated = tuple(lv for lv in t.memory if lv.power_gating != "none")

    # -- cached parts ------------------------------------------------------------------------
    def _average(self, make_ops) -> list[OpCost]:
        per_len = [(price_ops(make_ops(t), self.target, self.point, self.activation_bits), w) for t, w in self.lengths]
        return per_len[0][0] if len(per_len) == 1 else weighted_sum(per_len)

    def layer_cost(self, heads: int, ffn: int, bits: int, span: int | None, sparsity: float = 0.0) -> LayerCost:
        key = (heads, ffn, bits, span, sparsity)
        cost = self._layers.get(key)
        if cost is None:
            self._check_layer(heads, ffn, bits, span, sparsity)
            a = self.arch
            ops = self._average(lambda t: layer_ops(a.hidden_size, a.head_dim, heads, ffn, bits, span, t,
                                                    sparsity, self.span_ramp))
            act = layer_activation_bits(a.hidden_size, a.head_dim, heads, ffn, span, self.max_len,
                                        self.span_ramp, self.activation_bits)
            cost = self._layers[key] = LayerCost.of(ops, act)
        return cost

    def ramp_cost(self, bits: int) -> LayerCost:
        cost = self._ramps.get(bits)
        if cost is None:
            a = self.arch
            ops = price_ops(ramp_ops(a.hidden_size, a.num_labels, bits), self.target, self.point, self.activation_bits)
            cost = self._ramps[bits] = LayerCost.of(ops)
        return cost

    def embedding_cost(self, embedding_bits: int, embedding_sparsity: float = 0.0) -> LayerCost:
        key = (embedding_bits, float(embedding_sparsity))
        cost = self._embeddings.get(key)
        if cost is None:
            a = self.arch
            ops = self._average(lambda t: embedding_ops(a.embedding_size, a.hidden_size, a.has_projection,
                                                        embedding_bits, t, embedding_sparsity))
            act = 2 * self.max_len * max(a.embedding_size, a.hidden_size) * self.activation_bits
            cost = self._embeddings[key] = LayerCost.of(ops, act)
        return cost

    def at_dvfs_points(self, part: LayerCost) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Latency (ns) and energy (pJ) of ``part`` (a layer, ramp or embedding cost of this model) at
        each of the target's DVFS points, re-priced from its ops (:meth:`_Pricer.rescale`); cached.
        Only for a model of one sequence length: a length-averaged op's roofline time does not rescale."""
        if len(self.lengths) != 1:
            raise ValueError("at_dvfs_points needs a cost model of one sequence length")
        hit = self._at_points.get(part)
        if hit is None:
            source = pricer(self.target, self.point, self.activation_bits)
            latency, energy = [], []
            for point in self.target.dvfs_points:
                ops = [pricer(self.target, point, self.activation_bits).rescale(op, source) for op in part.ops]
                latency.append(sum(o.time_ns for o in ops))
                energy.append(sum(o.energy_pj for o in ops))
            hit = self._at_points[part] = (tuple(latency), tuple(energy))
        return hit

    def gated_leakage_mw(self, level_bits, point: DVFSPoint | None = None) -> float:
        """Leakage power (mW, at ``point``; default this model's) of the banks that power gating
        switches off when the levels hold ``level_bits`` ({level: bits} or (level, bits) pairs, as
        :attr:`HardwareCost.level_bits`): sum over gated levels of leakage_mw x (1 - leakage_share),
        scaled with the voltage as all leakage is. 0 on a target without power gating."""
        if not self._gated:
            return 0.0
        t = self.target
        held = dict(level_bits)
        saved = sum(lv.leakage_mw * (1.0 - lv.leakage_share(held.get(lv.name, 0.0))) for lv in self._gated)
        if not saved:
            return 0.0
        point = self.point if point is None else point
        return saved * (point.voltage / t.nominal_point.voltage) ** t.leakage_voltage_exponent

    def _check_layer(self, heads, ffn, bits, span, sparsity) -> None:
        def bad(field, value, allowed):
            raise SubnetConfigError(f"{field}={value!r}; allowed: {allowed}")

        if not isinstance(heads, int) or not 1 <= heads <= self._max_heads:
            bad("heads", heads, f"an integer in [1, {self._max_heads}]")
        if not isinstance(ffn, int) or not 1 <= ffn <= self._max_ffn:
            bad("ffn", ffn, f"an integer in [1, {self._max_ffn}]")
        if not isinstance(bits, int) or not 1 <= bits <= 32:
            bad("bits", bits, "an integer in [1, 32]")
        if span is not None and (not isinstance(span, int) or span < 1):
            bad("span", span, "None or an integer >= 1")
        if not 0.0 <= sparsity < 1.0:
            bad("sparsity", sparsity, "a fraction in [0, 1)")

    # -- public ------------------------------------------------------------------------------
    def estimate(self, config: SubnetConfig, exit_distribution=None, sparsity: Sequence[float] | None = None,
                 exits: Sequence[int] | None = None) -> HardwareCost:
        """Expected cost of one sentence (see module docstring).

        ``exits``: the layers with an exit ramp an input may take (threshold above 0); their ramps
        run while inputs reach them, and the last layer's always. Default: the layers where
        ``exit_distribution`` sends some input.
        """
        arch = self.arch
        n = arch.num_layers
        layers_cfg = config.layers
        if len(layers_cfg) != n:
            raise SubnetConfigError(f"the config has {len(layers_cfg)} layers; this model has {n} virtual layers")
        sp = _sparsity(arch, sparsity, config)
        layer_cost = self.layer_cost
        layers = tuple(layer_cost(c.heads, c.ffn, c.bits, c.span, s) for c, s in zip(layers_cfg, sp))
        emb = self.embedding_cost(config.embedding_bits, config.embedding_sparsity)
        lat = emb.latency_ns
        energy = emb.energy_pj
        macs = emb.macs
        if exit_distribution is None:
            run = (1.0,) * n
        else:
            run = _exit_survival(exit_distribution, n)
            if exits is None:
                exits = [k for k, p in enumerate(_distribution(exit_distribution, n)) if p > 0]
        kept = set(ramp_layers(arch, exits))
        ramps = tuple(self.ramp_cost(c.bits) if i in kept else None for i, c in enumerate(layers_cfg))
        for lc, r, p in zip(layers, ramps, run):
            lat += p * (lc.latency_ns + (r.latency_ns if r else 0.0))
            energy += p * (lc.energy_pj + (r.energy_pj if r else 0.0))
            macs += p * (lc.macs + (r.macs if r else 0.0))
        size = model_size_breakdown(arch, config, sparsity, self._index_bits, exits, self._embedding_storage,
                                    self.target.sparse_encoding)
        weight_bits = size["projection"] + size["blocks"] + size["ramps"]
        act_bits = max(max(lc.activation_bits for lc in layers), emb.activation_bits)
        place = dict(self.target.placement)
        per_level: dict[str, float] = {}
        if self._weights_on_chip:
            per_level[place["weights"]] = per_level.get(place["weights"], 0.0) + weight_bits
        if self._emb_on_chip:
            per_level[place["embeddings"]] = per_level.get(place["embeddings"], 0.0) + size["embeddings"]
        per_level[place["activations"]] = per_level.get(place["activations"], 0.0) + act_bits
        capacities = {name: self.target.level(name).capacity_kb for name in per_level}
        excess = sum(max(0.0, bits / 8192.0 - capacities[name]) for name, bits in per_level.items()
                     if capacities[name] is not None)
        gated_pj = self.gated_leakage_mw(per_level) * lat  # mW x ns = pJ
        return HardwareCost(
            latency_ms=lat * 1e-6,
            energy_uj=(energy - gated_pj) * 1e-6,
            memory_kb=sum(per_level.values()) / 8192.0,
            model_size_bytes=sum(size.values()) / 8.0,
            macs=macs,
            fits_on_chip=excess == 0.0,
            excess_kb=excess,
            target=self.target.name,
            dvfs=self.point,
            embedding=emb,
            layers=layers,
            ramps=ramps,
            run_probability=run,
            level_bits=tuple(per_level.items()),
            gated_leakage_uj=gated_pj * 1e-6,
        )

    __call__ = estimate


# ---------------------------------------------------------------------------------------------
# functional API with caches


@functools.lru_cache(maxsize=64)
def _cached_target(name_or_path: str) -> HardwareTarget:
    return load_target(name_or_path)


def _as_target(target) -> HardwareTarget:
    if isinstance(target, HardwareTarget):
        return target
    if isinstance(target, (str, Path)):
        return _cached_target(str(target))
    return load_target(target)


@functools.lru_cache(maxsize=256)
def _lengths_key(seq_len, seq_lens_key) -> tuple:
    if seq_lens_key is None:
        return normalize_lengths(seq_len, None)
    kind, payload = seq_lens_key
    return normalize_lengths(seq_len, dict(payload) if kind == "hist" else list(payload))


@functools.lru_cache(maxsize=256)
def _cached_model(arch: Architecture, target: HardwareTarget, lengths: tuple, span_ramp: int,
                  point: DVFSPoint, activation_bits: int) -> CostModel:
    return CostModel(arch, target, span_ramp=span_ramp, dvfs_point=point, lengths=lengths,
                     activation_bits=activation_bits)


def cost_model(arch: Architecture, target, seq_len: int | None = None, seq_lens=None, span_ramp: int = 0,
               dvfs_point=None, activation_bits: int | None = None) -> CostModel:
    """The shared (cached) :class:`CostModel` for these arguments."""
    tgt = _as_target(target)
    if seq_lens is None:
        key = None
    elif isinstance(seq_lens, Mapping):
        key = ("hist", tuple(sorted(seq_lens.items())))
    else:
        key = ("list", tuple(seq_lens))
    lengths = _lengths_key(seq_len, key)
    return _cached_model(arch, tgt, lengths, span_ramp, tgt.resolve_dvfs(dvfs_point),
                         tgt.resolve_activation_bits(activation_bits))


def estimate(
    arch: Architecture,
    config: SubnetConfig,
    target: "HardwareTarget | str | Path" = "edgebert-12nm",
    *,
    seq_len: int | None = None,
    seq_lens=None,
    exit_distribution=None,
    sparsity: Sequence[float] | None = None,
    dvfs_point=None,
    span_ramp: int = 0,
    exits: Sequence[int] | None = None,
    activation_bits: int | None = None,
) -> HardwareCost:
    """Latency, energy, on-chip memory, model size and MACs of one inference of ``config``.

    arch, config: the encoder shape and the sub-network (one :class:`LayerConfig` per virtual layer).
    target: a :class:`HardwareTarget`, a shipped target name or a YAML path.
    seq_len / seq_lens: one length (default 128), or a list of lengths / ``{length: count}``
        histogram to average over.
    exit_distribution: per-layer exit probabilities (list of L numbers or ``{layer: p}``); None =
        no early exit.
    exits: the layers whose exit ramp is deployed (threshold above 0); default: where
        ``exit_distribution`` sends inputs.
    sparsity: per-layer fraction of zero weights (default: the config's own, each
        ``LayerConfig.sparsity``); only targets with ``zero_skipping`` get cheaper.
    dvfs_point: index into the target's DVFS points, a (voltage, MHz) pair, or None (nominal).
    span_ramp: the adaptive-span ramp R; a layer with span z attends to |i - j| <= z + R - 1.
    activation_bits: the width activations run at, one of the target's
        ``activation_bits_supported`` (default: its ``activation_bits``).
    """
    model = cost_model(arch, target, seq_len, seq_lens, span_ramp, dvfs_point, activation_bits)
    return model.estimate(config, exit_distribution, sparsity, exits)


def estimate_workload(
    arch: Architecture,
    config: SubnetConfig,
    target: "HardwareTarget | str | Path",
    workload,
    *,
    exits: Sequence[int] | None = None,
    sparsity: Sequence[float] | None = None,
    dvfs_point=None,
    span_ramp: int = 0,
    activation_bits: int | None = None,
) -> HardwareCost:
    """:func:`estimate` averaged over a :class:`evosearch.workload.Workload`: each sentence length
    with the exit distribution of the sentences of that length (length and exit kept together).

    Latency, energy, MACs and the leakage of power-gated banks are these exact averages (each
    sentence's activation banks are those its own length needs); memory, size and the per-layer
    breakdown come from one estimate over the whole length histogram (memory at the longest sentence).
    ``exits``: the layers with a deployed exit ramp (default: where the workload's sentences leave).
    """
    from dataclasses import replace as _replace

    early = workload.exits is not None
    if early and exits is None:
        exits = sorted(set(workload.exits))
    latency = energy = macs = gated = 0.0
    for length, share, dist in workload.by_length():
        cost = estimate(arch, config, target, seq_len=length, exit_distribution=dist if early else None,
                        sparsity=sparsity, dvfs_point=dvfs_point, span_ramp=span_ramp, exits=exits,
                        activation_bits=activation_bits)
        latency += share * cost.latency_ms
        energy += share * cost.energy_uj
        macs += share * cost.macs
        gated += share * cost.gated_leakage_uj
    overall = estimate(arch, config, target, seq_lens=workload.length_histogram(),
                       exit_distribution=workload.exit_distribution() if early else None, sparsity=sparsity,
                       dvfs_point=dvfs_point, span_ramp=span_ramp, exits=exits, activation_bits=activation_bits)
    return _replace(overall, latency_ms=latency, energy_uj=energy, macs=macs, gated_leakage_uj=gated)


@dataclass(frozen=True)
class DVFSChoice:
    index: int
    point: DVFSPoint
    cost: HardwareCost


def pick_dvfs(
    arch: Architecture,
    config: SubnetConfig,
    target: "HardwareTarget | str | Path",
    latency_target_ms: float,
    **estimate_kwargs,
) -> DVFSChoice | None:
    """The lowest-energy operating point whose (expected) latency meets the target, one point for
    every sentence; :func:`evosearch.hardware.dvfs.dvfs_workload` picks a point per sentence.

    Returns None when no point of the target meets ``latency_target_ms`` (check
    ``choice is None`` before using it). ``estimate_kwargs`` go to :func:`estimate`
    (``seq_lens``, ``exit_distribution``, ...); ``dvfs_point`` is not allowed there.
    """
    if "dvfs_point" in estimate_kwargs:
        raise TypeError("pick_dvfs chooses dvfs_point itself; do not pass it")
    if not latency_target_ms > 0:
        raise ValueError(f"latency_target_ms={latency_target_ms!r}; allowed: a number > 0")
    tgt = _as_target(target)
    best = None
    for i, point in enumerate(tgt.dvfs_points):
        cost = estimate(arch, config, tgt, dvfs_point=point, **estimate_kwargs)
        if cost.latency_ms <= latency_target_ms and (best is None or cost.energy_uj < best.cost.energy_uj):
            best = DVFSChoice(i, point, cost)
    return best


def clear_caches() -> None:
    """Drop every cached cost (after editing a target file in place, say)."""
    _cached_target.cache_clear()
    _lengths_key.cache_clear()
    _cached_model.cache_clear()
    from . import cost as _cost

    _cost._PRICERS.clear()
