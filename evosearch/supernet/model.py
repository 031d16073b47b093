"""The weight-sharing supernetwork: an ALBERT-family encoder with an exit after every layer.

One forward runs any sub-network (:class:`SubnetConfig`) and returns every exit's logits, shape
``(num_layers, batch, num_labels)``. Each virtual layer looks up its weight block
(``Architecture.block_of_layer``), slices and quantizes it according to its own layer config,
and runs it; on a shared-weight ALBERT all virtual layers use the same block their own way.

This is the one encoder loop of evosearch: training, the search's evaluation, early-exit
inference (:mod:`evosearch.supernet.inference`) and the ONNX export
(:mod:`evosearch.deploy.onnx`) all run :meth:`Supernet.embed`, :meth:`Supernet.run_layer` and
:meth:`Supernet.exit_logits_at`. Outside training, a sub-network's sliced and quantized matrices
are prepared once (:meth:`Supernet.subnet_weights`) and reused for every batch.

Prepared with ``int8_engine=True``, a sub-network runs the arithmetic of its ONNX Runtime int8
deployment (int8 weights per output channel and run-time uint8 inputs for the matrix products
of layers at <= 8 bits, :mod:`evosearch.supernet.quantize`): accuracy estimates are made that
way, so that they estimate the model ``evosearch export`` ships. Training and the export itself
use the plain weights.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from ..specs import INT8_MAX_BITS, Architecture, SubnetConfig
from ..specs.spans import covering_spans, round_up_to_choice
from .modules import BlockWeights, Embeddings, EncoderBlock, ExitRamp
from .quantize import engine_int8_weight, quantize_weight
from .span import span_bias

DEFAULT_SPAN_RAMP = 16


@dataclass(frozen=True)
class SubnetWeights:
    """What one sub-network runs with: every virtual layer's matrices and the embedding projection,
    sliced (or masked), pruned and quantized, and the embedding tables' pruning thresholds.
    Prepare it once per sub-network, not per batch."""

    config: SubnetConfig
    layers: tuple[BlockWeights, ...]
    projection: torch.Tensor | None  # ALBERT's E -> H projection at the embedding bit width
    int8_projection: bool = False  # the projection runs as the int8 engine runs it
    embedding_thresholds: tuple | None = None  # per-table pruning thresholds (embedding_sparsity > 0)


class Supernet(nn.Module):
    """Embeddings, shared weight blocks, and one exit ramp per virtual layer.

    ``default_config`` is the sub-network run when ``forward`` gets no config: the largest one
    for a supernet, the fixed extracted one for a model made by :func:`extract`.
    ``span_ramp`` is the ramp ``R`` of the adaptive-span mask in tokens.

    With learned spans (``arch.learned_span_max``), a layer whose config sets no span runs its
    block's learned per-head spans; an integer span replaces them for every head of that layer,
    as in a supernet without learned spans.
    """

    def __init__(self, arch: Architecture, span_ramp: int = DEFAULT_SPAN_RAMP, default_config: SubnetConfig | None = None):
        super().__init__()
        self.arch = arch
        self.span_ramp = span_ramp
        self.embeddings = Embeddings(arch)
        self.blocks = nn.ModuleList(
            EncoderBlock(arch, heads, ffn) for heads, ffn in zip(arch.block_heads, arch.block_ffn)
        )
        self.ramps = nn.ModuleList(ExitRamp(arch) for _ in range(arch.num_layers))
        self.default_config = default_config or SubnetConfig.largest(arch)
        self.default_config.validate(arch)

    def movement_scores(self) -> list[nn.Parameter]:
        """The learned importance scores of movement pruning (empty for magnitude pruning)."""
        return [p for block in self.blocks if block.scores is not None for p in block.scores.values()]

    # ------------------------------------------------------------------ learned spans
    def span_parameters(self) -> list[nn.Parameter]:
        """The learned per-head spans of every block (empty without learned spans)."""
        return [block.spans for block in self.blocks if block.spans is not None]

    def span_penalty(self) -> torch.Tensor:
        """The L1 penalty of adaptive attention span (Sukhbaatar et al., ACL 2019): the mean learned
        span over every head of every block, as a fraction of ``learned_span_max``."""
        spans = torch.cat(self.span_parameters())
        return spans.mean() / self.arch.learned_span_max

    @torch.no_grad()
    def clamp_learned_spans(self) -> None:
        """Keep every learned span within [0, ``learned_span_max``] (after each optimizer step)."""
        for spans in self.span_parameters():
            spans.clamp_(0.0, float(self.arch.learned_span_max))

    def learned_spans(self) -> list[list[float]] | None:
        """Per virtual layer, its block's learned span of each head in tokens (None without learned spans)."""
        if self.arch.learned_span_max is None:
            return None
        return [self.blocks[b].spans.detach().cpu().tolist() for b in self.arch.block_of_layer]

    def learned_layer_spans(self, config: SubnetConfig | None = None, choices=None) -> list[int | None] | None:
        """Per virtual layer, one span covering the learned spans of the heads ``config`` keeps (all
        heads without one): the largest, rounded up to a whole token
        (:func:`~evosearch.specs.spans.covering_spans`) and, with ``choices`` (a span gene's values
        in tokens, None = unlimited), up to the nearest choice
        (:func:`~evosearch.specs.spans.round_up_to_choice`). A layer given this span attends at
        least as far as each of its heads learned to."""
        spans = self.learned_spans()
        if spans is None:
            return None
        kept = [len(heads) for heads in spans] if config is None else [layer.heads for layer in config.layers]
        layer_spans = covering_spans(spans, kept)
        if choices is None:
            return layer_spans
        return [round_up_to_choice(span, choices) for span in layer_spans]

    def with_learned_spans(self, config: SubnetConfig) -> SubnetConfig:
        """``config`` with each layer that runs learned spans (no span of its own) given the span of
        :meth:`learned_layer_spans`: what a per-layer cost model prices (the hardware model has one
        span per layer). Unchanged without learned spans."""
        spans = self.learned_layer_spans(config)
        if spans is None:
            return config
        layers = tuple(layer if layer.span is not None else replace(layer, span=span)
                       for layer, span in zip(config.layers, spans))
        return replace(config, layers=layers)

    # ------------------------------------------------------------------ the parts of the loop
    def subnet_weights(self, config: SubnetConfig | None = None, masked: bool = False,
                       int8_engine: bool = False) -> SubnetWeights:
        """The sliced (``masked=True``: full-size, zeroed) and quantized matrices of ``config``.

        ``masked`` runs full-size matrices with dropped heads/neurons zeroed instead of sliced
        ones: the same result at full cost (a reference and a benchmark baseline). Gradients flow
        to the supernet's weights (straight-through), so training prepares them every step.
        ``int8_engine``: run as the ONNX Runtime int8 deployment does (see the module docstring).
        """
        config = config or self.default_config
        if config is not self.default_config:
            config.validate(self.arch)
        layers = tuple(
            (self.blocks[b].masked_weights if masked else self.blocks[b].sliced_weights)(layer, config.quant, int8_engine)
            for b, layer in zip(self.arch.block_of_layer, config.layers)
        )
        projection = self.embeddings.projection
        int8_projection = int8_engine and projection is not None and config.embedding_bits <= INT8_MAX_BITS
        if projection is not None:
            projection = quantize_weight(projection.weight, config.embedding_bits, config.quant)
            if int8_projection:
                projection = engine_int8_weight(projection)
        thresholds = self.embeddings.prune_thresholds(config.embedding_sparsity)
        return SubnetWeights(config, layers, projection, int8_projection, thresholds)

    def embed(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None, weights: SubnetWeights,
              attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Embeddings (pruned and quantized rows) and, for ALBERT, the projection to the hidden size.
        ``attention_mask`` marks the tokens that are not padding (needed only for int8 engine inputs)."""
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        config = weights.config
        return self.embeddings(input_ids, token_type_ids, config.embedding_bits, config.quant, weights.projection,
                               weights.int8_projection, attention_mask, weights.embedding_thresholds)

    def padding_bias(self, attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """The additive attention bias that hides padding: ``(batch, 1, 1, seq)``."""
        return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min

    def run_layer(self, layer: int, x: torch.Tensor, padding: torch.Tensor, weights: SubnetWeights) -> torch.Tensor:
        """Virtual layer ``layer`` on hidden states ``x`` (padding bias from :meth:`padding_bias`)."""
        config = weights.config.layers[layer]
        block = self.blocks[self.arch.block_of_layer[layer]]
        span = config.span
        if span is None and block.spans is not None:
            span = block.spans[: config.heads]  # the learned spans of the heads this layer keeps
        bias = padding
        if span is not None:
            bias = padding + span_bias(x.shape[1], span, self.span_ramp, x.device).to(x.dtype)
        block_weights = weights.layers[layer]
        valid = padding[:, 0, 0, :] == 0 if block_weights.int8_inputs else None  # the bias is 0 on real tokens
        return block(x, bias, block_weights, valid)

    def exit_logits_at(self, layer: int, hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """The off-ramp after virtual layer ``layer``: ``(batch, num_labels)``."""
        return self.ramps[layer](hidden, attention_mask)

    # ------------------------------------------------------------------ the loop
    def hidden_states(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        config: SubnetConfig | None = None,
        masked: bool = False,
        weights: SubnetWeights | None = None,
    ) -> list[torch.Tensor]:
        """The encoder output after every virtual layer (``num_layers`` tensors).

        ``weights`` (from :meth:`subnet_weights`) skips preparing the matrices again; otherwise
        they are prepared for ``config`` (default: ``default_config``).
        """
        if weights is None:
            weights = self.subnet_weights(config, masked)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        x = self.embed(input_ids, token_type_ids, weights, attention_mask)
        padding = self.padding_bias(attention_mask, x.dtype)
        outputs = []
        for layer in range(self.arch.num_layers):
            x = self.run_layer(layer, x, padding, weights)
            outputs.append(x)
        return outputs

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        config: SubnetConfig | None = None,
        masked: bool = False,
        weights: SubnetWeights | None = None,
    ) -> torch.Tensor:
        """Every exit's logits, ``(num_layers, batch, num_labels)``."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.hidden_states(input_ids, attention_mask, token_type_ids, config, masked, weights)
        return torch.stack([self.exit_logits_at(i, h, attention_mask) for i, h in enumerate(hidden)])
