"""Store quantized weights at their bit width, and read them back exactly.

``int`` (symmetric, one scale per row, as :func:`evosearch.supernet.quantize._int_grid`):
codes ``q = clamp(round(w / s), -(2**(b-1) - 1), 2**(b-1) - 1)`` with ``s = max|row| / (2**(b-1) - 1)``
stored as unsigned ``q + 2**(b-1) - 1`` in ``b`` bits each (bit-packed), plus the float32 row
scales; the value is ``q * s`` — bit for bit what the supernet's fake quantization computes.

``adaptivfloat`` (Tambe et al., DAC 2020; one exponent bias per tensor, or per row for embedding
tables, as :mod:`evosearch.supernet.quantize`): each value is stored as its ``b``-bit code —
sign bit, ``e`` exponent bits (offset from the tensor's smallest exponent ``exp_min``, stored as
an int32), ``m`` mantissa bits; the all-zero magnitude code is 0. Values are exact powers of two
times ``1 + k / 2**m``, so decoding is exact in float32.

``b = 16`` is stored as int16 codes (int) or 16-bit codes; ``b = 32`` as float32. Packing uses
little-endian bit order within each value (``numpy.packbits(bitorder="little")``).

Pruned tensors (embedding tables at ``embedding_sparsity``, EdgeBERT's embedding pruning) are
stored sparse: ``mask``, one presence bit per entry (bit-packed, row-major), and the codes (or
float32 values) of the kept entries only, in row-major order; scales and exponent biases as for
the dense tensor. An entry the mask leaves out decodes to 0.
"""

from __future__ import annotations

import numpy as np
import torch

from ..supernet.quantize import ADAPTIVFLOAT_EXPONENT_BITS


class CodecError(ValueError):
    pass


def pack_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """Unsigned integers < 2**bits -> uint8 array holding ``bits`` bits per value."""
    v = np.asarray(values, dtype=np.uint32).reshape(-1)
    if v.size and int(v.max()) >= 2**bits:
        raise CodecError(f"value {int(v.max())} does not fit in {bits} bits")
    bit_matrix = ((v[:, None] >> np.arange(bits, dtype=np.uint32)[None, :]) & 1).astype(np.uint8)
    return np.packbits(bit_matrix.reshape(-1), bitorder="little")


