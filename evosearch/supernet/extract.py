"""Extract a sub-network as a stand-alone, smaller model.

The result is a :class:`Supernet` whose blocks hold only the kept heads and neurons, with the
pruned (zeros where the magnitude or movement mask drops a weight) and quantized weights baked in
(and the embedding tables pruned at the config's ``embedding_sparsity``), and whose
``default_config`` fixes the attention spans. It has no movement scores: its weights already carry
the mask. A supernet with learned spans passes the learned spans of the kept heads on, so layers
without a fixed span still run them. Its forward
equals the supernetwork's forward for that config. On a shared-weight ALBERT, virtual layers that
share a block *and* keep the same heads, neurons and bit width keep sharing one extracted block;
layers that differ get blocks of their own.
"""

from __future__ import annotations

import copy

import torch

from ..specs import Architecture
from .model import Supernet
from .quantize import quantize_rows, quantize_weight
from ..specs import LayerConfig, SubnetConfig
from ..specs.embedding import TABLES


def extract(supernet: Supernet, config: SubnetConfig) -> Supernet:
    """A stand-alone model computing ``supernet(..., config=config)`` with smaller matrices."""
    config.validate(supernet.arch)
    shapes: dict[tuple, int] = {}  # (source block, heads, ffn, bits, sparsity) -> extracted block
    block_of_layer = []
    for source, layer in zip(supernet.arch.block_of_layer, config.layers):
        key = (source, layer.heads, layer.ffn, layer.bits, layer.sparsity)
        block_of_layer.append(shapes.setdefault(key, len(shapes)))
    arch = Architecture.from_dict(
        {
            **supernet.arch.to_dict(),
            "block_heads": tuple(k[1] for k in shapes),
            "block_ffn": tuple(k[2] for k in shapes),
            "block_of_layer": tuple(block_of_layer),
            "pruning": "magnitude",  # dense from here on (sparsity 0): the mask is baked into the weights
        }
    )
    fixed = SubnetConfig(
        tuple(LayerConfig(layer.heads, layer.ffn, span=layer.span) for layer in config.layers)
    )
    model = Supernet(arch, span_ramp=supernet.span_ramp, default_config=fixed)
    with torch.no_grad():
        _copy_embeddings(model, supernet, config)
        for (source, heads, ffn, bits, sparsity), target in zip(shapes, model.blocks):
            _copy_block(target, supernet.blocks[source], LayerConfig(heads, ffn, bits, sparsity=sparsity), config.quant)
        model.ramps.load_state_dict(supernet.ramps.state_dict())
    return model.train(supernet.training)


def _copy_embeddings(model: Supernet, supernet: Supernet, config: SubnetConfig) -> None:
    """The tables pruned at ``embedding_sparsity`` (zeros baked in), then quantized per row."""
    bits, scheme = config.embedding_bits, config.quant
    ours, theirs = model.embeddings, supernet.embeddings
    for name in TABLES:
        pruned = theirs.pruned_table(name, config.embedding_sparsity)
        getattr(ours, name).weight.copy_(quantize_rows(pruned, bits, scheme))
    ours.norm.load_state_dict(theirs.norm.state_dict())
    if ours.projection is not None:
        ours.projection.weight.copy_(quantize_weight(theirs.projection.weight, bits, scheme))
        ours.projection.bias.copy_(theirs.projection.bias)


def _copy_block(target, source, layer: LayerConfig, scheme: str) -> None:
    w = source.sliced_weights(layer, scheme)
    for name, weight, bias in (
        ("query", w.query, w.query_bias),
        ("key", w.key, w.key_bias),
        ("value", w.value, w.value_bias),
        ("attention_out", w.attention_out, source.attention_out.bias),
        ("ffn_in", w.ffn_in, w.ffn_in_bias),
        ("ffn_out", w.ffn_out, source.ffn_out.bias),
    ):
        getattr(target, name).weight.copy_(weight)
        getattr(target, name).bias.copy_(bias)
    target.attention_norm.load_state_dict(copy.deepcopy(source.attention_norm.state_dict()))
    if source.spans is not None:
        target.spans.copy_(source.spans[: layer.heads])
    target.ffn_norm.load_state_dict(copy.deepcopy(source.ffn_norm.state_dict()))
