"""The reference sub-networks every run is compared with (scored by the search's final stage).

* ``uncompressed``: the largest sub-network (every head and neuron, 32-bit weights and
  embeddings, unlimited span; on a supernet trained with learned spans, the learned spans, which
  every one of its sub-networks runs) with no early exit;
* ``uniform 0.25 / 0.5 / 0.75``: the same fraction of heads and FFN neurons in every layer
  (DynaBERT's width multiplier, Hou et al., NeurIPS 2020), 32-bit, no early exit.
"""

from __future__ import annotations

from dataclasses import replace

from ..supernet import Architecture, SubnetConfig

WIDTHS = (0.25, 0.5, 0.75)


def baseline_configs(arch: Architecture, quant: str = "int") -> dict[str, SubnetConfig]:
    out = {"uncompressed": SubnetConfig.largest(arch)}
    for width in WIDTHS:
        out[f"uniform {width:g}"] = SubnetConfig.uniform(arch, width)
    return {name: replace(config, quant=quant) for name, config in out.items()}
