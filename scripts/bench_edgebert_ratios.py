"""EdgeBERT's relative results next to ours (issue 15, item 6): energy with early exit against none,
latency-aware DVFS against latency-unbounded early exit, and what eNVM embeddings save.

Usage: python scripts/bench_edgebert_ratios.py [--out results/bench/edgebert_ratios.json]

EdgeBERT (Tambe et al., MICRO 2021, abstract): latency-aware early exit with per-sentence DVFS uses
"up to 7x" less energy than inference without early exit and "up to 2.5x" less than
latency-unbounded early exit. The seed write-up of the paper (a Machine Heart reprint) says that
moving the embeddings from DRAM (DRAM read + SRAM write/read) to ReRAM eNVM cuts inference latency
and energy, but its figures for that were images and are not in the text we hold; it does give the
size: the embeddings pruned to 40 % take 1.73 MB of eNVM.

Two setups, each priced on ``edgebert-12nm`` (power-gated SRAM banks, as shipped), with its 4 KB
banks (EdgeBERT's own bank size, Spec.h) and with every bank on (no power gating):

* EdgeBERT's: ALBERT-base, 128 tokens, 8-bit weights and embeddings, an exit ramp after every layer,
  the exit distribution of EdgeBERT's own SST-2 dev entropies at their threshold 0.23 (constants in
  scripts/bench_edgebert_dvfs.py).
* Ours: the quickstart's MiniLM (6 layers, hidden 384, 12 heads, FFN 1536, vocab 30522) with the
  sub-network the quickstart picked (constants below), its deployed exits and its exit distribution
  on the 1,057 dev sentences; priced at 128 tokens (EdgeBERT's padding) and at the dev set's own
  lengths (mean 26.5 tokens; the run kept length and exit together, we have only their marginals, so
  the two are taken as independent here).

"DVFS" is :func:`evosearch.hardware.dvfs_workload` (per-sentence, oracle exit prediction) under a
deadline equal to the slowest sentence's latency at the nominal point, as in
scripts/bench_edgebert_dvfs.py. The eNVM rows price the same model and workload with the embeddings
moved from ``rram`` to (a) off-chip LPDDR4 DRAM staged through the activation SRAM, or (b) an on-chip
SRAM sized to hold them, both added to a copy of the target here.
Writes results/bench/edgebert_ratios.json. Analytical only: no model is loaded or run.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from evosearch.hardware import SHIPPED_TARGETS_DIR, dvfs_workload, estimate, target_from_dict
from evosearch.specs import Architecture, LayerConfig, SubnetConfig
from evosearch.specs.embedding import embedding_tables_bits
from evosearch.workload import Workload
from evosearch.specs.shapes import MINILM_L6 as MINILM


def _sibling(name: str):
    """A script of this folder as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_DVFS_BENCH = _sibling("bench_edgebert_dvfs")  # EdgeBERT's setup: ALBERT-base, 128 tokens, their SST-2 exits
ALBERT_BASE, EXIT_COUNTS, SEQ_LEN = _DVFS_BENCH.ALBERT_BASE, _DVFS_BENCH.EXIT_COUNTS, _DVFS_BENCH.SEQ_LEN

TARGET = "edgebert-12nm"
EDGEBERT = {  # Tambe et al., MICRO 2021 (abstract); the seed write-up for the eNVM size
    "no_exit/dvfs": 7.0,  # "up to 7x ... lower energy compared to the conventional inference without early stopping"
    "early_exit/dvfs": 2.5,  # "2.5x ... [compared to] the latency-unbounded early exit approach"
    "envm_embeddings_mb": 1.73,  # embeddings pruned to 40 %, stored in eNVM (seed write-up)
}
ALBERT_THRESHOLD = 0.23  # EdgeBERT's SST-2 recipe (DESIGN.md; their thresholds 0.23, 0.28, 0.46)

