"""The supernetwork's building blocks, each with one forward.

Why our own modules instead of transformers' ``AlbertLayer``: a shared ALBERT block runs once per
virtual layer, and each run must slice and quantize the shared weights its own way. transformers
5.x has no head mask any more, and forward hooks on a shared module cannot tell which virtual
layer they are in. So a block takes the layer's prepared weights as an argument.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers.activations import ACT2FN

from ..specs import INT8_MAX_BITS, Architecture, LayerConfig
from ..specs.embedding import TABLES
from .pruning import keep_above, magnitude_prune, magnitude_threshold, movement_prune
from .quantize import engine_int8_activations, engine_int8_weight, quantize_rows, quantize_weight


class Embeddings(nn.Module):
    """Word + position + token-type embeddings, layer norm, and ALBERT's E -> H projection.

    Embedding pruning (EdgeBERT, Tambe et al. MICRO 2021; :mod:`evosearch.specs.embedding`): at
    ``embedding_sparsity`` s, each of the three tables keeps the entries whose magnitude reaches
    its own threshold (:meth:`prune_thresholds`, one per whole table); the looked-up rows are
    pruned with it, then quantized per row, which equals looking up the pruned, quantized table.
    """

    def __init__(self, arch: Architecture):
        super().__init__()
        e = arch.embedding_size
        self.word = nn.Embedding(arch.vocab_size, e, padding_idx=arch.pad_token_id)
        self.position = nn.Embedding(arch.max_position_embeddings, e)
        self.token_type = nn.Embedding(arch.type_vocab_size, e)
        self.norm = nn.LayerNorm(e, eps=arch.layer_norm_eps)
        self.dropout = nn.Dropout(arch.hidden_dropout)
        self.projection = nn.Linear(e, arch.hidden_size) if arch.has_projection else None
        self._thresholds: dict = {}  # (table, sparsity, data pointer, version, device) -> threshold; not state

    def prune_thresholds(self, sparsity: float) -> tuple[torch.Tensor, ...] | None:
        """The magnitude threshold of each table (word, position, token type) at ``sparsity``, or
        None at 0. Cached while a table is unchanged (the word table is frozen in training by
        default, so its selection over the whole vocabulary runs once per sparsity)."""
        if sparsity <= 0:
            return None
        cache = self.__dict__.setdefault("_thresholds", {})
        out = []
        for name in TABLES:
            weight = getattr(self, name).weight
            key = (name, float(sparsity), weight.data_ptr(), weight._version, weight.device)
            threshold = cache.get(key)
            if threshold is None:
                if len(cache) > 32:
                    cache.clear()
                threshold = cache[key] = magnitude_threshold(weight, sparsity)
            out.append(threshold)
        return tuple(out)

    def pruned_table(self, name: str, sparsity: float) -> torch.Tensor:
        """Table ``name`` with the entries pruned at ``sparsity`` set to zero (float, not quantized)."""
        weight = getattr(self, name).weight
        thresholds = self.prune_thresholds(sparsity)
        return weight if thresholds is None else keep_above(weight, thresholds[TABLES.index(name)])

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor, bits: int, scheme: str,
                projection: torch.Tensor | None = None, int8_input: bool = False,
                valid: torch.Tensor | None = None, thresholds: tuple | None = None) -> torch.Tensor:
        """Embed at ``bits``; ``projection`` is the already quantized E -> H matrix (ALBERT), if prepared.
        ``int8_input``: the projection's input is quantized as the int8 engine does (per row over
        the ``valid`` tokens). ``thresholds``: the tables' pruning thresholds (:meth:`prune_thresholds`)."""
        word_t, position_t, type_t = thresholds or (None, None, None)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = (
            quantize_rows(keep_above(self.word(input_ids), word_t), bits, scheme)
            + quantize_rows(keep_above(self.token_type(token_type_ids), type_t), bits, scheme)
            + quantize_rows(keep_above(self.position(positions), position_t), bits, scheme)[None]
        )
        x = self.dropout(self.norm(x))
        if self.projection is not None:
            if projection is None:
                projection = quantize_weight(self.projection.weight, bits, scheme)
            if int8_input:
                x = engine_int8_activations(x, valid)
            x = F.linear(x, projection, self.projection.bias)
        return x


@dataclass
class BlockWeights:
    """The matrices one virtual layer runs with: sliced (or masked) and quantized.

    ``int8_inputs``: the inputs of the weight matrix products are quantized as the int8
    deployment engine does at run time (:func:`~evosearch.supernet.quantize.engine_int8_activations`).
    """

    query: torch.Tensor
    query_bias: torch.Tensor
    key: torch.Tensor
    key_bias: torch.Tensor
    value: torch.Tensor
    value_bias: torch.Tensor
    attention_out: torch.Tensor
    ffn_in: torch.Tensor
    ffn_in_bias: torch.Tensor
    ffn_out: torch.Tensor
    int8_inputs: bool = False


