"""Write an extracted sub-network as a transformers BERT/ALBERT sequence classifier (``save_pretrained``).

Only for sub-networks a plain config can describe (see :func:`evosearch.deploy.export.fits_hf`):
every layer keeps all heads, one FFN width, no attention span (fixed or learned), and ALBERT's
weight sharing in an ``AlbertConfig`` layout (groups x inner layers). The final exit's pooler and
classifier become the model's pooler and classifier; earlier exits are not part of it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..supernet import Architecture, SubnetConfig


def hf_config(arch: Architecture, ffn: int, label_names=None):
    common = dict(
        vocab_size=arch.vocab_size, hidden_size=arch.hidden_size, num_hidden_layers=arch.num_layers,
        num_attention_heads=arch.hidden_size // arch.head_dim, intermediate_size=ffn, hidden_act=arch.hidden_act,
        max_position_embeddings=arch.max_position_embeddings, type_vocab_size=arch.type_vocab_size,
        layer_norm_eps=arch.layer_norm_eps, hidden_dropout_prob=arch.hidden_dropout,
        attention_probs_dropout_prob=arch.attention_dropout, num_labels=arch.num_labels,
        pad_token_id=arch.pad_token_id,
    )
    if label_names:
        common["id2label"] = {i: str(n) for i, n in enumerate(label_names)}
        common["label2id"] = {str(n): i for i, n in enumerate(label_names)}
    if arch.model_type == "albert":
        from transformers import AlbertConfig

        from .export import hf_layout

        layers, groups, inner = hf_layout(arch)
        common["num_hidden_layers"] = layers
        return AlbertConfig(embedding_size=arch.embedding_size, num_hidden_groups=groups, inner_group_num=inner,
                            classifier_dropout_prob=arch.classifier_dropout, **common)
    from transformers import BertConfig

    return BertConfig(classifier_dropout=arch.classifier_dropout, **common)


def save_hf(extracted, config: SubnetConfig, folder: Path, tokenizer=None, label_names=None) -> Path:
    from transformers import AlbertForSequenceClassification, BertForSequenceClassification

    arch = extracted.arch
    cfg = hf_config(arch, config.layers[0].ffn, label_names)
    if arch.model_type == "albert":
        model = AlbertForSequenceClassification(cfg).eval()
        base = model.albert
        layers = [layer for group in base.encoder.albert_layer_groups for layer in group.albert_layers]
        pairs_of = lambda l: {  # noqa: E731
            "query": l.attention.query, "key": l.attention.key, "value": l.attention.value,
            "attention_out": l.attention.dense, "attention_norm": l.attention.LayerNorm,
            "ffn_in": l.ffn, "ffn_out": l.ffn_output, "ffn_norm": l.full_layer_layer_norm}
        blocks = list(range(arch.num_blocks))
        pooler = base.pooler
    else:
        model = BertForSequenceClassification(cfg).eval()
        base = model.bert
        layers = list(base.encoder.layer)
        pairs_of = lambda l: {  # noqa: E731
            "query": l.attention.self.query, "key": l.attention.self.key, "value": l.attention.self.value,
            "attention_out": l.attention.output.dense, "attention_norm": l.attention.output.LayerNorm,
            "ffn_in": l.intermediate.dense, "ffn_out": l.output.dense, "ffn_norm": l.output.LayerNorm}
        blocks = list(arch.block_of_layer)
        pooler = base.pooler.dense
    with torch.no_grad():
        emb, ours = base.embeddings, extracted.embeddings
        emb.word_embeddings.weight.copy_(ours.word.weight)
        emb.position_embeddings.weight.copy_(ours.position.weight)
        emb.token_type_embeddings.weight.copy_(ours.token_type.weight)
        emb.LayerNorm.load_state_dict(ours.norm.state_dict())
        if ours.projection is not None:
            base.encoder.embedding_hidden_mapping_in.load_state_dict(ours.projection.state_dict())
        for layer, b in zip(layers, blocks):
            block = extracted.blocks[b]
            for name, module in pairs_of(layer).items():
                module.load_state_dict(getattr(block, name).state_dict())
        last = extracted.ramps[arch.num_layers - 1]
        pooler.load_state_dict(last.pooler.state_dict())
        model.classifier.load_state_dict(last.classifier.state_dict())
    folder = Path(folder)
    model.save_pretrained(folder)
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
    return folder
