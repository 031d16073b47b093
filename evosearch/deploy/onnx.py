"""The deployment engine: a sub-network as ONNX graphs that ONNX Runtime runs with early exit.

Shape of the export (``DIR/onnx/``): one graph per *segment*. A segment is a run of layers that
ends at an active exit: an exit whose threshold is above 0 (so an input may leave there), or
the last layer. Graph ``k`` takes the hidden states (the first graph: the token ids) and the
attention mask, runs its layers and the exit ramp after its last layer, and returns the hidden
states and that exit's logits. A small runner (:class:`OnnxRunner`, or the dozen lines of numpy
in the README) runs the graphs in turn and stops at the first confident exit.

Why this shape: early exit is control flow that depends on the data. ONNX can express it (``If``
or ``Loop`` nodes), but ONNX Runtime's quantization tools and graph optimisations work on plain
graphs, and one graph per layer would pay a session call (tens of µs) even where no input can
leave. Segments keep every graph static and quantizable, and cost exactly one call per exit an
input passes. The graphs are made by ``torch.onnx.export`` from the same encoder loop the
supernet runs (:meth:`Supernet.run_layer`), on the extracted sub-network's weights.

Precision: the weight matrices of layers at <= 8 bits (and ALBERT's embedding projection at
<= 8-bit embeddings) become int8 with ``onnxruntime.quantization.quantize_dynamic`` (per output
channel, symmetric, ``reduce_range``: codes in [-64, 64], so that ONNX Runtime's uint8 x int8
kernel computes exact products on every x86 CPU, VNNI or not,
:data:`evosearch.supernet.quantize.ENGINE_WEIGHT_LEVELS`; activations are quantized per tensor
at run time); everything else, exit ramps included, stays float32.

``onnx/manifest.json`` says whether int8 was asked for (``int8``) and lists the segments (file,
layers, exit threshold in nats; ``null`` for the last, which always answers), the inputs and the
tokenizer's maximum length.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..latency.model import segments
from ..specs import INT8_MAX_BITS
from ..supernet import SubnetConfig, Supernet

OPSET = 17
MANIFEST = "manifest.json"


def int8_blocks(model: Supernet, config: SubnetConfig) -> set[int]:
    """Blocks of the extracted ``model`` whose layers run at <= 8 bits (one bit width per extracted block)."""
    return {b for b, layer in zip(model.arch.block_of_layer, config.layers) if layer.bits <= INT8_MAX_BITS}


class _Segment(nn.Module):
    """Layers ``first..last`` of an extracted sub-network and the exit after ``last`` (embeddings first when ``embed``)."""

    def __init__(self, model: Supernet, first: int, last: int, embed: bool):
        super().__init__()
        self.model, self.first, self.last, self.embed = model, first, last, embed

    def forward(self, inputs, attention_mask, token_type_ids=None):
        weights = self.model.subnet_weights()
        x = self.model.embed(inputs, token_type_ids, weights) if self.embed else inputs
        padding = self.model.padding_bias(attention_mask, x.dtype)
        for layer in range(self.first, self.last + 1):
            x = self.model.run_layer(layer, x, padding, weights)
        return x, self.model.exit_logits_at(self.last, x, attention_mask)


def export_onnx(model: Supernet, config: SubnetConfig, thresholds, folder: str | Path, *, max_length: int | None,
                int8: bool = True, label_names=None) -> dict:
    """Write ``folder/segment<k>.onnx`` and ``folder/manifest.json`` for the extracted ``model``.

    ``config`` is the sub-network's config (its bit widths decide int8); ``thresholds`` the exit
    thresholds in nats (one per exit but the last). Returns the manifest.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    L = model.arch.num_layers
    quantized_blocks = int8_blocks(model, config) if int8 else set()
    quantize_projection = int8 and config.embedding_bits <= INT8_MAX_BITS and model.embeddings.projection is not None
    example = torch.randint(1, max(2, model.arch.vocab_size), (1, 8))
    mask, types = torch.ones_like(example), torch.zeros_like(example)
    manifest = {"format": "evosearch-onnx", "format_version": 1, "opset": OPSET, "max_length": max_length,
                "num_layers": L, "label_names": label_names, "int8": bool(int8), "segments": []}
    with torch.no_grad():
        hidden = None
        for k, (first, last) in enumerate(segments(thresholds, L)):
            module = _Segment(model, first, last, embed=k == 0).eval()
            if k == 0:
                args, names = (example, mask, types), ["input_ids", "attention_mask", "token_type_ids"]
            else:
                args, names = (hidden, mask), ["hidden", "attention_mask"]
            axes = {n: {0: "batch", 1: "sequence"} for n in names}
            axes.update({"hidden_out": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}})
            path = folder / f"segment{k}.onnx"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
                torch.onnx.export(module, args, str(path), input_names=names, output_names=["hidden_out", "logits"],
                                  dynamic_axes=axes, opset_version=OPSET, dynamo=False)
            hidden = module(*args)[0]
            precision = _quantize(path, quantized_blocks, quantize_projection and k == 0, quantize_dynamic, QuantType)
            manifest["segments"].append({
                "file": path.name, "layers": list(range(first, last + 1)),
                "exit_threshold": float(thresholds[last]) if last < L - 1 else None,
                "inputs": names, "int8": precision,
            })
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def _quantize(path: Path, blocks: set[int], projection: bool, quantize_dynamic, QuantType) -> bool:
    """Turn the weight MatMuls of ``blocks`` (and the embedding projection) into int8; True if any."""
    import onnx

    graph = onnx.load(str(path)).graph
    prefixes = tuple(f"/blocks.{b}/" for b in sorted(blocks)) + (("/embeddings/",) if projection else ())
    weights = {init.name for init in graph.initializer}
    nodes = [n.name for n in graph.node
             if n.op_type in ("MatMul", "Gemm") and n.name.startswith(prefixes) and any(i in weights for i in n.input)]
    if not nodes or not prefixes:
        return False
    tmp = path.with_name(path.stem + ".int8.onnx")
    import logging

    logging.getLogger().setLevel(logging.ERROR)  # onnxruntime's "consider pre-processing" advice
    quantize_dynamic(str(path), str(tmp), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
                     nodes_to_quantize=nodes)
    tmp.replace(path)
    return True