def unpack_bits(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    flat = np.unpackbits(np.asarray(packed, dtype=np.uint8), bitorder="little")[: count * bits]
    bit_matrix = flat.reshape(count, bits).astype(np.uint32)
    return (bit_matrix << np.arange(bits, dtype=np.uint32)[None, :]).sum(axis=1).astype(np.uint32)


def encode(weight: torch.Tensor, bits: int, scheme: str, per_row: bool, keep: torch.Tensor | None = None) -> dict:
    """Quantize the float ``weight`` as the supernet does and return its stored form.

    ``per_row``: scales / exponent biases per row (embedding tables, and every ``int`` matrix)
    instead of per tensor (AdaptivFloat matrices). ``keep``: a boolean mask of the entries a
    pruned tensor keeps; the others are zeroed before quantizing and left out of the stored
    codes (see the module docstring). Returns a dict of numpy arrays and metadata.
    """
    w = weight.detach().float().cpu()
    if keep is None:
        return _encode_dense(w, bits, scheme, per_row)
    keep = keep.detach().bool().cpu()
    if keep.shape != w.shape:
        raise CodecError(f"keep mask of shape {list(keep.shape)} for a tensor of shape {list(w.shape)}")
    stored = _encode_dense(torch.where(keep, w, torch.zeros_like(w)), bits, scheme, per_row)
    flat = keep.reshape(-1).numpy()
    if stored["format"] == "float32":
        stored["values"] = stored["values"].reshape(-1)[flat].copy()
    else:
        codes = unpack_bits(stored["codes"], stored["bits"], flat.size)
        stored["codes"] = pack_bits(codes[flat], stored["bits"])
    stored["mask"] = np.packbits(flat.astype(np.uint8), bitorder="little")
    return stored


def _encode_dense(w: torch.Tensor, bits: int, scheme: str, per_row: bool) -> dict:
    shape = list(w.shape)
    if bits >= 32:
        return {"format": "float32", "shape": shape, "values": w.numpy().copy()}
    if scheme == "int":
        levels = 2 ** (bits - 1) - 1
        scale = w.abs().amax(dim=-1, keepdim=True).clamp_min(1e-12) / levels
        codes = torch.clamp(torch.round(w / scale), -levels, levels).to(torch.int64)
        unsigned = (codes + levels).numpy().astype(np.uint32)
        return {"format": "int", "bits": bits, "shape": shape, "scales": scale.reshape(-1).numpy().copy(),
                "codes": pack_bits(unsigned, bits)}
    if scheme == "adaptivfloat":
        exp_bits = ADAPTIVFLOAT_EXPONENT_BITS[bits]
        man_bits = bits - 1 - exp_bits
        max_abs = w.abs().amax(dim=-1, keepdim=True) if per_row else w.abs().max().reshape(1, 1)
        exp_max = torch.floor(torch.log2(max_abs.clamp_min(1e-30)))
        exp_min = exp_max - (2**exp_bits - 1)
        from ..supernet.quantize import _adaptivfloat_grid

        q = _adaptivfloat_grid(w, bits, max_abs if per_row else max_abs.reshape(()))
        mag = q.abs()
        nonzero = mag > 0
        e = torch.floor(torch.log2(torch.where(nonzero, mag, torch.ones_like(mag))))
        e_idx = (e - exp_min).to(torch.int64)
        mant = torch.round((mag / 2.0**e - 1) * 2**man_bits).to(torch.int64)
        e_idx = torch.where(nonzero, e_idx, torch.zeros_like(e_idx))
        mant = torch.where(nonzero, mant, torch.zeros_like(mant))
        if nonzero.any() and (e_idx[nonzero].min() < 0 or e_idx[nonzero].max() >= 2**exp_bits
                              or mant.max() >= 2**man_bits or bool((nonzero & (e_idx == 0) & (mant == 0)).any())):
            raise CodecError("AdaptivFloat value outside its code range")
        sign = (q < 0).to(torch.int64) & nonzero.to(torch.int64)
        code = (sign << (bits - 1)) | (e_idx << man_bits) | mant
        return {"format": "adaptivfloat", "bits": bits, "shape": shape, "exp_bits": exp_bits,
                "exp_min": exp_min.reshape(-1).numpy().astype(np.int32),
                "codes": pack_bits(code.numpy().astype(np.uint32), bits)}
    raise CodecError(f"unknown quantization scheme {scheme!r}")


def decode(stored: dict) -> torch.Tensor:
    """The float32 tensor a stored entry stands for."""
    fmt, shape = stored["format"], tuple(stored["shape"])
    count = int(np.prod(shape))
    mask = None
    if stored.get("mask") is not None:
        mask = np.unpackbits(np.asarray(stored["mask"], dtype=np.uint8), bitorder="little")[:count].astype(bool)
    if fmt == "float32":
        values = np.asarray(stored["values"], dtype=np.float32).reshape(-1)
        if mask is not None:
            values = _scatter(values, mask, 0.0, np.float32)
        return torch.as_tensor(values).reshape(shape).clone()
    bits = int(stored["bits"])
    if mask is None:
        unsigned = unpack_bits(stored["codes"], bits, count).astype(np.int64)
    else:  # the left-out entries take the code of 0: the midpoint for int, the all-zero code for AdaptivFloat
        zero = 2 ** (bits - 1) - 1 if fmt == "int" else 0
        unsigned = _scatter(unpack_bits(stored["codes"], bits, int(mask.sum())).astype(np.int64), mask, zero, np.int64)
    if fmt == "int":
        levels = 2 ** (bits - 1) - 1
        codes = torch.as_tensor(unsigned - levels, dtype=torch.float32).reshape(shape)
        scales = torch.as_tensor(np.asarray(stored["scales"], dtype=np.float32)).reshape(*shape[:-1], 1)
        return codes * scales
    if fmt == "adaptivfloat":
        exp_bits = int(stored["exp_bits"])
        man_bits = bits - 1 - exp_bits
        code = torch.as_tensor(unsigned).reshape(shape)
        sign = (code >> (bits - 1)) & 1
        e_idx = (code >> man_bits) & (2**exp_bits - 1)
        mant = code & (2**man_bits - 1)
        exp_min = torch.as_tensor(np.asarray(stored["exp_min"], dtype=np.float32))
        exp_min = exp_min.reshape(*shape[:-1], 1) if exp_min.numel() > 1 else exp_min.reshape(())
        value = torch.pow(2.0, exp_min + e_idx.float()) * (1 + mant.float() / 2**man_bits)
        value = torch.where((e_idx == 0) & (mant == 0), torch.zeros_like(value), value)
        return torch.where(sign.bool(), -value, value)
    raise CodecError(f"unknown stored format {fmt!r}")


def _scatter(kept: np.ndarray, mask: np.ndarray, fill, dtype) -> np.ndarray:
    out = np.full(mask.size, fill, dtype=dtype)
    out[mask] = kept
    return out


def stored_bytes(stored: dict) -> int:
    return sum(np.asarray(v).nbytes for k, v in stored.items() if isinstance(v, np.ndarray))
