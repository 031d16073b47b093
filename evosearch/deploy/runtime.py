"""Load an exported deployment and run it with early exit: :func:`load_deployed`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..errors import EvosearchError
from ..supernet import Architecture, SubnetConfig, Supernet
from ..supernet.exits import exit_entropy
from ..supernet.span import span_bias
from .codec import decode

FORMAT_VERSION = 1
KIND = "evosearch-deployment"


class DeployError(EvosearchError):
    """An export that cannot be written, or a folder that is not a readable deployment."""


def read_weights(folder: Path, description: dict) -> dict[str, torch.Tensor]:
    """The float32 state dict of an export (quantized tensors decoded from their codes)."""
    from safetensors.numpy import load_file

    arrays = load_file(str(folder / "weights.safetensors"))
    state = {}
    for name, meta in description["tensors"].items():
        stored = dict(meta)
        for key in ("values", "codes", "scales", "exp_min"):
            if f"{name}::{key}" in arrays:
                stored[key] = arrays[f"{name}::{key}"]
        state[name] = decode(stored)
    return state


class DeployedModel:
    """A stand-alone compressed model: tokenizer, sliced/quantized weights, exit ramps, thresholds.

    ``predict(texts)`` returns ``(labels, exit_layers)``: class ids, and the 0-based layer whose
    off-ramp answered (as :func:`evosearch.supernet.early_exit`). Inputs that exit are dropped
    from the batch, so later layers run only for the inputs still undecided.
    """

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        desc_file = folder / "model.json"
        if not desc_file.is_file() or not (folder / "weights.safetensors").is_file():
            raise DeployError(f"{folder} is not an evosearch deployment (expected model.json and "
                              "weights.safetensors; create one with `evosearch export`)")
        description = json.loads(desc_file.read_text())
        if description.get("kind") != KIND or description.get("format_version") != FORMAT_VERSION:
            raise DeployError(f"{desc_file}: not a deployment of format {FORMAT_VERSION} "
                              f"(kind={description.get('kind')!r}, format={description.get('format_version')!r})")
        self.folder = folder
        self.description = description
        self.arch = Architecture.from_dict(description["architecture"])
        self.config = SubnetConfig.from_dict(description["config"])
        fixed = SubnetConfig.from_dict(description["runtime_config"])
        self.model = Supernet(self.arch, span_ramp=description["span_ramp"], default_config=fixed)
        self.model.load_state_dict(read_weights(folder, description))
        self.model.eval()
        self.thresholds = [float(t) for t in description["thresholds"]]
        self.max_length = int(description.get("task", {}).get("max_length") or 128)
        self.label_names = description.get("task", {}).get("label_names")
        self._tokenizer = None
        self._weights = [self.model.blocks[b].sliced_weights(layer, fixed.quant)
                         for b, layer in zip(self.arch.block_of_layer, fixed.layers)]

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.folder / "tokenizer")
        return self._tokenizer

    @property
    def num_layers(self) -> int:
        return self.arch.num_layers

    def __repr__(self) -> str:
        layers = ", ".join(f"{l.heads}h/{l.ffn}n/{l.bits}b" for l in self.config.layers)
        return f"DeployedModel({self.folder}, layers=[{layers}], thresholds={self.thresholds})"

    # ------------------------------------------------------------------ inference
    def exit_logits(self, input_ids, attention_mask=None, token_type_ids=None) -> torch.Tensor:
        """Every exit's logits ``(num_layers, batch, labels)`` (no early exit)."""
        with torch.inference_mode():
            return self.model(input_ids, attention_mask, token_type_ids)

    @torch.inference_mode()
    def predict_batch(self, input_ids, attention_mask=None, token_type_ids=None, early_exit: bool = True):
        """``(preds, exit_layers)`` tensors for one tokenized batch."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        m = self.model
        fixed = m.default_config
        x = m.embeddings(input_ids, token_type_ids, fixed.embedding_bits, fixed.quant)
        padding = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        n, seq_len = input_ids.shape
        preds = torch.zeros(n, dtype=torch.long)
        exits = torch.full((n,), self.num_layers - 1, dtype=torch.long)
        alive = torch.arange(n)
        mask = attention_mask
        L = self.num_layers
        for i, (b, layer) in enumerate(zip(self.arch.block_of_layer, fixed.layers)):
            bias = padding
            if layer.span is not None:
                bias = padding + span_bias(seq_len, layer.span, m.span_ramp, x.device).to(x.dtype)
            x = m.blocks[b](x, bias, self._weights[i])
            logits = m.ramps[i](x, mask)
            if i == L - 1 or not early_exit:
                if i == L - 1:
                    preds[alive] = logits.argmax(-1)
                    exits[alive] = i
                continue
            limit = torch.as_tensor(self.thresholds[i] if i < len(self.thresholds) else 0.0, dtype=torch.float32)
            done = exit_entropy(logits[None])[0] < limit
            if done.any():
                preds[alive[done]] = logits[done].argmax(-1)
                exits[alive[done]] = i
                keep = ~done
                alive, x, padding, mask = alive[keep], x[keep], padding[keep], mask[keep]
                if len(alive) == 0:
                    break
        return preds, exits

    def tokenize(self, texts, text_pairs=None):
        args = (list(texts),) if text_pairs is None else (list(texts), list(text_pairs))
        return self.tokenizer(*args, truncation=True, max_length=self.max_length, padding=True, return_tensors="pt")

    def predict(self, texts, text_pairs=None, batch_size: int = 32, early_exit: bool = True):
        """Class ids and 0-based exit layers (two lists) for ``texts`` (one string or a list)."""
        if isinstance(texts, str):
            texts = [texts]
            text_pairs = [text_pairs] if isinstance(text_pairs, str) else text_pairs
        texts = list(texts)
        labels, exits = [], []
        for start in range(0, len(texts), batch_size):
            enc = self.tokenize(texts[start:start + batch_size],
                                None if text_pairs is None else text_pairs[start:start + batch_size])
            p, e = self.predict_batch(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids"),
                                      early_exit=early_exit)
            labels += p.tolist()
            exits += e.tolist()
        return labels, exits

    def evaluate_batches(self, batches, early_exit: bool = True) -> dict:
        """Accuracy and exit distribution on pre-tokenized batches (``evosearch.data.make_eval_batches``)."""
        correct, total = 0, 0
        counts = np.zeros(self.num_layers)
        for batch in batches:
            p, e = self.predict_batch(batch["input_ids"], batch.get("attention_mask"), batch.get("token_type_ids"),
                                      early_exit=early_exit)
            correct += int((p == batch["labels"]).sum())
            total += len(p)
            counts += np.bincount(e.numpy(), minlength=self.num_layers)
        return {"accuracy": correct / max(total, 1), "examples": total,
                "exit_distribution": (counts / max(total, 1)).tolist(),
                "mean_exit_layer": float(((np.arange(self.num_layers) + 1) * counts).sum() / max(total, 1))}


def load_deployed(folder: str | Path) -> DeployedModel:
    """Load a folder written by ``evosearch export`` (see :class:`DeployedModel`)."""
    return DeployedModel(folder)
