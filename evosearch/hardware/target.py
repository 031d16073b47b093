"""Hardware targets: the description of an accelerator the cost model prices a sub-network on.

A target is a YAML file (shipped ones live in ``evosearch/objectives/hardware/``; users add their own and
load them by path). It names

* the MAC array (rows x cols, datapath and accumulator bit widths, the datapath's number format,
  energy per integer MAC at the datapath width and the factor another format costs relative to it,
  zero skipping for unstructured sparsity and the encoding sparse data is stored in,
  ``compute.sparse_encoding``: ``index``, every non-zero with ``index_bits`` of relative index
  (EIE, Han et al. ISCA 2016), or ``bitmask``, one presence bit per position plus the packed
  non-zeros (EdgeBERT's own: :meth:`HardwareTarget.stored_bits_per_value`),
* a vector unit for softmax / layer-norm / GELU / residual adds,
* the memory levels (per-bit read/write energy, bandwidth, leakage, capacity, on- or off-chip, and
  optionally ``power_gating: banks`` with ``bank_kb``: leakage is charged only for the banks that
  hold the model's data, ceil(stored KB / bank_kb) of capacity_kb / bank_kb, the rest power-gated),
* where weights, embeddings, activations and partial sums live (EdgeBERT, Tambe et al. MICRO 2021:
  embeddings in ReRAM eNVM, everything else in SRAM),
* the activation widths it runs (``compute.activation_bits_supported``; wider than the MAC's
  activation operand means more passes),
* the DVFS operating points (voltage, frequency), which one is nominal, and how leakage power
  scales with voltage (``dvfs.leakage_voltage_exponent``).

Energy numbers in the shipped files come from Horowitz (ISSCC 2014), Timeloop/Accelergy example
outputs and NVMExplorer (Pentecost et al., HPCA 2022); each is cited beside the value.

:func:`load_target` validates the schema and raises :class:`HardwareTargetError` naming the field,
the value and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping


from ..errors import EvosearchError
from ..yamlfiles import load_yaml

#: Folder of the hardware targets shipped with evosearch (``evosearch/objectives/hardware``, package data).
SHIPPED_TARGETS_DIR = Path(__file__).resolve().parents[1] / "objectives" / "hardware"  # package data

PLACEMENT_ROLES = ("weights", "embeddings", "activations", "partial_sums")
NUMBER_FORMATS = ("int", "adaptivfloat")
POWER_GATING = ("none", "banks")
SPARSE_ENCODINGS = ("index", "bitmask")
VECTOR_OPS = ("softmax", "layernorm", "gelu", "add")


class HardwareTargetError(EvosearchError, ValueError):
    """A hardware target file that cannot be used; the message names the field and what is allowed."""


@dataclass(frozen=True)
class MemoryLevel:
    """One memory level: energy per bit moved, bandwidth, leakage power, capacity.

    Exactly one of ``bandwidth_bits_per_cycle`` (on-chip buffers: scales with the DVFS clock) or
    ``bandwidth_gb_per_s`` (off-chip DRAM: fixed) is set. ``scales_with_voltage``: whether the
    access energy scales with the core supply (V^2); false for off-chip DRAM.

    ``power_gating``: ``"none"`` (every bank leaks while a sentence runs) or ``"banks"``: the level is
    ``capacity_kb / bank_kb`` banks and only the banks holding data for the current model leak
    (:meth:`leakage_share`); the others are power-gated.
    """

    name: str
    read_pj_per_bit: float
    write_pj_per_bit: float
    leakage_mw: float = 0.0
    capacity_kb: float | None = None
    on_chip: bool = True
    bandwidth_bits_per_cycle: float | None = None
    bandwidth_gb_per_s: float | None = None
    scales_with_voltage: bool = True
    power_gating: str = "none"
    bank_kb: float | None = None

    @property
    def banks(self) -> int | None:
        """Number of banks of a power-gated level (None without power gating)."""
        if self.power_gating != "banks":
            return None
        return round(self.capacity_kb / self.bank_kb)

    def leakage_share(self, stored_bits: float) -> float:
        """Share of ``leakage_mw`` charged when the level holds ``stored_bits``: 1 without power gating;
        with ``power_gating: banks``, ceil(stored KB / bank_kb) banks of ``banks`` (all of them when the
        data does not fit, none when the level holds nothing)."""
        if self.power_gating != "banks":
            return 1.0
        if stored_bits <= 0:
            return 0.0
        # a relative tolerance keeps an exact multiple of the bank size from rounding up a bank
        used = math.ceil(stored_bits / (8192.0 * self.bank_kb) * (1.0 - 1e-12))
        return min(used, self.banks) / self.banks

    def bits_per_ns(self, frequency_mhz: float) -> float:
        if self.bandwidth_bits_per_cycle is not None:
            return self.bandwidth_bits_per_cycle * frequency_mhz * 1e-3
        return self.bandwidth_gb_per_s * 8.0  # GB/s = 8 Gbit/s = 8 bit/ns


@dataclass(frozen=True)
class DVFSPoint:
    """One operating point: supply voltage (V) and clock frequency (MHz)."""

    voltage: float
    frequency_mhz: float


@dataclass(frozen=True)
class HardwareTarget:
    """A validated accelerator description (see module docstring and the shipped YAML files)."""

    name: str
    technology_nm: float
    # MAC array
    array_rows: int
    array_cols: int
    datapath_bits: int  # weight operand width of one MAC
    activation_bits: int  # the MAC's activation operand width; activations are kept at it by default
    accumulator_bits: int
    mac_energy_pj: float  # one integer datapath_bits x activation_bits MAC at the nominal voltage
    zero_skipping: bool
    index_bits: int  # per non-zero weight, when zero skipping stores weights compressed (sparse_encoding index)
    compute_leakage_mw: float
    # vector unit
    vector_lanes: int
    vector_op_energy_pj: float
    vector_ops_per_element: tuple[tuple[str, float], ...]
    # memory
    memory: tuple[MemoryLevel, ...]
    placement: tuple[tuple[str, str], ...]  # role -> memory level name
    dram_staging_level: str | None  # on-chip level data read from off-chip passes through
    # DVFS
    dvfs_points: tuple[DVFSPoint, ...]
    nominal_dvfs: int
    leakage_voltage_exponent: float = 1.0
    activation_bits_supported: tuple[int, ...] = ()  # activation widths it runs (default: activation_bits only)
    number_format: str = "int"  # the datapath's number format (NUMBER_FORMATS)
    format_mac_energy_factor: float = 1.0  # MAC energy of number_format relative to an integer MAC
    sparse_encoding: str = "index"  # how zero skipping stores sparse data (SPARSE_ENCODINGS)
    source: str = ""
    description: str = ""
    # derived
    _levels: dict = field(default=None, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_levels", {m.name: m for m in self.memory})
        if not self.activation_bits_supported:
            object.__setattr__(self, "activation_bits_supported", (self.activation_bits,))

    def level(self, name: str) -> MemoryLevel:
        return self._levels[name]

    def level_of(self, role: str) -> MemoryLevel:
        return self._levels[dict(self.placement)[role]]

    def ops_per_element(self, op: str) -> float:
        return dict(self.vector_ops_per_element)[op]

    @property
    def nominal_point(self) -> DVFSPoint:
        return self.dvfs_points[self.nominal_dvfs]

    @property
    def mac_energy_format_pj(self) -> float:
        """Energy of one datapath_bits x activation_bits MAC in the datapath's own number format."""
        return self.mac_energy_pj * self.format_mac_energy_factor

    def stored_bits_per_value(self, bits: float, sparsity: float) -> float:
        """Average stored bits per position of a tensor of ``bits``-wide values pruned to ``sparsity``,
        as this target holds and reads it: dense (``bits``) without zero skipping or at sparsity 0;
        otherwise in its ``sparse_encoding``:

        * ``index``: the non-zeros, each with ``index_bits`` of relative index (EIE, Han et al.,
          ISCA 2016): ``(1 - s) (bits + index_bits)``;
        * ``bitmask``: one presence bit per position and the non-zeros packed: ``1 + (1 - s) bits``.
          EdgeBERT's accelerator (harvard-acc/EdgeBERT ``hw/cmod/include/Spec.h``: a ``MaskType`` of
          one bit per lane for each 16-lane vector in its mask memory; ``Decode_N0.h``: a set bit
          advances its bank's pointer to the next packed non-zero, a clear one feeds a zero).

        The bitmask is the smaller encoding at low sparsity, the index at high sparsity (with a
        4-bit index and 8-bit values they cross at s = 0.75)."""
        if not self.zero_skipping or sparsity <= 0.0:
            return float(bits)
        if self.sparse_encoding == "bitmask":
            return 1.0 + (1.0 - sparsity) * bits
        return (1.0 - sparsity) * (bits + self.index_bits)

    @property
    def table_storage(self) -> str:
        """How this target stores a pruned lookup table, in :mod:`evosearch.specs.embedding`'s names:
        ``"index"`` or ``"mask"`` (the bitmask) with zero skipping, ``"dense"`` without."""
        if not self.zero_skipping:
            return "dense"
        return "mask" if self.sparse_encoding == "bitmask" else "index"

    @property
    def macs_per_cycle(self) -> int:
        return self.array_rows * self.array_cols

    def resolve_activation_bits(self, bits: int | None) -> int:
        """The activation width to price: ``bits`` if the target runs it, else an error; None = ``activation_bits``."""
        if bits is None:
            return self.activation_bits
        if isinstance(bits, bool) or bits not in self.activation_bits_supported:
            raise HardwareTargetError(
                f"activation_bits={bits!r}; target {self.name!r} runs activations at "
                f"{', '.join(map(str, self.activation_bits_supported))} bits "
                "(field 'compute.activation_bits_supported')"
            )
        return int(bits)

    def resolve_dvfs(self, point: "DVFSPoint | int | tuple[float, float] | None") -> DVFSPoint:
        """A DVFS point from an index into ``dvfs_points``, a (voltage, MHz) pair or None (nominal)."""
        if point is None:
            return self.nominal_point
        if isinstance(point, DVFSPoint):
            return point
        if isinstance(point, int) and not isinstance(point, bool):
            if not 0 <= point < len(self.dvfs_points):
                raise HardwareTargetError(
                    f"dvfs_point={point}; target {self.name!r} has points 0..{len(self.dvfs_points) - 1}"
                )
            return self.dvfs_points[point]
        try:
            voltage, freq = point
            return DVFSPoint(float(voltage), float(freq))
        except (TypeError, ValueError):
            raise HardwareTargetError(
                f"dvfs_point={point!r}; allowed: None, an index, a DVFSPoint or a (voltage, frequency_mhz) pair"
            ) from None


