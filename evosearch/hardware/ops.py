"""The operations one sub-network runs for one sentence of T tokens.

Each virtual layer of the encoder is a fixed list of GEMMs and vector ops whose sizes follow the
genome: ``heads`` kept (Q/K/V/output projections shrink to ``heads * head_dim`` columns/rows),
``ffn`` neurons kept, weight ``bits``, attention ``span`` and optional unstructured ``sparsity``.

Attention span (Sukhbaatar et al., ACL 2019; EdgeBERT, Tambe et al., MICRO 2021): the soft mask
m(d) = clamp((R + z - d) / R, 0, 1) is zero for token distance d >= z + R, so a head with span z
and ramp R only needs the query/key pairs with |i - j| <= z + R - 1. In a bidirectional encoder of
T tokens that is ``attention_pairs(T, z + R - 1)`` pairs instead of T*T; the hardware is assumed to
skip the masked pairs (banded attention). ``span=None`` means full attention.

A GEMM here is ``count`` independent products of an (M x K) streamed operand with a (K x N)
stationary operand (weight-stationary mapping on the MAC array, as in EdgeBERT's and Timeloop's
weight-stationary examples). For QK^T and AV both operands are activations (``stationary`` is
'activations' instead of 'weights').
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gemm:
    name: str
    m: float  # streamed rows (tokens); may be fractional for banded attention (average)
    k: int  # reduction dimension
    n: float  # stationary columns
    count: int  # independent GEMMs (heads)
    weight_bits: int  # bit width of the stationary operand
    stationary: str  # "weights" (read from the weight level) or "activations"
    sparsity: float = 0.0  # fraction of zero weights (stationary operand), only for weights


@dataclass(frozen=True)
class Vector:
    name: str
    kind: str  # softmax | layernorm | gelu | add
    elements: float


@dataclass(frozen=True)
class Lookup:
    """Embedding-table reads: ``rows`` rows of ``width`` values at ``bits`` from the embeddings level.

    ``sparsity``: the fraction of the tables' entries pruned (EdgeBERT's embedding pruning, Tambe
    et al. MICRO 2021). On a zero-skipping target a row is stored, and read, as its non-zeros with
    ``index_bits`` each (:mod:`evosearch.specs.embedding`); elsewhere the zeros are stored and read.
    Each table is pruned as a whole, so rows differ in their non-zero count; a looked-up row is
    priced at the table's average density. The per-row pointers that random access into the
    compressed table needs are not counted (a 32-bit pointer per row would add 1.7% to MiniLM's
    word table at sparsity 0.6 and 8 bits).
    """

    name: str
    rows: int
    width: int
    bits: int
    sparsity: float = 0.0


def attention_pairs(seq_len: int, half_width: int | None) -> int:
    """Number of (query, key) pairs with |i - j| <= half_width in a sequence of ``seq_len`` tokens."""
    t = seq_len
    if half_width is None or half_width >= t - 1:
        return t * t
    w = max(0, half_width)
    # the diagonal, plus 2 * sum_{d=1..w} (T - d)
    return t + 2 * (w * t - w * (w + 1) // 2)


def layer_ops(
    hidden: int,
    head_dim: int,
    heads: int,
    ffn: int,
    bits: int,
    span: int | None,
    seq_len: int,
    sparsity: float = 0.0,
    span_ramp: int = 0,
) -> list:
    """The ops of one transformer layer (post-LN BERT/ALBERT block) for ``seq_len`` tokens."""
    t = seq_len
    hd = heads * head_dim
    half = None if span is None else span + span_ramp - 1
    pairs = attention_pairs(t, half)
    keys_per_query = pairs / t
    return [
        Gemm("qkv_proj", t, hidden, 3 * hd, 1, bits, "weights", sparsity),
        Gemm("qk_t", t, head_dim, keys_per_query, heads, 0, "activations"),
        Vector("softmax", "softmax", heads * pairs),
        Gemm("attn_v", t, keys_per_query, head_dim, heads, 0, "activations"),
        Gemm("out_proj", t, hd, hidden, 1, bits, "weights", sparsity),
        Vector("attn_residual", "add", t * hidden),
        Vector("attn_layernorm", "layernorm", t * hidden),
        Gemm("ffn_in", t, hidden, ffn, 1, bits, "weights", sparsity),
        Vector("gelu", "gelu", t * ffn),
        Gemm("ffn_out", t, ffn, hidden, 1, bits, "weights", sparsity),
        Vector("ffn_residual", "add", t * hidden),
        Vector("ffn_layernorm", "layernorm", t * hidden),
    ]


def embedding_ops(embedding_size: int, hidden: int, has_projection: bool, embedding_bits: int, seq_len: int,
                  embedding_sparsity: float = 0.0) -> list:
    """Word + position + token-type lookups, their sum, layer norm and (ALBERT) the E->H projection.

    The projection's weights are priced at ``embedding_bits`` (an assumption: the genome has no
    separate gene for it) and dense: embedding pruning prunes the three lookup tables only.
    """
    t = seq_len
    ops: list = [
        Lookup("embedding_lookup", 3 * t, embedding_size, embedding_bits, embedding_sparsity),
        Vector("embedding_sum", "add", 2 * t * embedding_size),
        Vector("embedding_layernorm", "layernorm", t * embedding_size),
    ]
    if has_projection:
        ops.append(Gemm("embedding_projection", t, embedding_size, hidden, 1, embedding_bits, "weights"))
    return ops


def ramp_ops(hidden: int, num_labels: int, bits: int) -> list:
    """An exit ramp (DeeBERT/EdgeBERT off-ramp): pooler (H x H, tanh) and classifier on the [CLS] token."""
    return [
        Gemm("ramp_pooler", 1, hidden, hidden, 1, bits, "weights"),
        Vector("ramp_tanh", "gelu", hidden),
        Gemm("ramp_classifier", 1, hidden, num_labels, 1, bits, "weights"),
    ]


def layer_activation_bits(hidden: int, head_dim: int, heads: int, ffn: int, span: int | None, seq_len: int,
                          span_ramp: int, act_bits: int) -> float:
    """Peak live activation storage of one layer (bits): max of the attention and the FFN phase.

    Attention phase: input x (T x H), Q, K, V (3 T x h d), the scores of the head being computed
    (pairs; heads are processed one after another), context (T x h d). FFN phase: x, the intermediate (T x F) and the output (T x H).
    """
    t = seq_len
    hd = heads * head_dim
    half = None if span is None else span + span_ramp - 1
    pairs = attention_pairs(t, half)
    attn = t * hidden + 4 * t * hd + pairs
    ffn_phase = 2 * t * hidden + t * ffn
    return max(attn, ffn_phase) * act_bits
