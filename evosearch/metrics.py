"""Every metric a search can optimise or constrain, defined once: name, direction, unit, how it is
computed. The evaluator computes them from here, the reference point and the objective sets check
names and directions here, and the report shows them with these names and units.

Costs are expectations over the candidate's :class:`~evosearch.workload.Workload` (the dev
sentences and the exit each takes), for the deployment ``evosearch export`` writes: exit ramps
kept where an input may leave, ONNX Runtime with early exit for ``cpu_latency_ms``.
Torch-free: hardware and latency computations are imported when a metric is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Sequence

from .workload import Workload


@dataclass
class MetricInputs:
    """What a candidate's metrics are computed from (one evaluation)."""

    arch: object  # evosearch.supernet.Architecture
    config: object  # evosearch.supernet.SubnetConfig
    thresholds: Sequence[float]  # nats, one per exit but the last
    workload: Workload  # with the candidate's exits when the model was run
    accuracy: float | None = None  # on the workload's sentences, with early exit
    sparsity: Sequence[float] | None = None
    target: str | None = None  # hardware target (name or YAML path)
    span_ramp: int = 0
    latency_model: object = None  # evosearch.latency.LatencyModel, for cpu_latency_ms
    latency_target_ms: float | None = None  # per-sentence deadline of the DVFS metrics
    activation_bits: int | None = None  # hardware-only gene; None: the target's activation_bits
    extra: dict = field(default_factory=dict)

    @property
    def exits(self) -> list[int]:
        """Layers with a deployed exit: a threshold above 0 (the last layer always answers)."""
        return [i for i, t in enumerate(list(self.thresholds)[: self.arch.num_layers - 1]) if t > 0]

    @cached_property
    def hardware(self):
        from .hardware import estimate_workload

        return estimate_workload(self.arch, self.config, self.target, self.workload, exits=self.exits,
                                 sparsity=self.sparsity, span_ramp=self.span_ramp, activation_bits=self.activation_bits)

    @cached_property
    def dvfs(self):
        from .hardware import dvfs_workload

        return dvfs_workload(self.arch, self.config, self.target, self.workload, self.latency_target_ms,
                             exits=self.exits, sparsity=self.sparsity, span_ramp=self.span_ramp,
                             activation_bits=self.activation_bits)


@dataclass(frozen=True)
class Metric:
    name: str
    direction: str  # "min" or "max"
    label: str  # how plots and tables name it
    unit: str  # unit family for display: percent, ms, uj, bytes, kb, count, count_plain, plain
    doc: str
    compute: Callable[[MetricInputs], float]
    model: bool = False  # needs the supernet's forward pass (accuracy, exits)
    hardware: bool = False  # needs a hardware target
    deadline: bool = False  # needs the objective set's latency_target_ms
    reference: float | None = None  # fixed hypervolume reference value; None: from the space's largest point


def _expected_macs(x: MetricInputs) -> float:
    from .hardware.proxies import expected_macs

    return expected_macs(x.arch, x.config, x.workload, span_ramp=x.span_ramp, sparsity=x.sparsity, exits=x.exits)


def _cpu_latency(x: MetricInputs) -> float:
    return x.latency_model.expected_ms(x.config, x.thresholds, x.workload.lengths, x.workload.exits)


def _proxy(name):
    def compute(x: MetricInputs) -> float:
        from .hardware import proxies

        if name == "params":
            return float(proxies.parameter_count(x.arch, x.config, exits=x.exits))
        if name == "model_size_bytes":
            return float(proxies.model_size_bytes(x.arch, x.config, x.sparsity, exits=x.exits))
        if name == "onnx_size_bytes":
            return float(proxies.onnx_size_bytes(x.arch, x.config, exits=x.exits))
        return float(proxies.iccr(x.arch, x.config, x.sparsity))

    return compute


METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("error", "min", "Error", "percent", "1 - accuracy on the dev sentences, with early exits",
           lambda x: 1.0 - x.accuracy, model=True, reference=1.0),
    Metric("accuracy", "max", "Accuracy", "percent", "accuracy on the dev sentences, with early exits",
           lambda x: x.accuracy, model=True, reference=0.0),
    Metric("mean_exit_layer", "min", "Mean exit layer", "count_plain", "mean number of layers run per sentence (1..L)",
           lambda x: sum((e + 1) for e in x.workload.exit_layers) / x.workload.size, model=True),
    Metric("params", "min", "Parameters", "count", "stored parameters, exit ramps kept by the deployment included",
           _proxy("params")),
    Metric("model_size_bytes", "min", "Model size", "bytes",
           "bytes at the chosen bit widths (what weights.safetensors of the export holds)", _proxy("model_size_bytes")),
    Metric("onnx_size_bytes", "min", "ONNX size", "bytes",
           "bytes of the ONNX deployment's weights (int8 for layers at <= 8 bits, float32 else)", _proxy("onnx_size_bytes")),
    Metric("macs", "min", "MACs per sentence", "count", "expected multiply-accumulates per sentence over the workload",
           _expected_macs, model=True),
    Metric("iccr", "max", "ICCR", "plain", "P-BERT's inverted computational complexity ratio (comparison only)",
           _proxy("iccr"), reference=0.0),
    Metric("latency_ms", "min", "Latency", "ms", "expected latency per sentence on the hardware target",
           lambda x: float(x.hardware.latency_ms), model=True, hardware=True),
    Metric("energy_uj", "min", "Energy", "uj", "expected energy per sentence on the hardware target",
           lambda x: float(x.hardware.energy_uj), model=True, hardware=True),
    Metric("energy_dvfs_uj", "min", "Energy (DVFS)", "uj",
           "expected energy per sentence on the hardware target, each sentence at the lowest-energy DVFS point "
           "that meets latency_target_ms for the layers it runs (EdgeBERT's per-sentence DVFS, oracle exit)",
           lambda x: float(x.dvfs.energy_uj), model=True, hardware=True, deadline=True),
    Metric("deadline_miss_rate", "min", "Deadline misses", "percent",
           "share of sentences over latency_target_ms even at the fastest DVFS point",
           lambda x: float(x.dvfs.miss_rate), model=True, hardware=True, deadline=True, reference=1.0),
    Metric("memory_kb", "min", "On-chip memory", "kb", "on-chip memory footprint on the hardware target",
           lambda x: float(x.hardware.memory_kb), hardware=True),
    Metric("fits_on_chip", "max", "Fits on chip", "plain", "1 if weights, embeddings and activations fit the target's on-chip memories",
           lambda x: 1.0 if x.hardware.fits_on_chip else 0.0, hardware=True, reference=0.0),
    Metric("onchip_excess_kb", "min", "On-chip excess", "kb",
           "KB by which weights, embeddings and activations overflow the target's on-chip memories (0 = fits); "
           "as a constraint (<= 0) it tells the search how far a candidate is from fitting, which fits_on_chip cannot",
           lambda x: float(x.hardware.excess_kb), hardware=True),
    Metric("cpu_latency_ms", "min", "CPU latency", "ms",
           "expected per-sentence latency of the ONNX Runtime deployment on this CPU (evosearch.latency)",
           _cpu_latency, model=True),
]}


def metric(name: str) -> Metric:
    return METRICS[name]


def direction(name: str) -> str:
    """``min`` or ``max`` (``min`` for names the registry does not know)."""
    return METRICS[name].direction if name in METRICS else "min"
