"""The weight-sharing supernetwork: an ALBERT-family encoder with an exit after every layer.

One forward runs any sub-network (:class:`SubnetConfig`) and returns every exit's logits, shape
``(num_layers, batch, num_labels)``. Each virtual layer looks up its weight block
(``Architecture.block_of_layer``), slices and quantizes it according to its own layer config,
and runs it; on a shared-weight ALBERT all virtual layers use the same block their own way.
"""

from __future__ import annotations

import torch
from torch import nn

from .architecture import Architecture
from .modules import Embeddings, EncoderBlock, ExitRamp
from .span import span_bias
from .subnet import SubnetConfig

DEFAULT_SPAN_RAMP = 16


class Supernet(nn.Module):
    """Embeddings, shared weight blocks, and one exit ramp per virtual layer.

    ``default_config`` is the sub-network run when ``forward`` gets no config: the largest one
    for a supernet, the fixed extracted one for a model made by :func:`extract`.
    ``span_ramp`` is the ramp ``R`` of the adaptive-span mask in tokens.
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

    def hidden_states(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        config: SubnetConfig | None = None,
        masked: bool = False,
    ) -> list[torch.Tensor]:
        """The encoder output after every virtual layer (``num_layers`` tensors).

        ``masked=True`` runs full-size matrices with dropped heads/neurons zeroed instead of
        sliced ones: the same result at full cost (a reference and a benchmark baseline).
        """
        config = config or self.default_config
        if config is not self.default_config:
            config.validate(self.arch)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.embeddings(input_ids, token_type_ids, config.embedding_bits, config.quant)
        padding = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        seq_len = input_ids.shape[1]
        outputs = []
        for block_index, layer in zip(self.arch.block_of_layer, config.layers):
            block = self.blocks[block_index]
            weights = block.masked_weights(layer, config.quant) if masked else block.sliced_weights(layer, config.quant)
            bias = padding
            if layer.span is not None:
                bias = padding + span_bias(seq_len, layer.span, self.span_ramp, x.device).to(x.dtype)
            x = block(x, bias, weights)
            outputs.append(x)
        return outputs

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        config: SubnetConfig | None = None,
        masked: bool = False,
    ) -> torch.Tensor:
        """Every exit's logits, ``(num_layers, batch, num_labels)``."""
        hidden = self.hidden_states(input_ids, attention_mask, token_type_ids, config, masked)
        return torch.stack([ramp(h, attention_mask) for ramp, h in zip(self.ramps, hidden)])
