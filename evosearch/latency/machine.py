"""What a latency calibration is valid for: this machine, its ONNX Runtime, a thread count."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path

from ..paths import cache_dir

#: The architecture fields latency depends on (weights and dropout do not matter).
SHAPE_FIELDS = ("model_type", "vocab_size", "embedding_size", "hidden_size", "head_dim", "block_heads", "block_ffn",
                "block_of_layer", "num_labels", "hidden_act", "pooling")


def cpu_model_name() -> str:
    """The CPU model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_id(threads: int) -> dict:
    """CPU model, logical cores, ONNX Runtime version and intra-op threads."""
    import onnxruntime

    return {"cpu": cpu_model_name(), "cores": os.cpu_count(), "onnxruntime": onnxruntime.__version__,
            "threads": int(threads)}


def arch_shape(arch) -> dict:
    data = arch.to_dict()
    return {name: list(data[name]) if isinstance(data[name], tuple) else data[name] for name in SHAPE_FIELDS}


def predictor_path(arch, threads: int) -> Path:
    """Where this machine's predictor for ``arch`` at ``threads`` threads is cached."""
    machine = machine_id(threads)
    digest = hashlib.sha1(json.dumps({"machine": machine, "arch": arch_shape(arch)}, sort_keys=True).encode()).hexdigest()
    return cache_dir("latency") / f"{arch.model_type}-L{arch.num_layers}-H{arch.hidden_size}-t{threads}-{digest[:10]}.json"
