"""The weight-sharing ALBERT-family supernetwork: configs, forward, exits, extraction, loading."""

from .architecture import Architecture
from .exits import early_exit, exit_entropy
from .extract import extract
from .inference import collect_exit_logits, exit_accuracies
from .loading import ModelLoadError, default_model_path, load_pretrained, supernet_from_hf
from .model import Supernet
from .subnet import QUANT_SCHEMES, SUPPORTED_BITS, LayerConfig, SubnetConfig, SubnetConfigError

__all__ = [
    "Architecture", "LayerConfig", "ModelLoadError", "QUANT_SCHEMES", "SUPPORTED_BITS", "SubnetConfig",
    "SubnetConfigError", "Supernet", "collect_exit_logits", "default_model_path", "early_exit", "exit_accuracies",
    "exit_entropy", "extract",
    "load_pretrained", "supernet_from_hf",
]
