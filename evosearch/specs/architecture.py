"""The shape of an ALBERT-family encoder, independent of its weights.

ALBERT (Lan et al., ICLR 2020) factorises the embeddings (size E, projected to the hidden size H)
and shares transformer blocks across layers (``num_hidden_groups`` groups, ``inner_group_num``
blocks per group). BERT (Devlin et al., 2019) is the special case E = H without a projection and
one block per layer. We describe both with one record: a list of weight *blocks* and, for every
*virtual layer* the forward pass runs, the block whose weights it uses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


POOLINGS = ("cls", "mean")
# How a sub-network's unstructured sparsity picks the weights it zeroes (evosearch.supernet.pruning).
PRUNING_CRITERIA = ("magnitude", "movement")


@dataclass(frozen=True)
class Architecture:
    """Static shape of an encoder: sizes, the layer-to-block map and the classifier width."""

    model_type: str  # "albert" or "bert": which Hugging Face family the weights came from
    vocab_size: int
    embedding_size: int
    hidden_size: int
    head_dim: int
    block_heads: tuple[int, ...]  # attention heads held by each weight block
    block_ffn: tuple[int, ...]  # FFN neurons held by each weight block
    block_of_layer: tuple[int, ...]  # virtual layer -> weight block
    max_position_embeddings: int
    type_vocab_size: int
    num_labels: int
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-12
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    classifier_dropout: float = 0.1
    pad_token_id: int = 0
    pooling: str = "cls"  # how exit ramps summarise a layer: "cls" (first token, as BERT) or "mean"
    # How sparsity picks the weights it zeroes: "magnitude" (smallest |W|) or "movement" (the lowest of
    # learned importance scores, one per prunable weight: extra parameters of every block)
    pruning: str = "magnitude"
    # Learned attention spans (Sukhbaatar et al., ACL 2019): each block holds one span per head, in
    # tokens within [0, learned_span_max]; None: spans come only from the sub-network config
    learned_span_max: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "block_heads", tuple(self.block_heads))
        object.__setattr__(self, "block_ffn", tuple(self.block_ffn))
        object.__setattr__(self, "block_of_layer", tuple(self.block_of_layer))
        if len(self.block_heads) != len(self.block_ffn):
            raise ValueError("block_heads and block_ffn must have one entry per weight block")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling={self.pooling!r}; allowed: {', '.join(POOLINGS)}")
        if self.pruning not in PRUNING_CRITERIA:
            raise ValueError(f"pruning={self.pruning!r}; allowed: {', '.join(PRUNING_CRITERIA)}")
        span_max = self.learned_span_max
        if span_max is not None and (isinstance(span_max, bool) or not isinstance(span_max, int) or span_max < 1):
            raise ValueError(f"learned_span_max={span_max!r}; allowed: null or an integer >= 1")
        if any(b < 0 or b >= len(self.block_heads) for b in self.block_of_layer):
            raise ValueError("block_of_layer refers to a weight block that does not exist")

    @property
    def num_layers(self) -> int:
        """Number of virtual layers the forward pass runs (and the number of exits)."""
        return len(self.block_of_layer)

    @property
    def num_blocks(self) -> int:
        return len(self.block_heads)

    @property
    def has_projection(self) -> bool:
        """ALBERT always projects embeddings to the hidden size; BERT never does."""
        return self.model_type == "albert"

    def heads_of_layer(self, layer: int) -> int:
        return self.block_heads[self.block_of_layer[layer]]

    def ffn_of_layer(self, layer: int) -> int:
        return self.block_ffn[self.block_of_layer[layer]]

    def layers_of_block(self, block: int) -> list[int]:
        return [i for i, b in enumerate(self.block_of_layer) if b == block]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Architecture":
        return cls(**data)

    @classmethod
    def from_hf_config(cls, config, num_labels: int | None = None, pooling: str = "cls",
                       pruning: str = "magnitude", learned_span_max: int | None = None) -> "Architecture":
        """Read the shape from a transformers ``AlbertConfig`` or ``BertConfig``."""
        model_type = getattr(config, "model_type", None)
        if model_type not in ("albert", "bert"):
            raise ValueError(
                f"evosearch supports ALBERT and BERT checkpoints; this one has model_type={model_type!r}"
            )
        heads = config.num_attention_heads
        if config.hidden_size % heads:
            raise ValueError(
                f"hidden_size {config.hidden_size} is not a multiple of num_attention_heads {heads}"
            )
        if model_type == "albert":
            groups, inner = config.num_hidden_groups, config.inner_group_num
            layers_per_group = config.num_hidden_layers / groups
            block_of_layer = [
                int(i / layers_per_group) * inner + j
                for i in range(config.num_hidden_layers)
                for j in range(inner)
            ]
            num_blocks = groups * inner
            embedding_size = config.embedding_size
        else:
            block_of_layer = list(range(config.num_hidden_layers))
            num_blocks = config.num_hidden_layers
            embedding_size = config.hidden_size
        classifier_dropout = getattr(config, "classifier_dropout", None)
        if classifier_dropout is None:
            classifier_dropout = getattr(config, "classifier_dropout_prob", config.hidden_dropout_prob)
        return cls(
            model_type=model_type,
            vocab_size=config.vocab_size,
            embedding_size=embedding_size,
            hidden_size=config.hidden_size,
            head_dim=config.hidden_size // heads,
            block_heads=(heads,) * num_blocks,
            block_ffn=(config.intermediate_size,) * num_blocks,
            block_of_layer=tuple(block_of_layer),
            max_position_embeddings=config.max_position_embeddings,
            type_vocab_size=config.type_vocab_size,
            num_labels=num_labels if num_labels is not None else config.num_labels,
            hidden_act=config.hidden_act,
            layer_norm_eps=config.layer_norm_eps,
            hidden_dropout=config.hidden_dropout_prob,
            attention_dropout=config.attention_probs_dropout_prob,
            classifier_dropout=classifier_dropout,
            pad_token_id=config.pad_token_id if config.pad_token_id is not None else 0,
            pooling=pooling,
            pruning=pruning,
            learned_span_max=learned_span_max,
        )
