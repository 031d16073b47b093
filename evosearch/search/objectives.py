"""Objective sets and constraints (``evosearch/objectives/search/*.yaml``, your own YAML, or the run config).

::

    objectives: [error, energy_uj]        # minimised; 'accuracy' and 'iccr' are maximised
    constraints: ["latency_ms <= 5", "onchip_excess_kb <= 0"]
    target: edgebert-12nm                 # hardware target for latency_ms / energy_uj / memory_kb
    reference_point: {error: 1.0}         # optional; missing entries are derived from the space
    latency_target_ms: 50                 # per-sentence deadline; only with energy_dvfs_uj / deadline_miss_rate

Every constraint becomes a pymoo inequality ``G <= 0`` (``value - bound`` for ``<=``,
``bound - value`` for ``>=``): infeasible candidates are kept and ranked by the algorithm
(constraint domination), never silently dropped.

Metrics: the registry :data:`evosearch.metrics.METRICS` (name, direction, unit, how computed):
``error`` / ``accuracy`` (on the dev subset, with early exits), ``mean_exit_layer``, ``params``,
``model_size_bytes`` (at the bit widths), ``onnx_size_bytes``, ``macs``, ``iccr`` (P-BERT, for
comparison only), and, on a hardware target (:mod:`evosearch.hardware`), ``latency_ms``,
``energy_uj``, ``memory_kb``, ``fits_on_chip``, ``onchip_excess_kb`` (the graded form of
``fits_on_chip`` for constraints: a 0/1 constraint gives the search no sense of how far a
candidate is from fitting), and with a per-sentence ``latency_target_ms``,
``energy_dvfs_uj`` (each sentence at the lowest-energy DVFS point that meets the target: EdgeBERT's
per-sentence DVFS, :mod:`evosearch.hardware.dvfs`) and ``deadline_miss_rate``;
``cpu_latency_ms``: the ONNX Runtime deployment on this CPU at ``cpu_threads`` threads (default 1),
predicted by :mod:`evosearch.latency` (``cpu_predictor: PATH``, default this machine's model,
calibrated on first use). Costs are expectations over the dev sentences and the exit each one
takes (:mod:`evosearch.workload`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, StrictStr, field_validator

from ..metrics import METRICS
from ..yamlfiles import load_yaml
from ..spaces import SearchSpaceError


class ObjectiveError(SearchSpaceError):
    """A malformed objective set: unknown metric, bad constraint, wrong type."""


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


class ObjectiveFile(BaseModel):
    """The YAML schema of an objective set (:mod:`evosearch.schema` turns errors into messages)."""

    model_config = ConfigDict(extra="forbid")

    objectives: list[StrictStr]
    constraints: list[StrictStr | dict[str, StrictStr | float]] = []
    target: StrictStr | None = None
    reference_point: dict[str, float] | list[float] | None = None
    cpu_predictor: StrictStr | None = None
    cpu_threads: PositiveInt = 1
    latency_target_ms: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    description: str = ""

    @field_validator("objectives", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return [value] if isinstance(value, str) else value

    @field_validator("constraints", mode="before")
    @classmethod
    def _none_is_empty(cls, value):
        return value or []


def _check_metric(name, where):
    if name not in METRICS:
        raise ObjectiveError(f"{where}: unknown metric {name!r}; allowed: {', '.join(METRICS)}")


@dataclass(frozen=True)
class ObjectiveSet:
    objectives: tuple[str, ...]
    constraints: tuple[Constraint, ...] = ()
    target: str | None = None
    reference_point: Mapping[str, float] = field(default_factory=dict)
    cpu_predictor: str | None = None  # a saved latency model (JSON); default: this machine's, calibrated on first use
    cpu_threads: int = 1  # ONNX Runtime threads of the CPU deployment cpu_latency_ms predicts
    latency_target_ms: float | None = None  # per-sentence deadline of energy_dvfs_uj / deadline_miss_rate

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
                                 "(a shipped name under evosearch/objectives/hardware/ or a YAML path)")
        deadline = [m for m in self.metrics if METRICS[m].deadline]
        if deadline and self.latency_target_ms is None:
            raise ObjectiveError(f"latency_target_ms: metrics {', '.join(deadline)} need a per-sentence latency "
                                 "target; add 'latency_target_ms: NUMBER' (milliseconds, > 0)")
        if self.latency_target_ms is not None:
            if not deadline:
                raise ObjectiveError("latency_target_ms: only energy_dvfs_uj and deadline_miss_rate use it; add one "
                                     "of them to objectives or constraints, or remove latency_target_ms")
            value = self.latency_target_ms
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ObjectiveError(f"latency_target_ms: {value!r}; allowed: a finite number of milliseconds > 0")
        for k in self.reference_point:
            if k not in self.objectives:
                raise ObjectiveError(f"reference_point: {k!r} is not an objective; objectives: {', '.join(self.objectives)}")

    @classmethod
    def from_dict(cls, data, where="objectives") -> "ObjectiveSet":
        """Check ``data`` against :class:`ObjectiveFile`; errors name the file, the field and what is allowed."""
        from ..schema import validate

        if isinstance(data, (list, tuple)):
            data = {"objectives": list(data)}
        parsed = validate(ObjectiveFile, data, where, ObjectiveError)
        objectives = parsed.objectives
        ref = parsed.reference_point or {}
        if isinstance(ref, list):
            if len(ref) != len(objectives):
                raise ObjectiveError(f"{where}: 'reference_point' has {len(ref)} values for {len(objectives)} objectives")
            ref = dict(zip(objectives, ref))
        return cls(tuple(objectives), tuple(Constraint.parse(c, f"{where}: constraints") for c in parsed.constraints),
                   parsed.target, {k: float(v) for k, v in ref.items()}, parsed.cpu_predictor, parsed.cpu_threads,
                   parsed.latency_target_ms)

    @classmethod
    def load(cls, path_or_name: str | Path) -> "ObjectiveSet":
        shipped = Path(__file__).resolve().parents[1] / "objectives" / "search"  # package data
        path, data = load_yaml(path_or_name, shipped, "objective set", ObjectiveError)
        return cls.from_dict(data, where=str(path))

    def to_dict(self) -> dict:
        out = {"objectives": list(self.objectives), "constraints": [str(c) for c in self.constraints],
               "target": self.target, "reference_point": dict(self.reference_point)}
        if self.cpu_predictor:
            out["cpu_predictor"] = self.cpu_predictor
        if "cpu_latency_ms" in self.metrics:
            out["cpu_threads"] = self.cpu_threads
        if self.latency_target_ms is not None:
            out["latency_target_ms"] = self.latency_target_ms
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


def cpu_latency_model(supernet, objectives: "ObjectiveSet"):
    """The latency model of ``cpu_latency_ms``: from the objective set's ``cpu_predictor`` file, else
    this machine's for the supernet's architecture at ``cpu_threads`` threads (calibrated now,
    time-bounded, if the machine has none yet)."""
    from ..latency import LatencyError, ensure_latency_model

    try:
        return ensure_latency_model(supernet, threads=objectives.cpu_threads, path=objectives.cpu_predictor)
    except LatencyError as err:
        raise ObjectiveError(f"metric 'cpu_latency_ms': {err}") from None
