"""Export a picked sub-network as a stand-alone, smaller model.

The export folder holds:

* ``onnx/`` — the deployment: ONNX Runtime graphs with early exit (:mod:`.onnx`), int8 where the
  sub-network's bits are <= 8, and ``onnx/manifest.json``; runnable with ``onnxruntime`` and the
  tokenizer alone (README);
* ``weights.safetensors`` — the sliced weights at their bit width (:mod:`.codec`: ``int`` as
  bit-packed codes + float32 per-row scales, ``adaptivfloat`` as bit-packed codes + int32
  exponent biases; biases, LayerNorms, exit ramps and 32-bit layers as float32; embedding tables
  pruned at ``embedding_sparsity`` as a presence bit per entry + the kept codes): the compact
  form an accelerator stores, and what :meth:`DeployedModel.torch_model` reloads exactly;
* embedding pruning is honoured everywhere as values (the pruned entries are zero in every
  artifact) and as size where the format allows: ``weights.safetensors`` shrinks (predicted by
  ``model_size_bytes``), the ONNX graphs and ``hf/`` keep dense tables (ONNX Runtime's Gather and
  transformers read dense ones), and ``model.json``'s ``embedding_pruning`` records both;
* ``model.json`` — architecture of the extracted model, the sub-network config, exit thresholds,
  the task (max length, labels), where it came from, how each tensor is stored, and ``files``:
  every file the export wrote (``--overwrite`` removes exactly those);
* ``tokenizer/`` — the supernet's tokenizer;
* ``hf/`` — when :func:`fits_hf` says a plain transformers config can hold the sub-network: a
  ``save_pretrained`` folder (final exit only) for ``AutoModelForSequenceClassification``;
* ``verification.json`` — written by :func:`evosearch.deploy.verify.verify`.

An export is written into a temporary folder beside ``out`` and moved into place only when every
file is written, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import yaml

from ..specs.embedding import TABLES
from ..supernet import Architecture, SubnetConfig, extract
from .codec import CodecError, decode, encode, stored_bytes
from .onnx import export_onnx
from .runtime import FORMAT_VERSION, KIND, DeployError

BLOCK_MATRICES = ("query", "key", "value", "attention_out", "ffn_in", "ffn_out")
#: What an export owns when its model.json predates the ``files`` list.
LEGACY_FILES = ("model.json", "weights.safetensors", "tokenizer", "hf", "onnx", "verification.json")


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
    row = run.front.loc[str(pick)] if str(pick) in run.front.index else run.candidate(str(pick))
    supernet = run.supernet_path()
    if supernet is None:
        raise ReportError(f"{run.folder}/config.yaml does not name the supernet checkpoint ('supernet' key)")
    metrics = {m: float(row[m]) for m in run.metrics if m in row and not isinstance(row[m], str)}
    config, thresholds = run.config_of(row)
    return Deployment(SubnetConfig.from_dict(config), thresholds, supernet, run.config.get("task"),
                      row.name, str(run.folder.resolve()), metrics)


def hf_layout(arch: Architecture) -> tuple[int, int, int] | None:
    """``(num_hidden_layers, num_hidden_groups, inner_group_num)`` of an ALBERT config whose layer
    sharing is ``arch``'s (transformers: layer i runs group ``i // (layers / groups)``, whose
    ``inner_group_num`` blocks run in turn), or None when no config shares blocks that way."""
    L = arch.num_layers
    for inner in (d for d in range(1, L + 1) if L % d == 0):
        layers = L // inner
        for groups in (d for d in range(1, layers + 1) if layers % d == 0):
            if groups * inner != arch.num_blocks:
                continue
            per_group = layers / groups
            blocks = tuple(int(i / per_group) * inner + j for i in range(layers) for j in range(inner))
            if blocks == arch.block_of_layer:
                return layers, groups, inner
    return None


def fits_hf(config: SubnetConfig, arch: Architecture) -> tuple[bool, str]:
    """Whether a plain transformers BERT/ALBERT config can hold this sub-network (and why not).

    The exact condition: the exits pool the first token (a classification head's pooler); every
    layer keeps all its heads (transformers needs hidden size = heads x head size); one FFN width
    in every layer; no attention span, fixed or learned (on a supernet trained with learned spans,
    adaptive attention span of Sukhbaatar et al. 2019, a layer that sets none runs its heads'
    learned spans); no unstructured sparsity in the layers (pruned embedding tables are written,
    dense with their zeros, as the ONNX graphs hold them too; model.json's ``hf.note`` says so);
    and for ALBERT, the layers that share a weight block in the supernet keep sharing one in the
    sub-network (the same bit width everywhere) in a layout an ``AlbertConfig`` can express.
    """
    if arch.pooling != "cls":
        return False, (f"the exit ramps pool with {arch.pooling!r} (a transformers classification head reads the "
                       "first token); use the ONNX deployment in onnx/")
    if any(l.heads != arch.heads_of_layer(i) for i, l in enumerate(config.layers)):
        return False, "some layer drops attention heads (transformers needs hidden_size = heads x head size)"
    if len({l.ffn for l in config.layers}) != 1:
        return False, "the FFN width differs between layers"
    if any(l.span is not None for l in config.layers):
        return False, "attention spans are limited (transformers has no span mask)"
    if arch.learned_span_max is not None:  # a layer without a span of its own runs its heads' learned spans
        return False, "the heads run learned attention spans (transformers has no span mask)"
    if any(float(getattr(l, "sparsity", 0) or 0) for l in config.layers):
        return False, "unstructured sparsity (stored dense in hf/ would be misleading)"
    if arch.model_type == "albert":
        shared = {}
        for block, layer in zip(arch.block_of_layer, config.layers):
            if shared.setdefault(block, layer) != layer:
                return False, "ALBERT layers that share weights would need different weights (bit widths differ)"
        if hf_layout(arch) is None:
            return False, "the layer sharing has no AlbertConfig layout (num_hidden_groups x inner_group_num)"
    return True, ""


def _quantized_tensors(supernet, extracted, config: SubnetConfig) -> dict[str, tuple]:
    """name -> (float source before quantization, bits, per_row, keep mask or None) for every
    quantized or pruned tensor."""
    out = {}
    eb, pruned = config.embedding_bits, config.embedding_sparsity > 0
    if eb < 32 or pruned:
        thresholds = supernet.embeddings.prune_thresholds(config.embedding_sparsity)
        for i, name in enumerate(TABLES):
            table = getattr(supernet.embeddings, name).weight
            keep = table.detach().abs() >= thresholds[i] if pruned else None
            out[f"embeddings.{name}.weight"] = (table, eb, True, keep)
    if eb < 32 and supernet.embeddings.projection is not None:
        out["embeddings.projection.weight"] = (supernet.embeddings.projection.weight, eb, False, None)
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
            out[f"blocks.{b}.{m}.weight"] = (getattr(floats, m), layer.bits, False, None)
    return out


def _embedding_pruning(config: SubnetConfig, tensors: dict) -> dict | None:
    """What an export does with pruned embeddings (None when they are dense).

    The compact weights store each pruned table sparse (presence bits + kept codes: the bytes on
    disk shrink, and ``model_size_bytes`` predicts them); the ONNX graphs and hf/ keep the tables
    dense with the pruned entries zero, since ONNX Runtime's Gather and transformers' embeddings
    read dense tables: pruning changes their values, not their size. An accelerator stores them
    in its own encoding (the hardware model's ``model_size_bytes`` and on-chip fit)."""
    if config.embedding_sparsity <= 0:
        return None
    tables = {name: tensors[f"embeddings.{name}.weight"] for name in TABLES}
    return {
        "sparsity": config.embedding_sparsity,
        "method": "magnitude, one threshold per table (EdgeBERT, Tambe et al. MICRO 2021)",
        "kept_entries": {name: int(t.get("kept", np.prod(t["shape"]))) for name, t in tables.items()},
        "stored_bytes": {name: int(t["bytes"]) for name, t in tables.items()},
        "onnx": "dense float32 tables, pruned entries zero (ONNX Runtime's Gather has no sparse table)",
        "hf": "dense tables, pruned entries zero",
    }


def _write_weights(folder: Path, supernet, extracted, config: SubnetConfig) -> tuple[dict, list[str]]:
    """``weights.safetensors`` at the bit widths; returns the per-tensor storage description and notes."""
    from safetensors.numpy import save_file

    state = {k: v.detach().float().cpu() for k, v in extracted.state_dict().items()}
    quantized = _quantized_tensors(supernet, extracted, config)
    arrays, tensors, notes = {}, {}, []
    with torch.no_grad():
        for name, value in state.items():
            stored = None
            if name in quantized:
                source, bits, per_row, keep = quantized[name]
                try:
                    stored = encode(source, bits, config.quant, per_row, keep)
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
            if "mask" in stored:
                entries = int(np.prod(stored["shape"]))
                meta["kept"] = int(np.unpackbits(stored["mask"], bitorder="little")[:entries].sum())
            tensors[name] = meta
            for k, v in stored.items():
                if isinstance(v, np.ndarray):
                    arrays[f"{name}::{k}"] = np.ascontiguousarray(v)
    save_file(arrays, str(folder / "weights.safetensors"))
    return tensors, notes


def export(deployment: Deployment, out: str | Path, *, overwrite: bool = False, checkpoint=None,
           int8: bool = True) -> Path:
    """Write the deployment folder ``out`` (see the module doc); returns it."""
    from ..training import load_checkpoint

    out = Path(out)
    _check_target(out, overwrite)
    ckpt = checkpoint or load_checkpoint(deployment.supernet)
    supernet = ckpt.supernet.eval()
    config = deployment.config
    config.validate(supernet.arch)
    L = supernet.arch.num_layers
    if len(deployment.thresholds) not in (L - 1, L, 1):
        raise DeployError(f"{len(deployment.thresholds)} exit thresholds for {L} layers")
    thresholds = list(deployment.thresholds)[: max(L - 1, 1)]
    if len(thresholds) == 1 and L > 2:
        thresholds = thresholds * (L - 1)
    task = dict(ckpt.task or {})
    label_names = task.get("label_names")
    hf_ok, hf_reason = fits_hf(config, supernet.arch)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(out)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        with torch.no_grad():
            extracted = extract(supernet, config).eval()
        tensors, notes = _write_weights(tmp, supernet, extracted, config)
        onnx_manifest = export_onnx(extracted, config, thresholds, tmp / "onnx", max_length=task.get("max_length"),
                                    int8=int8, label_names=label_names)
        if ckpt.tokenizer is not None:
            ckpt.tokenizer.save_pretrained(tmp / "tokenizer")
        hf = {"exported": False, "reason": hf_reason}
        if hf_ok:
            from .hf import save_hf

            save_hf(extracted, config, tmp / "hf", ckpt.tokenizer, label_names)
            hf = {"exported": True, "note": "final exit only (no early exit)"
                  + ("; weights dequantized to float32" if any(l.bits < 32 for l in config.layers)
                     or config.embedding_bits < 32 else "")
                  + (f"; embedding tables pruned ({config.embedding_sparsity:g} of each table zero), stored dense"
                     if config.embedding_sparsity > 0 else "")}
        description = {
            "kind": KIND,
            "format_version": FORMAT_VERSION,
            "architecture": extracted.arch.to_dict(),
            "span_ramp": extracted.span_ramp,
            "runtime_config": extracted.default_config.to_dict(),
            "config": config.to_dict(),
            "thresholds": thresholds,
            "task": {"spec": deployment.task or task.get("spec"), "max_length": task.get("max_length"),
                     "num_labels": supernet.arch.num_labels, "seed": task.get("seed", 0), "label_names": label_names},
            "source": {"supernet": str(Path(deployment.supernet).resolve()), "run": deployment.run,
                       "candidate": deployment.candidate, "search_metrics": deployment.metrics},
            "onnx": {"segments": len(onnx_manifest["segments"]),
                     "int8_segments": sum(s["int8"] for s in onnx_manifest["segments"])},
            "storage": ("weights.safetensors: int = bit-packed b-bit codes + float32 per-row scales; adaptivfloat = "
                        "bit-packed b-bit codes (sign, exponent, mantissa) + int32 exponent bias per tensor (per row "
                        "for embedding tables); pruned embedding tables (embedding_sparsity) = a presence bit per "
                        "entry + the kept entries' codes; everything else (biases, LayerNorms, exit ramps, 32-bit "
                        "layers) float32. onnx/: int8 weights (per output channel) for layers at <= 8 bits, float32 "
                        "else; embedding tables dense float32 with the pruned entries zero"),
            "storage_notes": notes,
            "embedding_pruning": _embedding_pruning(config, tensors),
            "tensors": tensors,
            "hf": hf,
        }
        files = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
        description["files"] = sorted(set(files) | {"model.json", "verification.json"})
        (tmp / "model.json").write_text(json.dumps(description, indent=1))
        _install(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _check_target(out: Path, overwrite: bool) -> None:
    """Refuse an ``out`` that is a file, or a folder holding anything but an earlier export (unless --overwrite)."""
    if out.exists() and not out.is_dir():
        raise DeployError(f"--out {out} is a file; give a folder (new or empty, or an earlier export with --overwrite)")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise DeployError(f"{out} exists and is not empty; choose another --out or pass --overwrite")
        if not (out / "model.json").is_file():
            raise DeployError(f"{out} is not an earlier export (no model.json); refusing to overwrite it")


def _remove_stale_partials(out: Path) -> None:
    """Delete temporary export folders beside ``out`` left by exports that were killed (their process is gone)."""
    for partial in out.parent.glob(f".{out.name}.partial-*"):
        try:
            pid = int(partial.name.rsplit("-", 1)[1])
            os.kill(pid, 0)  # still running: another export is writing it
        except ProcessLookupError:
            shutil.rmtree(partial, ignore_errors=True)
        except (ValueError, PermissionError):
            continue


def owned_files(folder: Path) -> list[Path]:
    """The files an earlier export in ``folder`` wrote (its model.json's ``files``)."""
    try:
        listed = json.loads((folder / "model.json").read_text()).get("files")
    except (OSError, ValueError):
        listed = None
    if listed is None:  # an export from before the files list: its fixed entries
        paths = []
        for name in LEGACY_FILES:
            entry = folder / name
            paths += [p for p in entry.rglob("*") if p.is_file()] if entry.is_dir() else [entry]
        return [p for p in paths if p.exists()]
    return [folder / f for f in listed if (folder / f).is_file()]


def _install(tmp: Path, out: Path) -> None:
    """Move a finished export into ``out``: a rename when ``out`` is new; otherwise the earlier
    export's own files are removed (nothing else) and the new ones moved in."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
        return
    owned = owned_files(out)
    folders = {parent for path in owned for parent in path.relative_to(out).parents if str(parent) != "."}
    for path in owned:
        path.unlink()
    for folder in sorted(folders, key=lambda p: -len(p.parts)):  # folders the old export emptied
        if (out / folder).is_dir() and not any((out / folder).iterdir()):
            (out / folder).rmdir()
    for path in sorted(p for p in tmp.rglob("*") if p.is_file()):
        target = out / path.relative_to(tmp)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    shutil.rmtree(tmp, ignore_errors=True)
