"""A sub-network of the supernetwork: one config per virtual layer plus the embedding bit width
and the embedding sparsity.

The genes follow EdgeBERT (Tambe et al., MICRO 2021) and DynaBERT (Hou et al., NeurIPS 2020):
attention heads kept, FFN neurons kept (the first k after importance ordering), weight bit width,
adaptive attention span (Sukhbaatar et al., ACL 2019); for the whole network, the embedding bit
width and EdgeBERT's embedding pruning (``embedding_sparsity``: the fraction of each lookup
table's entries zeroed by magnitude, one threshold per table; :mod:`evosearch.specs.embedding`).
Exit thresholds are *not* part of a
sub-network: they are applied after the forward pass (see :mod:`evosearch.supernet.exits`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from ..errors import EvosearchError
from .architecture import Architecture
from .embedding import check_embedding_sparsity

SUPPORTED_BITS = (2, 3, 4, 5, 6, 7, 8, 16, 32)
QUANT_SCHEMES = ("int", "adaptivfloat")
# Layers at or below this weight width run on int8 kernels in the deployment engine (ONNX Runtime's
# dynamic quantization); wider ones run float32. One definition for the export, the latency model
# and the supernet's simulation of the engine.
INT8_MAX_BITS = 8


class SubnetConfigError(EvosearchError, ValueError):
    """A sub-network config that the supernetwork cannot run; the message names layer and field."""


@dataclass(frozen=True)
class LayerConfig:
    """What one virtual layer keeps.

    heads: attention heads kept (the first ``heads`` of the block).
    ffn: FFN neurons kept (the first ``ffn`` of the block).
    bits: weight bit width of this layer's matrices (32 = float, no quantization).
    span: attention span in tokens (None = unlimited).
    sparsity: fraction of each weight row set to zero (unstructured; 0 = dense), chosen by the
    supernet's pruning criterion (``Architecture.pruning``: magnitude or movement scores).
    """

    heads: int
    ffn: int
    bits: int = 32
    span: int | None = None
    sparsity: float = 0.0


@dataclass(frozen=True)
class SubnetConfig:
    layers: tuple[LayerConfig, ...]
    embedding_bits: int = 32
    quant: str = "int"  # "int" (symmetric per-channel) or "adaptivfloat" (Tambe et al., DAC 2020)
    embedding_sparsity: float = 0.0  # fraction of each embedding table pruned by magnitude (EdgeBERT: 0.6)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))

    @classmethod
    def largest(cls, arch: Architecture) -> "SubnetConfig":
        return cls(tuple(LayerConfig(arch.heads_of_layer(i), arch.ffn_of_layer(i)) for i in range(arch.num_layers)))

    @classmethod
    def uniform(
        cls,
        arch: Architecture,
        fraction: float = 1.0,
        bits: int = 32,
        span: int | None = None,
        embedding_bits: int = 32,
        quant: str = "int",
        embedding_sparsity: float = 0.0,
    ) -> "SubnetConfig":
        """The same fraction of heads and neurons in every layer (DynaBERT's width multiplier)."""
        layers = tuple(
            LayerConfig(
                heads=max(1, round(arch.heads_of_layer(i) * fraction)),
                ffn=max(1, round(arch.ffn_of_layer(i) * fraction)),
                bits=bits,
                span=span,
            )
            for i in range(arch.num_layers)
        )
        return cls(layers, embedding_bits=embedding_bits, quant=quant, embedding_sparsity=embedding_sparsity)

    def with_layers(self, **changes) -> "SubnetConfig":
        """A copy with the given LayerConfig fields changed in every layer."""
        return replace(self, layers=tuple(replace(layer, **changes) for layer in self.layers))

    def to_dict(self) -> dict:
        return {"layers": [asdict(layer) for layer in self.layers], "embedding_bits": self.embedding_bits,
                "quant": self.quant, "embedding_sparsity": self.embedding_sparsity}

    @classmethod
    def from_dict(cls, data: dict) -> "SubnetConfig":
        try:
            layers = tuple(LayerConfig(**layer) for layer in data["layers"])
        except (KeyError, TypeError) as err:
            raise SubnetConfigError(
                f"a sub-network config needs 'layers': a list of {{heads, ffn, bits, span, sparsity}} mappings ({err})"
            ) from None
        # configs written before embedding pruning have no embedding_sparsity: dense embeddings
        return cls(layers, embedding_bits=data.get("embedding_bits", 32), quant=data.get("quant", "int"),
                   embedding_sparsity=data.get("embedding_sparsity", 0.0))

    def validate(self, arch: Architecture) -> None:
        """Raise :class:`SubnetConfigError` naming the layer, the field and the allowed range."""
        if len(self.layers) != arch.num_layers:
            raise SubnetConfigError(
                f"the config has {len(self.layers)} layers; this model has {arch.num_layers} virtual layers"
            )
        if self.quant not in QUANT_SCHEMES:
            raise SubnetConfigError(f"quant={self.quant!r}; allowed: {', '.join(QUANT_SCHEMES)}")
        if self.embedding_bits not in SUPPORTED_BITS:
            raise SubnetConfigError(
                f"embedding_bits={self.embedding_bits}; allowed: {', '.join(map(str, SUPPORTED_BITS))}"
            )
        check_embedding_sparsity(self.embedding_sparsity)
        for i, layer in enumerate(self.layers):
            _check_int_range(i, "heads", layer.heads, 1, arch.heads_of_layer(i))
            _check_int_range(i, "ffn", layer.ffn, 1, arch.ffn_of_layer(i))
            if layer.bits not in SUPPORTED_BITS:
                raise SubnetConfigError(
                    f"layer {i}: bits={layer.bits}; allowed: {', '.join(map(str, SUPPORTED_BITS))}"
                )
            if layer.span is not None:
                _check_int_range(i, "span", layer.span, 1, arch.max_position_embeddings)
            if isinstance(layer.sparsity, bool) or not isinstance(layer.sparsity, (int, float)) or not 0 <= layer.sparsity < 1:
                raise SubnetConfigError(f"layer {i}: sparsity={layer.sparsity!r}; allowed: a fraction in [0, 1)")


def _check_int_range(layer: int, field: str, value, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SubnetConfigError(f"layer {layer}: {field}={value!r}; allowed: an integer in [{low}, {high}]")
