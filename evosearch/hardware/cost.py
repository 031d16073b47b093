"""Per-op cost: MACs, bits moved per memory level, roofline time and energy.

The model is the usual analytical one (Timeloop/Accelergy, Parashar et al. ISPASS 2019 / Wu et al.
ICCAD 2019; EdgeBERT's own energy accounting, Tambe et al. MICRO 2021):

* **Compute.** A GEMM of ``count`` x (M x K) . (K x N) on an R x C weight-stationary MAC array
  takes ``count * M * ceil(K / R) * ceil(N / C) * passes`` cycles, ``passes = ceil(b_w / datapath
  bits)`` (operands wider than the datapath are bit-sliced; narrower ones gain no throughput).
  Activations wider than the MAC's activation operand (``activation_bits``) take
  ``ceil(b_a / activation_bits)`` passes as well. Energy per MAC is the target's 8-bit (datapath)
  MAC energy scaled by ``(b_w * b_a) / (datapath_bits * activation_bits)`` — multiplier energy
  grows roughly with the product of the operand widths (Horowitz ISSCC 2014: 8-bit mult 0.2 pJ vs
  32-bit 3.1 pJ, ~16x for 4x width). ``b_a`` is the priced activation width (default the target's
  ``activation_bits``; any of its ``activation_bits_supported``), also the width activations are
  stored and moved at.
  The datapath MAC energy is the integer MAC's times the target's ``format_mac_energy_factor``
  for its ``number_format`` (AdaptivFloat: 0.9, Tambe et al. DAC 2020; the factor covers the
  format's decode inside the PE). Stored bits do not change with the format: an 8-bit
  AdaptivFloat weight is 8 bits, plus a 3-bit exponent bias per tensor that is not counted.
* **Data movement** (bits per level): the stationary operand is read once per GEMM from its
  level (weights: the ``weights`` level — SRAM, DRAM or eNVM; K and V: the activation level);
  the streamed operand is read once per column tile (``ceil(N / C)`` times); partial sums spill
  to the ``partial_sums`` level ``ceil(K / R) - 1`` times per output (a write and a read at
  accumulator width); outputs are written once at activation width. Data held off-chip (DRAM)
  is also written into and read back from the on-chip staging buffer (DRAM read + SRAM write +
  SRAM read, as EdgeBERT accounts it).
* **Unstructured sparsity** on a target with ``zero_skipping``: MACs and cycles scale by the
  density (1 - sparsity); weights are stored and read in the target's ``sparse_encoding``: the
  non-zeros with ``index_bits`` each, or a presence bit per position plus the non-zeros
  (``bitmask``, EdgeBERT's). Pruned embedding tables (EdgeBERT's embedding pruning) are read the
  same way, row by looked-up row. Targets without zero skipping pay the dense cost.
* **Time** = max(compute time, bits at each level / that level's bandwidth) (roofline).
* **Energy** = MAC/vector-op energy + sum of bits x pJ/bit per level + leakage power x time. Leakage
  is charged while a sentence runs; time between sentences counts as power-gated (not charged).
  Ops are priced with every bank of every level leaking; levels with ``power_gating: banks`` get
  the leakage of their empty banks taken off the model's totals (:mod:`evosearch.hardware.model`).
* **DVFS** (EdgeBERT): on-chip dynamic energies scale with (V / V_nominal)^2, leakage power with
  (V / V_nominal)^leakage_voltage_exponent, compute time and on-chip bandwidth with the clock
  1 / f; off-chip DRAM bandwidth and energy do not scale.

Units: time in ns, energy in pJ, sizes in bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .ops import Gemm, Lookup, Vector
from .target import DVFSPoint, HardwareTarget


@dataclass(frozen=True)
class OpCost:
    """Cost of one op (or of a weighted average of ops over sequence lengths)."""

    name: str
    macs: float
    cycles: float
    time_ns: float
    compute_pj: float
    memory_pj: float
    leakage_pj: float
    bits: tuple[float, ...]  # bits read + written at each memory level (target.memory order)
    bound: str  # "compute" or the name of the memory level that sets the time
    memory_fixed_pj: float = 0.0  # the part of memory_pj at levels whose energy does not scale with voltage

    @property
    def energy_pj(self) -> float:
        return self.compute_pj + self.memory_pj + self.leakage_pj


class _Pricer:
    """Prices ops on one target at one DVFS point (precomputes the per-level constants)."""

    def __init__(self, target: HardwareTarget, point: DVFSPoint, activation_bits: int) -> None:
        self.t = target
        self.act_bits = activation_bits
        nominal = target.nominal_point
        self.vscale = (point.voltage / nominal.voltage) ** 2
        self.ghz = point.frequency_mhz * 1e-3
        names = [lv.name for lv in target.memory]
        self.index = {n: i for i, n in enumerate(names)}
        self.read_pj = [lv.read_pj_per_bit * (self.vscale if lv.scales_with_voltage else 1.0) for lv in target.memory]
        self.write_pj = [lv.write_pj_per_bit * (self.vscale if lv.scales_with_voltage else 1.0) for lv in target.memory]
        self.bw = [lv.bits_per_ns(point.frequency_mhz) for lv in target.memory]
        leak_scale = (point.voltage / nominal.voltage) ** target.leakage_voltage_exponent
        self.leak_mw = (target.compute_leakage_mw + sum(lv.leakage_mw for lv in target.memory)) * leak_scale
        place = dict(target.placement)
        self.weights = self.index[place["weights"]]
        self.emb = self.index[place["embeddings"]]
        self.act = self.index[place["activations"]]
        self.psum = self.index[place["partial_sums"]]
        self.staging = None if target.dram_staging_level is None else self.index[target.dram_staging_level]
        self.on_chip = [lv.on_chip for lv in target.memory]
        self.fixed = [not lv.scales_with_voltage for lv in target.memory]
        self.names = names

    # -- helpers -------------------------------------------------------------------------------
    def _move(self, reads: list, writes: list, level: int, bits_read: float = 0.0, bits_written: float = 0.0) -> None:
        reads[level] += bits_read
        writes[level] += bits_written
        if not self.on_chip[level] and self.staging is not None:
            # off-chip data passes through the on-chip staging buffer: written, then read
            writes[self.staging] += bits_read
            reads[self.staging] += bits_read

    def _time(self, cycles: float, bits: tuple) -> tuple[float, str]:
        """Roofline time (ns) and what bounds it: compute, or the slowest memory level."""
        time = cycles / self.ghz
        bound = "compute"
        for i, b in enumerate(bits):
            if b:
                tl = b / self.bw[i]
                if tl > time:
                    time, bound = tl, self.names[i]
        return time, bound

    def _finish(self, name: str, macs: float, cycles: float, compute_pj: float, reads: list, writes: list) -> OpCost:
        n = len(reads)
        bits = tuple(reads[i] + writes[i] for i in range(n))
        per_level = [reads[i] * self.read_pj[i] + writes[i] * self.write_pj[i] for i in range(n)]
        fixed = sum(e for e, f in zip(per_level, self.fixed) if f)
        time, bound = self._time(cycles, bits)
        return OpCost(name, macs, cycles, time, compute_pj, sum(per_level), self.leak_mw * time, bits, bound, fixed)

    def rescale(self, op: OpCost, source: "_Pricer") -> OpCost:
        """``op``, priced by ``source`` (same target and activation width, one sequence length), as
        this pricer's DVFS point prices it: exact, since dynamic energies scale with V^2 (but the
        ``memory_fixed_pj`` part), time is recomputed from cycles and bits, leakage is power x time."""
        v = self.vscale / source.vscale
        time, bound = self._time(op.cycles, op.bits)
        memory = (op.memory_pj - op.memory_fixed_pj) * v + op.memory_fixed_pj
        return OpCost(op.name, op.macs, op.cycles, time, op.compute_pj * v, memory, self.leak_mw * time, op.bits,
                      bound, op.memory_fixed_pj)

    # -- ops -----------------------------------------------------------------------------------
    def gemm(self, op: Gemm) -> OpCost:
        t = self.t
        act_bits = self.act_bits
        n_levels = len(self.names)
        reads = [0.0] * n_levels
        writes = [0.0] * n_levels
        if op.stationary == "weights":
            wb = op.weight_bits
            level = self.weights
            sparse = t.zero_skipping and op.sparsity > 0.0
            density = 1.0 - op.sparsity if sparse else 1.0
            stored_bits = t.stored_bits_per_value(wb, op.sparsity)  # per weight position
        else:
            wb = act_bits
            level = self.act
            density = 1.0
            stored_bits = wb
        passes = math.ceil(wb / t.datapath_bits) * math.ceil(act_bits / t.activation_bits)
        row_tiles = math.ceil(op.k / t.array_rows)
        col_tiles = math.ceil(op.n / t.array_cols)
        macs = op.count * op.m * op.k * op.n * density
        cycles = op.count * op.m * row_tiles * col_tiles * passes * density
        width = (wb * act_bits) / (t.datapath_bits * t.activation_bits)
        compute_pj = macs * t.mac_energy_format_pj * self.vscale * width
        self._move(reads, writes, level, bits_read=op.count * op.k * op.n * stored_bits)
        self._move(reads, writes, self.act, bits_read=op.count * op.m * op.k * act_bits * col_tiles)
        spills = op.count * op.m * op.n * (row_tiles - 1) * t.accumulator_bits
        self._move(reads, writes, self.psum, bits_read=spills, bits_written=spills)
        self._move(reads, writes, self.act, bits_written=op.count * op.m * op.n * act_bits)
        return self._finish(op.name, macs, cycles, compute_pj, reads, writes)

    def vector(self, op: Vector) -> OpCost:
        t = self.t
        n_levels = len(self.names)
        reads = [0.0] * n_levels
        writes = [0.0] * n_levels
        n_ops = op.elements * t.ops_per_element(op.kind)
        cycles = n_ops / t.vector_lanes
        compute_pj = n_ops * t.vector_op_energy_pj * self.vscale
        bits = op.elements * self.act_bits
        self._move(reads, writes, self.act, bits_read=bits, bits_written=bits)
        return self._finish(op.name, 0.0, cycles, compute_pj, reads, writes)

    def lookup(self, op: Lookup) -> OpCost:
        """Rows read from the embeddings level and written, dense, at activation width. Pruned
        tables on a zero-skipping target are read in the target's sparse encoding, as weights are
        (:meth:`~evosearch.hardware.target.HardwareTarget.stored_bits_per_value`); the row is decoded
        to dense on the way."""
        t = self.t
        n_levels = len(self.names)
        reads = [0.0] * n_levels
        writes = [0.0] * n_levels
        per_value = t.stored_bits_per_value(op.bits, op.sparsity)
        self._move(reads, writes, self.emb, bits_read=op.rows * op.width * per_value)
        self._move(reads, writes, self.act, bits_written=op.rows * op.width * self.act_bits)
        return self._finish(op.name, 0.0, 0.0, 0.0, reads, writes)

    def price(self, op) -> OpCost:
        if isinstance(op, Gemm):
            return self.gemm(op)
        if isinstance(op, Vector):
            return self.vector(op)
        if isinstance(op, Lookup):
            return self.lookup(op)
        raise TypeError(f"unknown op {op!r}")


_PRICERS: dict = {}


def pricer(target: HardwareTarget, point: DVFSPoint, activation_bits: int | None = None) -> _Pricer:
    bits = target.resolve_activation_bits(activation_bits)
    key = (target, point, bits)
    p = _PRICERS.get(key)
    if p is None:
        p = _PRICERS[key] = _Pricer(target, point, bits)
    return p


def price_ops(ops: list, target: HardwareTarget, point: DVFSPoint | None = None,
              activation_bits: int | None = None) -> list[OpCost]:
    """Price every op of ``ops`` on ``target`` at DVFS ``point`` (nominal when None) with activations
    at ``activation_bits`` (the target's ``activation_bits`` when None)."""
    p = pricer(target, point or target.nominal_point, activation_bits)
    return [p.price(op) for op in ops]


def weighted_sum(costs_and_weights: list[tuple[list[OpCost], float]]) -> list[OpCost]:
    """Average op lists (same ops, e.g. one list per sequence length) with the given weights."""
    first = costs_and_weights[0][0]
    out = []
    for j, op in enumerate(first):
        macs = cycles = time = comp = mem = leak = fixed = 0.0
        bits = [0.0] * len(op.bits)
        bound_time: dict = {}
        for ops, w in costs_and_weights:
            c = ops[j]
            macs += w * c.macs
            cycles += w * c.cycles
            time += w * c.time_ns
            comp += w * c.compute_pj
            mem += w * c.memory_pj
            leak += w * c.leakage_pj
            fixed += w * c.memory_fixed_pj
            for i, b in enumerate(c.bits):
                bits[i] += w * b
            bound_time[c.bound] = bound_time.get(c.bound, 0.0) + w * c.time_ns
        bound = max(bound_time, key=bound_time.get)
        out.append(OpCost(op.name, macs, cycles, time, comp, mem, leak, tuple(bits), bound, fixed))
    return out
