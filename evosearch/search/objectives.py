"""Objective sets and constraints (``objectives/search/*.yaml`` or the run config).

::

    objectives: [error, energy_uj]        # minimised; 'accuracy' and 'iccr' are maximised
    constraints: ["latency_ms <= 5", "fits_on_chip >= 1"]
    target: edgebert-12nm                 # hardware target for latency_ms / energy_uj / memory_kb
    reference_point: {error: 1.0}         # optional; missing entries are derived from the space

Every constraint becomes a pymoo inequality ``G <= 0`` (``value - bound`` for ``<=``,
``bound - value`` for ``>=``): infeasible candidates are kept and ranked by the algorithm
(constraint domination), never silently dropped.

Metrics (see :data:`METRICS`): ``error`` (1 - accuracy on the dev subset, with early exits),
``accuracy``, ``mean_exit_layer``, ``params``, ``model_size_bytes``, ``macs`` (expected over
exits, mean dev length), ``iccr`` (P-BERT, kept for comparison only), and — on a hardware target
(:mod:`evosearch.hardware`) — ``latency_ms``, ``energy_uj``, ``memory_kb``, ``fits_on_chip``,
all expectations over the measured per-input exit distribution and the dev length histogram
(EdgeBERT's accounting). ``cpu_latency_ms``: the expected latency of the extracted sub-network
over the exit distribution, from :mod:`evosearch.latency`'s predictor (``cpu_predictor: PATH``,
default: the one ``evosearch calibrate`` made for this machine).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..yamlfiles import load_yaml
from .space import SearchSpaceError


class ObjectiveError(SearchSpaceError):
    """A malformed objective set: unknown metric, bad constraint, wrong type."""


@dataclass(frozen=True)
class Metric:
    name: str
    direction: str  # "min" or "max"
    doc: str
    hardware: bool = False  # needs a hardware target
    model: bool = False  # needs the supernet forward (accuracy / exits)


METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("error", "min", "1 - accuracy on the dev subset, with early exits", model=True),
    Metric("accuracy", "max", "accuracy on the dev subset, with early exits", model=True),
    Metric("mean_exit_layer", "min", "mean number of layers run per input (1..L)", model=True),
    Metric("params", "min", "stored parameters (proxy)"),
    Metric("model_size_bytes", "min", "model size at the chosen bit widths (proxy)"),
    Metric("macs", "min", "expected multiply-accumulates per input over the exit distribution", model=True),
    Metric("iccr", "max", "P-BERT's inverted computational complexity ratio (comparison only)"),
    Metric("latency_ms", "min", "expected latency on the hardware target", hardware=True, model=True),
    Metric("energy_uj", "min", "expected energy on the hardware target", hardware=True, model=True),
    Metric("memory_kb", "min", "on-chip memory footprint on the hardware target", hardware=True),
    Metric("fits_on_chip", "max", "1 if weights and activations fit the target's on-chip memories", hardware=True),
    Metric("cpu_latency_ms", "min", "expected predicted CPU latency (evosearch.latency)", model=True),
]}

_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w]*)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Constraint:
    metric: str
    op: str  # "<=" or ">="
    bound: float

    @classmethod
    def parse(cls, text, where="constraints") -> "Constraint":
        if isinstance(text, Mapping) and len(text) == 1:  # {latency_ms: "<= 5"}
            (k, v), = text.items()
            text = f"{k} {v}"
        m = _CONSTRAINT.match(str(text))
        if not m:
            raise ObjectiveError(f"{where}: cannot read constraint {text!r}; write 'METRIC <= NUMBER' or "
                                 f"'METRIC >= NUMBER', e.g. 'latency_ms <= 5'")
        metric, op, bound = m.group(1), m.group(2), m.group(3)
        _check_metric(metric, where)
        try:
            value = float(bound)
        except ValueError:
            raise ObjectiveError(f"{where}: {bound!r} in {text!r} is not a number") from None
        return cls(metric, op, value)

    def g(self, value: float) -> float:
        """pymoo's inequality value: <= 0 when satisfied."""
        return float(value) - self.bound if self.op == "<=" else self.bound - float(value)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


def _check_metric(name, where):
    if name not in METRICS:
        raise ObjectiveError(f"{where}: unknown metric {name!r}; allowed: {', '.join(METRICS)}")