# The prunable matrices of a block, and which dimension a sub-network's width cuts: the rows (0) or
# the columns (1) that belong to its attention heads or to its FFN neurons.
MATRICES = {"query": ("heads", 0), "key": ("heads", 0), "value": ("heads", 0), "attention_out": ("heads", 1),
            "ffn_in": ("ffn", 0), "ffn_out": ("ffn", 1)}


class EncoderBlock(nn.Module):
    """One transformer block's weights (post-norm, as BERT and ALBERT).

    Heads and FFN neurons are kept as prefixes: after importance ordering
    (:mod:`evosearch.training`), the first ``k`` are the most important ones.

    With ``arch.pruning == "movement"`` the block also holds ``scores``: one learned importance
    score per weight of each prunable matrix (Sanh et al., NeurIPS 2020; :mod:`.pruning`), shared
    by every sub-network and sliced as the weights are. They start at zero, as in Sanh et al.'s
    experiments (constant initial scores), so the mask is learned from the weights' movement alone.

    With ``arch.learned_span_max`` the block also holds ``spans``: one learned attention span per
    head, in tokens, kept within [0, ``learned_span_max``] (adaptive attention span, Sukhbaatar et
    al., ACL 2019; :mod:`.span`). They start at ``learned_span_max``, not at Sukhbaatar et al.'s 0:
    those models learn from scratch and grow their spans, while we fine-tune a pretrained encoder
    whose heads attend everywhere, so a span that covers every sentence (the training's
    ``max_length``) leaves it unchanged at the first step and the L1 penalty shrinks it from there.
    """

    def __init__(self, arch: Architecture, heads: int, ffn: int):
        super().__init__()
        h, width = arch.hidden_size, heads * arch.head_dim
        self.head_dim = arch.head_dim
        self.query = nn.Linear(h, width)
        self.key = nn.Linear(h, width)
        self.value = nn.Linear(h, width)
        self.attention_out = nn.Linear(width, h)
        self.attention_norm = nn.LayerNorm(h, eps=arch.layer_norm_eps)
        self.ffn_in = nn.Linear(h, ffn)
        self.ffn_out = nn.Linear(ffn, h)
        self.ffn_norm = nn.LayerNorm(h, eps=arch.layer_norm_eps)
        self.activation = ACT2FN[arch.hidden_act]
        self.hidden_dropout = nn.Dropout(arch.hidden_dropout)
        self.attention_dropout = arch.attention_dropout
        self.scores = nn.ParameterDict(
            {name: nn.Parameter(torch.zeros_like(getattr(self, name).weight)) for name in MATRICES}
        ) if arch.pruning == "movement" else None
        span_max = arch.learned_span_max
        self.spans = nn.Parameter(torch.full((heads,), float(span_max))) if span_max is not None else None

    @property
    def num_heads(self) -> int:
        return self.query.out_features // self.head_dim

    @property
    def num_neurons(self) -> int:
        return self.ffn_in.out_features

    def sliced_weights(self, layer: LayerConfig, scheme: str, int8_engine: bool = False) -> BlockWeights:
        """Keep the first ``layer.heads`` heads and ``layer.ffn`` neurons: smaller matrices.

        ``int8_engine``: at <= 8 bits, the weights and products of the int8 deployment engine."""
        kept = self._kept(layer)

        def cut(name: str, tensor: torch.Tensor) -> torch.Tensor:
            unit, dim = MATRICES[name]
            if dim >= tensor.dim():  # the bias of a matrix whose columns are cut: kept whole
                return tensor
            return tensor.narrow(dim, 0, kept[unit])

        return self._prepare(layer, scheme, int8_engine, kept, cut)

    def masked_weights(self, layer: LayerConfig, scheme: str, int8_engine: bool = False) -> BlockWeights:
        """Full-size matrices with the dropped heads' and neurons' weights set to zero.

        The straightforward reference for slicing (and the "masked" baseline of the
        throughput benchmark): same result, full-size compute.
        """
        kept = self._kept(layer)
        device = self.query.weight.device
        masks = {"heads": _prefix_mask(self.query.out_features, kept["heads"], device),
                 "ffn": _prefix_mask(self.ffn_in.out_features, kept["ffn"], device)}

        def cut(name: str, tensor: torch.Tensor) -> torch.Tensor:
            unit, dim = MATRICES[name]
            if dim >= tensor.dim():
                return tensor
            return tensor * (masks[unit][:, None] if tensor.dim() == 2 and dim == 0 else masks[unit])

        return self._prepare(layer, scheme, int8_engine, kept, cut)

    def _kept(self, layer: LayerConfig) -> dict[str, int]:
        """Rows or columns a sub-network keeps of the head-sized and the neuron-sized dimensions."""
        return {"heads": layer.heads * self.head_dim, "ffn": layer.ffn}

    def _prepare(self, layer: LayerConfig, scheme: str, int8_engine: bool, kept: dict[str, int], cut) -> BlockWeights:
        """Cut every matrix (its weight, bias and movement scores alike: ``cut(name, tensor)``) to the
        sub-network, prune it (rows keep ``row width`` weights after slicing) by magnitude or by
        movement scores (:mod:`.pruning`), then quantize (and store at int8 where the engine runs the
        layer on int8)."""
        int8 = int8_engine and layer.bits <= INT8_MAX_BITS

        def finish(name: str) -> torch.Tensor:
            unit, dim = MATRICES[name]
            linear = getattr(self, name)
            row_width = kept[unit] if dim == 1 else linear.in_features
            weight = cut(name, linear.weight)
            if self.scores is None:
                weight = magnitude_prune(weight, layer.sparsity, row_width)
            else:
                weight = movement_prune(weight, cut(name, self.scores[name]), layer.sparsity, row_width)
            weight = quantize_weight(weight, layer.bits, scheme)
            return engine_int8_weight(weight) if int8 else weight

        def bias(name: str) -> torch.Tensor:
            return cut(name, getattr(self, name).bias)

        return BlockWeights(
            query=finish("query"), query_bias=bias("query"),
            key=finish("key"), key_bias=bias("key"),
            value=finish("value"), value_bias=bias("value"),
            attention_out=finish("attention_out"),
            ffn_in=finish("ffn_in"), ffn_in_bias=bias("ffn_in"),
            ffn_out=finish("ffn_out"), int8_inputs=int8,
        )

    def forward(self, x: torch.Tensor, attention_bias: torch.Tensor, w: BlockWeights,
                valid: torch.Tensor | None = None) -> torch.Tensor:
        """``valid`` ``(batch, seq)``: the tokens that are not padding (used only by int8 inputs)."""
        batch, seq, _ = x.shape

        def product_input(t: torch.Tensor) -> torch.Tensor:
            return engine_int8_activations(t, valid) if w.int8_inputs else t

        def split(t: torch.Tensor) -> torch.Tensor:  # (batch, seq, heads * d) -> (batch, heads, seq, d)
            return t.view(batch, seq, -1, self.head_dim).transpose(1, 2)

        q = product_input(x)
        context = F.scaled_dot_product_attention(
            split(F.linear(q, w.query, w.query_bias)),
            split(F.linear(q, w.key, w.key_bias)),
            split(F.linear(q, w.value, w.value_bias)),
            attn_mask=attention_bias,
            dropout_p=self.attention_dropout if self.training else 0.0,
        )
        context = context.transpose(1, 2).reshape(batch, seq, -1)
        attended = F.linear(product_input(context), w.attention_out, self.attention_out.bias)
        x = self.attention_norm(x + self.hidden_dropout(attended))
        inner = self.activation(F.linear(product_input(x), w.ffn_in, w.ffn_in_bias))
        out = F.linear(product_input(inner), w.ffn_out, self.ffn_out.bias)
        return self.ffn_norm(x + self.hidden_dropout(out))


def _prefix_mask(size: int, keep: int, device) -> torch.Tensor:
    """1.0 for the first ``keep`` of ``size`` rows, 0.0 for the rest."""
    return (torch.arange(size, device=device) < keep).float()


class ExitRamp(nn.Module):
    """An off-ramp (DeeBERT): pool the layer's tokens, then pooler (dense + tanh) and classifier.

    Pooling follows the checkpoint: the first token for BERT/ALBERT classification heads, the
    mean over real tokens for sentence encoders trained that way (sentence-transformers).
    """

    def __init__(self, arch: Architecture):
        super().__init__()
        self.pooling = arch.pooling
        self.pooler = nn.Linear(arch.hidden_size, arch.hidden_size)
        self.dropout = nn.Dropout(arch.classifier_dropout)
        self.classifier = nn.Linear(arch.hidden_size, arch.num_labels)

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.pooling == "mean":
            weights = attention_mask.to(hidden.dtype)[..., None] if attention_mask is not None else torch.ones_like(hidden[..., :1])
            summary = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)
        else:
            summary = hidden[:, 0]
        return torch.tanh(self.pooler(summary))

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.classifier(self.dropout(self.pool(hidden, attention_mask)))