# The quickstart's pick, copied from a run of `evosearch quickstart` (movie-polarity, edgebert space,
# 30 generations x 24, error vs energy on edgebert-12nm with latency <= 5 ms): pick.yaml, candidate
# c3905, "the lowest energy_uj among the 4 front members within 1 pt of the uncompressed model's
# accuracy (86.09 %)": dev accuracy 85.34 % on the 1,057 dev sentences, energy 36.65 uJ and mean
# exit layer 2.98 as the run priced it (before power gating). (heads, ffn, bits, span) per layer:
PICK_LAYERS = ((9, 1536, 4, 12), (6, 1152, 8, 12), (9, 768, 4, 23), (3, 384, 4, None), (3, 384, 4, 23),
               (3, 384, 4, 6))
PICK_EMBEDDING_BITS = 32
PICK_THRESHOLDS = (0.3119162312519754, 0.0, 0.3119162312519754, 0.5891751034759535, 0.5891751034759535)
PICK_EXIT_COUNTS = (339, 0, 318, 265, 18, 117)  # pick.yaml exit_distribution x 1,057 dev sentences
PICK_SPAN_RAMP = 3  # the supernet's span ramp (supernet.json)
PICK_RUN = {"candidate": "c3905", "accuracy": 0.8533585667610168, "energy_uj": 36.64884992007954,
            "latency_ms": 0.4562478770772716, "mean_exit_layer": 2.975402081362346}
# Token counts of the 1,057 movie-polarity dev sentences (MiniLM tokenizer, max_length 64, as the
# quickstart tokenizes them): {length: sentences}.
DEV_LENGTHS = {4: 3, 5: 2, 6: 6, 7: 5, 8: 14, 9: 13, 10: 15, 11: 19, 12: 23, 13: 22, 14: 25, 15: 28, 16: 35,
               17: 25, 18: 38, 19: 35, 20: 41, 21: 27, 22: 38, 23: 27, 24: 38, 25: 30, 26: 45, 27: 34, 28: 32,
               29: 34, 30: 41, 31: 36, 32: 24, 33: 33, 34: 27, 35: 25, 36: 32, 37: 16, 38: 19, 39: 24, 40: 13,
               41: 15, 42: 11, 43: 20, 44: 10, 45: 8, 46: 3, 47: 2, 48: 5, 49: 5, 50: 5, 51: 4, 52: 7, 53: 4,
               54: 3, 55: 2, 56: 3, 57: 2, 60: 1, 62: 1, 63: 1, 64: 1}

# An off-chip DRAM for the eNVM comparison: generic-45nm's LPDDR4 level (Timeloop/Accelergy LPDDR4
# 512 pJ per 64 bits; ASSUMPTION there: LPDDR4-3200 x32 channel, 12.8 GB/s)
DRAM = {"read_pj_per_bit": 8.0, "write_pj_per_bit": 8.0, "bandwidth_gb_per_s": 12.8, "leakage_mw": 0.0,
        "on_chip": False, "scales_with_voltage": False}


@dataclass(frozen=True)
class Setup:
    name: str
    arch: Architecture
    config: SubnetConfig
    exits: tuple[int, ...]  # layers with a deployed exit ramp (besides the last)
    exit_counts: tuple[int, ...]  # sentences leaving after each layer
    lengths: dict  # {length: sentences}
    span_ramp: int = 0
    envm: bool = True  # price the eNVM rows (c) for this setup


def setups() -> list[Setup]:
    albert_cfg = SubnetConfig.uniform(ALBERT_BASE, 1.0, bits=8, embedding_bits=8)
    every = tuple(range(ALBERT_BASE.num_layers - 1))
    albert = [Setup(f"ALBERT-base, EdgeBERT's setup, threshold {t}", ALBERT_BASE, albert_cfg, every, EXIT_COUNTS[t],
                    {SEQ_LEN: 1}, envm=t == ALBERT_THRESHOLD)
              for t in sorted(EXIT_COUNTS, key=lambda t: t != ALBERT_THRESHOLD)]
    pick = SubnetConfig(tuple(LayerConfig(h, f, b, s) for h, f, b, s in PICK_LAYERS),
                        embedding_bits=PICK_EMBEDDING_BITS)
    exits = tuple(i for i, t in enumerate(PICK_THRESHOLDS) if t > 0)
    return albert + [
        Setup("MiniLM quickstart pick, 128 tokens", MINILM, pick, exits, PICK_EXIT_COUNTS, {SEQ_LEN: 1},
              PICK_SPAN_RAMP),
        Setup("MiniLM quickstart pick, dev lengths", MINILM, pick, exits, PICK_EXIT_COUNTS, DEV_LENGTHS,
              PICK_SPAN_RAMP),
    ]


