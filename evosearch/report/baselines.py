"""Reference points for the plots: the uncompressed model and DynaBERT-style uniform widths.

* ``uncompressed``: the largest sub-network (every head and neuron, 32-bit weights and embeddings,
  unlimited span) with no early exit (thresholds 0);
* ``uniform 0.25 / 0.5 / 0.75``: the same fraction of heads and FFN neurons in every layer
  (DynaBERT's width multiplier), 32-bit, no early exit.

Each is taken from the run's candidates when the search evaluated exactly that sub-network;
otherwise (``evaluate=True``, the default when the supernet checkpoint is readable) it is scored
with the run's own evaluator setup (same supernet, same dev examples, same objectives) and cached
in ``<run>/baselines.csv``. Without the checkpoint, only baselines found among the candidates are
marked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .run import Run

WIDTHS = (0.25, 0.5, 0.75)


def _supernet_description(run: Run) -> dict | None:
    """The run's ``supernet.json`` (architecture, bounds, ...), or None when it cannot be read."""
    path = run.supernet_path()
    if path is None or not (path / "supernet.json").is_file():
        return None
    return json.loads((path / "supernet.json").read_text())


def _arch(run: Run):
    from ..supernet import Architecture

    description = _supernet_description(run)
    return Architecture.from_dict(description["architecture"]) if description else None


def _quant(run: Run, description: dict) -> str:
    """The run's quantization scheme; ``auto`` means the one the supernet was trained with."""
    quant = run.config.get("space", {}).get("quant", "int")
    return description.get("bounds", {}).get("quant", "int") if quant == "auto" else quant


def baseline_configs(arch, quant: str = "int") -> dict[str, dict]:
    from ..supernet import SubnetConfig

    out = {"uncompressed": SubnetConfig.largest(arch)}
    for w in WIDTHS:
        out[f"uniform {w:g}"] = SubnetConfig.uniform(arch, w)
    return {k: {**v.to_dict(), "quant": quant} for k, v in out.items()}


def _same(a: dict, b: dict) -> bool:
    def norm(c):
        return ([(l["heads"], l["ffn"], l.get("bits", 32), l.get("span"), float(l.get("sparsity", 0) or 0))
                 for l in c["layers"]], c.get("embedding_bits", 32))
    return norm(a) == norm(b)


def find_baselines(run: Run, evaluate: bool | str = "auto") -> tuple[pd.DataFrame, str]:
    """``(table, note)``: one row per baseline found or evaluated (``name``, ``source``, metrics)."""
    from ..supernet import Architecture

    description = _supernet_description(run)
    if description is None:
        return pd.DataFrame(), ("baselines not marked: the supernet checkpoint named in config.yaml "
                                f"({run.config.get('supernet')}) is not readable")
    wanted = baseline_configs(Architecture.from_dict(description["architecture"]), _quant(run, description))
    rows, missing = [], []
    for name, cfg in wanted.items():
        hit = None
        for cid, r in run.candidates.iterrows():
            if all(float(t) == 0 for t in json.loads(r["thresholds"])) and _same(json.loads(r["config"]), cfg):
                hit = (cid, r)
                break
        if hit:
            rows.append({"name": name, "source": f"candidate {hit[0]}",
                         **{m: hit[1][m] for m in run.metrics if m in hit[1]}})
        else:
            missing.append(name)
    cache = run.folder / "baselines.csv"
    if missing and cache.is_file():
        stored = pd.read_csv(cache)
        for name in list(missing):
            got = stored[stored["name"] == name]
            if len(got) and all(m in got.columns for m in run.objectives):
                rows.append(got.iloc[0].to_dict())
                missing.remove(name)
    note = ""
    if missing and evaluate:
        try:
            fresh = _evaluate(run, {n: wanted[n] for n in missing})
        except Exception as err:  # noqa: BLE001 - baselines are an extra; say why they are missing
            if evaluate is True:
                raise
            note = f"baselines {', '.join(missing)} not marked: evaluating them failed ({err})"
        else:
            old = pd.read_csv(cache) if cache.is_file() else pd.DataFrame()
            pd.concat([old, pd.DataFrame(fresh)], ignore_index=True).to_csv(cache, index=False)
            rows += fresh
            missing = []
    elif missing:
        note = f"baselines {', '.join(missing)} not marked (not among the candidates; evaluation off)"
    table = pd.DataFrame(rows)
    if not note and rows:
        found = [f"{r['name']} = {r['source']}" for r in rows if str(r["source"]).startswith("candidate")]
        scored = [r["name"] for r in rows if not str(r["source"]).startswith("candidate")]
        parts = (["baselines found among the candidates: " + ", ".join(found)] if found else []) + (
            [f"{', '.join(scored)}: scored on the run's dev examples (not searched; cached in baselines.csv)"]
            if scored else [])
        note = "; ".join(parts)
    return table, note


def _evaluate(run: Run, configs: dict[str, dict]) -> list[dict]:
    from ..search import Evaluator, ObjectiveSet, SearchSpace
    from ..search.devdata import dev_batches
    from ..supernet import SubnetConfig
    from ..training import load_checkpoint

    ckpt = load_checkpoint(run.supernet_path())
    task = dict(ckpt.task or {})
    subset, _, _ = dev_batches(ckpt.tokenizer, run.config.get("task") or task["spec"], seed=int(task.get("seed", 0)),
                               max_length=int(task.get("max_length", 128)), subset=run.config.get("dev_subset"),
                               batch_size=int(run.config.get("batch_size", 128)))
    space = SearchSpace.from_dict(run.config["space"]).bind(ckpt.supernet.arch, ckpt.bounds)
    objectives = ObjectiveSet.from_dict(run.config["objectives"])
    evaluator = Evaluator(ckpt.supernet, subset, space, objectives)
    L = ckpt.supernet.arch.num_layers
    out = []
    for name, cfg in configs.items():
        metrics, _ = evaluator.metrics(SubnetConfig.from_dict(cfg), (0.0,) * max(L - 1, 1), None)
        out.append({"name": name, "source": "evaluated", "config": json.dumps(cfg),
                    **{k: v for k, v in metrics.items() if not isinstance(v, str)}})
    return out


def baseline_path(run: Run) -> Path:
    return run.folder / "baselines.csv"
