"""A CPU latency model of the ONNX Runtime deployment (:mod:`evosearch.deploy.onnx`), per machine.

The deployment runs one ONNX graph per *segment* (layers up to an exit whose threshold is above
0, or the last layer) and stops a sentence at its first confident exit. So one sentence of
``T`` tokens that exits at layer ``e`` costs

    embeddings(T) + sum over the segments up to e's of
        [ call(T) + sum over the segment's layers of layer(heads, ffn, T, int8) ]

with ``call(T)`` the session call, the exit ramp and the entropy test, and a layer's time linear
in the work it does and the weights it reads:
``c0 + w_h heads + w_f ffn + T (c_h heads + c_f ffn + c_t) + T^2 c_a heads`` (projections and FFN
grow with T, attention scores with T^2; the weight terms are the time to bring a layer's
matrices from memory, which at batch 1 and short sentences is as large as the arithmetic: one
segment's weights, run on its own, stay in the cache and run about 3x faster than the same
segment between others, as a deployment runs it), one set of coefficients for float and one for
int8 layers. The coefficients are fitted (non-negative least squares) on calibration measurements of
whole exported sub-networks (:mod:`.calibrate`), so what is measured is what is predicted.

The expected latency of a candidate is the mean over the task's dev sentences of the time of
each sentence at its own length and exit layer (the candidate's measured exits): no assumption
that length and exit are independent.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..specs import INT8_MAX_BITS
from .errors import LatencyError

FORMAT_VERSION = 5  # 5: a reference time (machine speed); 4: weight-reading terms, random exits, rounds
KIND = "evosearch-onnx-latency-model"
LAYER_FEATURES = ("1", "heads", "ffn", "T*heads", "T*ffn", "T", "T^2*heads")
FEATURES = (["call", "call*T", "embed", "embed*T"] + [f"fp32:{f}" for f in LAYER_FEATURES]
            + [f"int8:{f}" for f in LAYER_FEATURES])


def segments(thresholds: Sequence[float], num_layers: int) -> list[tuple[int, int]]:
    """``(first, last)`` layer ranges of a deployment: each ends at an exit whose threshold is
    above 0 (where an input may leave) or at the last layer."""
    limits = list(thresholds)[: num_layers - 1]
    ends = [i for i, t in enumerate(limits) if t > 0] + [num_layers - 1]
    starts = [0] + [e + 1 for e in ends[:-1]]
    return list(zip(starts, ends))


def segment_features(layers, T: int, first: bool) -> np.ndarray:
    """The feature vector (:data:`FEATURES`) of one segment call over ``layers`` (LayerConfigs) at ``T`` tokens."""
    f = np.zeros(len(FEATURES))
    f[0], f[1] = 1.0, T
    if first:
        f[2], f[3] = 1.0, T
    for layer in layers:
        base = 4 if layer.bits > INT8_MAX_BITS else 4 + len(LAYER_FEATURES)
        f[base:base + len(LAYER_FEATURES)] += (1.0, layer.heads, layer.ffn, T * layer.heads, T * layer.ffn, T,
                                               T * T * layer.heads)
    return f


@dataclass
class LatencyModel:
    """Predicted per-sentence latency (ms) of deployments of one architecture on one machine."""

    arch: dict  # machine.arch_shape() of the calibrated architecture
    machine: dict
    coefficients: list[float]  # one per FEATURES
    calibration: dict = field(default_factory=dict)
    source: str | None = None  # where it was loaded from (not saved)

    @property
    def threads(self) -> int:
        return int(self.machine.get("threads", 1))

    def segment_ms(self, layers, T: int, first: bool) -> float:
        return float(segment_features(layers, T, first) @ np.asarray(self.coefficients))

    def sentence_ms(self, config, thresholds, T: int, exit_layer: int | None = None) -> float:
        """One sentence of ``T`` tokens leaving at ``exit_layer`` (0-based; default the last)."""
        self._check(config)
        L = len(config.layers)
        exit_layer = L - 1 if exit_layer is None else exit_layer
        total = 0.0
        for k, (first, last) in enumerate(segments(thresholds, L)):
            total += self.segment_ms(config.layers[first:last + 1], T, k == 0)
            if last >= exit_layer:
                return total
        return total

    def expected_ms(self, config, thresholds, lengths: Sequence[int], exits: Sequence[int] | None = None) -> float:
        """Mean latency over sentences of ``lengths`` tokens leaving at ``exits`` (default: the last layer)."""
        lengths = [int(t) for t in lengths]
        if not lengths:
            raise LatencyError("expected latency of no sentences")
        L = len(config.layers)
        exits = [L - 1] * len(lengths) if exits is None else [int(e) for e in exits]
        counts = Counter(zip(lengths, exits))
        return sum(n * self.sentence_ms(config, thresholds, T, e) for (T, e), n in counts.items()) / len(lengths)

    def _check(self, config) -> None:
        n = len(self.arch["block_of_layer"])
        if len(config.layers) != n:
            raise LatencyError(f"the config has {len(config.layers)} layers; this latency model was calibrated for {n}")

    def check_arch(self, arch) -> None:
        """Raise :class:`LatencyError` naming every shape field that differs from the calibration."""
        from .machine import SHAPE_FIELDS, arch_shape

        theirs = arch_shape(arch)
        diffs = [f"{k}: calibrated {self.arch.get(k)!r}, model {theirs[k]!r}" for k in SHAPE_FIELDS
                 if self.arch.get(k) != theirs[k]]
        if diffs:
            raise LatencyError("this latency model was calibrated for another architecture (" + "; ".join(diffs)
                               + "); run `evosearch calibrate` for this model")

    # -- persistence
    def to_dict(self) -> dict:
        return {"kind": KIND, "format_version": FORMAT_VERSION, "arch": self.arch, "machine": self.machine,
                "features": list(FEATURES), "coefficients": [float(c) for c in self.coefficients],
                "calibration": self.calibration}

    def save(self, path: str | Path) -> Path:
        from ..fileio import atomic_write

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(self.to_dict(), indent=1).encode())
        self.source = str(path)
        return path

    @classmethod
    def load(cls, path: str | Path, arch=None) -> "LatencyModel":
        """Read a saved model; with ``arch``, refuse one calibrated for another shape."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise LatencyError(f"no latency model at {path}; create one with `evosearch calibrate`") from None
        except (OSError, ValueError) as err:
            raise LatencyError(f"cannot read the latency model {path} ({err}); calibrate again") from None
        if not isinstance(data, dict) or data.get("kind") != KIND or data.get("format_version") != FORMAT_VERSION:
            raise LatencyError(f"{path} is not an evosearch latency model of format {FORMAT_VERSION}; calibrate again")
        if data.get("features") != list(FEATURES):
            raise LatencyError(f"{path} has other features than this evosearch; calibrate again")
        model = cls(data["arch"], data["machine"], data["coefficients"], data.get("calibration", {}), str(path))
        if arch is not None:
            model.check_arch(arch)
        return model