# -- targets -------------------------------------------------------------------------------------


def _shipped() -> dict:
    return yaml.safe_load((SHIPPED_TARGETS_DIR / f"{TARGET}.yaml").read_text())


def target_variant(gating: str = "shipped", embeddings: str = "rram", embedding_kb: float = 0.0):
    """``edgebert-12nm`` with power gating as shipped, with 4 KB banks ("4kb") or with every bank on
    ("off"); embeddings in rram (as shipped), in off-chip DRAM ("dram") or in an on-chip SRAM of
    ``embedding_kb`` ("sram": weight_sram's energies, bandwidth, banks and leakage per KB)."""
    data = _shipped()
    for level in data["memory"].values():
        if "power_gating" not in level:
            continue
        if gating == "off":
            level.pop("power_gating")
            level.pop("bank_kb")
        elif gating == "4kb":
            level["bank_kb"] = 4  # EdgeBERT Spec.h: 4096 one-byte entries per bank
    if embeddings == "dram":
        data["memory"]["dram"] = dict(DRAM)
    elif embeddings == "sram":
        sram = copy.deepcopy(data["memory"]["weight_sram"])
        bank = sram.get("bank_kb", 128)
        sram["capacity_kb"] = bank * math.ceil(embedding_kb / bank)
        sram["leakage_mw"] = data["memory"]["weight_sram"]["leakage_mw"] * sram["capacity_kb"] / \
            data["memory"]["weight_sram"]["capacity_kb"]
        data["memory"]["emb_sram"] = sram
    if embeddings != "rram":
        data["placement"]["embeddings"] = "dram" if embeddings == "dram" else "emb_sram"
    data["name"] = f"{TARGET} ({gating} gating, embeddings in {embeddings})"
    return target_from_dict(data)


# -- costs ---------------------------------------------------------------------------------------


def _estimate(s: Setup, target, **kw):
    lengths = {"seq_len": next(iter(s.lengths))} if len(s.lengths) == 1 else {"seq_lens": s.lengths}
    return estimate(s.arch, s.config, target, span_ramp=s.span_ramp, **lengths, **kw)


def sentence_costs(s: Setup, target, deadline_ms: float | None = None) -> dict:
    """No exit, latency-unbounded early exit (nominal point) and early exit with per-sentence DVFS."""
    last = s.arch.num_layers - 1
    no_exit = _estimate(s, target)
    early = _estimate(s, target, exit_distribution=list(s.exit_counts), exits=s.exits)
    if deadline_ms is None:  # the slowest sentence at the nominal point: the longest, through every layer
        worst = estimate(s.arch, s.config, target, seq_len=max(s.lengths), span_ramp=s.span_ramp,
                         exit_distribution={last: 1.0}, exits=s.exits)
        deadline_ms = worst.latency_ms
    per_sentence = tuple(k for k, n in enumerate(s.exit_counts) for _ in range(n))
    total = sum(s.lengths.values())
    energy = latency = miss = 0.0
    for length, count in s.lengths.items():  # length and exit independent (see the docstring)
        work = Workload((length,) * len(per_sentence), s.arch.num_layers, per_sentence)
        d = dvfs_workload(s.arch, s.config, target, work, deadline_ms, exits=s.exits, span_ramp=s.span_ramp)
        energy += count / total * d.energy_uj
        latency += count / total * d.latency_ms
        miss += count / total * d.miss_rate
    parts = no_exit.energy_breakdown_uj
    return {"no_exit": no_exit.energy_uj, "early_exit": early.energy_uj, "dvfs": energy,
            "no_exit/early_exit": no_exit.energy_uj / early.energy_uj, "no_exit/dvfs": no_exit.energy_uj / energy,
            "early_exit/dvfs": early.energy_uj / energy, "deadline_ms": deadline_ms, "dvfs_latency_ms": latency,
            "miss_rate": miss, "leakage_share_no_exit": parts["leakage"] / sum(parts.values()),
            "gated_leakage_uj_no_exit": no_exit.gated_leakage_uj, "fits_on_chip": no_exit.fits_on_chip,
            "level_kb": {k: v / 8192 for k, v in no_exit.level_bits}, "early_latency_ms": early.latency_ms,
            "no_exit_latency_ms": no_exit.latency_ms}


