"""A sub-network as flat table columns, and back.

Per virtual layer ``i``: ``heads_i``, ``ffn_i``, ``bits_i``, ``span_i`` (empty = no span of its
own: the full sentence, or on a supernet trained with learned spans the learned spans of the
heads it keeps, which the run's ``config.yaml`` lists) and ``sparsity_i``; per exit ``k`` (every
layer but the last): ``threshold_k`` (the entropy threshold, in nats); then ``embedding_bits``,
``quant`` and ``embedding_sparsity`` (absent from runs written before embedding pruning: read as
0.0). These are the decoded values, not gene indices, so a filter reads as the model it selects.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

LAYER_FIELDS = ("heads", "ffn", "bits", "span", "sparsity")
_INTS = ("heads", "ffn", "bits", "span")


def config_columns(config: Mapping, thresholds: Sequence[float]) -> dict:
    """``SubnetConfig.to_dict()`` and the exit thresholds as flat columns, in a fixed order."""
    out: dict = {}
    layers = config["layers"]
    for name in LAYER_FIELDS:
        for i, layer in enumerate(layers):
            out[f"{name}_{i}"] = layer.get(name)
    for k, t in enumerate(thresholds):
        out[f"threshold_{k}"] = float(t)
    out["embedding_bits"] = config.get("embedding_bits", 32)
    out["quant"] = config.get("quant", "int")
    out["embedding_sparsity"] = float(config.get("embedding_sparsity", 0.0) or 0.0)
    return out


def num_layers_of(columns) -> int:
    """How many virtual layers a table with these column names describes (0 for none)."""
    names = set(columns)
    n = 0
    while f"heads_{n}" in names:
        n += 1
    return n


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def config_from_columns(row: Mapping) -> tuple[dict, list[float]]:
    """The ``SubnetConfig.to_dict()`` and thresholds of one row (a dict or a pandas Series) of a
    table with flat config columns; rows of runs written before them (a JSON ``config`` column)
    are read too."""
    keys = list(row.keys())
    if "config" in keys:  # a candidates.csv row written before the flat columns (resume of an old run)
        return json.loads(row["config"]), [float(t) for t in json.loads(row["thresholds"])]
    n = num_layers_of(keys)
    if n == 0:
        raise KeyError("the row has no sub-network columns (heads_0, ffn_0, ...)")
    layers = []
    for i in range(n):
        layer = {}
        for name in LAYER_FIELDS:
            value = row.get(f"{name}_{i}")
            if name == "sparsity":
                layer[name] = 0.0 if _missing(value) else float(value)
            else:
                layer[name] = None if _missing(value) else int(float(value))
        layers.append(layer)
    thresholds = []
    while f"threshold_{len(thresholds)}" in keys:
        thresholds.append(float(row[f"threshold_{len(thresholds)}"]))
    quant = row.get("quant")
    embedding_bits = row.get("embedding_bits")
    embedding_sparsity = row.get("embedding_sparsity")
    config = {"layers": layers, "embedding_bits": 32 if _missing(embedding_bits) else int(float(embedding_bits)),
              "quant": "int" if _missing(quant) else str(quant),
              "embedding_sparsity": 0.0 if _missing(embedding_sparsity) else float(embedding_sparsity)}
    return config, thresholds


def fit_header(row: dict, header: Sequence[str]) -> dict:
    """``row`` for a table whose ``header`` was written before a config column existed: the
    ``embedding_sparsity`` column of a run from before embedding pruning is dropped when it says
    dense (0), the only value such a run's space can produce; anything else is an error."""
    if "embedding_sparsity" in row and "embedding_sparsity" not in header:
        value = row.pop("embedding_sparsity")
        if float(value or 0.0) != 0.0:
            raise ValueError(f"embedding_sparsity={value} cannot be recorded in a run table written before "
                             "embedding pruning (no embedding_sparsity column); start a new run")
    return row
