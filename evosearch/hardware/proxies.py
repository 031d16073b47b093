"""Hardware-agnostic objectives: MACs/FLOPs, parameter count, model size, P-BERT's ICCR.

Storage follows the genome: matrices at the layer's weight bit width, embedding tables (and
ALBERT's E->H projection) at ``embedding_bits``, biases and layer-norm parameters at 32 bits.
Embedding tables pruned at ``embedding_sparsity`` (EdgeBERT) are stored sparse
(:mod:`evosearch.specs.embedding`): as the export's ``weights.safetensors`` holds them (a presence
bit per entry plus the non-zeros) by default, or in a hardware target's sparse encoding (non-zeros
with ``index_bits`` each, or EdgeBERT's bitmask; dense on a target without zero skipping).
ALBERT's shared weights are stored once per weight *block*, as the union any virtual layer using
the block needs: the max heads, max FFN neurons and max bit width over those layers (a lower-bit
layer reads the most significant bits of the stored weights; bit-plane layout assumed), at the
lowest sparsity of those layers.
"""

from __future__ import annotations

import functools
from typing import Sequence

from ..specs import Architecture
from ..specs import SubnetConfig
from ..specs.embedding import embedding_tables_bits
from .ops import Gemm, embedding_ops, layer_ops, ramp_ops

FLOAT_BITS = 32  # biases and layer-norm parameters


def _sparsity(arch: Architecture, sparsity: Sequence[float] | None, config: SubnetConfig | None = None) -> tuple[float, ...]:
    """Per-layer sparsities: ``sparsity`` if given, else ``config``'s own (``LayerConfig.sparsity``;
    dense without a config)."""
    if sparsity is None:
        if config is not None:
            sparsity = [layer.sparsity for layer in config.layers]
        else:
            return (0.0,) * arch.num_layers
    s = tuple(float(x) for x in sparsity)
    if len(s) != arch.num_layers:
        raise ValueError(f"sparsity has {len(s)} entries; this model has {arch.num_layers} virtual layers")
    if any(not 0.0 <= x < 1.0 for x in s):
        raise ValueError(f"sparsity values must be in [0, 1); got {s}")
    return s


def block_matrix_params(hidden: int, head_dim: int, heads: int, ffn: int) -> int:
    """Weight-matrix parameters of a block keeping ``heads`` heads and ``ffn`` neurons."""
    hd = heads * head_dim
    return 4 * hidden * hd + 2 * hidden * ffn


def block_vector_params(hidden: int, head_dim: int, heads: int, ffn: int) -> int:
    """Biases and layer-norm parameters of such a block."""
    hd = heads * head_dim
    return 3 * hd + hidden + 2 * hidden + ffn + hidden + 2 * hidden


def stored_blocks(arch: Architecture, config: SubnetConfig, sparsity: Sequence[float] | None = None):
    """For every weight block used: (heads, ffn, bits, sparsity) of the stored union."""
    s = _sparsity(arch, sparsity, config)
    blocks: dict[int, list] = {}
    for i, layer in enumerate(config.layers):
        b = arch.block_of_layer[i]
        cur = blocks.get(b)
        if cur is None:
            blocks[b] = [layer.heads, layer.ffn, layer.bits, s[i]]
        else:
            cur[0] = max(cur[0], layer.heads)
            cur[1] = max(cur[1], layer.ffn)
            cur[2] = max(cur[2], layer.bits)
            cur[3] = min(cur[3], s[i])
    return [tuple(v) for _, v in sorted(blocks.items())]


def ramp_layers(arch: Architecture, exits: Sequence[int] | None) -> list[int]:
    """The layers whose exit ramp a deployment keeps: ``exits`` (layers where an input may leave)
    plus the last layer, which always answers; None = the last layer only (no early exit)."""
    return sorted(set(exits or ()) | {arch.num_layers - 1})


