"""The model whose CPU latency is measured: a plain-torch copy of an *extracted* sub-network.

Latency is measured on the extracted stand-alone model, never on the sliced supernet (whittle
issue #128). The extracted :class:`~evosearch.supernet.Supernet` runs its blocks through
``F.linear`` on weights fetched by ``sliced_weights`` (so the same forward serves supernet and
sub-network); PyTorch's dynamic quantization (``torch.ao.quantization.quantize_dynamic``) only
swaps ``nn.Linear`` *modules* that are *called*, so it cannot apply to that forward. This module
therefore rebuilds the extracted network as plain modules whose linears are called directly:
the float version computes exactly what the extracted model computes, and blocks whose layers
run at <= 8 bits can be converted to int8 dynamic quantization (int8 weights, activations
quantized per batch at run time; fbgemm/x86 kernels on this CPU).
"""

from __future__ import annotations

import warnings
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from transformers.activations import ACT2FN

from ..supernet import Supernet, SubnetConfig, extract
from ..supernet.span import span_bias
from .errors import LatencyError

INT8_MAX_BITS = 8  # layers at or below this weight width may run int8 kernels


class PlainEmbeddings(nn.Module):
    """Word + position + token-type lookups, layer norm and ALBERT's projection (called directly)."""

    def __init__(self, source):  # modules of the extracted model (our own copy) are reused
        super().__init__()
        self.word = source.word
        self.position = source.position
        self.token_type = source.token_type
        self.norm = source.norm
        self.projection = source.projection

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.word(input_ids) + self.token_type(token_type_ids) + self.position(positions)[None]
        x = self.norm(x)
        return self.projection(x) if self.projection is not None else x


class PlainBlock(nn.Module):
    """One post-norm transformer block whose six linears are ``nn.Linear`` modules called directly."""

    def __init__(self, source, activation: str):
        super().__init__()
        self.head_dim = source.head_dim
        for name in ("query", "key", "value", "attention_out", "ffn_in", "ffn_out"):
            setattr(self, name, getattr(source, name))
        self.attention_norm = source.attention_norm
        self.ffn_norm = source.ffn_norm
        self.activation = ACT2FN[activation]

    def forward(self, x: torch.Tensor, attention_bias: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        split = lambda t: t.view(batch, seq, -1, self.head_dim).transpose(1, 2)  # noqa: E731
        context = F.scaled_dot_product_attention(
            split(self.query(x)), split(self.key(x)), split(self.value(x)), attn_mask=attention_bias
        )
        x = self.attention_norm(x + self.attention_out(context.transpose(1, 2).reshape(batch, seq, -1)))
        return self.ffn_norm(x + self.ffn_out(self.activation(self.ffn_in(x))))


class InferenceModel(nn.Module):
    """An extracted sub-network as plain inference modules; same inputs/outputs as the extracted model.

    ``forward(input_ids, attention_mask=None, token_type_ids=None)`` returns every exit's logits,
    ``(num_layers, batch, num_labels)``. ``int8_layers[i]`` says whether virtual layer i runs int8
    dynamic-quantized linears.
    """

    def __init__(self, extracted: Supernet, config: SubnetConfig):
        super().__init__()
        arch = extracted.arch
        self.arch = arch
        self.config = config
        self.spans = tuple(layer.span for layer in extracted.default_config.layers)
        self.span_ramp = extracted.span_ramp
        self.embeddings = PlainEmbeddings(extracted.embeddings)
        self.blocks = nn.ModuleList(PlainBlock(block, arch.hidden_act) for block in extracted.blocks)
        self.block_of_layer = arch.block_of_layer
        self.ramps = extracted.ramps  # already plain: pooling, then nn.Linear layers called directly
        self.int8_layers = (False,) * arch.num_layers
        self._span_cache: dict[tuple, torch.Tensor] = {}
        self.eval()

    def _span_bias(self, seq_len: int, span: int, dtype, device) -> torch.Tensor:
        key = (seq_len, span, dtype, device)
        if key not in self._span_cache:  # a deployment computes the span mask once per length
            self._span_cache[key] = span_bias(seq_len, span, self.span_ramp, device).to(dtype)
        return self._span_cache[key]

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, num_layers: int | None = None):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.embeddings(input_ids, token_type_ids)
        padding = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        seq_len = input_ids.shape[1]
        logits = []
        for i, block_index in enumerate(self.block_of_layer[: num_layers or len(self.block_of_layer)]):
            span = self.spans[i]
            bias = padding if span is None else padding + self._span_bias(seq_len, span, x.dtype, x.device)
            x = self.blocks[block_index](x, bias)
            logits.append(self.ramps[i](x, attention_mask))
        return torch.stack(logits)


def inference_model(
    supernet: Supernet, config: SubnetConfig, int8: bool | Sequence[bool] = False
) -> InferenceModel:
    """Extract ``config`` from ``supernet`` and rebuild it as an :class:`InferenceModel`.

    ``int8``: False (all float), True (every layer at <= 8 bits runs int8 dynamic quantization),
    or one flag per virtual layer (only layers at <= 8 bits may be True). Blocks shared by
    several virtual layers (ALBERT) are converted once; all layers sharing an extracted block
    share its bit width, so they must share the flag.
    """
    config.validate(supernet.arch)
    with torch.no_grad():
        model = InferenceModel(extract(supernet, config).eval(), config)
    flags = int8_flags(config, int8)
    if any(flags):
        quantized = {}
        for layer, (block_index, flag) in enumerate(zip(model.block_of_layer, flags)):
            if quantized.setdefault(block_index, flag) != flag:
                raise LatencyError(
                    f"layer {layer} shares extracted block {block_index} with another layer but not its int8 flag"
                )
        for block_index, flag in quantized.items():
            if flag:
                model.blocks[block_index] = quantize_dynamic_int8(model.blocks[block_index])
        if config.embedding_bits <= INT8_MAX_BITS and model.embeddings.projection is not None:
            model.embeddings.projection = quantize_dynamic_int8(model.embeddings.projection)
        model.int8_layers = flags
    return model


def int8_flags(config: SubnetConfig, int8: bool | Sequence[bool]) -> tuple[bool, ...]:
    """Per-layer int8 flags from ``int8`` (bool or per-layer flags), checked against the bit widths."""
    if isinstance(int8, bool):
        return tuple(int8 and layer.bits <= INT8_MAX_BITS for layer in config.layers)
    flags = tuple(bool(f) for f in int8)
    if len(flags) != len(config.layers):
        raise LatencyError(f"int8 has {len(flags)} flags; the config has {len(config.layers)} layers")
    for i, (flag, layer) in enumerate(zip(flags, config.layers)):
        if flag and layer.bits > INT8_MAX_BITS:
            raise LatencyError(
                f"layer {i} runs at {layer.bits} bits; int8 kernels are only used for layers at <= {INT8_MAX_BITS} bits"
            )
    return flags


def quantize_dynamic_int8(module: nn.Module) -> nn.Module:
    """``torch.ao.quantization.quantize_dynamic`` on the module's ``nn.Linear`` layers (qint8 weights).

    Silences PyTorch's deprecation notices about the eager-mode quantization API (still the
    only int8 CPU path without torchao).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if isinstance(module, nn.Linear):
            wrapper = nn.Sequential(module)
            return torch.ao.quantization.quantize_dynamic(wrapper, {nn.Linear}, dtype=torch.qint8)[0]
        return torch.ao.quantization.quantize_dynamic(module, {nn.Linear}, dtype=torch.qint8)
