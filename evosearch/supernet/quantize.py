"""Weight fake-quantization with a straight-through estimator (Bengio et al., 2013).

Two schemes, as EdgeBERT (Tambe et al., MICRO 2021) offers:

* ``int``: symmetric integer quantization with one scale per output channel (row), the
  common baseline (Jacob et al., CVPR 2018; Q8BERT, Zafrir et al. 2019).
* ``adaptivfloat``: AdaptivFloat (Tambe et al., DAC 2020): sign, ``e`` exponent bits and
  ``m = n - 1 - e`` mantissa bits, with the exponent bias chosen per tensor from its largest
  magnitude so that the format's range sits where the weights are. The all-zero code of the
  smallest exponent stands for 0, so the smallest positive value is ``2**exp_min * (1 + 2**-m)``.

Quantized values are returned as floats on the quantization grid ("fake" quantization); the
gradient passes straight through to the float weights.

The deployment engine's int8 arithmetic is simulated too (:func:`engine_int8_weight`,
:func:`engine_int8_activations`), so that the supernet's accuracy estimate is the accuracy of the
shipped model: ONNX Runtime's dynamic quantization stores the weights of layers at <= 8 bits as
int8 codes in [-64, 64] (symmetric, per output channel: ``reduce_range``, see
:data:`ENGINE_WEIGHT_LEVELS`) and quantizes each matrix product's input at run time to uint8
(asymmetric, one scale per tensor from its range including 0; ``DynamicQuantizeLinear`` in the
ONNX specification, the scheme of Jacob et al., CVPR 2018).
"""

from __future__ import annotations

import torch

#: Weight codes of the deployment engine's int8 matrices: [-64, 64] per output channel, as
#: ``quantize_dynamic(..., reduce_range=True)`` stores them. The full int8 range would make ONNX
#: Runtime's uint8 x int8 kernel wrong on x86 CPUs without VNNI: it adds pairs of products in a
#: saturating 16-bit instruction (VPMADDUBSW; ONNX Runtime's quantization guide, "When and why do I
#: need to try U8U8?"), and 2 x 255 x 127 overflows 16 bits while 2 x 255 x 64 = 32,640 does not.
#: Measured on an AVX2 CPU without VNNI: a 32 x 384 x 1536 product 15 % off with full-range codes,
#: exact with these; the uint8 x uint8 kernel, also exact, was 25 % slower.
ENGINE_WEIGHT_LEVELS = 64

# Exponent bits of AdaptivFloat per total width; 8 bits use 3 as in EdgeBERT.
ADAPTIVFLOAT_EXPONENT_BITS = {2: 1, 3: 1, 4: 2, 5: 2, 6: 3, 7: 3, 8: 3, 16: 5}


def quantize_weight(weight: torch.Tensor, bits: int, scheme: str) -> torch.Tensor:
    """Quantize a weight matrix: per output row for ``int``, per tensor for ``adaptivfloat``."""
    if bits >= 32:
        return weight
    if scheme == "int":
        quantized = _int_grid(weight, bits)
    elif scheme == "adaptivfloat":
        quantized = _adaptivfloat_grid(weight, bits, weight.detach().abs().max())
    else:
        raise ValueError(f"unknown quantization scheme {scheme!r}")
    return _straight_through(weight, quantized)


def quantize_rows(rows: torch.Tensor, bits: int, scheme: str) -> torch.Tensor:
    """Quantize each row (last dimension) on its own: used for embedding vectors.

    Row-wise scaling makes quantizing looked-up rows identical to looking up rows of the
    quantized table, so the full vocabulary table is never quantized per forward pass.
    """
    if bits >= 32:
        return rows
    if scheme == "int":
        quantized = _int_grid(rows, bits)
    elif scheme == "adaptivfloat":
        quantized = _adaptivfloat_grid(rows, bits, rows.detach().abs().amax(dim=-1, keepdim=True))
    else:
        raise ValueError(f"unknown quantization scheme {scheme!r}")
    return _straight_through(rows, quantized)


def engine_int8_weight(weight: torch.Tensor) -> torch.Tensor:
    """A weight matrix as the engine stores it at int8: per output channel, symmetric over the
    codes [-64, 64] (:data:`ENGINE_WEIGHT_LEVELS`). Exact for 7-bit ``int`` weights; other grids
    at <= 8 bits (8 bits, fewer bits, AdaptivFloat) are rounded onto it, as ``quantize_dynamic``
    does."""
    return _straight_through(weight, _symmetric_grid(weight, ENGINE_WEIGHT_LEVELS))


def engine_int8_activations(x: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """A matrix product's input ``x`` ``(batch, seq, features)`` as the engine quantizes it at run
    time: uint8 with one scale and zero point per tensor, from its range widened to include 0.

    The deployment runs one sentence at a time, so the range is taken per batch row over its
    ``valid`` tokens ``(batch, seq)`` (None: all); the padding of an evaluation batch and the
    other sentences in it change nothing.
    """
    values = x.detach()
    low, high = torch.aminmax(values, dim=-1)  # per token first: padding is dropped on (batch, seq), not on x
    if valid is not None:
        padding = ~valid.bool()
        low, high = low.masked_fill(padding, 0), high.masked_fill(padding, 0)
    low = low.amin(dim=1).clamp(max=0)[:, None, None]
    high = high.amax(dim=1).clamp(min=0)[:, None, None]
    scale = ((high - low) / 255).clamp_min(torch.finfo(x.dtype).tiny)
    zero = torch.round(-low / scale)
    # the uint8 code minus the zero point, clamped to the codes 0..255
    quantized = values.div(scale).round_().clamp_(min=-zero, max=255 - zero).mul_(scale)
    return _straight_through(x, quantized) if x.requires_grad else quantized


def _straight_through(weight: torch.Tensor, quantized: torch.Tensor) -> torch.Tensor:
    return weight + (quantized - weight).detach()


def _int_grid(weight: torch.Tensor, bits: int) -> torch.Tensor:
    return _symmetric_grid(weight, 2 ** (bits - 1) - 1)


def _symmetric_grid(weight: torch.Tensor, levels: int) -> torch.Tensor:
    """Round each row onto ``scale * [-levels, levels]``, ``scale = max |row| / levels``."""
    w = weight.detach()
    scale = w.abs().amax(dim=-1, keepdim=True).clamp_min(1e-12) / levels
    return torch.clamp(torch.round(w / scale), -levels, levels) * scale


def _adaptivfloat_grid(weight: torch.Tensor, bits: int, max_abs: torch.Tensor) -> torch.Tensor:
    exp_bits = ADAPTIVFLOAT_EXPONENT_BITS[bits]
    man_bits = bits - 1 - exp_bits
    w = weight.detach()
    exp_max = torch.floor(torch.log2(max_abs.clamp_min(1e-30)))
    exp_min = exp_max - (2**exp_bits - 1)
    value_max = 2.0**exp_max * (2 - 2.0**-man_bits)
    value_min = 2.0**exp_min * (1 + 2.0**-man_bits)

    magnitude = w.abs().clamp(max=value_max)
    exponent = torch.floor(torch.log2(magnitude.clamp_min(1e-30))).clamp(min=exp_min, max=exp_max)
    scale = 2.0**exponent
    mantissa = torch.round((magnitude / scale - 1) * 2**man_bits) / 2**man_bits + 1
    normal = mantissa * scale
    # Below the smallest code: round to 0 or to value_min, whichever is nearer.
    tiny = torch.where(magnitude >= value_min / 2, value_min.expand_as(magnitude), torch.zeros_like(magnitude))
    return torch.sign(w) * torch.where(magnitude < value_min, tiny, normal)