def model_size_breakdown(
    arch: Architecture,
    config: SubnetConfig,
    sparsity: Sequence[float] | None = None,
    index_bits: int | None = None,
    exits: Sequence[int] | None = None,
    embedding_storage: str | None = None,
    sparse_encoding: str = "index",
) -> dict[str, float]:
    """Stored bits per part: ``embeddings`` (tables + LN), ``projection`` (ALBERT), ``blocks``, ``ramps``.

    ``index_bits``: when given and a block is sparse, its matrices are stored compressed in
    ``sparse_encoding``: ``"index"``, the non-zeros each with ``index_bits`` of index, or
    ``"bitmask"``, a presence bit per position plus the non-zeros
    (:meth:`~evosearch.hardware.target.HardwareTarget.stored_bits_per_value`); when None, zeros are
    stored.
    ``exits``: the layers with an exit an input can take (threshold above 0); their ramps (pooler
    and classifier) are stored, at 32 bits as the export stores them, besides the final one.
    ``embedding_storage``: how tables pruned at ``config.embedding_sparsity`` are stored
    (:func:`evosearch.specs.embedding.table_bits`): ``"mask"`` (the export's file), ``"index"``
    (non-zeros with ``index_bits`` each) or ``"dense"``; default ``"index"`` when ``index_bits``
    is given, else ``"mask"``.
    """
    H, E, d = arch.hidden_size, arch.embedding_size, arch.head_dim
    eb = config.embedding_bits
    if embedding_storage is None:
        embedding_storage = "mask" if index_bits is None else "index"
    tables = embedding_tables_bits(arch, eb, config.embedding_sparsity, embedding_storage, index_bits or 0)
    out = {"embeddings": tables + 2 * E * FLOAT_BITS, "projection": 0.0, "blocks": 0.0, "ramps": 0.0}
    if arch.has_projection:
        out["projection"] = E * H * eb + H * FLOAT_BITS
    for heads, ffn, bits, sp in stored_blocks(arch, config, sparsity):
        n = block_matrix_params(H, d, heads, ffn)
        if sp > 0.0 and index_bits is not None:
            per_value = 1.0 + (1.0 - sp) * bits if sparse_encoding == "bitmask" else (1.0 - sp) * (bits + index_bits)
            mat_bits = n * per_value
        else:
            mat_bits = n * bits
        out["blocks"] += mat_bits + block_vector_params(H, d, heads, ffn) * FLOAT_BITS
    out["ramps"] = len(ramp_layers(arch, exits)) * ramp_params(arch) * FLOAT_BITS
    return out


def ramp_params(arch: Architecture) -> int:
    """Parameters of one exit ramp: pooler (H x H + H) and classifier (H x labels + labels)."""
    H = arch.hidden_size
    return H * H + H + H * arch.num_labels + arch.num_labels


def model_size_bytes(
    arch: Architecture,
    config: SubnetConfig,
    sparsity: Sequence[float] | None = None,
    index_bits: int | None = None,
    exits: Sequence[int] | None = None,
) -> float:
    """Model size in bytes at the chosen bit widths (ALBERT shared blocks counted once, as the union):
    what ``weights.safetensors`` of an export holds, up to its header and the per-row scales (or
    exponent biases) of quantized tables; pruned embedding tables as the file stores them, a
    presence bit per entry plus the non-zeros."""
    return sum(model_size_breakdown(arch, config, sparsity, index_bits, exits).values()) / 8.0


def onnx_size_bytes(arch: Architecture, config: SubnetConfig, exits: Sequence[int] | None = None) -> float:
    """Bytes of the weights of the ONNX deployment (:mod:`evosearch.deploy.onnx`), up to graph overhead:
    matrices of layers at <= 8 bits as int8 with a float32 scale and an int8 zero point per
    output channel, other matrices, embedding tables, biases, norms and the kept exit ramps as
    float32 (ALBERT's embedding projection at int8 for <= 8-bit embeddings). A shared ALBERT
    block is stored once per segment that runs it."""
    H, E, d = arch.hidden_size, arch.embedding_size, arch.head_dim
    tables = (arch.vocab_size + arch.max_position_embeddings + arch.type_vocab_size) * E
    total = (tables + 2 * E) * 4.0
    if arch.has_projection:
        total += E * H * (1 + 5 / E if config.embedding_bits <= 8 else 4) + H * 4
    kept = ramp_layers(arch, exits)
    seen = set()
    for i, layer in enumerate(config.layers):
        segment = next(k for k, end in enumerate(kept) if i <= end)
        key = (arch.block_of_layer[i], layer.heads, layer.ffn, layer.bits, segment)
        if key in seen:
            continue
        seen.add(key)
        hd = layer.heads * d
        matrices = 4 * H * hd + 2 * H * layer.ffn
        channels = 3 * hd + H + layer.ffn + H  # output channels of the six matrices
        total += matrices * (1 if layer.bits <= 8 else 4) + (channels * 5 if layer.bits <= 8 else 0)
        total += block_vector_params(H, d, layer.heads, layer.ffn) * 4
    return total + len(kept) * ramp_params(arch) * 4.0


def parameter_count(arch: Architecture, config: SubnetConfig, exits: Sequence[int] | None = None) -> int:
    """Stored parameters (shared ALBERT blocks counted once, as the union of what layers keep)."""
    H, E, d = arch.hidden_size, arch.embedding_size, arch.head_dim
    n = (arch.vocab_size + arch.max_position_embeddings + arch.type_vocab_size) * E + 2 * E
    if arch.has_projection:
        n += E * H + H
    for heads, ffn, _bits, _sp in stored_blocks(arch, config):
        n += block_matrix_params(H, d, heads, ffn) + block_vector_params(H, d, heads, ffn)
    return n + len(ramp_layers(arch, exits)) * ramp_params(arch)