@dataclass
class OnnxRunner:
    """Runs an exported deployment with ONNX Runtime, stopping each input at its first confident exit."""

    folder: Path
    threads: int = 1

    def __post_init__(self):
        import onnxruntime as ort

        self.folder = Path(self.folder)
        self.manifest = json.loads((self.folder / MANIFEST).read_text())
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(self.threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.sessions = [ort.InferenceSession(str(self.folder / s["file"]), options, providers=["CPUExecutionProvider"])
                         for s in self.manifest["segments"]]

    @property
    def num_layers(self) -> int:
        return int(self.manifest["num_layers"])

    def predict(self, input_ids, attention_mask=None, token_type_ids=None, early_exit: bool = True):
        """``(labels, exit_layers)`` numpy arrays for one padded batch; inputs that exit leave the batch."""
        ids = np.asarray(input_ids, dtype=np.int64)
        mask = np.ones_like(ids) if attention_mask is None else np.asarray(attention_mask, dtype=np.int64)
        types = np.zeros_like(ids) if token_type_ids is None else np.asarray(token_type_ids, dtype=np.int64)
        n = len(ids)
        labels = np.zeros(n, dtype=np.int64)
        exits = np.full(n, self.num_layers - 1, dtype=np.int64)
        alive = np.arange(n)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        for segment, session in zip(self.manifest["segments"], self.sessions):
            hidden, logits = session.run(None, feeds)
            limit = segment["exit_threshold"]
            done = np.ones(len(alive), bool) if limit is None else (entropy(logits) < limit) & early_exit
            labels[alive[done]] = logits[done].argmax(-1)
            exits[alive[done]] = segment["layers"][-1]
            keep = ~done
            alive, mask = alive[keep], mask[keep]
            if not len(alive):
                break
            feeds = {"hidden": hidden[keep], "attention_mask": mask}
        return labels, exits

    def exit_logits(self, input_ids, attention_mask=None, token_type_ids=None) -> list[np.ndarray]:
        """The logits of every segment's exit, no early exit (one array per segment)."""
        ids = np.asarray(input_ids, dtype=np.int64)
        mask = np.ones_like(ids) if attention_mask is None else np.asarray(attention_mask, dtype=np.int64)
        types = np.zeros_like(ids) if token_type_ids is None else np.asarray(token_type_ids, dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        out = []
        for session in self.sessions:
            hidden, logits = session.run(None, feeds)
            out.append(logits)
            feeds = {"hidden": hidden, "attention_mask": mask}
        return out


def entropy(logits: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each row's softmax, in float32 as :func:`evosearch.supernet.exit_entropy`."""
    z = logits.astype(np.float32)
    z = z - z.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return -(np.exp(log_p) * log_p).sum(axis=-1)
