"""Embedding pruning: which tables, how many entries each keeps, and how a pruned table is stored.

EdgeBERT (Tambe et al., MICRO 2021) prunes the embeddings by magnitude and keeps 40% of them
(sparsity 0.6), so that ALBERT's embeddings take 1.73 MB of its ReRAM eNVM. Its released recipe
(harvard-acc/EdgeBERT ``sw/EdgeBERT/examples/masked_run_highway_glue.py``, flags
``--fxp_and_prune --prune_percentile 60`` in ``scripts/2_train_sst2.sh``) zeroes, in every
parameter whose name contains ``embedding``, the entries below the 60th percentile of that
*whole tensor's* magnitudes (``np.percentile(|W|, 60)``): unstructured magnitude pruning (Han et
al., NeurIPS 2015) with one threshold per tensor, not per row. We do the same on the three lookup
tables — word, position and token type — each with its own threshold. Two departures: the name
match also catches ALBERT's E -> H projection (``embedding_hidden_mapping_in``) and the embedding
LayerNorm; here the projection is a weight matrix of the datapath (priced with the weights, kept
dense) and LayerNorm parameters are not pruned.

A table of ``n`` entries at sparsity ``s`` keeps exactly :func:`kept_entries` of them (the
largest magnitudes; ties at the threshold, which real float tables do not have, would keep a few
more). Storage, in :func:`table_bits`:

* ``"dense"``: every entry at ``bits`` (zeros stored; a target without zero skipping);
* ``"index"``: the non-zeros only, each with ``index_bits`` of relative index — the encoding a
  zero-skipping target with ``compute.sparse_encoding: index`` uses for sparse weights;
* ``"mask"``: a one-bit-per-entry presence mask plus the non-zeros at ``bits``: what an export's
  ``weights.safetensors`` holds (:mod:`evosearch.deploy.codec`), exact for any sparsity pattern,
  and the bitmask encoding of EdgeBERT's accelerator (``compute.sparse_encoding: bitmask``).

Torch-free.
"""

from __future__ import annotations

from ..errors import EvosearchError

#: The lookup tables that embedding pruning prunes (and the eNVM of EdgeBERT stores).
TABLES = ("word", "position", "token_type")
STORAGE = ("dense", "index", "mask")


def check_embedding_sparsity(value, where: str = "embedding_sparsity") -> None:
    """Raise :class:`~evosearch.specs.SubnetConfigError` unless ``value`` is a fraction in [0, 1)."""
    from .subnet import SubnetConfigError

    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise SubnetConfigError(f"{where}={value!r}; allowed: a fraction in [0, 1) (EdgeBERT keeps 40%: 0.6)")


def kept_entries(n: int, sparsity: float) -> int:
    """Entries a table of ``n`` keeps at ``sparsity``: ``round((1 - s) n)``, at least one (all at 0)."""
    if sparsity <= 0:
        return int(n)
    return max(1, int(round((1.0 - float(sparsity)) * n)))


def table_shapes(arch) -> dict[str, tuple[int, int]]:
    """``{table: (rows, width)}`` of an :class:`~evosearch.specs.Architecture`'s lookup tables."""
    e = arch.embedding_size
    return {"word": (arch.vocab_size, e), "position": (arch.max_position_embeddings, e),
            "token_type": (arch.type_vocab_size, e)}


def table_bits(n: int, bits: int, sparsity: float = 0.0, storage: str = "mask", index_bits: int = 0) -> float:
    """Stored bits of one table of ``n`` entries at ``bits`` per value, pruned to ``sparsity``.

    At sparsity 0 every storage is dense (no mask, no index: nothing is pruned).
    """
    if storage not in STORAGE:
        raise EvosearchError(f"embedding storage {storage!r}; allowed: {', '.join(STORAGE)}")
    if sparsity <= 0 or storage == "dense":
        return float(n) * bits
    kept = kept_entries(n, sparsity)
    if storage == "index":
        return float(kept) * (bits + index_bits)
    return float(n) + float(kept) * bits


def embedding_tables_bits(arch, bits: int, sparsity: float = 0.0, storage: str = "mask", index_bits: int = 0) -> float:
    """Stored bits of all three lookup tables (see :func:`table_bits`)."""
    return sum(table_bits(r * w, bits, sparsity, storage, index_bits) for r, w in table_shapes(arch).values())