# ---------------------------------------------------------------------------------------------
# loading and validation


def list_shipped_targets() -> list[str]:
    """Names of the targets shipped in ``evosearch/objectives/hardware`` (load them by these names)."""
    if not SHIPPED_TARGETS_DIR.is_dir():
        return []
    return sorted(p.stem for p in SHIPPED_TARGETS_DIR.glob("*.yaml"))


def load_target(name_or_path: "str | Path | Mapping[str, Any] | HardwareTarget") -> HardwareTarget:
    """Load a hardware target by shipped name (``"edgebert-12nm"``), YAML path, or mapping.

    Raises :class:`HardwareTargetError` when the file is missing or its schema is wrong.
    """
    if isinstance(name_or_path, HardwareTarget):
        return name_or_path
    if isinstance(name_or_path, Mapping):
        return target_from_dict(name_or_path)
    path, data = load_yaml(name_or_path, SHIPPED_TARGETS_DIR, "hardware target", HardwareTargetError)
    if not isinstance(data, Mapping):
        raise HardwareTargetError(f"{path}: the top level must be a mapping of fields, got {type(data).__name__}")
    try:
        return target_from_dict(data)
    except HardwareTargetError as err:
        raise HardwareTargetError(f"{path}: {err}") from None


_MISSING = object()


