"""Hardware cost model of evosearch: an analytical accelerator model plus hardware-agnostic proxies.

    from evosearch.hardware import load_target, estimate, pick_dvfs, dvfs_workload
    target = load_target("edgebert-12nm")
    cost = estimate(arch, config, target, seq_lens=[27, 31, 46], exit_distribution=None)
    cost.latency_ms, cost.energy_uj, cost.memory_kb, cost.model_size_bytes, cost.macs
    dvfs_workload(arch, config, target, workload, latency_target_ms=50).energy_uj  # per-sentence DVFS

Sources: EdgeBERT (Tambe et al., MICRO 2021), AdaptivFloat (Tambe et al., DAC 2020), Horowitz
(ISSCC 2014), Timeloop/Accelergy, NVMExplorer (Pentecost et al., HPCA 2022), adaptive attention span
(Sukhbaatar et al., ACL 2019), the alpha-power law (Sakurai & Newton, JSSC 1990) for the clocks of
the DVFS points.
"""

from .cost import OpCost, price_ops
from .dvfs import DVFSCost, dvfs_workload, exit_profiles
from .model import (
    CostModel,
    DVFSChoice,
    HardwareCost,
    LayerCost,
    clear_caches,
    cost_model,
    estimate,
    estimate_workload,
    normalize_lengths,
    pick_dvfs,
)
from .proxies import (
    flops,
    iccr,
    iccr_complexity,
    macs,
    model_size_breakdown,
    model_size_bytes,
    onnx_size_bytes,
    parameter_count,
    ramp_layers,
)
from .target import (
    SHIPPED_TARGETS_DIR,
    DVFSPoint,
    HardwareTarget,
    HardwareTargetError,
    MemoryLevel,
    list_shipped_targets,
    load_target,
    target_from_dict,
)

__all__ = [
    "CostModel", "DVFSChoice", "DVFSCost", "DVFSPoint", "HardwareCost", "HardwareTarget", "HardwareTargetError",
    "LayerCost", "MemoryLevel", "OpCost", "SHIPPED_TARGETS_DIR", "clear_caches", "cost_model", "dvfs_workload",
    "estimate",
    "estimate_workload", "exit_profiles", "onnx_size_bytes", "ramp_layers",
    "flops", "iccr", "iccr_complexity", "list_shipped_targets", "load_target", "macs", "model_size_breakdown",
    "model_size_bytes", "normalize_lengths", "parameter_count", "pick_dvfs", "price_ops", "target_from_dict",
]
