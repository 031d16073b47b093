"""Load an exported deployment and run it with early exit on ONNX Runtime: :func:`load_deployed`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import EvosearchError

FORMAT_VERSION = 2
KIND = "evosearch-deployment"


class DeployError(EvosearchError):
    """An export that cannot be written, or a folder that is not a readable deployment."""


def read_weights(folder: Path, description: dict) -> dict:
    """The float32 state dict of ``weights.safetensors`` (quantized tensors decoded from their codes)."""
    from safetensors.numpy import load_file

    from .codec import decode

    arrays = load_file(str(folder / "weights.safetensors"))
    state = {}
    for name, meta in description["tensors"].items():
        stored = dict(meta)
        for key in ("values", "codes", "scales", "exp_min", "mask"):
            if f"{name}::{key}" in arrays:
                stored[key] = arrays[f"{name}::{key}"]
        state[name] = decode(stored)
    return state


class DeployedModel:
    """A stand-alone compressed model: tokenizer, ONNX Runtime graphs with exit ramps, thresholds.

    ``predict(texts)`` returns ``(labels, exit_layers)``: class ids, and the 0-based layer whose
    off-ramp answered (as :func:`evosearch.supernet.early_exit`). Inputs that exit are dropped
    from the batch, so later layers run only for the inputs still undecided. ``threads`` is ONNX
    Runtime's intra-op thread count.
    """

    def __init__(self, folder: str | Path, threads: int = 1):
        from .onnx import OnnxRunner

        folder = Path(folder)
        desc_file = folder / "model.json"
        if not desc_file.is_file() or not (folder / "onnx" / "manifest.json").is_file():
            raise DeployError(f"{folder} is not an evosearch deployment (expected model.json and onnx/; "
                              "create one with `evosearch export`)")
        try:
            description = json.loads(desc_file.read_text())
        except ValueError as err:
            raise DeployError(f"{desc_file} is not valid JSON ({err})") from None
        if description.get("kind") != KIND or description.get("format_version") != FORMAT_VERSION:
            raise DeployError(f"{desc_file}: not a deployment of format {FORMAT_VERSION} "
                              f"(kind={description.get('kind')!r}, format={description.get('format_version')!r}); "
                              "export it again with this evosearch")
        from ..supernet import SubnetConfig

        self.folder = folder
        self.description = description
        self.config = SubnetConfig.from_dict(description["config"])
        self.thresholds = [float(t) for t in description["thresholds"]]
        self.max_length = int(description.get("task", {}).get("max_length") or 128)
        self.label_names = description.get("task", {}).get("label_names")
        self.runner = OnnxRunner(folder / "onnx", threads=threads)
        segments = self.runner.manifest["segments"]
        # int8 kernels where the config's bits allow (older exports: any int8 segment says so)
        self.int8 = bool(self.runner.manifest.get("int8", any(s["int8"] for s in segments)))
        self._tokenizer = None

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.folder / "tokenizer")
        return self._tokenizer

    @property
    def num_layers(self) -> int:
        return self.runner.num_layers

    def __repr__(self) -> str:
        layers = ", ".join(f"{l.heads}h/{l.ffn}n/{l.bits}b" for l in self.config.layers)
        return f"DeployedModel({self.folder}, layers=[{layers}], thresholds={self.thresholds})"

    def torch_model(self):
        """The exported sub-network as a torch :class:`~evosearch.supernet.Supernet` (from weights.safetensors)."""
        from ..supernet import Architecture, SubnetConfig, Supernet

        d = self.description
        model = Supernet(Architecture.from_dict(d["architecture"]), span_ramp=d["span_ramp"],
                         default_config=SubnetConfig.from_dict(d["runtime_config"]))
        model.load_state_dict(read_weights(self.folder, d))
        return model.eval()

    # ------------------------------------------------------------------ inference
    def exit_logits(self, input_ids, attention_mask=None, token_type_ids=None) -> list[np.ndarray]:
        """The logits of every active exit (one array per ONNX segment), without early exit."""
        return self.runner.exit_logits(_np(input_ids), _np(attention_mask), _np(token_type_ids))

    def predict_batch(self, input_ids, attention_mask=None, token_type_ids=None, early_exit: bool = True):
        """``(labels, exit_layers)`` numpy arrays for one tokenized batch."""
        return self.runner.predict(_np(input_ids), _np(attention_mask), _np(token_type_ids), early_exit=early_exit)

    def tokenize(self, texts, text_pairs=None, tensors: str = "np"):
        args = (list(texts),) if text_pairs is None else (list(texts), list(text_pairs))
        return self.tokenizer(*args, truncation=True, max_length=self.max_length, padding=True, return_tensors=tensors)

    def predict(self, texts, text_pairs=None, batch_size: int = 1, early_exit: bool = True):
        """Class ids and 0-based exit layers (two lists) for ``texts`` (one string or a list).

        ``batch_size`` 1 (default) runs every sentence at its own length, as a deployment serving
        one request at a time does.
        """
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
            correct += int((p == _np(batch["labels"])).sum())
            total += len(p)
            counts += np.bincount(e, minlength=self.num_layers)
        return {"accuracy": correct / max(total, 1), "examples": total,
                "exit_distribution": (counts / max(total, 1)).tolist(),
                "mean_exit_layer": float(((np.arange(self.num_layers) + 1) * counts).sum() / max(total, 1))}


def _np(x):
    if x is None:
        return None
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def load_deployed(folder: str | Path, threads: int = 1) -> DeployedModel:
    """Load a folder written by ``evosearch export`` (see :class:`DeployedModel`)."""
    return DeployedModel(folder, threads=threads)