def _lookup(cost) -> tuple[float, float]:
    op = next(o for o in cost.embedding.ops if o.name == "embedding_lookup")
    return op.energy_pj * 1e-6, op.time_ns * 1e-3  # uJ, us


def envm_costs(s: Setup, deadline_ms: float) -> dict:
    """The same model and workload with the embeddings in rram, off-chip DRAM or an on-chip SRAM."""
    shipped = target_variant()
    kb = embedding_tables_bits(s.arch, s.config.embedding_bits) / 8192
    out = {"embedding_tables_kb": kb}
    for where, target in (("rram", shipped), ("dram", target_variant(embeddings="dram")),
                          ("sram", target_variant(embeddings="sram", embedding_kb=kb))):
        early = _estimate(s, target, exit_distribution=list(s.exit_counts), exits=s.exits)
        energy, time_us = _lookup(early)
        out[where] = {"lookup_uj": energy, "lookup_us": time_us,
                      "dvfs_uj": sentence_costs(s, target, deadline_ms)["dvfs"], "fits_on_chip": early.fits_on_chip}
        if where == "sram":
            out[where]["sram_kb"] = target.level("emb_sram").capacity_kb
            out[where]["sram_leakage_mw"] = target.level("emb_sram").leakage_mw
    # SRAM loses its contents when power-gated: refilling it from DRAM after every power-off
    bits = kb * 8192
    sram = target_variant(embeddings="sram", embedding_kb=kb).level("emb_sram")
    out["sram"]["refill_uj"] = bits * (DRAM["read_pj_per_bit"] + sram.write_pj_per_bit) * 1e-6
    out["sram"]["refill_ms"] = bits / (DRAM["bandwidth_gb_per_s"] * 8) * 1e-6
    return out