def _get(data: Mapping, path: str, kind: str, *, default=_MISSING, allow_zero: bool = True):
    """Read ``data[...path...]`` checking its type; ``kind`` is 'number', 'int', 'str', 'bool', 'map', 'list'."""
    node: Any = data
    parts = path.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, Mapping):
            raise HardwareTargetError(f"field '{'.'.join(parts[:i])}' must be a mapping")
        if part not in node or node[part] is None:
            if default is not _MISSING:
                return default
            raise HardwareTargetError(f"missing field '{path}' ({_EXPECT[kind]})")
        node = node[part]
    value = node
    ok = {
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
        "map": isinstance(value, Mapping),
        "list": isinstance(value, (list, tuple)),
    }[kind]
    if not ok:
        raise HardwareTargetError(f"field '{path}' = {value!r} has the wrong type; expected {_EXPECT[kind]}")
    if kind in ("number", "int"):
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            bound = "> 0" if not allow_zero else ">= 0"
            raise HardwareTargetError(f"field '{path}' = {value!r}; allowed: a finite number {bound}")
    return value


_EXPECT = {
    "number": "a number",
    "int": "an integer",
    "str": "a string",
    "bool": "true or false",
    "map": "a mapping",
    "list": "a list",
}


def target_from_dict(data: Mapping[str, Any]) -> HardwareTarget:
    """Validate a target mapping (the parsed YAML) and build a :class:`HardwareTarget`."""
    if not isinstance(data, Mapping):
        raise HardwareTargetError("a hardware target must be a mapping of fields")
    known_top = {"name", "technology_nm", "description", "source", "compute", "vector_unit", "memory",
                 "placement", "dvfs"}
    unknown = sorted(set(data) - known_top)
    if unknown:
        raise HardwareTargetError(f"unknown field(s) {unknown}; allowed top-level fields: {sorted(known_top)}")
    name = _get(data, "name", "str")
    array = _get(data, "compute.mac_array", "list")
    if len(array) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in array):
        raise HardwareTargetError(f"field 'compute.mac_array' = {array!r}; expected [rows, cols], two integers > 0")

    # memory levels
    mem = _get(data, "memory", "map")
    if not mem:
        raise HardwareTargetError("field 'memory' must name at least one memory level")
    levels = []
    for lname in mem:
        p = f"memory.{lname}"
        _get(data, p, "map")
        allowed = {"read_pj_per_bit", "write_pj_per_bit", "leakage_mw", "capacity_kb", "on_chip",
                   "bandwidth_bits_per_cycle", "bandwidth_gb_per_s", "scales_with_voltage", "technology",
                   "power_gating", "bank_kb"}
        extra = sorted(set(mem[lname]) - allowed)
        if extra:
            raise HardwareTargetError(f"unknown field(s) {extra} in '{p}'; allowed: {sorted(allowed)}")
        bw_cycle = _get(data, f"{p}.bandwidth_bits_per_cycle", "number", default=None, allow_zero=False)
        bw_gbs = _get(data, f"{p}.bandwidth_gb_per_s", "number", default=None, allow_zero=False)
        if (bw_cycle is None) == (bw_gbs is None):
            raise HardwareTargetError(
                f"'{p}' needs exactly one of 'bandwidth_bits_per_cycle' (on-chip, scales with the clock) "
                f"or 'bandwidth_gb_per_s' (off-chip, fixed)"
            )
        on_chip = _get(data, f"{p}.on_chip", "bool", default=True)
        capacity = _get(data, f"{p}.capacity_kb", "number", default=None, allow_zero=False)
        gating, bank_kb = _power_gating(data, p, capacity, on_chip)
        levels.append(
            MemoryLevel(
                name=str(lname),
                read_pj_per_bit=float(_get(data, f"{p}.read_pj_per_bit", "number")),
                write_pj_per_bit=float(_get(data, f"{p}.write_pj_per_bit", "number")),
                leakage_mw=float(_get(data, f"{p}.leakage_mw", "number", default=0.0)),
                capacity_kb=capacity,
                on_chip=on_chip,
                bandwidth_bits_per_cycle=None if bw_cycle is None else float(bw_cycle),
                bandwidth_gb_per_s=None if bw_gbs is None else float(bw_gbs),
                scales_with_voltage=_get(data, f"{p}.scales_with_voltage", "bool", default=on_chip),
                power_gating=gating,
                bank_kb=bank_kb,
            )
        )
    level_names = [lv.name for lv in levels]

    placement = _get(data, "placement", "map")
    extra = sorted(set(placement) - set(PLACEMENT_ROLES))
    if extra:
        raise HardwareTargetError(f"unknown field(s) {extra} in 'placement'; allowed: {list(PLACEMENT_ROLES)}")
    place = []
    for role in PLACEMENT_ROLES:
        where = _get(data, f"placement.{role}", "str")
        if where not in level_names:
            raise HardwareTargetError(
                f"field 'placement.{role}' = {where!r} is not a memory level of this target; "
                f"allowed: {', '.join(level_names)}"
            )
        place.append((role, where))
    by_name = {lv.name: lv for lv in levels}
    psum_level = by_name[dict(place)["partial_sums"]]
    if psum_level.power_gating != "none":
        raise HardwareTargetError(
            f"field 'memory.{psum_level.name}.power_gating' = {psum_level.power_gating!r}; the level holding "
            "'placement.partial_sums' is not sized by the model, so its banks cannot be gated by what it stores; "
            "allowed there: 'none'"
        )
    for role in ("activations", "partial_sums"):
        if not by_name[dict(place)[role]].on_chip:
            raise HardwareTargetError(f"field 'placement.{role}' must be an on-chip level (on_chip: true)")
    staging = None
    needs_staging = any(not by_name[w].on_chip for _, w in place)
    if needs_staging:
        # data read from off-chip memory is written into and read back from the activation/weight
        # buffer level (DRAM read + SRAM write + SRAM read, as EdgeBERT accounts it)
        staging = dict(place)["activations"]

    # vector unit
    ops = _get(data, "vector_unit.ops_per_element", "map")
    missing = [op for op in VECTOR_OPS if op not in ops]
    if missing:
        raise HardwareTargetError(f"missing field 'vector_unit.ops_per_element.{missing[0]}' (a number >= 0)")
    extra = sorted(set(ops) - set(VECTOR_OPS))
    if extra:
        raise HardwareTargetError(f"unknown field(s) {extra} in 'vector_unit.ops_per_element'; allowed: {list(VECTOR_OPS)}")
    vec_ops = tuple((op, float(_get(data, f"vector_unit.ops_per_element.{op}", "number"))) for op in VECTOR_OPS)

    # DVFS
    points_raw = _get(data, "dvfs.points", "list")
    if not points_raw:
        raise HardwareTargetError("field 'dvfs.points' must list at least one {voltage, frequency_mhz} point")
    points = []
    for i, pt in enumerate(points_raw):
        if not isinstance(pt, Mapping):
            raise HardwareTargetError(f"field 'dvfs.points[{i}]' must be a mapping {{voltage, frequency_mhz}}")
        points.append(
            DVFSPoint(
                float(_get(pt, "voltage", "number", allow_zero=False)) if "voltage" in pt else _missing(f"dvfs.points[{i}].voltage"),
                float(_get(pt, "frequency_mhz", "number", allow_zero=False)) if "frequency_mhz" in pt else _missing(f"dvfs.points[{i}].frequency_mhz"),
            )
        )
    nominal = _get(data, "dvfs.nominal", "int", default=0)
    if nominal >= len(points):
        raise HardwareTargetError(f"field 'dvfs.nominal' = {nominal}; allowed: an index in [0, {len(points) - 1}]")

    datapath_bits = _get(data, "compute.datapath_bits", "int", allow_zero=False)
    number_format, format_factor = _number_format(data)
    activation_bits = _get(data, "compute.activation_bits", "int", allow_zero=False)
    supported = _get(data, "compute.activation_bits_supported", "list", default=[activation_bits])
    if not supported or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in supported) \
            or activation_bits not in supported or len(set(supported)) != len(supported):
        raise HardwareTargetError(f"field 'compute.activation_bits_supported' = {supported!r}; allowed: a list of "
                                  f"distinct integers >= 1 that includes compute.activation_bits ({activation_bits})")
    return HardwareTarget(
        name=name,
        technology_nm=float(_get(data, "technology_nm", "number", allow_zero=False)),
        array_rows=array[0],
        array_cols=array[1],
        datapath_bits=datapath_bits,
        activation_bits=activation_bits,
        activation_bits_supported=tuple(supported),
        accumulator_bits=_get(data, "compute.accumulator_bits", "int", allow_zero=False),
        mac_energy_pj=float(_get(data, "compute.mac_energy_pj", "number")),
        zero_skipping=_get(data, "compute.zero_skipping", "bool", default=False),
        index_bits=_get(data, "compute.index_bits", "int", default=0),
        sparse_encoding=_sparse_encoding(data),
        compute_leakage_mw=float(_get(data, "compute.leakage_mw", "number", default=0.0)),
        vector_lanes=_get(data, "vector_unit.lanes", "int", allow_zero=False),
        vector_op_energy_pj=float(_get(data, "vector_unit.op_energy_pj", "number")),
        vector_ops_per_element=vec_ops,
        memory=tuple(levels),
        placement=tuple(place),
        dram_staging_level=staging,
        dvfs_points=tuple(points),
        nominal_dvfs=nominal,
        leakage_voltage_exponent=float(_get(data, "dvfs.leakage_voltage_exponent", "number", default=1.0)),
        number_format=number_format,
        format_mac_energy_factor=format_factor,
        source=str(data.get("source", "")),
        description=str(data.get("description", "")),
    )


