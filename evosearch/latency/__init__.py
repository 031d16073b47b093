"""CPU latency of the deployment evosearch ships (ONNX Runtime with early exit), measured and predicted.

* :class:`LatencyModel` — predicted per-sentence latency of an exported sub-network, from its
  layers, its exit layout, the sentence's length and the exit it takes (:mod:`.model`);
* :func:`calibrate`, :func:`validate`, :func:`ensure_latency_model` — fit it on this machine by
  timing exported random sub-networks, check it on held-out ones, cache it (:mod:`.calibrate`);
* :func:`time_full_depth`, :func:`time_exits`, :func:`time_sentences` — the timing protocol (:mod:`.measure`).
"""

from .calibrate import ValidationResult, calibrate, ensure_latency_model, mape, random_subnet, spearman, validate
from .errors import LatencyError
from .machine import machine_id, predictor_path
from .measure import random_sentence, time_exits, time_full_depth, time_sentences
from .model import LatencyModel, segments

__all__ = [
    "LatencyError", "LatencyModel", "ValidationResult", "calibrate", "ensure_latency_model", "machine_id", "mape",
    "predictor_path", "random_sentence", "random_subnet", "segments", "spearman", "time_full_depth", "time_sentences",
    "time_exits", "validate",
]