@dataclass(frozen=True)
class ObjectiveSet:
    objectives: tuple[str, ...]
    constraints: tuple[Constraint, ...] = ()
    target: str | None = None
    reference_point: Mapping[str, float] = field(default_factory=dict)
    cpu_predictor: str | None = None  # a saved LatencyPredictor (JSON); default: this machine's calibrated one

    KEYS = ("objectives", "constraints", "target", "reference_point", "cpu_predictor", "description")

    def __post_init__(self):
        object.__setattr__(self, "objectives", tuple(self.objectives))
        object.__setattr__(self, "constraints", tuple(self.constraints))
        object.__setattr__(self, "reference_point", dict(self.reference_point or {}))
        if not self.objectives:
            raise ObjectiveError("objectives: give at least one metric")
        if len(set(self.objectives)) != len(self.objectives):
            raise ObjectiveError(f"objectives: a metric is listed twice: {list(self.objectives)}")
        for name in self.objectives:
            _check_metric(name, "objectives")
        if self.needs_target and not self.target:
            hw = [m for m in self.metrics if METRICS[m].hardware]
            raise ObjectiveError(f"target: metrics {', '.join(hw)} need a hardware target; add 'target: NAME' "
                                 "(a shipped name under objectives/hardware/ or a YAML path)")
        for k in self.reference_point:
            if k not in self.objectives:
                raise ObjectiveError(f"reference_point: {k!r} is not an objective; objectives: {', '.join(self.objectives)}")

    @classmethod
    def from_dict(cls, data, where="objectives") -> "ObjectiveSet":
        if isinstance(data, (list, tuple)):
            data = {"objectives": list(data)}
        if not isinstance(data, Mapping):
            raise ObjectiveError(f"{where}: expected a mapping with keys {', '.join(cls.KEYS)}")
        unknown = sorted(set(data) - set(cls.KEYS))
        if unknown:
            raise ObjectiveError(f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(cls.KEYS)}")
        objectives = data.get("objectives")
        if isinstance(objectives, str):
            objectives = [objectives]
        if not isinstance(objectives, list) or not all(isinstance(o, str) for o in objectives):
            raise ObjectiveError(f"{where}: 'objectives' must be a list of metric names; allowed: {', '.join(METRICS)}")
        constraints = data.get("constraints") or []
        if not isinstance(constraints, list):
            raise ObjectiveError(f"{where}: 'constraints' must be a list like ['latency_ms <= 5']")
        target = data.get("target")
        if target is not None and not isinstance(target, str):
            raise ObjectiveError(f"{where}: 'target' must be a hardware target name or YAML path, got {target!r}")
        ref = data.get("reference_point") or {}
        if isinstance(ref, list):
            if len(ref) != len(objectives):
                raise ObjectiveError(f"{where}: 'reference_point' has {len(ref)} values for {len(objectives)} objectives")
            ref = dict(zip(objectives, ref))
        if not isinstance(ref, Mapping) or not all(isinstance(v, (int, float)) for v in ref.values()):
            raise ObjectiveError(f"{where}: 'reference_point' must map objective names to numbers")
        predictor = data.get("cpu_predictor")
        if predictor is not None and not isinstance(predictor, str):
            raise ObjectiveError(f"{where}: 'cpu_predictor' must be the path of a saved latency predictor")
        return cls(tuple(objectives), tuple(Constraint.parse(c, f"{where}: constraints") for c in constraints),
                   target, {k: float(v) for k, v in ref.items()}, predictor)

    @classmethod
    def load(cls, path_or_name: str | Path) -> "ObjectiveSet":
        shipped = Path(__file__).resolve().parents[2] / "objectives" / "search"
        path, data = load_yaml(path_or_name, shipped, "objective set", ObjectiveError)
        return cls.from_dict(data, where=str(path))

    def to_dict(self) -> dict:
        out = {"objectives": list(self.objectives), "constraints": [str(c) for c in self.constraints],
               "target": self.target, "reference_point": dict(self.reference_point)}
        if self.cpu_predictor:
            out["cpu_predictor"] = self.cpu_predictor
        return out

    @property
    def metrics(self) -> list[str]:
        """Every metric to compute: objectives first, then constrained ones."""
        out = list(self.objectives)
        for c in self.constraints:
            if c.metric not in out:
                out.append(c.metric)
        return out

    @property
    def needs_target(self) -> bool:
        return any(METRICS[m].hardware for m in self.metrics)

    @property
    def signs(self) -> list[float]:
        """+1 for minimised objectives, -1 for maximised ones (pymoo minimises ``sign * value``)."""
        return [1.0 if METRICS[m].direction == "min" else -1.0 for m in self.objectives]

    def F(self, metrics: Mapping[str, float]) -> list[float]:
        return [s * float(metrics[m]) for s, m in zip(self.signs, self.objectives)]

    def G(self, metrics: Mapping[str, float]) -> list[float]:
        return [c.g(metrics[c.metric]) for c in self.constraints]


def cpu_latency_predictor(arch, path: str | None = None):
    """The CPU latency predictor (:mod:`evosearch.latency`) for ``arch``: from ``path``, else the one
    ``evosearch calibrate`` made for this machine (batch 1, 32 tokens)."""
    try:
        from ..latency import LatencyError, LatencyPredictor, load_predictor
    except ImportError:
        raise ObjectiveError("metric 'cpu_latency_ms' needs evosearch.latency (a CPU latency predictor), "
                             "which this installation does not have") from None
    try:
        return LatencyPredictor.load(path, arch) if path else load_predictor(arch)
    except LatencyError as err:
        raise ObjectiveError(f"metric 'cpu_latency_ms': {err}") from None