def _sparse_encoding(data: Mapping) -> str:
    """``compute.sparse_encoding`` (default ``index``); ``bitmask`` carries no index, so it refuses
    an ``index_bits`` above 0 rather than leave a number that prices nothing."""
    encoding = _get(data, "compute.sparse_encoding", "str", default="index")
    if encoding not in SPARSE_ENCODINGS:
        raise HardwareTargetError(f"field 'compute.sparse_encoding' = {encoding!r}; allowed: {', '.join(SPARSE_ENCODINGS)}")
    if encoding == "bitmask" and _get(data, "compute.index_bits", "int", default=0):
        raise HardwareTargetError("field 'compute.index_bits' is set, but compute.sparse_encoding 'bitmask' stores "
                                  "no index (one presence bit per position); remove index_bits or use 'index'")
    return encoding


def _number_format(data: Mapping) -> tuple[str, float]:
    """``compute.number_format`` and its ``compute.format_mac_energy_factor`` (required for a
    non-integer format: the MAC energy relative to ``mac_energy_pj``, an integer MAC)."""
    fmt = _get(data, "compute.number_format", "str", default="int")
    if fmt not in NUMBER_FORMATS:
        raise HardwareTargetError(f"field 'compute.number_format' = {fmt!r}; allowed: {', '.join(NUMBER_FORMATS)}")
    factor = _get(data, "compute.format_mac_energy_factor", "number", default=None, allow_zero=False)
    if fmt == "int":
        if factor is not None and factor != 1:
            raise HardwareTargetError(f"field 'compute.format_mac_energy_factor' = {factor!r} with number_format "
                                      "'int'; an integer datapath is priced at mac_energy_pj (remove it or use 1)")
        return fmt, 1.0
    if factor is None:
        raise HardwareTargetError(f"missing field 'compute.format_mac_energy_factor' (a number > 0: the energy of "
                                  f"one {fmt} MAC relative to the integer MAC of 'compute.mac_energy_pj')")
    return fmt, float(factor)