def macs(
    arch: Architecture,
    config: SubnetConfig,
    seq_len: int = 128,
    span_ramp: int = 0,
    sparsity: Sequence[float] | None = None,
) -> float:
    """Multiply-accumulates of one forward pass of ``seq_len`` tokens (dense unless ``sparsity``).

    Counts every GEMM (projections, QK^T and AV within the attention span, FFN, embedding
    projection, final pooler + classifier). FLOPs ~= 2 x MACs.
    """
    s = _sparsity(arch, sparsity, config)
    total = 0.0
    ops = embedding_ops(arch.embedding_size, arch.hidden_size, arch.has_projection, config.embedding_bits, seq_len)
    for i, layer in enumerate(config.layers):
        ops += layer_ops(arch.hidden_size, arch.head_dim, layer.heads, layer.ffn, layer.bits, layer.span,
                         seq_len, s[i], span_ramp)
    ops += ramp_ops(arch.hidden_size, arch.num_labels, config.layers[-1].bits)
    for op in ops:
        if isinstance(op, Gemm):
            total += op.count * op.m * op.k * op.n * (1.0 - op.sparsity)
    return total


@functools.lru_cache(maxsize=65536)
def _gemm_macs_of_layer(hidden: int, head_dim: int, heads: int, ffn: int, span, seq_len: int, sparsity: float,
                        span_ramp: int) -> float:
    ops = layer_ops(hidden, head_dim, heads, ffn, 32, span, seq_len, sparsity, span_ramp)
    return sum(op.count * op.m * op.k * op.n * (1.0 - op.sparsity) for op in ops if isinstance(op, Gemm))


def _gemm_macs(ops) -> float:
    return sum(op.count * op.m * op.k * op.n * (1.0 - op.sparsity) for op in ops if isinstance(op, Gemm))


def expected_macs(arch: Architecture, config: SubnetConfig, workload, span_ramp: int = 0,
                  sparsity: Sequence[float] | None = None, exits: Sequence[int] | None = None) -> float:
    """Multiply-accumulates per sentence, averaged over a :class:`~evosearch.workload.Workload`:
    each sentence at its own length runs the layers up to its exit, and the exit ramps kept by the
    deployment (``exits`` and the last layer) that it passes."""
    s = _sparsity(arch, sparsity, config)
    kept = set(ramp_layers(arch, exits))
    ramp = _gemm_macs(ramp_ops(arch.hidden_size, arch.num_labels, 32))
    total = 0.0
    for (length, exit_layer), share in workload.pairs().items():
        work = _gemm_macs(embedding_ops(arch.embedding_size, arch.hidden_size, arch.has_projection,
                                        config.embedding_bits, length))
        for i, layer in enumerate(config.layers[: exit_layer + 1]):
            work += _gemm_macs_of_layer(arch.hidden_size, arch.head_dim, layer.heads, layer.ffn, layer.span, length,
                                        s[i], span_ramp)
            work += ramp if i in kept else 0.0
        total += share * work
    return total


def flops(arch: Architecture, config: SubnetConfig, seq_len: int = 128, span_ramp: int = 0,
          sparsity: Sequence[float] | None = None) -> float:
    """2 x :func:`macs` (one multiply and one add per MAC)."""
    return 2.0 * macs(arch, config, seq_len, span_ramp, sparsity)


def iccr_complexity(arch: Architecture, config: SubnetConfig, sparsity: Sequence[float] | None = None) -> float:
    """P-BERT's K_model = sum_i i * j_i * b_i over layers i = 1..L.

    j_i: weight values remaining in layer i (matrices kept by its heads/FFN genes, times the
    density 1 - sparsity_i); b_i: its weight bit width. Layers are numbered from 1 (numbering
    from 0 would make the first layer free).
    """
    s = _sparsity(arch, sparsity, config)
    H, d = arch.hidden_size, arch.head_dim
    k = 0.0
    for i, layer in enumerate(config.layers, start=1):
        j = block_matrix_params(H, d, layer.heads, layer.ffn) * (1.0 - s[i - 1])
        k += i * j * layer.bits
    return k


def iccr(arch: Architecture, config: SubnetConfig, sparsity: Sequence[float] | None = None,
         reference: SubnetConfig | None = None, reference_bits: int = 32) -> float:
    """Inverted computational complexity ratio (P-BERT): ICCR = K_original / K_model.

    K_original is :func:`iccr_complexity` of ``reference`` (default: the full model at
    ``reference_bits`` = 32-bit floats). Higher is "more compressed".

    Known flaw (reviewers of P-BERT, seed 000): the layer index i weights the sum, so pruning or
    quantizing layer 12 changes the ratio 12x more than the same change in layer 1, with no
    hardware reason — every layer costs the same to run. The metric also ignores embeddings,
    attention (sequence length, span), layer types and how compression is achieved, and it was
    never validated against latency/energy. We keep it only for comparison with P-BERT; use
    :func:`model_size_bytes`, :func:`macs` or :func:`evosearch.hardware.estimate` as objectives.
    """
    if reference is None:
        reference = SubnetConfig.largest(arch).with_layers(bits=reference_bits)
    return iccr_complexity(arch, reference) / iccr_complexity(arch, config, sparsity)
