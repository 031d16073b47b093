"""Measured CPU latency of extracted sub-networks and a per-machine latency predictor.

* :func:`measure_latency` / :func:`measure_subnet`: time one inference (median and IQR of
  repeats after warm-up, threads pinned) of an extracted sub-network, float and int8 dynamic.
* :func:`inference_model`: the measured model, a plain-torch rebuild of ``extract(...)`` whose
  ``nn.Linear`` modules dynamic quantization can replace.
* :class:`LatencyPredictor`, :func:`calibrate`, :func:`validate`, :func:`load_predictor`: a
  lookup-table (plus regression) latency model fitted by ``evosearch calibrate``.
"""

from .errors import LatencyError
from .measure import STATISTICS, LatencyMeasurement, SubnetLatency, measure_interleaved, measure_latency, measure_subnet, num_threads
from .predictor import (
    LatencyPredictor,
    ValidationResult,
    calibrate,
    calibration_steps,
    default_predictor_path,
    latency_cache_dir,
    load_predictor,
    machine_id,
    mape,
    measure_deployment,
    random_subnet,
    spearman,
    validate,
)
from .runtime import INT8_MAX_BITS, InferenceModel, inference_model, int8_flags

__all__ = [
    "INT8_MAX_BITS", "STATISTICS", "InferenceModel", "LatencyError", "LatencyMeasurement", "LatencyPredictor", "SubnetLatency",
    "ValidationResult", "calibrate", "calibration_steps", "default_predictor_path", "inference_model", "int8_flags", "latency_cache_dir",
    "load_predictor", "machine_id", "mape", "measure_deployment", "measure_interleaved", "measure_latency", "measure_subnet", "num_threads",
    "random_subnet", "spearman", "validate",
]