# -- report --------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/bench/edgebert_ratios.json")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    gatings = {"shipped": "16 banks gated", "4kb": "4 KB banks gated", "off": "all banks on"}
    targets = {g: target_variant(g) for g in gatings}
    result = {"target": TARGET, "edgebert": EDGEBERT, "pick": PICK_RUN, "setups": []}
    print(f"EdgeBERT vs our hardware model ({TARGET}); DVFS deadline = slowest sentence at the nominal point")
    for s in setups():
        rows = {g: sentence_costs(s, t) for g, t in targets.items()}
        envm = envm_costs(s, rows["shipped"]["deadline_ms"]) if s.envm else None
        mean_exit = sum((k + 1) * n for k, n in enumerate(s.exit_counts)) / sum(s.exit_counts)
        mean_len = sum(t * n for t, n in s.lengths.items()) / sum(s.lengths.values())
        print(f"\n{s.name}: {s.arch.num_layers} layers, mean {mean_len:.1f} tokens, mean exit layer {mean_exit:.2f}, "
              f"exit ramps after layers {[k + 1 for k in s.exits]} and the last")
        print(f"  {'':<44}{'EdgeBERT':>11}" + "".join(f"{label:>18}" for label in gatings.values()))
        energy_rows = [("energy, no exit (uJ)", "no_exit", None),
                       ("energy, early exit at nominal (uJ)", "early_exit", None),
                       ("energy, early exit + DVFS (uJ)", "dvfs", None),
                       ("(a) no exit / early exit + DVFS", "no_exit/dvfs", "no_exit/dvfs"),
                       ("    no exit / early exit (nominal)", "no_exit/early_exit", None),
                       ("(b) early exit (nominal) / + DVFS", "early_exit/dvfs", "early_exit/dvfs"),
                       ("leakage share, no exit", "leakage_share_no_exit", None),
                       ("gated-bank leakage saved, no exit (uJ)", "gated_leakage_uj_no_exit", None)]
        for label, key, theirs in energy_rows:
            ref = f"up to {EDGEBERT[theirs]:.1f}x" if theirs else ""
            ratio = "/" in key
            cells = "".join(f"{rows[g][key]:>17.2f}{'x' if ratio else ' '}" for g in gatings)
            print(f"  {label:<44}{ref:>11}{cells}")
        d = rows["shipped"]
        print(f"  deadline {d['deadline_ms']:.3f} ms, DVFS mean latency {d['dvfs_latency_ms']:.3f} ms, "
              f"missed {d['miss_rate']:.2f}; on-chip KB {', '.join(f'{k} {v:.0f}' for k, v in d['level_kb'].items())}"
              f" (fits: {d['fits_on_chip']})")
        result["setups"].append({"setup": s.name, "mean_length": mean_len, "mean_exit_layer": mean_exit,
                                 "exits": list(s.exits), "exit_counts": list(s.exit_counts), "by_gating": rows,
                                 "envm": envm})
        if envm is None:
            continue
        r, dr, sr = envm["rram"], envm["dram"], envm["sram"]
        print(f"  (c) embeddings ({envm['embedding_tables_kb']:.0f} KB of tables), 16 banks gated:"
              f"{'eNVM (rram)':>14}{'DRAM + SRAM':>14}{'on-chip SRAM':>14}")
        print(f"      lookup energy per sentence (uJ)             {r['lookup_uj']:>14.3f}{dr['lookup_uj']:>14.3f}"
              f"{sr['lookup_uj']:>14.3f}")
        print(f"      lookup time per sentence (us)               {r['lookup_us']:>14.2f}{dr['lookup_us']:>14.2f}"
              f"{sr['lookup_us']:>14.2f}")
        print(f"      energy per sentence, early exit + DVFS (uJ) {r['dvfs_uj']:>14.1f}{dr['dvfs_uj']:>14.1f}"
              f"{sr['dvfs_uj']:>14.1f}")
        print(f"      vs eNVM                                     {1:>13.2f}x{dr['dvfs_uj'] / r['dvfs_uj']:>13.2f}x"
              f"{sr['dvfs_uj'] / r['dvfs_uj']:>13.2f}x")
        print(f"      on-chip SRAM the embeddings take: {sr['sram_kb']:.0f} KB "
              f"({sr['sram_leakage_mw']:.1f} mW leakage); "
              f"eNVM saves it; refilling it from DRAM after each power-off: {sr['refill_uj']:.0f} uJ, "
              f"{sr['refill_ms']:.2f} ms (eNVM: none)")
    pruned = {storage: embedding_tables_bits(ALBERT_BASE, 8, 0.6, storage, 4) / 8192 / 1024
              for storage in ("index", "mask")}
    print(f"\nEmbeddings pruned to 40 % (ALBERT-base, 8 bits): EdgeBERT {EDGEBERT['envm_embeddings_mb']} MB in eNVM; "
          f"ours {pruned['mask']:.2f} MB (presence bit + non-zeros: {TARGET}'s bitmask, as EdgeBERT's mask memory "
          f"and the export store them), {pruned['index']:.2f} MB with a 4-bit index per non-zero instead")
    pick = next(x for x in result["setups"] if x["setup"].endswith("dev lengths"))["by_gating"]["off"]
    print(f"Consistency: the pick at the dev lengths, all banks on (as the run priced it), early exit "
          f"{pick['early_exit']:.2f} uJ / {pick['early_latency_ms']:.3f} ms with length and exit independent; "
          f"the run: {PICK_RUN['energy_uj']:.2f} uJ / {PICK_RUN['latency_ms']:.3f} ms with them paired")
    result["embeddings_pruned_40pct_mb"] = pruned
    result["runtime_s"] = time.perf_counter() - start
    print(f"runtime {result['runtime_s']:.2f} s")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