def _power_gating(data: Mapping, p: str, capacity, on_chip: bool) -> tuple[str, float | None]:
    """``power_gating`` and ``bank_kb`` of memory level ``p``: 'banks' needs an on-chip level with a
    ``capacity_kb`` that is a whole number of ``bank_kb`` banks."""
    gating = _get(data, f"{p}.power_gating", "str", default="none")
    if gating not in POWER_GATING:
        raise HardwareTargetError(f"field '{p}.power_gating' = {gating!r}; allowed: {', '.join(POWER_GATING)}")
    bank_kb = _get(data, f"{p}.bank_kb", "number", default=None, allow_zero=False)
    if gating == "none":
        if bank_kb is not None:
            raise HardwareTargetError(f"field '{p}.bank_kb' is set but '{p}.power_gating' is 'none'; "
                                      f"bank_kb only goes with power_gating: banks (remove it or gate the banks)")
        return gating, None
    if bank_kb is None:
        raise HardwareTargetError(f"missing field '{p}.bank_kb' (a number > 0: the KB of one bank that "
                                  f"power_gating: banks switches off when it holds no data)")
    if not on_chip:
        raise HardwareTargetError(f"field '{p}.power_gating' = 'banks' on an off-chip level (on_chip: false); "
                                  f"allowed there: 'none'")
    if capacity is None:
        raise HardwareTargetError(f"'{p}' has power_gating: banks but no 'capacity_kb'; the number of banks is "
                                  f"capacity_kb / bank_kb")
    banks = capacity / bank_kb
    if banks < 1 or abs(banks - round(banks)) > 1e-9 * banks:
        raise HardwareTargetError(f"field '{p}.bank_kb' = {bank_kb!r}; allowed: a size that divides "
                                  f"'{p}.capacity_kb' ({capacity!r}) into a whole number of banks")
    return gating, float(bank_kb)


def _missing(path: str):
    raise HardwareTargetError(f"missing field '{path}' (a number > 0)")
