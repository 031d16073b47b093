"""The weight-sharing ALBERT-family supernetwork: forward, exits, extraction, loading.

Its value types (:class:`Architecture`, :class:`SubnetConfig`, ...) live in the torch-free
:mod:`evosearch.specs` and are re-exported here.
"""

from ..specs import QUANT_SCHEMES, SUPPORTED_BITS, Architecture, LayerConfig, SubnetConfig, SubnetConfigError
from .exits import early_exit, exit_entropy
from .extract import extract
from .inference import collect_exit_logits, exit_accuracies
from .loading import ModelLoadError, default_model_path, load_pretrained, supernet_from_hf
from .model import Supernet

__all__ = [
    "Architecture", "LayerConfig", "ModelLoadError", "QUANT_SCHEMES", "SUPPORTED_BITS", "SubnetConfig",
    "SubnetConfigError", "Supernet", "collect_exit_logits", "default_model_path", "early_exit", "exit_accuracies",
    "exit_entropy", "extract", "load_pretrained", "supernet_from_hf",
]
