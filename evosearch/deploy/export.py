"""Export a picked sub-network as a stand-alone, smaller model.

The export folder holds:

* ``weights.safetensors`` — the sliced weights (:func:`evosearch.supernet.extract`); quantized
  matrices stored at their bit width (:mod:`.codec`: ``int`` as bit-packed codes + float32
  per-row scales, ``adaptivfloat`` as bit-packed b-bit codes + int32 exponent biases); biases,
  LayerNorms, exit ramps and 32-bit layers as float32;
* ``model.json`` — architecture of the extracted model, the sub-network config, exit
  thresholds, the task (max length, labels), where it came from, and how each tensor is stored;
* ``tokenizer/`` — the supernet's tokenizer;
* ``hf/`` — when the sub-network fits a plain BERT/ALBERT config (every layer keeps all heads,
  one FFN width everywhere, no attention spans, dense), a transformers model with the final exit
  as its classifier (``AutoModelForSequenceClassification.from_pretrained(DIR / "hf")``); quantized
  weights are stored there as their dequantized float32 values;
* ``verification.json`` — written by :func:`evosearch.deploy.verify.verify`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import yaml

from ..supernet import SubnetConfig, extract
from .codec import CodecError, decode, encode, stored_bytes
from .runtime import FORMAT_VERSION, KIND, DeployError

BLOCK_MATRICES = ("query", "key", "value", "attention_out", "ffn_in", "ffn_out")


@dataclass
class Deployment:
    """What to export: a sub-network config, its thresholds, and where it came from."""

    config: SubnetConfig
    thresholds: list[float]
    supernet: Path
    task: str | None = None
    candidate: str | None = None
    run: str | None = None
    metrics: dict | None = None


def resolve_pick(run_folder, pick) -> Deployment:
    """A candidate id of ``run_folder`` (``c12`` or ``12``) or a pick YAML (``evosearch pick``)."""
    from ..report.run import ReportError, load_run

    path = Path(str(pick))
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise DeployError(f"pick file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise DeployError(f"{path}: not valid YAML ({err})") from None
        if not isinstance(data, dict) or "config" not in data or "thresholds" not in data:
            raise DeployError(f"{path} is not a pick file (expected 'config' and 'thresholds'; write one with "
                              "`evosearch pick`)")
        supernet = data.get("supernet")
        if run_folder is not None and not supernet:
            supernet = load_run(run_folder).supernet_path()
        if not supernet:
            raise DeployError(f"{path} names no supernet checkpoint")
        return Deployment(SubnetConfig.from_dict(data["config"]), [float(t) for t in data["thresholds"]],
                          Path(supernet), data.get("task"), data.get("candidate"), data.get("run"),
                          data.get("full_dev_metrics") or data.get("metrics"))
    if run_folder is None:
        raise DeployError(f"--pick {pick!r} is a candidate id; give the run folder too")
    run = load_run(run_folder)
    row = run.candidate(str(pick))
    supernet = run.supernet_path()
    if supernet is None:
        raise ReportError(f"{run.folder}/config.yaml does not name the supernet checkpoint ('supernet' key)")
    metrics = {m: float(row[m]) for m in run.metrics if m in row and not isinstance(row[m], str)}
    return Deployment(SubnetConfig.from_dict(json.loads(row["config"])),
                      [float(t) for t in json.loads(row["thresholds"])], supernet, run.config.get("task"),
                      row.name, str(run.folder.resolve()), metrics)


def fits_hf(config: SubnetConfig, arch) -> tuple[bool, str]:
    """Whether a plain transformers BERT/ALBERT config can hold this sub-network (and why not)."""
    if arch.pooling != "cls":
        return False, f"the exits pool with {arch.pooling!r} (transformers' classification heads read the first token)"
    if any(l.heads != arch.heads_of_layer(i) for i, l in enumerate(config.layers)):
        return False, "some layer drops attention heads (transformers needs hidden_size = heads x head size)"
    if len({l.ffn for l in config.layers}) != 1:
        return False, "the FFN width differs between layers"
    if any(l.span is not None for l in config.layers):
        return False, "attention spans are limited (transformers has no span mask)"
    if any(float(getattr(l, "sparsity", 0) or 0) for l in config.layers):
        return False, "unstructured sparsity (stored dense in hf/ would be misleading)"
    if arch.model_type == "albert" and len({(l.bits) for l in config.layers}) != 1:
        return False, "ALBERT layers would need different weights (bit widths differ), unlike shared ALBERT blocks"
    return True, ""


def _quantized_tensors(supernet, extracted, config: SubnetConfig) -> dict[str, tuple[torch.Tensor, int, bool]]:
    """name -> (float source before quantization, bits, per_row) for every quantized tensor."""
    out = {}
    eb = config.embedding_bits
    if eb < 32:
        for name in ("word", "position", "token_type"):
            out[f"embeddings.{name}.weight"] = (getattr(supernet.embeddings, name).weight, eb, True)
        if supernet.embeddings.projection is not None:
            out["embeddings.projection.weight"] = (supernet.embeddings.projection.weight, eb, False)
    seen = set()
    for i, b in enumerate(extracted.arch.block_of_layer):
        if b in seen:
            continue
        seen.add(b)
        layer = config.layers[i]
        if layer.bits >= 32:
            continue
        source = supernet.blocks[supernet.arch.block_of_layer[i]]
        floats = source.sliced_weights(replace(layer, bits=32), config.quant)
        for m in BLOCK_MATRICES:
            out[f"blocks.{b}.{m}.weight"] = (getattr(floats, m), layer.bits, False)
    return out


def export(deployment: Deployment, out: str | Path, *, overwrite: bool = False, checkpoint=None) -> Path:
    """Write the deployment folder ``out`` (see the module doc); returns it."""
    from safetensors.numpy import save_file

    from ..training import load_checkpoint

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise DeployError(f"{out} exists and is not empty; choose another --out or pass --overwrite")
        if not (out / "model.json").is_file():
            raise DeployError(f"{out} is not an earlier export (no model.json); refusing to overwrite it")
        shutil.rmtree(out)
    ckpt = checkpoint or load_checkpoint(deployment.supernet)
    supernet = ckpt.supernet.eval()
    config = deployment.config
    config.validate(supernet.arch)
    L = supernet.arch.num_layers
    if len(deployment.thresholds) not in (L - 1, L, 1):
        raise DeployError(f"{len(deployment.thresholds)} exit thresholds for {L} layers")
    with torch.no_grad():
        extracted = extract(supernet, config).eval()
    state = {k: v.detach().float().cpu() for k, v in extracted.state_dict().items()}
    quantized = _quantized_tensors(supernet, extracted, config)
    arrays, tensors, notes = {}, {}, []
    with torch.no_grad():
        for name, value in state.items():
            stored = None
            if name in quantized:
                source, bits, per_row = quantized[name]
                try:
                    stored = encode(source, bits, config.quant, per_row)
                    if not torch.equal(decode(stored), value):
                        notes.append(f"{name}: codes did not reproduce the extracted weights exactly; stored as float32")
                        stored = None
                except CodecError as err:
                    notes.append(f"{name}: {err}; stored as float32")
                    stored = None
            if stored is None:
                stored = encode(value, 32, config.quant, False)
            meta = {k: v for k, v in stored.items() if not isinstance(v, np.ndarray)}
            meta["bytes"] = stored_bytes(stored)
            tensors[name] = meta
            for k, v in stored.items():
                if isinstance(v, np.ndarray):
                    arrays[f"{name}::{k}"] = np.ascontiguousarray(v)
    out.mkdir(parents=True, exist_ok=True)
    save_file(arrays, str(out / "weights.safetensors"))
    task = dict(ckpt.task or {})
    task_spec = deployment.task or task.get("spec")
    label_names = task.get("label_names")
    thresholds = list(deployment.thresholds)[: max(L - 1, 1)]
    if len(thresholds) == 1 and L > 2:
        thresholds = thresholds * (L - 1)
    hf_ok, hf_reason = fits_hf(config, supernet.arch)
    description = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "architecture": extracted.arch.to_dict(),
        "span_ramp": extracted.span_ramp,
        "runtime_config": extracted.default_config.to_dict(),
        "config": config.to_dict(),
        "thresholds": thresholds,
        "task": {"spec": task_spec, "max_length": task.get("max_length"), "num_labels": supernet.arch.num_labels,
                 "seed": task.get("seed", 0), "label_names": label_names},
        "source": {"supernet": str(Path(deployment.supernet).resolve()), "run": deployment.run,
                   "candidate": deployment.candidate, "search_metrics": deployment.metrics},
        "storage": ("quantized matrices: int = bit-packed b-bit codes + float32 per-row scales; adaptivfloat = "
                    "bit-packed b-bit codes (sign, exponent, mantissa) + int32 exponent bias per tensor (per row "
                    "for embedding tables); everything else (biases, LayerNorms, exit ramps, 32-bit layers) "
                    "float32; loaded as float32 (codes x scale) for inference"),
        "storage_notes": notes,
        "tensors": tensors,
        "hf": {"exported": False, "reason": hf_reason} if not hf_ok else {"exported": True},
    }
    if ckpt.tokenizer is not None:
        ckpt.tokenizer.save_pretrained(out / "tokenizer")
    if hf_ok:
        from .hf import save_hf

        save_hf(extracted, config, out / "hf", ckpt.tokenizer, label_names)
        description["hf"]["note"] = ("final exit only (no early exit); weights dequantized to float32"
                                     if any(l.bits < 32 for l in config.layers) or config.embedding_bits < 32
                                     else "final exit only (no early exit)")
    (out / "model.json").write_text(json.dumps(description, indent=1))
    return out
