"""Value types every stage shares, free of torch: the shape of an encoder, a sub-network, the
bounds a supernet was trained for, spans relative to a task's lengths."""

from .architecture import POOLINGS, PRUNING_CRITERIA, Architecture
from .bounds import SupernetBounds, TrainingSpace, TrainingSpaceError
from .spans import default_ramp, reference_length, span_tokens
from .subnet import INT8_MAX_BITS, QUANT_SCHEMES, SUPPORTED_BITS, LayerConfig, SubnetConfig, SubnetConfigError

__all__ = [
    "INT8_MAX_BITS", "POOLINGS", "PRUNING_CRITERIA", "QUANT_SCHEMES", "SUPPORTED_BITS", "Architecture", "LayerConfig", "SubnetConfig",
    "SubnetConfigError", "SupernetBounds", "TrainingSpace", "TrainingSpaceError", "default_ramp", "reference_length", "span_tokens",
]
